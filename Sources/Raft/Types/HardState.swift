/// The state every server must persist before answering RPCs (Raft paper Figure 2, "persistent state
/// on all servers"; thesis §3.8): the current term, the vote cast in it, and the commit index.
///
/// The commit index need not be synced to disk on its own (it can be recovered from a quorum), but
/// persisting it lets a restarted server apply entries without waiting for a leader.
public struct HardState: Sendable, Hashable {
    /// The latest term this server has seen.
    public var term: UInt64
    /// The candidate voted for in `term`, or 0 for none.
    public var vote: NodeID
    /// The highest log index known to be committed.
    public var commit: UInt64

    public init(term: UInt64 = 0, vote: NodeID = 0, commit: UInt64 = 0) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }

    /// True for the all-zero state of a server that has never run.
    public var isEmpty: Bool { term == 0 && vote == 0 && commit == 0 }
}
