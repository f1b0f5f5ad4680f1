/// The node's view of the replicated log: the persisted part in ``Storage`` followed by the
/// ``UnstableLog``, with the commit and applied indices (paper §5.3, Figure 2).
struct RaftLog {
    let storage: any Storage
    var unstable: UnstableLog
    /// The highest index known to be committed. Never decreases.
    private(set) var committed: UInt64
    /// The highest index the application has applied. Never exceeds `committed`.
    private(set) var applied: UInt64

    init(storage: any Storage) throws {
        self.storage = storage
        let first = try storage.firstIndex()
        let last = try storage.lastIndex()
        unstable = UnstableLog(offset: last + 1)
        committed = first - 1
        applied = first - 1
    }

    var firstIndex: UInt64 {
        unstable.firstIndexIfKnown ?? (try! storage.firstIndex())
    }

    var lastIndex: UInt64 {
        unstable.lastIndexIfKnown ?? (try! storage.lastIndex())
    }

    var lastTerm: UInt64 {
        term(of: lastIndex)!
    }

    /// The term of entry `index`; 0 for index 0; nil if compacted or beyond the last index.
    func term(of index: UInt64) -> UInt64? {
        let dummy = firstIndex - 1
        if index < dummy || index > lastIndex { return nil }
        if let t = unstable.term(of: index) { return t }
        return try? storage.term(of: index)
    }

    func matchTerm(_ index: UInt64, _ term: UInt64) -> Bool {
        self.term(of: index) == term
    }

    /// Entries `lo..<hi` within `maxSize` (at least one); throws ``StorageError/compacted`` if `lo`
    /// was compacted.
    func slice(_ lo: UInt64, _ hi: UInt64, maxSize: Int = .max) throws -> [Entry] {
        precondition(lo <= hi, "invalid slice \(lo)..<\(hi)")
        if lo < firstIndex { throw StorageError.compacted }
        precondition(hi <= lastIndex + 1, "slice \(lo)..<\(hi) beyond last index \(lastIndex)")
        if lo == hi { return [] }
        var result: [Entry] = []
        if lo < unstable.offset {
            result = try storage.entries(lo, min(hi, unstable.offset), maxSize: maxSize)
            // Storage returned fewer than asked: the size limit was reached.
            if UInt64(result.count) < min(hi, unstable.offset) - lo { return result }
        }
        if hi > unstable.offset {
            let tail = unstable.slice(max(lo, unstable.offset), hi)
            result = result.isEmpty ? tail : result + tail
        }
        return limitSize(result, maxSize)
    }

    /// Entries from `lo` to the end, within `maxSize`.
    func entries(from lo: UInt64, maxSize: Int) throws -> [Entry] {
        if lo > lastIndex { return [] }
        return try slice(lo, lastIndex + 1, maxSize: maxSize)
    }

    /// The follower's side of AppendEntries (paper §5.3): if the entry at `index` has `logTerm`,
    /// appends `entries` (dropping a conflicting suffix), advances the commit index to
    /// `min(leaderCommit, index of last new entry)` and returns that last new index, with the index
    /// from which entries were written (everything from it on was replaced), if any. Nil if the logs
    /// do not match at `index`.
    mutating func maybeAppend(index: UInt64, logTerm: UInt64, leaderCommit: UInt64, entries: [Entry]) -> (lastNew: UInt64, writtenFrom: UInt64?)? {
        guard matchTerm(index, logTerm) else { return nil }
        let lastNew = index + UInt64(entries.count)
        let conflict = findConflict(entries)
        if let conflict {
            precondition(conflict > committed, "entry \(conflict) conflicts with committed entry (committed \(committed))")
            append(Array(entries[Int(conflict - (index + 1))...]))
        }
        commitTo(min(leaderCommit, lastNew))
        return (lastNew, conflict)
    }

    /// The index of the first of `entries` that is missing from the log or has a different term.
    func findConflict(_ entries: [Entry]) -> UInt64? {
        for e in entries where !matchTerm(e.index, e.term) {
            return e.index
        }
        return nil
    }

    /// Fast backtracking (paper §5.3, "the protocol can be optimized to reduce the number of
    /// rejected AppendEntries RPCs"): the largest index `<= index` whose term is `<= term`, with its
    /// term. Entries with larger terms up to `index` cannot match an entry of `term` at the same
    /// position. Returns term 0 when the term is unknown (compacted).
    func findConflictByTerm(index: UInt64, term: UInt64) -> (index: UInt64, term: UInt64) {
        var i = index
        while true {
            guard let t = self.term(of: i) else { return (i, 0) }
            if t <= term || i == 0 { return (i, t) }
            i -= 1
        }
    }

    /// Appends entries (the leader's own, or after conflict resolution); returns the last index.
    @discardableResult
    mutating func append(_ entries: [Entry]) -> UInt64 {
        guard let first = entries.first else { return lastIndex }
        precondition(first.index > committed, "appending at \(first.index) would overwrite committed \(committed)")
        precondition(first.index <= lastIndex + 1, "appending at \(first.index) leaves a gap after \(lastIndex)")
        unstable.truncateAndAppend(entries)
        return lastIndex
    }

    /// Whether a candidate whose log ends at (`lastIndex`, `lastTerm`) is at least as up to date as
    /// ours (paper §5.4.1, the election restriction).
    func isUpToDate(lastIndex candidateIndex: UInt64, lastTerm candidateTerm: UInt64) -> Bool {
        candidateTerm > lastTerm || (candidateTerm == lastTerm && candidateIndex >= lastIndex)
    }

    /// Advances the commit index. Never moves it back.
    mutating func commitTo(_ index: UInt64) {
        guard index > committed else { return }
        precondition(index <= lastIndex, "commit index \(index) beyond last index \(lastIndex)")
        committed = index
    }

    /// Commits `index` if it holds an entry of the leader's current `term` (paper §5.4.2: entries
    /// of earlier terms are committed only indirectly).
    mutating func maybeCommit(index: UInt64, term: UInt64) -> Bool {
        guard index > committed, self.term(of: index) == term else { return false }
        commitTo(index)
        return true
    }

    /// Records that the application applied up to `index`.
    mutating func appliedTo(_ index: UInt64) {
        guard index > applied else { return }
        precondition(index <= committed, "applied \(index) beyond committed \(committed)")
        applied = index
    }

    /// Whether a snapshot from the leader awaits persistence (committed entries wait behind it).
    var hasPendingSnapshot: Bool { unstable.snapshot != nil }

    /// Committed entries the application has not been given yet, within `maxSize`.
    func nextCommittedEntries(maxSize: Int) -> [Entry] {
        if hasPendingSnapshot { return [] }
        let lo = max(applied + 1, firstIndex)
        guard committed + 1 > lo else { return [] }
        return (try? slice(lo, committed + 1, maxSize: maxSize)) ?? []
    }

    var hasNextCommittedEntries: Bool {
        !hasPendingSnapshot && committed > max(applied, firstIndex - 1)
    }

    /// Replaces the log with a snapshot from the leader (thesis §5.1): everything up to its index
    /// is committed; the application installs it before applying anything after it.
    mutating func restore(_ snapshot: Snapshot) {
        precondition(snapshot.metadata.index > committed, "snapshot \(snapshot.metadata.index) not past committed \(committed)")
        committed = snapshot.metadata.index
        unstable.restore(snapshot)
    }

    /// After the application installed a snapshot: nothing before it is left to apply.
    mutating func appliedSnapshot(_ index: UInt64) {
        if index > applied {
            precondition(index <= committed, "snapshot \(index) beyond committed \(committed)")
            applied = index
        }
    }

    /// Sets the commit index from a persisted hard state at startup.
    mutating func restoreCommit(_ index: UInt64) {
        precondition(index <= lastIndex, "persisted commit \(index) beyond last index \(lastIndex)")
        if index > committed { committed = index }
    }

    /// Sets the applied index given in the configuration at startup.
    mutating func restoreApplied(_ index: UInt64) {
        precondition(index <= committed, "configured applied \(index) beyond committed \(committed)")
        if index > applied { applied = index }
    }
}
