internal import Logging

/// Retries of idempotent calls: when, how often, how long to wait between attempts.
///
/// Only calls marked idempotent are retried (`idempotent$: true` in the pattern, or a pattern
/// type conforming to ``HemeraIdempotentPattern``), and only after a failure that proves or
/// suggests the request did no harm to repeat: `NoRespondersError` (nobody received it) or
/// `TimeoutError` of one attempt (the request or its reply may be lost, e.g. when the node the
/// service was connected to died). Every attempt and every pause stays within the caller's
/// timeout: when it is spent, the last error is thrown.
///
/// ```swift
/// var options = HemeraOptions(app: "client")
/// options.retryPolicy = RetryPolicy(maxAttempts: 5)
/// let hemera = try await Hemera.connect(url: url, options: options)
/// let user = try await hemera.act(["topic": "users", "cmd": "get", "id": 1, "idempotent$": true])
/// ```
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts in total, the first one included (at least 1).
    public var maxAttempts: Int
    /// The pause before the second attempt; each later pause doubles, up to ``maxBackoff``.
    public var initialBackoff: Duration
    /// The longest pause between two attempts.
    public var maxBackoff: Duration
    /// How long one attempt waits for its reply at most; `nil` splits the caller's remaining time
    /// evenly over the attempts left.
    public var attemptTimeout: Duration?

    /// Creates a policy.
    public init(
        maxAttempts: Int = 4,
        initialBackoff: Duration = .milliseconds(25),
        maxBackoff: Duration = .milliseconds(500),
        attemptTimeout: Duration? = nil
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.attemptTimeout = attemptTimeout
    }

    /// The pause before attempt `attempt + 1` (attempt counts from 1): "full jitter", a random
    /// duration between half and all of the exponential backoff.
    func backoff(after attempt: Int) -> Duration {
        let exponent = min(attempt - 1, 20)
        let base = min(initialBackoff * (1 << exponent), maxBackoff)
        let nanoseconds = max(1, base.nanoseconds)
        return .nanoseconds(Int64.random(in: (nanoseconds / 2)...nanoseconds))
    }
}

extension Duration {
    // `components` divides a 128-bit count of attoseconds (about 190 instructions): read once.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
    var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

/// Marks a typed pattern as safe to repeat: its calls are retried under
/// ``HemeraOptions/retryPolicy``.
///
/// ```swift
/// struct GetUser: HemeraPattern, HemeraIdempotentPattern { … }
/// ```
public protocol HemeraIdempotentPattern {}

/// The NATS headers Hemera adds; Hemera 7 peers ignore them, and a message without them works.
public enum HemeraHeaders {
    /// The caller's remaining time in whole milliseconds when the request was sent. The service
    /// does not start a handler after it has passed, and nested acts get at most what is left.
    public static let timeout = "Hemera-Timeout"
}

extension Hemera {
    /// Runs `attempt` until it succeeds, fails with an error that is not retried, or the
    /// caller's `timeout` is spent.
    func withRetries<T>(
        _ policy: RetryPolicy,
        timeout: Duration,
        _ attempt: (Duration) async throws -> T
    ) async throws -> T {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var number = 0
        while true {
            number += 1
            let remaining = deadline - clock.now
            let attemptsLeft = policy.maxAttempts - number + 1
            var attemptTimeout = policy.attemptTimeout ?? (remaining / attemptsLeft)
            attemptTimeout = max(min(attemptTimeout, remaining), .milliseconds(1))
            do {
                return try await attempt(attemptTimeout)
            } catch let error as HemeraError
                where error.name == .noResponders || error.name == .timeout || error.name == .unavailable
            {
                let pause = policy.backoff(after: number)
                let left = deadline - clock.now
                if number >= policy.maxAttempts || left <= pause {
                    throw error
                }
                logger.debug("retrying \(error.name) (attempt \(number) of \(policy.maxAttempts)) in \(pause)")
                try await Task.sleep(for: pause)
            }
        }
    }
}
