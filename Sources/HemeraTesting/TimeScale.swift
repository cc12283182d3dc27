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

/// How much more memory than normal the tests use: `HEMERA_TEST_MEMORY_SCALE` (a number ≥ 1,
/// default 1). `make test-tsan` sets it: ThreadSanitizer keeps shadow state for every allocation,
/// so a bound on resident memory growth measured natively (the overload test's) does not hold
/// under it. Only upper bounds on memory are scaled.
public let testMemoryScale: Double = {
    guard let text = ProcessInfo.processInfo.environment["HEMERA_TEST_MEMORY_SCALE"],
        let value = Double(text), value >= 1
    else { return 1 }
    return value
}()
