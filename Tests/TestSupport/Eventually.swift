/// Polls `condition` until it holds or `timeout` passes; then fails with a `TimeoutError` naming what was
/// awaited, instead of hanging. For states that announce themselves by no event a test could await.
public func eventually(
    _ what: @autoclosure () -> String,
    timeout: Duration = .seconds(10),
    poll: Duration = .milliseconds(25),
    _ condition: @Sendable () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: poll)
    }
    if try await condition() { return }
    throw TimeoutError(waitingFor: what(), timeout: timeout)
}
