import Foundation
import Logging
import MVCC
import WAL

/// The single-member write path: proposals are queued, appended to the WAL in batches with one
/// fdatasync per batch, then applied to the store in one LMDB transaction, and only then answered.
///
/// This is the propose → commit → apply path that Raft will drive: a lone member commits an entry as
/// soon as it is durable in its own log. One dedicated thread runs it, so LMDB write transactions never
/// leave that thread and the WAL is touched by nothing else.
final class ApplyLoop: @unchecked Sendable {
    // @unchecked Sendable: `pending` and `stopped` are only touched with `condition` locked; `wal`,
    // `nextIndex` and `entriesSinceRelease` only on the loop thread after `start()` (before it, only by
    // `init`).
    private struct Pending {
        let data: [UInt8]
        let operation: MVCC.Operation
        let continuation: CheckedContinuation<OperationResult, any Error>
    }

    private let condition = NSCondition()
    private var pending: [Pending] = []
    private var stopped = false
    private let wal: WriteAheadLog
    private let store: MVCCStore
    private var nextIndex: UInt64
    private let term: UInt64
    private let memberID: UInt64
    private let releaseEvery: Int
    private var entriesSinceRelease = 0
    private let metrics: MemberMetrics
    private let logger: Logger
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)

    /// The largest batch appended and applied at once.
    static let maxBatch = 4096

    /// Replays the WAL entries after the store's consistent index, then is ready to `start()`.
    init(wal: WriteAheadLog, contents: WALContents, store: MVCCStore, term: UInt64, memberID: UInt64, releaseEvery: Int, metrics: MemberMetrics, logger: Logger) throws {
        self.wal = wal
        self.store = store
        self.term = term
        self.memberID = memberID
        self.releaseEvery = max(releaseEvery, 1)
        self.metrics = metrics
        self.logger = logger
        let applied = store.consistentIndex
        let replay = contents.entries.filter { $0.index > applied }
        if !replay.isEmpty {
            let operations = try replay.map { (index: $0.index, operation: try Proposal(decoding: $0.data).operation) }
            for chunk in stride(from: 0, to: operations.count, by: Self.maxBatch) {
                _ = try store.apply(Array(operations[chunk..<min(chunk + Self.maxBatch, operations.count)]))
            }
            logger.info("replayed WAL entries", metadata: ["from": "\(replay.first!.index)", "to": "\(replay.last!.index)"])
        }
        nextIndex = max(contents.entries.last?.index ?? 0, contents.snapshot?.index ?? 0, applied) + 1
    }

    /// The index of the last entry appended.
    var lastIndex: UInt64 {
        condition.lock()
        defer { condition.unlock() }
        return nextIndex - 1
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "setcd-apply"
        thread.start()
        self.thread = thread
    }

    /// Proposes a write (already encoded as its log entry) and waits until it is durable and applied.
    func propose(_ proposal: Proposal, encoded data: [UInt8]) async throws -> OperationResult {
        let operation = proposal.operation
        return try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            if stopped {
                condition.unlock()
                continuation.resume(throwing: MemberStoppedError())
                return
            }
            pending.append(Pending(data: data, operation: operation, continuation: continuation))
            condition.signal()
            condition.unlock()
        }
    }

    /// Stops taking proposals, finishes those queued, and waits for the thread to end.
    func stop() {
        condition.lock()
        let wasRunning = !stopped
        stopped = true
        condition.signal()
        condition.unlock()
        if wasRunning && thread != nil { finished.wait() }
        wal.close()
    }

    private func run() {
        while true {
            condition.lock()
            while pending.isEmpty && !stopped { condition.wait() }
            if pending.isEmpty {
                condition.unlock()
                finished.signal()
                return
            }
            let batch = Array(pending.prefix(Self.maxBatch))
            pending.removeFirst(batch.count)
            let first = nextIndex
            nextIndex += UInt64(batch.count)
            condition.unlock()
            process(batch, firstIndex: first)
        }
    }

    private func process(_ batch: [Pending], firstIndex: UInt64) {
        var entries: [WALEntry] = []
        entries.reserveCapacity(batch.count)
        for (offset, item) in batch.enumerated() {
            entries.append(WALEntry(term: term, index: firstIndex + UInt64(offset), data: item.data))
        }
        let lastIndex = firstIndex + UInt64(batch.count) - 1
        let clock = ContinuousClock()
        do {
            let started = clock.now
            try wal.save(entries: entries, hardState: WALHardState(term: term, vote: memberID, commit: lastIndex))
            metrics.walFsync.record(clock.now - started)
            metrics.proposalsCommitted.increment(by: Int64(batch.count))
        } catch {
            // etcd panics here too: a member that cannot persist its log must not acknowledge anything.
            logger.critical("failed to save WAL entries", metadata: ["error": "\(error)"])
            fatalError("setcd: WAL write failed: \(error)")
        }
        let results: [OperationResult?]
        do {
            let started = clock.now
            results = try store.apply(entries.indices.map { (index: entries[$0].index, operation: batch[$0].operation) })
            metrics.backendCommit.record(clock.now - started)
            metrics.proposalsApplied.increment(by: Int64(batch.count))
        } catch {
            logger.critical("failed to apply entries", metadata: ["error": "\(error)"])
            fatalError("setcd: apply failed: \(error)")
        }
        for (item, result) in zip(batch, results) {
            item.continuation.resume(returning: result ?? .noop(revision: store.currentRevision))
        }
        entriesSinceRelease += batch.count
        if entriesSinceRelease >= releaseEvery {
            entriesSinceRelease = 0
            do {
                try store.sync()
                try wal.releaseSegments(upTo: store.consistentIndex)
            } catch {
                logger.warning("failed to release WAL segments", metadata: ["error": "\(error)"])
            }
        }
    }
}
