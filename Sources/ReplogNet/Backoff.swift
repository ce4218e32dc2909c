/// Jittered exponential back-off for reconnects, pure so that tests and the simulator can drive
/// it: the delay doubles from `initial` up to `maximum`, and each delay is drawn uniformly from
/// its upper half so that many clients do not reconnect in lock-step.
public struct Backoff: Sendable, Hashable {
    public var initial: Duration
    public var maximum: Duration
    public private(set) var attempt = 0

    public init(initial: Duration = .milliseconds(50), maximum: Duration = .seconds(5)) {
        precondition(initial > .zero && maximum >= initial, "back-off needs 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
    }

    /// The delay before the next attempt.
    public mutating func next(using generator: inout some RandomNumberGenerator) -> Duration {
        let exponent = min(attempt, 30)
        attempt += 1
        let ceiling = min(maximum, initial * (1 << exponent))
        let nanoseconds = ceiling.components.seconds * 1_000_000_000 + ceiling.components.attoseconds / 1_000_000_000
        let low = nanoseconds / 2
        return .nanoseconds(Int64.random(in: low...nanoseconds, using: &generator))
    }

    /// Starts over after a success.
    public mutating func reset() { attempt = 0 }
}
