import Foundation

/// Go's duration strings, as etcd's flags take and its tools print them, and go-humanize's byte
/// sizes.
public enum GoDuration {
    /// A duration flag ("0", "500ms", "5m", "1h30m"); nil if malformed or negative.
    public static func parse(_ text: String) -> Duration? {
        if text == "0" { return .zero }
        let units: [(name: String, seconds: Double)] = [("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600)]
        var rest = Substring(text)
        var seconds = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            // The longest unit that matches ("ms" before "m").
            guard let unit = units.filter({ rest.hasPrefix($0.name) }).max(by: { $0.name.count < $1.name.count }) else { return nil }
            rest = rest.dropFirst(unit.name.count)
            seconds += value * unit.seconds
        }
        return seconds > 0 ? .seconds(seconds) : nil
    }

    /// A duration as Go prints one: "4.628794ms", "1.5s", "750µs".
    public static func format(_ duration: Duration) -> String {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        let (value, unit) = seconds >= 1 ? (seconds, "s") : seconds >= 1e-3 ? (seconds * 1e3, "ms") : seconds >= 1e-6 ? (seconds * 1e6, "µs") : (seconds * 1e9, "ns")
        var text = String(format: "%.6f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text + unit
    }

    /// go-humanize's `Bytes`: SI units, one decimal below 10 ("213 kB", "1.5 MB", "9 B").
    public static func humanBytes(_ bytes: Int64) -> String {
        guard bytes >= 10 else { return "\(bytes) B" }
        let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
        let exponent = min(Int(floor(log(Double(bytes)) / log(1000))), units.count - 1)
        let value = (Double(bytes) / pow(1000, Double(exponent)) * 10 + 0.5).rounded(.down) / 10
        return String(format: value < 10 ? "%.1f %@" : "%.0f %@", value, units[exponent])
    }
}
