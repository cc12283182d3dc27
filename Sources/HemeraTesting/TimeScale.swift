internal import Foundation

/// How much slower than normal the tests run: `HEMERA_TEST_TIME_SCALE` (a number ≥ 1, default 1).
///
/// The sanitizer targets of the Makefile set it (ThreadSanitizer and AddressSanitizer slow
/// everything, timers and subprocesses included, several times over). Only upper bounds on elapsed
/// time are scaled, never the timeouts a test checks for, so an assertion keeps its meaning.
public let testTimeScale: Double = {
    guard let text = ProcessInfo.processInfo.environment["HEMERA_TEST_TIME_SCALE"],
        let value = Double(text), value >= 1
    else { return 1 }
    return value
}()

extension Duration {
    /// This duration multiplied by ``testTimeScale``: an upper bound that holds on a slow run too.
    public var scaledForTests: Duration { self * testTimeScale }
}
