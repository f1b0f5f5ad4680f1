/// The membership configurations found in the log (thesis §4.1): "a server always uses the latest
/// configuration in its log, regardless of whether the entry is committed". A configuration takes
/// effect on every server as soon as its entry is appended, and is reverted if a new leader
/// truncates that entry.
///
/// Holds the configuration as of `baseIndex` (the last snapshot or a committed point) and every
/// configuration entry after it, so truncation can go back to the one before.
struct ConfigHistory: Sendable {
    private(set) var base: ConfState
    private(set) var baseIndex: UInt64
    /// Configurations from conf-change entries after `baseIndex`, in log order.
    private(set) var changes: [(index: UInt64, conf: ConfState)] = []

    init(base: ConfState, baseIndex: UInt64) {
        self.base = base
        self.baseIndex = baseIndex
    }

    /// The configuration in effect: the latest in the log.
    var current: ConfState { changes.last?.conf ?? base }

    /// The index of the entry that produced ``current`` (the base index if none is newer).
    var currentIndex: UInt64 { changes.last?.index ?? baseIndex }

    /// The configuration in effect right after entry `index`.
    func conf(atIndex index: UInt64) -> ConfState {
        precondition(index >= baseIndex, "configuration at \(index) before base \(baseIndex) is forgotten")
        return changes.last(where: { $0.index <= index })?.conf ?? base
    }

    /// Records the configuration entries among newly appended `entries`.
    mutating func appended(_ entries: [Entry]) {
        for e in entries where e.kind == .confChange {
            guard let change = ConfChange(encoded: e.data) else { continue }
            precondition(e.index > currentIndex, "configuration entry \(e.index) out of order")
            changes.append((e.index, current.applying(change)))
        }
    }

    /// Forgets configurations from entries at or after `index` (truncated by a new leader).
    mutating func truncated(from index: UInt64) {
        precondition(index > baseIndex, "truncating at \(index) below the committed configuration \(baseIndex)")
        changes.removeAll { $0.index >= index }
    }

    /// Folds configurations up to the commit index into the base: committed entries never change.
    mutating func committed(_ index: UInt64) {
        guard let last = changes.lastIndex(where: { $0.index <= index }) else { return }
        base = changes[last].conf
        baseIndex = changes[last].index
        changes.removeFirst(last + 1)
    }

    /// Starts over from an installed snapshot.
    mutating func restore(_ metadata: SnapshotMetadata) {
        base = metadata.confState
        baseIndex = metadata.index
        changes = []
    }
}

/// Majority arithmetic over a set of voters (paper §5.2, §5.3).
enum Quorum {
    /// The highest index present on a majority of `voters`, given each voter's match index
    /// (a missing voter counts as 0). 0 for an empty voter set.
    static func committedIndex(voters: [NodeID], match: (NodeID) -> UInt64) -> UInt64 {
        guard !voters.isEmpty else { return 0 }
        let sorted = voters.map(match).sorted(by: >)
        return sorted[voters.count / 2]
    }

    /// The outcome of an election (or any yes/no poll) over `voters`.
    enum VoteResult: Sendable, Equatable { case pending, won, lost }

    static func voteResult(voters: [NodeID], votes: [NodeID: Bool]) -> VoteResult {
        guard !voters.isEmpty else { return .lost }
        var granted = 0
        var rejected = 0
        for id in voters {
            switch votes[id] {
            case true?: granted += 1
            case false?: rejected += 1
            case nil: break
            }
        }
        let majority = voters.count / 2 + 1
        if granted >= majority { return .won }
        if rejected >= voters.count - majority + 1 { return .lost }
        return .pending
    }
}
