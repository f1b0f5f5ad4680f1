import Foundation
import MVCC

/// etcd's `benchmark mvcc put`: puts straight into the storage engine, no server or network. As
/// etcd's backend commits its batch every `batchInterval` or `batchLimit` writes, the store here
/// commits each put without syncing and syncs the file as often; the put that triggers the sync is
/// timed with it.
public enum MVCCBench {
    /// `total` puts (or, with `txnOps` > 1, txns of `txnOps` puts, each timed and weighted by its puts)
    /// of random `keySize`-byte keys and `valueSize`-byte values, into a fresh store in `directory`.
    public static func put(
        directory: String, total: Int, keySize: Int, valueSize: Int, txnOps: Int, batchInterval: Duration, batchLimit: Int,
        bar: ProgressBar?
    ) throws -> BenchReport {
        var options = StoreOptions()
        options.noSync = true
        let store = try MVCCStore(path: directory + "/db", options: options)
        let clock = ContinuousClock()
        let ops = max(txnOps, 1)
        let keys = (0..<(total * ops)).map { _ in (0..<keySize).map { _ in UInt8.random(in: 0...255) } }
        let values = (0..<(total * ops)).map { _ in (0..<valueSize).map { _ in UInt8.random(in: 0...255) } }
        var report = BenchReport()
        report.weight = Double(ops)
        var unsynced = 0
        var lastSync = clock.now
        let started = clock.now
        for number in 0..<total {
            let puts = (number * ops..<(number + 1) * ops).map { RequestOp.put(PutRequest(key: keys[$0], value: values[$0])) }
            let sent = clock.now
            let results = try store.apply([(UInt64(number + 1), .txn(TxnRequest(success: puts)))])
            unsynced += ops
            if unsynced >= batchLimit || clock.now - lastSync >= batchInterval {
                try store.sync()
                unsynced = 0
                lastSync = clock.now
            }
            if case .failure(let error) = results.first ?? nil { throw BenchError("put failed: \(error)") }
            report.record(latency: DiskCheck.seconds(clock.now - sent) / Double(ops))
            bar?.advance()
        }
        try store.sync()
        report.total = DiskCheck.seconds(clock.now - started)
        return report
    }
}
