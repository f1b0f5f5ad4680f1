/// A ``Storage`` kept in memory: used by tests, the simulation, and the server until a WAL-backed
/// storage exists. Models exactly what has been "persisted": the application calls ``append(_:)``,
/// ``setHardState(_:)`` and ``applySnapshot(_:)`` with the contents of each ``Ready``.
public final class MemoryStorage: Storage {
    /// The hard state last persisted.
    public private(set) var hardState = HardState()
    /// The latest snapshot (index 0 and the initial configuration if none was taken).
    public private(set) var latestSnapshot: Snapshot
    /// `entries[0]` is a placeholder at the snapshot's index and term; real entries follow.
    private var entries: [Entry]

    /// An empty storage whose configuration (as of index 0) is `confState`. A node joining an
    /// existing cluster starts with an empty configuration and learns it from the leader.
    public init(confState: ConfState = ConfState()) {
        latestSnapshot = Snapshot(metadata: SnapshotMetadata(index: 0, term: 0, confState: confState))
        entries = [Entry(term: 0, index: 0)]
    }

    /// A storage for a member of a brand-new cluster, holding the bootstrap entries that add the
    /// initial members (see ``RaftNode/bootstrapEntries(voters:learners:)``).
    public convenience init(bootstrapVoters voters: [NodeID], learners: [NodeID] = []) {
        self.init()
        let boot = RaftNode.bootstrapEntries(voters: voters, learners: learners)
        try! append(boot.entries)
        setHardState(boot.hardState)
    }

    public func initialState() throws -> (hardState: HardState, confState: ConfState) {
        (hardState, latestSnapshot.metadata.confState)
    }

    private var offset: UInt64 { entries[0].index }

    public func firstIndex() throws -> UInt64 { offset + 1 }

    public func lastIndex() throws -> UInt64 { last }

    private var last: UInt64 { offset + UInt64(entries.count) - 1 }

    public func term(of index: UInt64) throws -> UInt64 {
        if index < offset { throw StorageError.compacted }
        if index - offset >= UInt64(entries.count) { throw StorageError.unavailable }
        return entries[Int(index - offset)].term
    }

    public func entries(_ lo: UInt64, _ hi: UInt64, maxSize: Int) throws -> [Entry] {
        if lo <= offset { throw StorageError.compacted }
        precondition(hi <= last + 1, "entries(\(lo), \(hi)) beyond last index \(last)")
        if lo >= hi { return [] }
        let slice = Array(entries[Int(lo - offset)..<Int(hi - offset)])
        return limitSize(slice, maxSize)
    }

    public func snapshot() throws -> Snapshot { latestSnapshot }

    /// Persists a hard state from a ``Ready``.
    public func setHardState(_ state: HardState) {
        hardState = state
    }

    /// Persists entries from a ``Ready``: an entry that conflicts with a held one replaces it and
    /// every entry after it (paper §5.3). Entries already covered by the snapshot are ignored.
    public func append(_ newEntries: [Entry]) throws {
        guard var first = newEntries.first?.index else { return }
        var toAppend = newEntries[...]
        // Skip entries already compacted into the snapshot.
        if first <= offset {
            toAppend = toAppend.dropFirst(Int(offset - first + 1))
            guard let f = toAppend.first?.index else { return }
            first = f
        }
        guard first <= last + 1 else {
            throw StorageError.unavailable  // a gap: the caller skipped a Ready
        }
        entries.removeSubrange(Int(first - offset)...)
        entries.append(contentsOf: toAppend)
    }

    /// Replaces the whole log with a snapshot received from the leader (from a ``Ready``).
    public func applySnapshot(_ snapshot: Snapshot) throws {
        guard snapshot.metadata.index >= latestSnapshot.metadata.index else { throw StorageError.snapshotOutOfDate }
        latestSnapshot = snapshot
        entries = [Entry(term: snapshot.metadata.term, index: snapshot.metadata.index)]
    }

    /// Records a snapshot of the application state as of applied index `index` (with the
    /// configuration ``RaftNode/applyConfChange(_:)`` returned as of that index), so that
    /// ``compact(upTo:)`` can then drop the log before it.
    @discardableResult
    public func createSnapshot(index: UInt64, confState: ConfState, data: [UInt8]) throws -> Snapshot {
        if index <= latestSnapshot.metadata.index { throw StorageError.snapshotOutOfDate }
        let term = try term(of: index)
        latestSnapshot = Snapshot(metadata: SnapshotMetadata(index: index, term: term, confState: confState), data: data)
        return latestSnapshot
    }

    /// Drops entries before `index` (which must be covered by the latest snapshot); keeps `index`
    /// itself as the placeholder so its term stays known.
    public func compact(upTo index: UInt64) throws {
        if index <= offset { throw StorageError.compacted }
        precondition(index <= last, "compact(\(index)) beyond last index")
        precondition(index <= latestSnapshot.metadata.index, "compact(\(index)) beyond the latest snapshot")
        let placeholder = Entry(term: entries[Int(index - offset)].term, index: index)
        entries.removeSubrange(0...Int(index - offset))
        entries.insert(placeholder, at: 0)
    }
}
