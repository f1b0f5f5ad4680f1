import Foundation
import Histogram

/// The results of a benchmark run and etcd's benchmark report of them (`pkg/report`): Summary (total
/// time, slowest, fastest, average, standard deviation, requests per second), a 10-bucket response time
/// histogram, the latency distribution at 10…99.9% (from an HdrHistogram of microseconds) and the
/// errors; or the same as JSON for machines.
public struct BenchReport: Sendable {
    /// Latencies of the successful requests, in seconds.
    public private(set) var latencies: [Double] = []
    /// Errors by text, with their counts.
    public private(set) var errors: [String: Int] = [:]
    /// Wall time of the whole run, in seconds.
    public var total: Double = 0
    /// Operations per request (etcd's weighted report, for `mvcc put --txn`): latencies are recorded
    /// per operation and requests per second count operations.
    public var weight: Double = 1

    public init() {}

    public mutating func record(latency seconds: Double) { latencies.append(seconds) }
    public mutating func record(error text: String) { errors[text, default: 0] += 1 }

    /// Another worker's results, merged in.
    public mutating func merge(_ other: BenchReport) {
        latencies += other.latencies
        errors.merge(other.errors, uniquingKeysWith: +)
    }

    public static let percentiles: [Double] = [10, 25, 50, 75, 90, 95, 99, 99.9]

    /// Requests made: answered and failed.
    public var requests: Int { latencies.count + errors.values.reduce(0, +) }

    public var requestsPerSecond: Double { total > 0 ? Double(latencies.count) * weight / total : 0 }
    public var slowest: Double { latencies.max() ?? 0 }
    public var fastest: Double { latencies.min() ?? 0 }
    public var average: Double { latencies.isEmpty ? 0 : latencies.reduce(0, +) / Double(latencies.count) }
    public var standardDeviation: Double {
        guard !latencies.isEmpty else { return 0 }
        let mean = average
        return (latencies.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(latencies.count)).squareRoot()
    }

    /// The latency at each of `percentiles`, in seconds (HdrHistogram, microsecond resolution, 3
    /// significant digits).
    public var latencyPercentiles: [(percentile: Double, seconds: Double)] { latencies(at: Self.percentiles) }

    /// The percentiles of the JSON report's distribution, for plots: every whole percent and the tail.
    public static let distributionPercentiles: [Double] = (1...99).map(Double.init) + [99.5, 99.9, 99.99, 100]

    /// The latency at each of `levels` (percentiles), in seconds, from an HdrHistogram.
    public func latencies(at levels: [Double]) -> [(percentile: Double, seconds: Double)] {
        guard !latencies.isEmpty else { return [] }
        var histogram = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
        for latency in latencies { _ = histogram.record(UInt64(max(1, (latency * 1_000_000).rounded()))) }
        return levels.map { ($0, Double(histogram.valueAtPercentile($0)) / 1_000_000) }
    }

    /// etcd's text report: numbers as "%4.4f", or with `precise` (etcd's `--precise`) as "%g".
    public func text(precise: Bool = false) -> String {
        let seconds = { (value: Double) in Self.number(value, precise: precise) + " secs" }
        var out = ""
        if !latencies.isEmpty {
            out += "\nSummary:\n"
            out += "  Total:\t\(seconds(total)).\n"
            out += "  Slowest:\t\(seconds(slowest)).\n"
            out += "  Fastest:\t\(seconds(fastest)).\n"
            out += "  Average:\t\(seconds(average)).\n"
            out += "  Stddev:\t\(seconds(standardDeviation)).\n"
            out += "  Requests/sec:\t\(Self.number(requestsPerSecond, precise: precise))\n"
            out += histogram(precise: precise)
            out += "\nLatency distribution:\n"
            for (percentile, value) in latencyPercentiles where value > 0 {
                out += "  \(Self.goFloat(percentile))% in \(seconds(value)).\n"
            }
        }
        if !errors.isEmpty {
            out += "\nError distribution:\n"
            for (error, count) in errors.sorted(by: { $0.key < $1.key }) { out += "  [\(count)]\t\(error)\n" }
        }
        return out
    }

    /// The report as JSON (seconds as numbers), with a finer latency distribution (`[percentile,
    /// seconds]` pairs) for plots.
    public func json() -> String {
        var fields = [
            "\"total\":\(total)", "\"slowest\":\(slowest)", "\"fastest\":\(fastest)", "\"average\":\(average)",
            "\"stddev\":\(standardDeviation)", "\"requestsPerSecond\":\(requestsPerSecond)", "\"requests\":\(latencies.count)",
        ]
        fields.append("\"percentiles\":{" + latencyPercentiles.map { "\"\(Self.goFloat($0.percentile))\":\($0.seconds)" }.joined(separator: ",") + "}")
        fields.append("\"distribution\":[" + latencies(at: Self.distributionPercentiles).map { "[\($0.percentile),\($0.seconds)]" }.joined(separator: ",") + "]")
        fields.append("\"errors\":{" + errors.sorted { $0.key < $1.key }.map { "\"\($0.key.replacingOccurrences(of: "\"", with: "\\\""))\":\($0.value)" }
            .joined(separator: ",") + "}")
        return "{" + fields.joined(separator: ",") + "}\n"
    }

    /// etcd's 10-bucket histogram between the fastest and the slowest request.
    private func histogram(precise: Bool) -> String {
        let bucketCount = 10
        let step = (slowest - fastest) / Double(bucketCount)
        var buckets = (0..<bucketCount).map { fastest + step * Double($0) }
        buckets.append(slowest)
        var counts = [Int](repeating: 0, count: bucketCount + 1)
        var bucket = 0
        for latency in latencies.sorted() {
            while latency > buckets[bucket] && bucket < bucketCount { bucket += 1 }
            counts[bucket] += 1
        }
        let most = counts.max() ?? 0
        var out = "\nResponse time histogram:\n"
        for (limit, count) in zip(buckets, counts) {
            let bar = most > 0 ? count * 40 / most : 0
            out += "  \(Self.number(limit, precise: precise)) [\(count)]\t|" + String(repeating: "∎", count: bar) + "\n"
        }
        return out
    }

    static func number(_ value: Double, precise: Bool) -> String { precise ? goG(value) : String(format: "%4.4f", value) }

    /// Go's "%g" of the shortest representation: plain from 1e-4 up to 1e6, else with an exponent
    /// ("1.5e-05", "1.234567e+06"); whole numbers without Swift's ".0".
    static func goG(_ value: Double) -> String {
        let plain = "\(value)"
        guard abs(value) >= 1e6, !plain.contains("e") else { return plain.hasSuffix(".0") ? String(plain.dropLast(2)) : plain }
        // Swift writes these plainly ("1234567.25"): move the point after the first digit.
        let sign = value < 0 ? "-" : ""
        let unsigned = plain.hasPrefix("-") ? String(plain.dropFirst()) : plain
        let parts = unsigned.split(separator: ".", omittingEmptySubsequences: false)
        let whole = String(parts[0])
        var digits = whole + (parts.count > 1 ? String(parts[1]) : "")
        while digits.count > 1 && digits.hasSuffix("0") { digits.removeLast() }
        let exponent = whole.count - 1
        let mantissa = digits.count > 1 ? "\(digits.first!).\(digits.dropFirst())" : digits
        return "\(sign)\(mantissa)e+\(exponent < 10 ? "0" : "")\(exponent)"
    }

    /// A float as Go's `%v` prints these percentiles (`99.9`, `50`).
    static func goFloat(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}
