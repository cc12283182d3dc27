#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A pthread mutex guarding a value, modelled on swift-service-lifecycle's `Lock.swift`.
///
/// ThreadSanitizer on Linux does not see through `Synchronization.Mutex` here, so the locks of this
/// module are plain pthread mutexes that TSan understands. The mutex and a condition variable live
/// in heap memory owned by this class, so their addresses are stable.
///
/// `@unchecked Sendable`: `value` is only read or written between `pthread_mutex_lock` and
/// `pthread_mutex_unlock` of `mutex` (in `withLock` or by callers holding the lock through
/// `lock()`/`unlock()`), and the pointers themselves are immutable after `init`.
final class NATSLock<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var value: Value

    init(_ value: Value) {
        self.value = value
        self.mutex = .allocate(capacity: 1)
        self.mutex.initialize(to: pthread_mutex_t())
        let error = pthread_mutex_init(self.mutex, nil)
        precondition(error == 0, "pthread_mutex_init failed: \(error)")
        self.condition = .allocate(capacity: 1)
        self.condition.initialize(to: pthread_cond_t())
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        #if !canImport(Darwin)
            pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        #endif
        let condError = pthread_cond_init(self.condition, &attributes)
        pthread_condattr_destroy(&attributes)
        precondition(condError == 0, "pthread_cond_init failed: \(condError)")
    }

    deinit {
        pthread_cond_destroy(self.condition)
        self.condition.deinitialize(count: 1)
        self.condition.deallocate()
        pthread_mutex_destroy(self.mutex)
        self.mutex.deinitialize(count: 1)
        self.mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the guarded value.
    @inline(__always)
    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(self.mutex)
        defer { pthread_mutex_unlock(self.mutex) }
        return try body(&self.value)
    }

    /// Waits on the condition variable while `body` returns a deadline (`nil`: forever), until `body`
    /// returns `.done`. Runs with the lock held; the wait releases it.
    func waitLoop<Result>(_ body: (inout Value) -> WaitStep<Result>) -> Result {
        pthread_mutex_lock(self.mutex)
        defer { pthread_mutex_unlock(self.mutex) }
        while true {
            switch body(&self.value) {
            case .done(let result):
                return result
            case .waitForever:
                pthread_cond_wait(self.condition, self.mutex)
            case .waitUntil(let deadline):
                var time = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
                _ = pthread_cond_timedwait(self.condition, self.mutex, &time)
            }
        }
    }

    /// Wakes every thread waiting in `waitLoop`. Call it after changing the value in `withLock`.
    func broadcast() {
        pthread_cond_broadcast(self.condition)
    }
}

/// What `NATSLock.waitLoop`'s body decides on each turn.
enum WaitStep<Result> {
    case done(Result)
    case waitForever
    /// A deadline on the monotonic clock in nanoseconds (see `monotonicNanoseconds()`).
    case waitUntil(UInt64)
}

/// The monotonic clock in nanoseconds, the clock the condition variables above wait on.
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
}

extension Duration {
    /// The duration in whole nanoseconds, clamped at zero.
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = self.components
        if seconds < 0 { return 0 }
        return UInt64(seconds) &* 1_000_000_000 &+ UInt64(attoseconds / 1_000_000_000)
    }

    /// The duration in whole milliseconds as cnats wants it, at least 1 for any positive duration.
    var cMilliseconds: Int64 {
        let ns = self.nanoseconds
        if ns == 0 { return 0 }
        return Int64(max(1, (ns + 999_999) / 1_000_000))
    }
}
