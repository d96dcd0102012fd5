/// The lifecycle of one HTTP/1.1 connection as far as timeouts, keep-alive and graceful shutdown care.
///
/// Pure value type: `HTTP1ConnectionGuard` feeds it events and carries out the actions it returns, so
/// every rule here is tested without a channel.
struct HTTP1ConnectionStateMachine: Equatable {
    enum Timer: Equatable {
        /// No request in progress and no bytes of the next one yet.
        case idle
        /// Bytes of a request head have arrived; the rest must follow in time (slowloris).
        case head
        /// A request body is arriving; each read must follow the previous one in time.
        case body
    }

    enum TimerAction: Equatable {
        case none
        case arm(Timer)
        case cancel
    }

    enum ResponseEndAction: Equatable {
        case keepOpen(TimerAction)
        case close
    }

    enum QuiesceAction: Equatable {
        case closeNow
        case closeAfterResponse
    }

    enum TimeoutAction: Equatable {
        case ignore
        case close
        /// The client started a request but did not finish its head: answer 408, then close.
        case respondRequestTimeoutAndClose
    }

    enum ParseErrorAction: Equatable {
        /// Nothing has been answered for the bad request yet: answer it, then close.
        case respondAndClose
        /// A response is under way; finish nothing more, just close.
        case close
    }

    private enum State: Equatable {
        case idle
        case readingHead
        case inRequest(requestEnded: Bool, responseStarted: Bool, responseEnded: Bool)
        case closed
    }

    /// A request whose head arrived while an earlier one was still being answered (HTTP/1.1 pipelining).
    /// The request loop serves it next; the machine tracks it so its keep-alive and timers apply then.
    private struct PipelinedRequest: Equatable {
        var keepAlive: Bool
        var ended: Bool
    }

    private var state: State = .idle
    private var keepAlive = true
    private var quiescing = false
    private var pipelined: [PipelinedRequest] = []

    /// The timer to arm when the connection becomes active.
    static let initialTimer: TimerAction = .arm(.idle)

    mutating func bytesReceived() -> TimerAction {
        switch state {
        case .idle:
            state = .readingHead
            return .arm(.head)
        case .inRequest(requestEnded: false, _, _):
            return .arm(.body)
        case .readingHead, .inRequest, .closed:
            return .none
        }
    }

    mutating func requestHeadReceived(keepAlive: Bool) -> TimerAction {
        switch state {
        case .idle, .readingHead:
            state = .inRequest(requestEnded: false, responseStarted: false, responseEnded: false)
            self.keepAlive = keepAlive
            return .arm(.body)
        case .inRequest:
            // A pipelined head while the previous request is still being answered: the request loop
            // serialises, so it becomes the current request once that exchange finishes.
            pipelined.append(PipelinedRequest(keepAlive: keepAlive, ended: false))
            return .none
        case .closed:
            return .none
        }
    }

    mutating func requestEndReceived() -> TimerAction {
        // The parser delivers requests in order: once one is pipelined, every end belongs to the newest.
        if !pipelined.isEmpty {
            pipelined[pipelined.count - 1].ended = true
            return .none
        }
        guard case .inRequest(false, let started, let ended) = state else { return .none }
        if ended {
            return finishExchange()
        }
        state = .inRequest(requestEnded: true, responseStarted: started, responseEnded: false)
        return .cancel
    }

    /// Whether the response head must announce `connection: close`.
    mutating func responseHeadSent() -> Bool {
        if case .inRequest(let requestEnded, _, _) = state {
            state = .inRequest(requestEnded: requestEnded, responseStarted: true, responseEnded: false)
        }
        return !keepAlive || quiescing
    }

    mutating func responseEndSent() -> ResponseEndAction {
        guard case .inRequest(let requestEnded, _, _) = state else { return .keepOpen(.none) }
        if !keepAlive || quiescing {
            state = .closed
            return .close
        }
        if requestEnded {
            return .keepOpen(finishExchange())
        }
        // Answered before the body was read (e.g. 413): the loop drains or closes.
        state = .inRequest(requestEnded: false, responseStarted: true, responseEnded: true)
        return .keepOpen(.none)
    }

    mutating func quiesce() -> QuiesceAction {
        quiescing = true
        switch state {
        case .idle, .readingHead, .closed:
            state = .closed
            return .closeNow
        case .inRequest(_, _, responseEnded: true):
            // Answered early; only the unread body is left, and nothing more will be answered.
            state = .closed
            return .closeNow
        case .inRequest:
            return .closeAfterResponse
        }
    }

    mutating func timerFired(_ timer: Timer) -> TimeoutAction {
        switch (state, timer) {
        case (.idle, .idle):
            state = .closed
            return .close
        case (.readingHead, .head):
            state = .closed
            return .respondRequestTimeoutAndClose
        case (.inRequest(requestEnded: false, _, _), .body):
            state = .closed
            return .close
        default:
            return .ignore
        }
    }

    mutating func parseErrorCaught() -> ParseErrorAction {
        defer { state = .closed }
        switch state {
        case .inRequest(_, responseStarted: true, _):
            // Mid-response, or already answered (an early 413 whose body then turned out malformed):
            // a second response to the same request would be a protocol error.
            return .close
        case .closed:
            return .close
        default:
            return .respondAndClose
        }
    }

    private mutating func finishExchange() -> TimerAction {
        guard !pipelined.isEmpty else {
            state = .idle
            return .arm(.idle)
        }
        let next = pipelined.removeFirst()
        state = .inRequest(requestEnded: next.ended, responseStarted: false, responseEnded: false)
        keepAlive = next.keepAlive
        return next.ended ? .cancel : .arm(.body)
    }
}
