import Foundation
import Logging
import MVCC
import WAL

/// The single-member write path: proposals are queued, appended to the WAL in batches with one
/// fdatasync per batch, then applied to the store in one LMDB transaction, and only then answered.
///
/// This is the propose → commit → apply path that Raft will drive: a lone member commits an entry as
/// soon as it is durable in its own log. Two dedicated threads form a pipeline: the WAL thread appends
/// and syncs batch N+1 while the apply thread commits batch N to LMDB (each commit is an fdatasync of
/// its own), so the two syncs overlap instead of adding up. The apply thread merges every batch that
/// became durable meanwhile into one LMDB transaction. LMDB write transactions never leave the apply
/// thread and the WAL is touched by nothing but the WAL thread.
final class ApplyLoop: @unchecked Sendable {
    // @unchecked Sendable: `pending` and `stopped` are only touched with `proposals` locked; `durable`
    // and `walFinished` only with `durableCondition` locked; `wal`, `nextIndex` and
    // `entriesSinceRelease` only on the WAL thread after `start()` (before it, only by `init`).
    private struct Pending {
        let data: [UInt8]
        let operation: MVCC.Operation
        let continuation: CheckedContinuation<OperationResult, any Error>
    }

    /// Entries that are durable in the WAL and wait to be applied.
    private struct DurableBatch {
        let items: [Pending]
        let firstIndex: UInt64
    }

    private let proposals = NSCondition()
    private var pending: [Pending] = []
    private var stopped = false
    private let durableCondition = NSCondition()
    private var durable: [DurableBatch] = []
    private var walFinished = false
    private let wal: WriteAheadLog
    private let store: MVCCStore
    private var nextIndex: UInt64
    private let term: UInt64
    private let memberID: UInt64
    private let releaseEvery: Int
    private var entriesSinceRelease = 0
    private let metrics: MemberMetrics
    private let logger: Logger
    private var started = false
    private let finished = DispatchSemaphore(value: 0)

    /// The largest batch appended to the WAL at once.
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
        proposals.lock()
        defer { proposals.unlock() }
        return nextIndex - 1
    }

    func start() {
        started = true
        let walThread = Thread { [self] in runWAL() }
        walThread.name = "setcd-wal"
        walThread.start()
        let applyThread = Thread { [self] in runApply() }
        applyThread.name = "setcd-apply"
        applyThread.start()
    }

    /// Proposes a write (already encoded as its log entry) and waits until it is durable and applied.
    func propose(_ proposal: Proposal, encoded data: [UInt8]) async throws -> OperationResult {
        let operation = proposal.operation
        return try await withCheckedThrowingContinuation { continuation in
            proposals.lock()
            if stopped {
                proposals.unlock()
                continuation.resume(throwing: MemberStoppedError())
                return
            }
            pending.append(Pending(data: data, operation: operation, continuation: continuation))
            proposals.signal()
            proposals.unlock()
        }
    }

    /// Stops taking proposals, finishes those queued, and waits for both threads to end.
    func stop() {
        proposals.lock()
        let wasRunning = !stopped
        stopped = true
        proposals.signal()
        proposals.unlock()
        if wasRunning && started {
            finished.wait()
            finished.wait()
        }
        wal.close()
    }

    // MARK: - WAL thread

    private func runWAL() {
        while true {
            proposals.lock()
            while pending.isEmpty && !stopped { proposals.wait() }
            if pending.isEmpty {
                proposals.unlock()
                break
            }
            let batch = Array(pending.prefix(Self.maxBatch))
            pending.removeFirst(batch.count)
            let first = nextIndex
            nextIndex += UInt64(batch.count)
            proposals.unlock()
            append(batch, firstIndex: first)
        }
        durableCondition.lock()
        walFinished = true
        durableCondition.signal()
        durableCondition.unlock()
        finished.signal()
    }

    private func append(_ batch: [Pending], firstIndex: UInt64) {
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
        durableCondition.lock()
        durable.append(DurableBatch(items: batch, firstIndex: firstIndex))
        durableCondition.signal()
        durableCondition.unlock()
        entriesSinceRelease += batch.count
        if entriesSinceRelease >= releaseEvery {
            entriesSinceRelease = 0
            releaseSegments()
        }
    }

    /// Deletes WAL segments whose entries LMDB holds durably: the applied index is read before the
    /// LMDB sync, so every entry up to it is on disk when the segments go.
    private func releaseSegments() {
        do {
            let applied = store.consistentIndex
            try store.sync()
            try wal.releaseSegments(upTo: applied)
        } catch {
            logger.warning("failed to release WAL segments", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Apply thread

    private func runApply() {
        while true {
            durableCondition.lock()
            while durable.isEmpty && !walFinished { durableCondition.wait() }
            if durable.isEmpty {
                durableCondition.unlock()
                break
            }
            let batches = durable
            durable.removeAll(keepingCapacity: true)
            durableCondition.unlock()
            apply(batches)
        }
        finished.signal()
    }

    private func apply(_ batches: [DurableBatch]) {
        var entries: [(index: UInt64, operation: MVCC.Operation)] = []
        for batch in batches {
            for (offset, item) in batch.items.enumerated() {
                entries.append((batch.firstIndex + UInt64(offset), item.operation))
            }
        }
        let results: [OperationResult?]
        do {
            let clock = ContinuousClock()
            let started = clock.now
            results = try store.apply(entries)
            metrics.backendCommit.record(clock.now - started)
            metrics.proposalsApplied.increment(by: Int64(entries.count))
        } catch {
            logger.critical("failed to apply entries", metadata: ["error": "\(error)"])
            fatalError("setcd: apply failed: \(error)")
        }
        var offset = 0
        for batch in batches {
            for item in batch.items {
                item.continuation.resume(returning: results[offset] ?? .noop(revision: store.currentRevision))
                offset += 1
            }
        }
    }
}
