// ActProbe: typed acts, client and service in one process, for `valgrind --tool=callgrind`.
//
// Instruction counts are repeatable on a loaded machine where wall time is not. The probe does
// nothing but set up one typed service and one client with DEFAULT settings (what a user gets),
// then run `count` typed acts, so that
//
//     instructions per act = (Ir(count2) - Ir(count1)) / (count2 - count1)
//
// cancels the setup (nats-server runs outside valgrind: it is a child process, not traced). It
// links neither the benchmark package nor its malloc interposer (which valgrind cannot run), so
// callgrind's call counts of `malloc` give the allocations per act the same way.
//
//   cd Benchmarks && swift build -c release --product ActProbe
//   objcopy --strip-debug .build/release/ActProbe /tmp/ActProbe   # valgrind 3.19 reads no DWARF 5
//   valgrind --tool=callgrind --callgrind-out-file=a.out /tmp/ActProbe pipelined 2000 256
//   valgrind --tool=callgrind --callgrind-out-file=b.out /tmp/ActProbe pipelined 6000 256
//   (or scripts/callgrind-act.sh, which does the above and prints the per-act figures)
//
// Arguments: `lone` or `pipelined`, the number of acts, requests in flight (pipelined; default
// 256). Also works without valgrind: prints acts/s (noisy; use CostProbe for time).
// Environment, for comparisons with opt-in modes only (the default run, and the script, set
// neither): ACTPROBE_INLINE=1 (`startsHandlersOnDeliveryThread`), ACTPROBE_REPLY_EXECUTOR=1 (the
// client's acts prefer the connection's reply executor).

import Dispatch
import Foundation
#if canImport(Glibc)
    import Glibc
#endif
import Hemera
import HemeraNATS
import HemeraTesting

struct Echo: HemeraPattern {
    static let topic = "probe"
    static let cmd: String? = "echo"
    typealias Reply = Echoed
    var data: String
}

struct Echoed: Codable, Sendable {
    var data: String
    var size: Int
}

let arguments = Array(CommandLine.arguments.dropFirst())
let workload = arguments.first ?? "pipelined"
let count = arguments.count > 1 ? Int(arguments[1]) ?? 2000 : 2000
let window = arguments.count > 2 ? Int(arguments[2]) ?? 256 : 256
guard workload == "lone" || workload == "pipelined" else {
    print("usage: ActProbe lone|pipelined COUNT [IN_FLIGHT]")
    exit(64)
}

/// The whole probe. The main thread only waits for it: an async `main` would park the main thread
/// in `dispatch_main`, which valgrind 3.19 cannot run (it crashes in the signal set-up).
func probe() async throws {
    // Under valgrind, Foundation's `Process` cannot start nats-server (valgrind's own descriptors):
    // the script starts it and passes its URL.
    let external = ProcessInfo.processInfo.environment["ACTPROBE_URL"]
    let server = NATSTestServer()
    if external == nil { try await server.start() }
    let url = external ?? server.url
    let data = String(repeating: "x", count: 100)

    // Default settings on both sides: `Hemera.connect` and `HemeraOptions()`.
    // Opt-in modes, for comparison only (the default run sets neither): ACTPROBE_INLINE=1 starts
    // handlers on the delivery thread; ACTPROBE_REPLY_EXECUTOR=1 resumes callers on the reply
    // thread (the client's acts run with the connection's reply executor as their preference).
    let environment = ProcessInfo.processInfo.environment
    var serviceOptions = HemeraOptions(app: "probe-service")
    serviceOptions.startsHandlersOnDeliveryThread = environment["ACTPROBE_INLINE"] == "1"
    let service = try await Hemera.connect(url: url, options: serviceOptions)
    try service.add(Echo.self) { request, _ in Echoed(data: request.data, size: request.data.utf8.count) }
    try await service.ready(timeout: .seconds(60))
    let client = try await Hemera.connect(url: url, options: HemeraOptions(app: "probe"))
    let pattern = Echo(data: data)

    let seconds = try await Task.detached { () async throws -> Double in
        // A few acts first, so lazily built caches are not counted per act... in neither run.
        for _ in 0..<50 { _ = try await client.act(pattern, timeout: .seconds(60)) }
        let start = DispatchTime.now().uptimeNanoseconds
        if workload == "lone" {
            for _ in 0..<count { _ = try await client.act(pattern, timeout: .seconds(60)) }
        } else {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for lane in 0..<min(window, count) {
                    let lane: @Sendable () async throws -> Void = {
                        var index = lane
                        while index < count {
                            let reply = try await client.act(pattern, timeout: .seconds(60))
                            precondition(reply.size == 100)
                            index += window
                        }
                    }
                    if environment["ACTPROBE_REPLY_EXECUTOR"] == "1", let executor = client.replyExecutor {
                        group.addTask(executorPreference: executor) { try await lane() }
                    } else {
                        group.addTask { try await lane() }
                    }
                }
                try await group.waitForAll()
            }
        }
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }.value
    print(
        "\(workload) \(count) acts (\(workload == "lone" ? 1 : window) in flight): \(Int(Double(count) / seconds)) acts/s"
    )
    await client.close()
    await service.close()
    if external == nil { server.stop() }
}

let done = DispatchSemaphore(value: 0)
Task.detached {
    do {
        try await probe()
    } catch {
        print("ActProbe failed: \(error)")
        exit(1)
    }
    done.signal()
}
done.wait()
