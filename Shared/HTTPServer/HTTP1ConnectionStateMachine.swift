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

    private var state: State = .idle
    private var keepAlive = true
    private var quiescing = false

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
        case .inRequest, .closed:
            // A pipelined head while the previous request is still open: the request loop serialises.
            return .none
        }
    }

    mutating func requestEndReceived() -> TimerAction {
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
        case .inRequest(_, responseStarted: true, responseEnded: false):
            return .close
        case .closed:
            return .close
        default:
            return .respondAndClose
        }
    }

    private mutating func finishExchange() -> TimerAction {
        state = .idle
        return .arm(.idle)
    }
}
