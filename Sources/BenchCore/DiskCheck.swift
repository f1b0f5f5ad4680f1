import Foundation

/// etcd's disk guidance as a check (fio's etcd recipe): sequential 2,300-byte writes, each followed by
/// fdatasync, in a directory's filesystem; etcd wants the 99th percentile under 10 ms.
public enum DiskCheck {
    public struct Result: Sendable {
        /// fdatasync latencies, in seconds.
        public var syncs: BenchReport
        /// Bytes per second of plain sequential writes (no sync between them), synced once at the end.
        public var sequentialBytesPerSecond: Double
        /// The 99th percentile fdatasync latency, in seconds.
        public var p99: Double { syncs.latencyPercentiles.first { $0.percentile == 99 }?.seconds ?? 0 }
        /// etcd's rule: p99 of fdatasync under 10 ms.
        public var passes: Bool { p99 < 0.010 }
    }

    /// Runs the check in `directory` with `writes` synced writes of `size` bytes, then `sequentialBytes`
    /// of sequential writes; the scratch file is removed.
    public static func run(directory: String, writes: Int = 22_000 / 10, size: Int = 2_300, sequentialBytes: Int = 256 << 20) throws -> Result {
        let path = directory + "/setcd-bench-disk-\(UUID().uuidString)"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CheckError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer {
            close(fd)
            unlink(path)
        }
        let block = [UInt8](repeating: 0x61, count: size)
        var report = BenchReport()
        let clock = ContinuousClock()
        let started = clock.now
        for _ in 0..<writes {
            try writeAll(fd, block)
            let before = clock.now
            guard fdatasync(fd) == 0 else { throw CheckError("fdatasync: \(String(cString: strerror(errno)))") }
            report.record(latency: seconds(clock.now - before))
        }
        report.total = seconds(clock.now - started)

        let chunk = [UInt8](repeating: 0x62, count: 1 << 20)
        guard ftruncate(fd, 0) == 0, lseek(fd, 0, SEEK_SET) == 0 else { throw CheckError("cannot reset \(path)") }
        let sequentialStart = clock.now
        var written = 0
        while written < sequentialBytes {
            try writeAll(fd, chunk)
            written += chunk.count
        }
        guard fdatasync(fd) == 0 else { throw CheckError("fdatasync: \(String(cString: strerror(errno)))") }
        let elapsed = seconds(clock.now - sequentialStart)
        return Result(syncs: report, sequentialBytesPerSecond: elapsed > 0 ? Double(written) / elapsed : 0)
    }

    /// The report printed by `setcd-bench disk`.
    public static func text(_ result: Result) -> String {
        var out = "fdatasync after each 2300-byte sequential write (\(result.syncs.latencies.count) writes):\n"
        for (percentile, value) in result.syncs.latencyPercentiles {
            out += "  p\(BenchReport.goFloat(percentile)):\t\(String(format: "%.3f", value * 1000)) ms\n"
        }
        out += "Sequential write throughput: \(String(format: "%.1f", result.sequentialBytesPerSecond / 1_048_576)) MiB/s\n"
        out += result.passes
            ? "PASS: 99th percentile fdatasync is \(String(format: "%.3f", result.p99 * 1000)) ms (etcd wants under 10 ms)\n"
            : "FAIL: 99th percentile fdatasync is \(String(format: "%.3f", result.p99 * 1000)) ms (etcd wants under 10 ms)\n"
        return out
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CheckError("write: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// A failure of the check itself (not of the disk).
    public struct CheckError: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }
}
