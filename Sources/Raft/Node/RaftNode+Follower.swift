/// The follower: accepting the leader's log (paper §5.3), snapshots (thesis §5.1), and forwarding
/// requests to the leader.
extension RaftNode {
    func stepFollower(_ m: Message) {
        switch m.type {
        case .app:
            electionElapsed = 0
            lead = m.from
            handleAppend(m)
        case .heartbeat:
            electionElapsed = 0
            lead = m.from
            handleHeartbeat(m)
        case .snap:
            electionElapsed = 0
            lead = m.from
            handleSnapshot(m)
        case .transferLeader:
            guard lead != noNode else { return }
            var forwarded = m
            forwarded.to = lead
            send(forwarded)
        case .timeoutNow:
            // Thesis §3.10: the leader asks us to start an election at once, without pre-vote.
            hup(transfer: true)
        case .readIndex:
            guard lead != noNode else { return }
            var forwarded = m
            forwarded.to = lead
            send(forwarded)
        case .readIndexResp:
            readStates.append(ReadState(index: m.index, context: m.context))
        default:
            break
        }
    }

    /// AppendEntries receiver (paper Figure 2): accept if our log has the entry preceding the new
    /// ones with the same term, else reject with a hint for fast backtracking.
    func handleAppend(_ m: Message) {
        if m.index < raftLog.committed {
            // Everything up to our commit index is known to match; tell the leader how far we are.
            send(Message(type: .appResp, to: m.from, index: raftLog.committed))
            return
        }
        if let result = raftLog.maybeAppend(index: m.index, logTerm: m.logTerm, leaderCommit: m.commit, entries: m.entries) {
            if let from = result.writtenFrom {
                // Configurations take effect when appended and are reverted when truncated (§4.1).
                confHistory.truncated(from: from)
                confHistory.appended(m.entries.filter { $0.index >= from })
            }
            send(Message(type: .appResp, to: m.from, index: result.lastNew))
        } else {
            // Hint: the last index at or before the probe whose term is not greater than the
            // leader's term there; everything after it cannot match.
            let hint = raftLog.findConflictByTerm(index: min(m.index, raftLog.lastIndex), term: m.logTerm)
            send(Message(type: .appResp, to: m.from, logTerm: hint.term, index: m.index, reject: true, rejectHint: hint.index))
        }
    }

    func handleHeartbeat(_ m: Message) {
        raftLog.commitTo(m.commit)
        send(Message(type: .heartbeatResp, to: m.from, context: m.context))
    }

    /// InstallSnapshot receiver (thesis §5.1): replaces the log unless it already holds the
    /// snapshot's last entry, in which case only the commit index moves.
    func handleSnapshot(_ m: Message) {
        guard let snapshot = m.snapshot else { return }
        if restore(snapshot) {
            send(Message(type: .appResp, to: m.from, index: raftLog.lastIndex))
        } else {
            send(Message(type: .appResp, to: m.from, index: raftLog.committed))
        }
    }

    func restore(_ snapshot: Snapshot) -> Bool {
        let meta = snapshot.metadata
        if meta.index <= raftLog.committed { return false }
        precondition(role == .follower, "restoring a snapshot as \(role)")
        if raftLog.matchTerm(meta.index, meta.term) {
            // We have the entry: the rest of our log is still valid.
            raftLog.commitTo(meta.index)
            return false
        }
        raftLog.restore(snapshot)
        confHistory.restore(meta)
        return true
    }
}
