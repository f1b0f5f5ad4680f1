/// Why a ``Storage`` read failed.
public enum StorageError: Error, Sendable, Hashable {
    /// The requested index is older than the last snapshot: the entry was compacted away.
    case compacted
    /// The requested index is beyond the last entry.
    case unavailable
    /// A snapshot older than the one already held was offered.
    case snapshotOutOfDate
    /// No snapshot can be produced right now; the leader will try again later.
    case snapshotTemporarilyUnavailable
}

/// The durable log as the Raft node reads it: what the application has persisted from earlier
/// ``Ready``s (entries, hard state, snapshot). The node never writes to it; the application does,
/// after each `Ready`, before calling ``RaftNode/advance(_:)``.
///
/// Indices: the storage holds a snapshot covering `1...firstIndex-1` and entries
/// `firstIndex...lastIndex`. The term of `firstIndex - 1` (the snapshot's last entry) must stay
/// available. An empty log has `firstIndex == 1`, `lastIndex == 0`.
///
/// Implementations are reference types shared between the node and the application and used from
/// one isolation domain at a time.
public protocol Storage: AnyObject {
    /// The persisted hard state and the configuration as of the snapshot (index `firstIndex - 1`).
    func initialState() throws -> (hardState: HardState, confState: ConfState)
    /// Entries `lo..<hi`, the first one always, then as many as fit in `maxSize` bytes
    /// (``Entry/approximateSize``). Throws ``StorageError/compacted`` if `lo < firstIndex`.
    func entries(_ lo: UInt64, _ hi: UInt64, maxSize: Int) throws -> [Entry]
    /// The term of entry `index`, for `firstIndex - 1 ... lastIndex`.
    /// Throws ``StorageError/compacted`` below, ``StorageError/unavailable`` above.
    func term(of index: UInt64) throws -> UInt64
    /// The index of the first entry still held (one past the snapshot).
    func firstIndex() throws -> UInt64
    /// The index of the last entry held (the snapshot's index if there is no entry after it).
    func lastIndex() throws -> UInt64
    /// The latest snapshot, sent to followers that need compacted entries.
    func snapshot() throws -> Snapshot
}
