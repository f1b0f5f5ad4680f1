/// The tail of the log not yet persisted by the application: entries (and possibly a snapshot
/// received from the leader) handed out in ``Ready`` and kept until ``RaftNode/advance(_:)``
/// reports them stable.
struct UnstableLog: Sendable {
    /// A snapshot received from the leader and not yet persisted.
    var snapshot: Snapshot?
    /// Entries from `offset` on, not yet persisted.
    var entries: [Entry] = []
    /// The index of `entries[0]` (or of the next entry to append).
    var offset: UInt64

    init(offset: UInt64) {
        self.offset = offset
    }

    /// The first index, if the unstable part starts the log (only when it holds a snapshot).
    var firstIndexIfKnown: UInt64? { snapshot.map { $0.metadata.index + 1 } }

    /// The last index, if the unstable part holds the end of the log.
    var lastIndexIfKnown: UInt64? {
        if !entries.isEmpty { return offset + UInt64(entries.count) - 1 }
        return snapshot?.metadata.index
    }

    /// The term of entry `index`, if the unstable part knows it.
    func term(of index: UInt64) -> UInt64? {
        if index < offset {
            if let s = snapshot, s.metadata.index == index { return s.metadata.term }
            return nil
        }
        guard let last = lastIndexIfKnown, index <= last else { return nil }
        return entries[Int(index - offset)].term
    }

    /// Drops entries up to `index` once persisted, but only if entry `index` still has `term`
    /// (it may have been replaced by a newer leader's entry while the write was in flight).
    mutating func stableTo(index: UInt64, term: UInt64) {
        guard let t = self.term(of: index), t == term, index >= offset else { return }
        entries.removeFirst(Int(index - offset + 1))
        offset = index + 1
    }

    /// Forgets the snapshot once persisted.
    mutating func stableSnapshotTo(index: UInt64) {
        if snapshot?.metadata.index == index { snapshot = nil }
    }

    /// Replaces everything with a snapshot from the leader.
    mutating func restore(_ s: Snapshot) {
        offset = s.metadata.index + 1
        entries = []
        snapshot = s
    }

    /// Appends `newEntries`, first discarding any held entry at or after `newEntries[0].index`.
    mutating func truncateAndAppend(_ newEntries: [Entry]) {
        guard let after = newEntries.first?.index else { return }
        if after == offset + UInt64(entries.count) {
            entries.append(contentsOf: newEntries)
        } else if after <= offset {
            // Replaces the whole unstable part (and, implicitly, stored entries from `after` on).
            offset = after
            entries = newEntries
        } else {
            entries.removeSubrange(Int(after - offset)...)
            entries.append(contentsOf: newEntries)
        }
    }

    /// Entries `lo..<hi`, which must lie within the unstable part.
    func slice(_ lo: UInt64, _ hi: UInt64) -> [Entry] {
        precondition(lo >= offset && hi <= offset + UInt64(entries.count) && lo <= hi,
                     "unstable slice \(lo)..<\(hi) out of \(offset)..<\(offset + UInt64(entries.count))")
        return Array(entries[Int(lo - offset)..<Int(hi - offset)])
    }
}
