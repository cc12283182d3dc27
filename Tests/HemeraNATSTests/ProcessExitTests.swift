import Foundation
import HemeraTesting
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The test harness sees a child's exit even when nobody has reaped it (Foundation's `Process`
/// can miss it on Linux, and `waitUntilExit()` then spins forever: `make test-asan` hung 47
/// minutes in `NATSTestServer.stop()` over a `<defunct>` nats-server).
@Suite struct ProcessExit {
    #if os(Linux)
        @Test func anUnreapedChildHasExited() throws {
            // A child spawned outside Foundation and not reaped: a zombie once it exits.
            var pid: pid_t = 0
            let arguments = ["/bin/sh", "-c", "exit 0"]
            var argv = arguments.map { strdup($0) } + [nil]
            defer { for pointer in argv { free(pointer) } }
            #expect(posix_spawn(&pid, "/bin/sh", nil, nil, &argv, environ) == 0)
            let deadline = ContinuousClock.now + .seconds(10)
            while !processHasExited(pid) && ContinuousClock.now < deadline { usleep(2_000) }
            #expect(processHasExited(pid))
            #expect(kill(pid, 0) == 0, "still a zombie, not reaped: the case Process.isRunning misses")
            var status: Int32 = 0
            #expect(waitpid(pid, &status, 0) == pid)
            #expect(processHasExited(pid))
        }

        @Test func aRunningChildHasNotExited() throws {
            var pid: pid_t = 0
            let arguments = ["/bin/sleep", "30"]
            var argv = arguments.map { strdup($0) } + [nil]
            defer { for pointer in argv { free(pointer) } }
            #expect(posix_spawn(&pid, "/bin/sleep", nil, nil, &argv, environ) == 0)
            #expect(!processHasExited(pid))
            #expect(kill(pid, SIGKILL) == 0)
            var status: Int32 = 0
            #expect(waitpid(pid, &status, 0) == pid)
        }
    #endif
}
