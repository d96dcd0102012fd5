@testable import HTTPServer
import Testing

/// Drives the pure connection machine through the events `HTTP1ConnectionGuard` feeds it.
@Suite("HTTP1ConnectionStateMachine")
struct HTTP1ConnectionStateMachineTests {
    typealias Machine = HTTP1ConnectionStateMachine

    /// A machine that has received a complete request head (and, if `ended`, its end).
    static func inRequest(keepAlive: Bool = true, ended: Bool = true) -> Machine {
        var machine = Machine()
        _ = machine.bytesReceived()
        _ = machine.requestHeadReceived(keepAlive: keepAlive)
        if ended { _ = machine.requestEndReceived() }
        return machine
    }

    @Test("a new connection arms the idle timer")
    func initialTimer() {
        #expect(Machine.initialTimer == .arm(.idle))
    }

    @Test("idle → first bytes arm the head timer → head arms the body timer → end cancels it")
    func headThenBody() {
        var machine = Machine()
        #expect(machine.bytesReceived() == .arm(.head))
        #expect(machine.requestHeadReceived(keepAlive: true) == .arm(.body))
        #expect(machine.requestEndReceived() == .cancel)
    }

    @Test("more bytes of a slow head do not re-arm the head timer (slowloris)")
    func slowHeadKeepsDeadline() {
        var machine = Machine()
        #expect(machine.bytesReceived() == .arm(.head))
        for _ in 0..<5 {
            #expect(machine.bytesReceived() == .none)
        }
        #expect(machine.timerFired(.head) == .respondRequestTimeoutAndClose)
    }

    @Test("each read of a body re-arms the body timer")
    func bodyReadsRearm() {
        var machine = Self.inRequest(ended: false)
        #expect(machine.bytesReceived() == .arm(.body))
        #expect(machine.bytesReceived() == .arm(.body))
        #expect(machine.requestEndReceived() == .cancel)
        // Bytes of a pipelined request while the response is pending arm nothing.
        #expect(machine.bytesReceived() == .none)
    }

    @Test("keep-alive: the response keeps the connection open and re-arms the idle timer")
    func keepAlive() {
        var machine = Self.inRequest()
        #expect(machine.responseHeadSent() == false)
        #expect(machine.responseEndSent() == .keepOpen(.arm(.idle)))
        // And the next request starts from idle again.
        #expect(machine.bytesReceived() == .arm(.head))
        #expect(machine.requestHeadReceived(keepAlive: true) == .arm(.body))
        #expect(machine.requestEndReceived() == .cancel)
        #expect(machine.responseHeadSent() == false)
        #expect(machine.responseEndSent() == .keepOpen(.arm(.idle)))
    }

    @Test("connection: close: the response announces close and the connection closes after it")
    func connectionClose() {
        var machine = Self.inRequest(keepAlive: false)
        #expect(machine.responseHeadSent() == true)
        #expect(machine.responseEndSent() == .close)
        #expect(machine.timerFired(.idle) == .ignore)
    }

    @Test("a response sent before the body was read (e.g. 413) waits for the body's end before going idle")
    func earlyResponse() {
        var machine = Self.inRequest(ended: false)
        #expect(machine.responseHeadSent() == false)
        #expect(machine.responseEndSent() == .keepOpen(.none))
        #expect(machine.bytesReceived() == .arm(.body))
        #expect(machine.requestEndReceived() == .arm(.idle))
        #expect(machine.timerFired(.idle) == .close)
    }

    @Test("an early response to a connection: close request closes at once")
    func earlyResponseClose() {
        var machine = Self.inRequest(keepAlive: false, ended: false)
        #expect(machine.responseHeadSent() == true)
        #expect(machine.responseEndSent() == .close)
    }

    @Test("quiesce while idle closes now")
    func quiesceIdle() {
        var machine = Machine()
        #expect(machine.quiesce() == .closeNow)
        #expect(machine.timerFired(.idle) == .ignore)
    }

    @Test("quiesce between keep-alive requests closes now")
    func quiesceBetweenRequests() {
        var machine = Self.inRequest()
        _ = machine.responseHeadSent()
        _ = machine.responseEndSent()
        #expect(machine.quiesce() == .closeNow)
    }

    @Test("quiesce while a head is arriving closes now")
    func quiesceReadingHead() {
        var machine = Machine()
        _ = machine.bytesReceived()
        #expect(machine.quiesce() == .closeNow)
    }

    @Test("quiesce mid-request lets the response finish, announces close, then closes")
    func quiesceMidRequest() {
        var machine = Self.inRequest(keepAlive: true, ended: false)
        #expect(machine.quiesce() == .closeAfterResponse)
        #expect(machine.requestEndReceived() == .cancel)
        #expect(machine.responseHeadSent() == true)
        #expect(machine.responseEndSent() == .close)
    }

    @Test("quiesce after the response went out but before the body was drained closes now")
    func quiesceAfterEarlyResponse() {
        var machine = Self.inRequest(ended: false)
        _ = machine.responseHeadSent()
        #expect(machine.responseEndSent() == .keepOpen(.none))
        // Nothing more will be answered on this connection: waiting for the body helps no one.
        #expect(machine.quiesce() == .closeNow)
    }

    @Test("quiesce while the response is being written closes after it")
    func quiesceDuringResponse() {
        var machine = Self.inRequest()
        #expect(machine.responseHeadSent() == false)
        #expect(machine.quiesce() == .closeAfterResponse)
        #expect(machine.responseEndSent() == .close)
    }

    @Test("a parse error before anything was answered is answered, then closed")
    func parseErrorIdle() {
        var fresh = Machine()
        #expect(fresh.parseErrorCaught() == .respondAndClose)

        var readingHead = Machine()
        _ = readingHead.bytesReceived()
        #expect(readingHead.parseErrorCaught() == .respondAndClose)

        var inBody = Self.inRequest(ended: false)
        #expect(inBody.parseErrorCaught() == .respondAndClose)
    }

    @Test("a parse error once a response has started only closes")
    func parseErrorAfterResponseStarted() {
        var machine = Self.inRequest(ended: false)
        _ = machine.responseHeadSent()
        #expect(machine.parseErrorCaught() == .close)
    }

    @Test("a parse error in the body after the response was sent only closes: one request, one response")
    func parseErrorAfterEarlyResponse() {
        var machine = Self.inRequest(ended: false)
        _ = machine.responseHeadSent()
        _ = machine.responseEndSent()
        #expect(machine.parseErrorCaught() == .close)
    }

    @Test("after a parse error the machine is closed: no further timers act")
    func afterParseError() {
        var machine = Machine()
        _ = machine.parseErrorCaught()
        #expect(machine.parseErrorCaught() == .close)
        for timer in [Machine.Timer.idle, .head, .body] {
            #expect(machine.timerFired(timer) == .ignore)
        }
        #expect(machine.bytesReceived() == .none)
        #expect(machine.requestHeadReceived(keepAlive: true) == .none)
    }

    @Test("each timer acts only in its own state")
    func timersInTheirState() {
        var idle = Machine()
        #expect(idle.timerFired(.idle) == .close)

        var readingHead = Machine()
        _ = readingHead.bytesReceived()
        #expect(readingHead.timerFired(.head) == .respondRequestTimeoutAndClose)

        var inBody = Self.inRequest(ended: false)
        #expect(inBody.timerFired(.body) == .close)
    }

    @Test(
        "a timer firing in the wrong state is ignored",
        arguments: [
            ("idle", Machine.Timer.head), ("idle", .body),
            ("readingHead", .idle), ("readingHead", .body),
            ("inBody", .idle), ("inBody", .head),
            ("awaitingResponse", .idle), ("awaitingResponse", .head), ("awaitingResponse", .body),
            ("responding", .idle), ("responding", .head), ("responding", .body),
        ]
    )
    func staleTimer(state: String, timer: Machine.Timer) {
        var machine = Machine()
        switch state {
        case "readingHead": _ = machine.bytesReceived()
        case "inBody": machine = Self.inRequest(ended: false)
        case "awaitingResponse": machine = Self.inRequest(ended: true)
        case "responding":
            machine = Self.inRequest(ended: true)
            _ = machine.responseHeadSent()
        default: break
        }
        let before = machine
        #expect(machine.timerFired(timer) == .ignore)
        #expect(machine == before, "an ignored timer must not change the state")
    }

    @Test("a pipelined head while a request is open arms nothing: the request loop serialises")
    func pipelinedHead() {
        var machine = Self.inRequest()
        #expect(machine.requestHeadReceived(keepAlive: true) == .none)
        #expect(machine.requestEndReceived() == .none)
    }

    @Test("a pipelined request becomes current when the exchange before it finishes: no idle timer meanwhile")
    func pipelinedBecomesCurrent() {
        var machine = Self.inRequest()
        _ = machine.requestHeadReceived(keepAlive: true)
        _ = machine.requestEndReceived()
        _ = machine.responseHeadSent()
        // The next request is already complete: nothing to time while the loop serves it.
        #expect(machine.responseEndSent() == .keepOpen(.cancel))
        #expect(machine.timerFired(.idle) == .ignore)
        #expect(machine.responseHeadSent() == false)
        #expect(machine.responseEndSent() == .keepOpen(.arm(.idle)))
    }

    @Test("a pipelined request whose body is still arriving gets the body timer when it becomes current")
    func pipelinedWithBody() {
        var machine = Self.inRequest()
        _ = machine.requestHeadReceived(keepAlive: true)
        _ = machine.responseHeadSent()
        #expect(machine.responseEndSent() == .keepOpen(.arm(.body)))
        #expect(machine.requestEndReceived() == .cancel)
        _ = machine.responseHeadSent()
        #expect(machine.responseEndSent() == .keepOpen(.arm(.idle)))
    }

    @Test("a pipelined connection: close is honoured when its own response is sent")
    func pipelinedClose() {
        var machine = Self.inRequest(keepAlive: true)
        _ = machine.requestHeadReceived(keepAlive: true)
        _ = machine.requestEndReceived()
        _ = machine.requestHeadReceived(keepAlive: false)
        _ = machine.requestEndReceived()
        #expect(machine.responseHeadSent() == false)
        #expect(machine.responseEndSent() == .keepOpen(.cancel))
        #expect(machine.responseHeadSent() == false)
        #expect(machine.responseEndSent() == .keepOpen(.cancel))
        #expect(machine.responseHeadSent() == true, "the third request asked to close")
        #expect(machine.responseEndSent() == .close)
    }

    @Test("quiescing with pipelined requests pending closes after the current response")
    func pipelinedQuiesce() {
        var machine = Self.inRequest()
        _ = machine.requestHeadReceived(keepAlive: true)
        _ = machine.requestEndReceived()
        #expect(machine.quiesce() == .closeAfterResponse)
        #expect(machine.responseHeadSent() == true)
        #expect(machine.responseEndSent() == .close)
    }

    @Test("an informational or stray response end outside a request keeps the connection open")
    func responseEndWhileIdle() {
        var machine = Machine()
        #expect(machine.responseEndSent() == .keepOpen(.none))
        #expect(machine.requestEndReceived() == .none)
    }
}
