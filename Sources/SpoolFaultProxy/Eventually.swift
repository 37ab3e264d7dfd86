/// Test support: waits for `condition` with a deadline instead of sleeping a fixed time. Polls
/// every `pollEvery` and looks once more at the deadline (a test process whose threads were all
/// busy may wake this task only after it, and the condition may hold by then: slow is not
/// failed). Throws `TimeoutError` naming `what`, which the test reports as its failure.
public func eventually(
    timeout: Duration = .seconds(10), pollEvery: Duration = .milliseconds(10), _ what: String = "condition",
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: pollEvery)
    }
    if try await condition() { return }
    throw TimeoutError(what: what)
}

/// A wait that ran out of time: `timed out waiting for <what>`.
public struct TimeoutError: Error, CustomStringConvertible {
    public var what: String
    public init(what: String) { self.what = what }
    public var description: String { "timed out waiting for \(what)" }
}
