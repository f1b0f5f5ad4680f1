extension RaftNode {
    /// Why this node should not step `m`, a message from a peer that is well formed on its own, given
    /// its state now; nil if it may. A transport calls it just before ``step(_:)``, so that a message no
    /// correct member would send in this state is dropped instead of tripping the node's invariants or
    /// misleading it:
    /// - a heartbeat committing past this node's log: the leader caps it at what this node acknowledged
    ///   (and acknowledged entries are durable), so it means the sender is not this node's leader or
    ///   this node lost acknowledged entries, where etcd's raft panics;
    /// - a `timeoutNow` or `readIndexResp` of the current term not from the leader this node knows (a
    ///   forged one would start an election, or release linearizable reads at a stale index);
    /// - a response from a node outside the configuration and the leader's progress (etcd drops them
    ///   before stepping too).
    public func refusal(of m: Message) -> String? {
        switch m.type {
        case .heartbeat where m.term >= term && m.commit > raftLog.lastIndex:
            return "heartbeat commits index \(m.commit) past the last index \(raftLog.lastIndex)"
        // Other terms are left to the term rules (an older one is ignored; a newer leader may answer a
        // request forwarded again); in this term, one must come from the leader this node knows.
        case .timeoutNow where m.term == term && lead != noNode && m.from != lead:
            return "timeoutNow from \(m.from) at term \(m.term), not from the leader \(lead) of term \(term)"
        case .readIndexResp where m.term == term && lead != noNode && m.from != lead:
            return "readIndexResp from \(m.from) at term \(m.term), not from the leader \(lead) of term \(term)"
        case .appResp, .heartbeatResp, .voteResp, .preVoteResp:
            return confHistory.current.contains(m.from) || progress[m.from] != nil ? nil : "\(m.type) from \(m.from), not a member"
        default:
            return nil
        }
    }
}
