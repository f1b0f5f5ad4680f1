/// How the leader is currently replicating to a follower (etcd's flow control).
public enum ProgressState: Sendable, Hashable {
    /// Next index unknown: send one MsgApp at a time and wait for the answer (paper §5.3, backing up
    /// `nextIndex` after a rejection).
    case probe
    /// The follower is caught up to `match`: stream MsgApps optimistically, up to the inflight window
    /// (thesis §10.2.2, pipelining).
    case replicate
    /// The follower needs entries the leader compacted: a snapshot is on its way (thesis §5.1).
    case snapshot
}

/// The leader's view of one follower (paper Figure 2 `nextIndex[]`/`matchIndex[]`, plus flow control).
/// A reference type so the leader can update it in place; owned by one ``RaftNode``.
final class Progress {
    /// Highest index known to be replicated on the follower.
    var match: UInt64
    /// Index of the next entry to send.
    var next: UInt64
    var state: ProgressState = .probe
    /// In snapshot state: the index of the snapshot being sent.
    var pendingSnapshot: UInt64 = 0
    /// In probe state: a MsgApp was sent and its answer is awaited (at most one probe per heartbeat).
    var probeSent = false
    /// Whether the follower was heard from since the last check-quorum round (thesis §6.2).
    var recentActive: Bool
    var isLearner: Bool
    /// Nonzero once the member was removed: the index of the configuration entry removing it. The
    /// leader keeps replicating to it until it holds that entry (so it learns of its removal and
    /// stops campaigning) or an election timeout passes after it commits; it never counts.
    var removedAt: UInt64 = 0
    var inflights: Inflights

    init(next: UInt64, maxInflight: Int, isLearner: Bool, recentActive: Bool) {
        match = 0
        self.next = next
        self.isLearner = isLearner
        self.recentActive = recentActive
        inflights = Inflights(capacity: maxInflight)
    }

    /// Whether the leader must hold back MsgApps to this follower for now.
    var isPaused: Bool {
        switch state {
        case .probe: return probeSent
        case .replicate: return inflights.isFull
        case .snapshot: return true
        }
    }

    private func resetState(_ newState: ProgressState) {
        probeSent = false
        pendingSnapshot = 0
        state = newState
        inflights.reset()
    }

    func becomeProbe() {
        if state == .snapshot {
            // The snapshot covered up to pendingSnapshot; probe right after it.
            let pending = pendingSnapshot
            resetState(.probe)
            next = max(match + 1, pending + 1)
        } else {
            resetState(.probe)
            next = match + 1
        }
    }

    func becomeReplicate() {
        resetState(.replicate)
        next = match + 1
    }

    func becomeSnapshot(_ index: UInt64) {
        resetState(.snapshot)
        pendingSnapshot = index
    }

    /// Records an acknowledgement up to `index`; returns whether `match` advanced.
    func maybeUpdate(_ index: UInt64) -> Bool {
        var updated = false
        if match < index {
            match = index
            updated = true
            probeSent = false
        }
        next = max(next, index + 1)
        return updated
    }

    /// After sending entries up to `last`: optimistic in replicate state, paused in probe state.
    func sentEntries(last: UInt64?) {
        switch state {
        case .replicate:
            if let last {
                next = last + 1
                inflights.add(last)
            }
        case .probe:
            probeSent = true
        case .snapshot:
            preconditionFailure("sending entries in snapshot state")
        }
    }

    /// Handles a rejected MsgApp for index `rejected`; `matchHint` is the highest index that may
    /// still match (from the follower's hint). Returns false for a stale rejection.
    func maybeDecrTo(rejected: UInt64, matchHint: UInt64) -> Bool {
        if state == .replicate {
            // A rejection at or below match is a stale, reordered answer.
            if rejected <= match { return false }
            next = match + 1
            return true
        }
        // A snapshot is on its way: its outcome, not old probes, decides what comes next.
        if state == .snapshot { return false }
        // Probe state: only the answer to the last probe matters.
        if next == 0 || next - 1 != rejected { return false }
        next = max(min(rejected, matchHint + 1), match + 1)
        probeSent = false
        return true
    }
}

/// A read-only copy of a follower's ``Progress`` for ``RaftNode/status``.
public struct ProgressStatus: Sendable, Hashable {
    /// Highest index known to be replicated on the member.
    public var match: UInt64
    /// Next index the leader will send.
    public var next: UInt64
    /// Replication state.
    public var state: ProgressState
    /// Whether the member is a learner.
    public var isLearner: Bool
    /// Whether the member answered since the last check-quorum round.
    public var recentActive: Bool
}
