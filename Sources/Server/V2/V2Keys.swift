import Foundation
import MVCC
import Synchronization
import V2Store

/// A member's v2 key tree (etcd's `--enable-v2` store): changed only by the apply thread, read by the
/// HTTP handlers, kept in the store file as one cluster record per node (and one for the index), so
/// it survives restarts and travels in snapshots.
final class V2Keys: @unchecked Sendable {
    // @unchecked Sendable: `tree` (a non-Sendable class) is only touched inside `locked`, under `lock`;
    // nothing hands it out, and the values returned from it (events, records) are Sendable copies.
    private let lock = NSLock()
    private let tree: V2Store
    /// Whether the cluster version has taken its v2 index (once per cluster, as etcd's `/0/version`).
    private let clusterVersionRecorded: Mutex<Bool>

    /// The tree recorded in `store`.
    convenience init(loadingFrom store: MVCCStore) {
        let (tree, versionRecorded) = Self.load(from: store)
        self.init(tree: tree, versionRecorded: versionRecorded)
    }

    private init(tree: V2Store, versionRecorded: Bool) {
        self.tree = tree
        clusterVersionRecorded = Mutex(versionRecorded)
    }

    /// Replaces the tree with the one recorded in `store` (after installing a leader's snapshot);
    /// watchers of the old tree are ended.
    func reload(from store: MVCCStore) {
        let (fresh, versionRecorded) = Self.load(from: store)
        locked { $0.replaceContents(with: fresh) }
        clusterVersionRecorded.withLock { $0 = versionRecorded }
    }

    private static func load(from store: MVCCStore) -> (V2Store, Bool) {
        var records: [(path: String, record: V2NodeRecord)] = []
        var index: UInt64 = 0
        var versionRecorded = false
        for (key, value) in (try? store.clusterRecords()) ?? [] {
            if key == Self.versionKey {
                versionRecorded = true
            } else if key == Self.indexKey {
                index = value.reduce(0) { $0 << 8 | UInt64($1) }
            } else if key.starts(with: Self.nodePrefix), let stored = try? JSONDecoder().decode(StoredNode.self, from: Data(value)) {
                records.append((stored.path, stored.record))
            }
        }
        return (V2Store(records: records, index: index), versionRecorded)
    }

    /// Runs `body` with the tree locked (reads, watch registration).
    func withTree<Result>(_ body: (V2Store) throws(V2Error) -> Result) throws(V2Error) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(tree)
    }

    /// Runs `body` with the tree locked.
    private func locked<Result>(_ body: (V2Store) -> Result) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return body(tree)
    }

    /// The store index.
    var currentIndex: UInt64 { locked { $0.currentIndex } }

    /// Applies a request (on the apply thread) and returns its answer and the store operation that
    /// records the change.
    func apply(_ request: V2Request) -> (Result<[V2Event], V2Error>, MVCC.Operation) {
        locked { store in
            let result = Result { () throws(V2Error) in try request.apply(to: store) }
            return (result, Self.operation(for: store))
        }
    }

    /// Internal changes (etcd records membership and the cluster version in the v2 store, so each such
    /// change takes a v2 index, and v2 clients see the same indexes on setcd): `count` membership
    /// changes, plus the cluster version the first time a member publishes itself. Returns `operation`
    /// with the records of the new index added.
    func recordingInternalChanges(_ count: Int, publish: Bool, with operation: MVCC.Operation) -> MVCC.Operation {
        let version = publish && clusterVersionRecorded.withLock { recorded in
            defer { recorded = true }
            return !recorded
        }
        var changes: [ClusterRecordChange] = locked { store in
            for _ in 0..<(count + (version ? 1 : 0)) { store.recordInternalChange() }
            guard case .clusterRecords(let changes) = Self.operation(for: store) else { return [] }
            return changes
        }
        if version { changes.append(ClusterRecordChange(key: Self.versionKey, value: [1])) }
        switch operation {
        case .clusterRecord(let key, let value): return .clusterRecords([ClusterRecordChange(key: key, value: value)] + changes)
        case .clusterRecords(let earlier): return .clusterRecords(earlier + changes)
        default: return .clusterRecords(changes)
        }
    }

    /// Whether the tree has nodes to expire (the leader then sweeps every 500 ms).
    var hasExpiringNodes: Bool { locked { $0.hasExpiringNodes } }

    /// The node records and index record for the tree's pending changes.
    private static func operation(for store: V2Store) -> MVCC.Operation {
        var changes = store.takeChanges().map { path, record in
            ClusterRecordChange(key: recordKey(path), value: record.flatMap { try? JSONEncoder().encode(StoredNode(path: path, record: $0)) }.map(Array.init))
        }
        changes.append(ClusterRecordChange(key: indexKey, value: withUnsafeBytes(of: store.currentIndex.bigEndian, Array.init)))
        return .clusterRecords(changes)
    }

    /// A node's record key: its path, or a hash of it when the path is too long for an LMDB key.
    private static func recordKey(_ path: String) -> [UInt8] {
        let bytes = Array(path.utf8)
        if bytes.count <= 400 { return nodePrefix + bytes }
        // FNV-1a, 64-bit: the path itself is in the record.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return nodePrefix + Array("#".utf8) + withUnsafeBytes(of: hash.bigEndian, Array.init) + Array(bytes.prefix(300))
    }

    private struct StoredNode: Codable {
        var path: String
        var record: V2NodeRecord
    }

    static let nodePrefix = Array("v2/".utf8)
    static let indexKey = Array("v2index".utf8)
    static let versionKey = Array("v2clusterversion".utf8)
}
