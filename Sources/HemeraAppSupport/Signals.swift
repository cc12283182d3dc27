import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Waits for SIGTERM or SIGINT, the signals a supervisor (or Ctrl-C) sends to stop a service.
public enum TerminationSignal {
    /// Suspends until the process receives SIGTERM or SIGINT and returns the signal's name.
    ///
    /// The default actions of both signals are turned off for the rest of the process's life, so a
    /// second signal during a graceful close does not kill the process.
    public static func wait() async -> String {
        let waiter = Waiter()
        let sources = [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")].map { number, name in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { waiter.resume(name) }
            source.resume()
            return source
        }
        let name = await withCheckedContinuation { (continuation: CheckedContinuation<String, Never>) in
            waiter.store(continuation)
        }
        for source in sources { source.cancel() }
        return name
    }

    /// Resumes the continuation exactly once, whichever comes first: the signal or the store.
    private final class Waiter: Sendable {
        private struct State {
            var continuation: CheckedContinuation<String, Never>?
            var received: String?
        }
        private let state = Mutex(State())

        func store(_ continuation: CheckedContinuation<String, Never>) {
            let received = state.withLock { state -> String? in
                if let received = state.received { return received }
                state.continuation = continuation
                return nil
            }
            if let received { continuation.resume(returning: received) }
        }

        func resume(_ name: String) {
            let continuation = state.withLock { state -> CheckedContinuation<String, Never>? in
                guard state.received == nil else { return nil }
                state.received = name
                defer { state.continuation = nil }
                return state.continuation
            }
            continuation?.resume(returning: name)
        }
    }
}
