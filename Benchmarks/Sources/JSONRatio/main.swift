// Interleaved ratios of HemeraJSON against Foundation on the issue-11 shapes, one process,
// release build: `swift run -c release --package-path Benchmarks JSONRatio [rounds]`.
//
// Each round times every (shape, library, direction) for a fixed number of operations, in turn,
// so machine load hits both libraries alike; the figure is the median over rounds of
// Foundation's time divided by HemeraJSON's (above 1: HemeraJSON is faster).
import Foundation
import HemeraJSON
import JSONShapes

@inline(never) func blackHole<T>(_ value: T) { withExtendedLifetime(value) {} }

func nanoseconds(_ operations: Int, _ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<operations { try body() }
    return Double(DispatchTime.now().uptimeNanoseconds - start) / Double(operations)
}

struct Case {
    var name: String
    var bytes: Int
    var operations: Int
    var hemeraDecode: () throws -> Void
    var foundationDecode: () throws -> Void
    var hemeraEncode: () throws -> Void
    var foundationEncode: () throws -> Void
}

func makeCase<T: Codable>(_ name: String, _ type: T.Type, _ bytes: [UInt8], operations: Int) -> Case {
    let data = Data(bytes)
    let value = try! JSONDecoder().decode(T.self, from: data)
    let hemeraDecoder = HemeraJSONDecoder()
    let foundationDecoder = JSONDecoder()
    let hemeraEncoder = HemeraJSONEncoder()
    let foundationEncoder = JSONEncoder()
    precondition((try? hemeraDecoder.decode(T.self, from: bytes)) != nil, "\(name) does not decode")
    return Case(
        name: name,
        bytes: bytes.count,
        operations: operations,
        hemeraDecode: { blackHole(try hemeraDecoder.decode(T.self, from: bytes)) },
        foundationDecode: { blackHole(try foundationDecoder.decode(T.self, from: data)) },
        hemeraEncode: { blackHole(try hemeraEncoder.encode(value)) },
        foundationEncode: { blackHole(try foundationEncoder.encode(value)) }
    )
}

let cases = [
    makeCase("request envelope with trace", Envelope.self, Shapes.envelopeBytes, operations: 4000),
    makeCase("~1 KB list of products", [Product].self, Shapes.json(Shapes.products), operations: 1000),
    makeCase("five 64-byte strings", FiveStrings.self, Shapes.json(Shapes.fiveStrings), operations: 4000),
    makeCase("~64 KB array of records", [Record].self, Shapes.json(Shapes.records), operations: 20),
]

// `JSONRatio run <case> <hemera|foundation> <decode|encode> <operations>`: only those operations,
// for counting allocations from outside (`valgrind` reports "total heap usage: N allocs"; two
// counts differing only in <operations> give the allocations per operation).
let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "run", arguments.count == 5, let index = Int(arguments[1]), let operations = Int(arguments[4]) {
    let shape = cases[index]
    let body =
        switch (arguments[2], arguments[3]) {
        case ("hemera", "decode"): shape.hemeraDecode
        case ("foundation", "decode"): shape.foundationDecode
        case ("hemera", "encode"): shape.hemeraEncode
        default: shape.foundationEncode
        }
    for _ in 0..<operations { try body() }
    exit(0)
}

let rounds = arguments.first.flatMap(Int.init) ?? 15
var decodeRatios = Array(repeating: [Double](), count: cases.count)
var encodeRatios = Array(repeating: [Double](), count: cases.count)
var decodeTimes = Array(repeating: [Double](), count: cases.count)
for _ in 0..<rounds {
    for (index, shape) in cases.enumerated() {
        let hemera = try nanoseconds(shape.operations, shape.hemeraDecode)
        let foundation = try nanoseconds(shape.operations, shape.foundationDecode)
        decodeRatios[index].append(foundation / hemera)
        decodeTimes[index].append(hemera)
        let hemeraOut = try nanoseconds(shape.operations, shape.hemeraEncode)
        let foundationOut = try nanoseconds(shape.operations, shape.foundationEncode)
        encodeRatios[index].append(foundationOut / hemeraOut)
    }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1
        ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

print("shape | bytes | decode: HemeraJSON µs | decode ×Foundation | encode ×Foundation")
print("--- | ---: | ---: | ---: | ---:")
for (index, shape) in cases.enumerated() {
    print(
        "\(shape.name) | \(shape.bytes) | \(String(format: "%.2f", median(decodeTimes[index]) / 1000)) | "
            + "\(String(format: "%.2f", median(decodeRatios[index])))× | \(String(format: "%.2f", median(encodeRatios[index])))×"
    )
}
print("(\(rounds) interleaved rounds, medians)")
