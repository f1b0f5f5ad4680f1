import Benchmark
import Foundation
import MVCC

/// A store in a fresh temporary directory, with LMDB syncing as the server configures it.
final class TemporaryStore {
    let directory: String
    let store: MVCCStore
    private var nextIndex: UInt64 = 1

    init() throws {
        directory = NSTemporaryDirectory() + "setcd-bench-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        store = try MVCCStore(path: directory + "/kv.mdb")
    }

    /// A store holding keys 0..<count (256-byte values), written in batches of 1,000.
    convenience init(preloaded count: Int) throws {
        try self.init()
        for start in stride(from: 0, to: count, by: 1000) {
            try apply((start..<min(start + 1000, count)).map(put))
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Applies operations as the apply thread does: one LMDB transaction for the whole batch.
    @discardableResult
    func apply(_ operations: [MVCC.Operation]) throws -> [OperationResult?] {
        let entries = operations.map { operation in
            defer { nextIndex += 1 }
            return (index: nextIndex, operation: operation)
        }
        return try store.apply(entries)
    }
}

func key(_ n: Int) -> [UInt8] { Array("key/\(String(format: "%08d", n))".utf8) }
let value256 = [UInt8](repeating: 0x61, count: 256)

func put(_ n: Int) -> MVCC.Operation {
    .txn(TxnRequest(success: [.put(PutRequest(key: key(n), value: value256))]))
}

let benchmarks: @Sendable () -> Void = {
    // Batch benchmarks time one batch per iteration; read benchmarks time single requests.
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        scalingFactor: .one,
        maxDuration: .seconds(5)
    )
    let readConfiguration = Benchmark.Configuration(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        scalingFactor: .kilo,
        maxDuration: .seconds(5)
    )

    // 1,000 puts of 256-byte values per apply batch (one LMDB commit), over a 100,000-key space.
    Benchmark("MVCC put (batch of 1000)", configuration: configuration) { benchmark in
        let store = try TemporaryStore()
        var n = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            try store.apply((0..<1000).map { _ in defer { n += 1 }; return put(n % 100_000) })
        }
    }

    // Point reads of existing keys at the current revision.
    Benchmark("MVCC range (single key)", configuration: readConfiguration) { benchmark in
        let store = try TemporaryStore(preloaded: 10_000)
        var n = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try store.store.range(RangeRequest(key: key(n % 10_000))))
            n += 7
        }
    }

    // Prefix reads returning 100 keys.
    Benchmark("MVCC range (100 keys)", configuration: readConfiguration) { benchmark in
        let store = try TemporaryStore(preloaded: 10_000)
        var n = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let start = (n * 100) % 9_900
            blackHole(try store.store.range(RangeRequest(key: key(start), rangeEnd: key(start + 100))))
            n += 1
        }
    }

    // Compare-and-swap transactions (compare mod revision, put), 1,000 per batch.
    Benchmark("MVCC txn compare+put (batch of 1000)", configuration: configuration) { benchmark in
        let store = try TemporaryStore()
        try store.apply((0..<1000).map(put))
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            try store.apply((0..<1000).map { i in
                .txn(TxnRequest(
                    compare: [Compare(key: key(i), result: .greater, target: .mod(0))],
                    success: [.put(PutRequest(key: key(i), value: value256))],
                    failure: [.range(RangeRequest(key: key(i)))]
                ))
            })
        }
    }

    // One stream with 100 prefix watchers; each iteration applies 100 puts and drains the events.
    Benchmark("Watch fan-out (100 watchers, 100 puts)", configuration: configuration) { benchmark in
        let store = try TemporaryStore()
        let stream = store.store.openWatchStream()
        defer { stream.close() }
        for _ in 0..<100 {
            _ = try stream.create(WatchRequest(key: Array("key/".utf8), rangeEnd: Array("key0".utf8)))
            _ = await stream.next()
        }
        var n = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            try store.apply((0..<100).map { _ in defer { n += 1 }; return put(n % 100_000) })
            var delivered = 0
            while delivered < 100 * 100, let message = await stream.next() {
                if case .events(_, let events, _) = message { delivered += events.count }
            }
        }
    }
}
