import HemeraJSON
import Testing

/// The writer's fast path for numbers with at most three decimals (trace timestamps) prints what
/// the general JavaScript formatter prints.
@Suite struct WriterDecimalTests {
    func written(_ value: Double) -> String {
        var writer = JSONWriter()
        writer.double(value)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    @Test func threeDecimalsMatchTheGeneralFormatter() {
        var generator = SystemRandomNumberGenerator()
        let fixed: [Double] = [0.001, 0.01, 0.1, 0.5, -0.5, 0.012, 0.105, 0.15, 1.001, 457219.201649, 1764260000123.456,
                               1764260000123.4, 1764260000123.05, -1764260000123.007, 8796093022207.999, 0x1p43 + 0.5]
        for value in fixed { #expect(written(value) == formatJavaScriptNumber(value), "\(value)") }
        for _ in 0..<20000 {
            let micros = Int64.random(in: 1_700_000_000_000_000...2_300_000_000_000_000, using: &generator)
            let value = Double(micros) / 1000
            #expect(written(value) == formatJavaScriptNumber(value), "\(value)")
            let small = Double(Int64.random(in: -10_000_000...10_000_000, using: &generator)) / 1000
            #expect(written(small) == formatJavaScriptNumber(small), "\(small)")
            let any = Double.random(in: -1e13...1e13, using: &generator)
            #expect(written(any) == formatJavaScriptNumber(any), "\(any)")
        }
    }
}
