#if canImport(Glibc)
    public import Glibc
#elseif canImport(Musl)
    public import Musl
#elseif canImport(Darwin)
    public import Darwin
#endif

/// A pthread mutex guarding a value, with an optional condition variable (modelled on
/// swift-service-lifecycle's `Lock.swift`). Package API: shared by HemeraNATS and Hemera.
///
/// ThreadSanitizer on Linux does not see through `Synchronization.Mutex`, so the locks of this
/// package are plain pthread mutexes that TSan understands. The mutex (and the condition variable,
/// when asked for) live in heap memory owned by this class, so their addresses are stable.
///
/// `@unchecked Sendable`: `value` is only read or written between `pthread_mutex_lock` and
/// `pthread_mutex_unlock` of `mutex` (in `withLock` and `waitLoop`), and the pointers themselves
/// are immutable after `init`.
///
/// The class and ``withLock(_:)`` are `public` rather than `package` only because Swift 6.3 did not
/// inline an `@inlinable package` method into the other modules of the package (checked with `nm`:
/// the callers kept calling the generic symbol); with `public` it inlines. HemeraLocks is in no
/// product, its initializer is `package`, so nothing outside the package can make one.
public final class PthreadLock<Value>: @unchecked Sendable {
    // `@usableFromInline`: `withLock` is inlined into its callers in the other modules, so it is
    // specialized for their value and result types. Called as an unspecialized generic it went
    // through value-witness calls for every enum it returned (seen in profiles of the request table
    // at 256 requests in flight).
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>?
    // `@exclusivity(unchecked)`: the mutex already makes every access exclusive, and the dynamic
    // check Swift adds to an `inout` access of a class's stored property (`swift_beginAccess`,
    // its access set, `swift_endAccess`: about 120 instructions) ran on every `withLock`, a dozen
    // times per act.
    @exclusivity(unchecked) @usableFromInline var value: Value

    /// A lock around `value`; `withCondition` adds a condition variable on the monotonic clock for
    /// ``waitLoop(_:)`` and ``broadcast()`` (one more allocation, so only where a thread waits).
    package init(_ value: Value, withCondition: Bool = false) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let error = pthread_mutex_init(mutex, nil)
        precondition(error == 0, "pthread_mutex_init failed: \(error)")
        guard withCondition else {
            condition = nil
            return
        }
        let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        #if !canImport(Darwin)
            pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        #endif
        let condError = pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
        precondition(condError == 0, "pthread_cond_init failed: \(condError)")
        self.condition = condition
    }

    deinit {
        if let condition {
            pthread_cond_destroy(condition)
            condition.deinitialize(count: 1)
            condition.deallocate()
        }
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the guarded value. Never call out (callbacks,
    /// continuations) from `body`: decide under the lock, act after it.
    @inlinable @inline(__always)
    public func withLock<Result, Failure: Error>(
        _ body: (inout Value) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }

    /// Waits on the condition variable while `body` returns a deadline (`nil`: forever), until `body`
    /// returns `.done`. Runs with the lock held; the wait releases it. Needs `withCondition: true`.
    package func waitLoop<Result>(_ body: (inout Value) -> WaitStep<Result>) -> Result {
        guard let condition else { preconditionFailure("waitLoop on a PthreadLock made without a condition") }
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while true {
            switch body(&value) {
            case .done(let result):
                return result
            case .waitForever:
                pthread_cond_wait(condition, mutex)
            case .waitUntil(let deadline):
                var time = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
                _ = pthread_cond_timedwait(condition, mutex, &time)
            }
        }
    }

    /// Wakes every thread waiting in ``waitLoop(_:)``. Call it after changing the value in `withLock`.
    package func broadcast() {
        guard let condition else { preconditionFailure("broadcast on a PthreadLock made without a condition") }
        pthread_cond_broadcast(condition)
    }
}

/// What ``PthreadLock/waitLoop(_:)``'s body decides on each turn.
package enum WaitStep<Result> {
    case done(Result)
    case waitForever
    /// A deadline on the monotonic clock in nanoseconds (see ``monotonicNanoseconds()``).
    case waitUntil(UInt64)
}

/// The monotonic clock in nanoseconds, the clock the condition variables above wait on.
@inline(__always)
package func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
}
