/// Go's `time.ParseDuration`, as etcd and etcdctl read their duration flags and etcd reads
/// `--auto-compaction-retention`: an optionally signed sequence of decimal numbers, each with an
/// optional fraction and a unit (`ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`), such as `300ms`, `-1.5h`
/// or `2h45m`; `0` alone needs no unit. At most 2^63 − 1 nanoseconds (about 292 years); failures carry
/// Go's text (`time: invalid duration "x"`).
public enum GoDurationParser {
    private static let units: [String: UInt64] = [
        "ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000,
        "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000,
    ]

    /// The duration `text` stands for, in nanoseconds.
    public static func nanoseconds(_ text: String) throws -> Int64 {
        let invalid = ConfigError("time: invalid duration \(quoted(text))")
        let limit: UInt64 = 1 << 63
        let bytes = Array(text.utf8)
        var index = 0
        var negative = false
        if let sign = bytes.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") {
            negative = sign == UInt8(ascii: "-")
            index = 1
        }
        if bytes[index...].elementsEqual("0".utf8) { return 0 }
        guard index < bytes.count else { throw invalid }
        var total: UInt64 = 0
        while index < bytes.count {
            guard isDigit(bytes[index]) || bytes[index] == dot else { throw invalid }
            var whole: UInt64 = 0
            let wholeStart = index
            while index < bytes.count, isDigit(bytes[index]) {
                guard whole <= limit / 10 else { throw invalid }
                whole = whole * 10 + UInt64(bytes[index] - UInt8(ascii: "0"))
                guard whole <= limit else { throw invalid }
                index += 1
            }
            let hasWhole = index > wholeStart
            // Digits past what 63 bits hold only stop adding precision, as in Go.
            var fraction: UInt64 = 0
            var scale = 1.0
            var hasFraction = false
            if index < bytes.count, bytes[index] == dot {
                index += 1
                let fractionStart = index
                var full = false
                while index < bytes.count, isDigit(bytes[index]) {
                    let digit = UInt64(bytes[index] - UInt8(ascii: "0"))
                    index += 1
                    guard !full, fraction <= (limit - 1) / 10, fraction * 10 + digit <= limit else {
                        full = true
                        continue
                    }
                    fraction = fraction * 10 + digit
                    scale *= 10
                }
                hasFraction = index > fractionStart
            }
            guard hasWhole || hasFraction else { throw invalid }
            let unitStart = index
            while index < bytes.count, !isDigit(bytes[index]), bytes[index] != dot { index += 1 }
            guard index > unitStart else { throw ConfigError("time: missing unit in duration \(quoted(text))") }
            let unitName = String(decoding: bytes[unitStart..<index], as: UTF8.self)
            guard let unit = units[unitName] else {
                throw ConfigError("time: unknown unit \(quoted(unitName)) in duration \(quoted(text))")
            }
            guard whole <= limit / unit else { throw invalid }
            var value = whole * unit
            if fraction > 0 {
                value += UInt64(Double(fraction) * (Double(unit) / scale))
                guard value <= limit else { throw invalid }
            }
            let (sum, overflow) = total.addingReportingOverflow(value)
            guard !overflow, sum <= limit else { throw invalid }
            total = sum
        }
        if negative { return Int64(bitPattern: 0 &- total) }
        guard total < limit else { throw invalid }
        return Int64(total)
    }

    private static let dot = UInt8(ascii: ".")

    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    private static func quoted(_ text: String) -> String { "\"\(text)\"" }
}
