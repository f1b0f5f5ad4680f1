/// Leader election (paper §5.2, thesis §3.4), pre-vote (thesis §9.6) and the election restriction
/// (paper §5.4.1).
extension RaftNode {
    func tickElection() {
        electionElapsed += 1
        if promotable && electionElapsed >= randomizedElectionTimeout {
            electionElapsed = 0
            handle(Message(type: .hup, from: id))
        }
    }

    /// Starts an election: a pre-vote round first if configured, except for a leadership transfer
    /// (the old leader asked for it, so there is no partition to guard against, thesis §3.10).
    func hup(transfer: Bool) {
        guard role != .leader, promotable else { return }
        if config.preVote && !transfer {
            campaign(pre: true, transfer: false)
        } else {
            campaign(pre: false, transfer: transfer)
        }
    }

    /// Asks every voter for its vote (or pre-vote) for the next term, with this log's last index and
    /// term so voters can apply the election restriction.
    func campaign(pre: Bool, transfer: Bool) {
        let voteTerm: UInt64
        let type: MessageType
        if pre {
            becomePreCandidate()
            voteTerm = term + 1
            type = .preVote
        } else {
            becomeCandidate()
            voteTerm = term
            type = .vote
        }
        if recordVote(from: id, granted: true) { return }
        for voter in confHistory.current.voters where voter != id {
            send(Message(type: type, to: voter, term: voteTerm, logTerm: raftLog.lastTerm, index: raftLog.lastIndex,
                         context: transfer ? campaignTransferContext : []))
        }
    }

    /// Counts a vote and acts on the outcome; returns true if the election was decided.
    @discardableResult
    func recordVote(from voter: NodeID, granted: Bool) -> Bool {
        if votes[voter] == nil { votes[voter] = granted }
        switch Quorum.voteResult(voters: confHistory.current.voters, votes: votes) {
        case .won:
            if role == .preCandidate {
                campaign(pre: false, transfer: false)
            } else {
                becomeLeader()
                bcastAppend()
            }
            return true
        case .lost:
            // Pre-vote lost: stay at our term; vote lost: wait for the winner or the next timeout.
            becomeFollower(term: term, leader: noNode)
            return true
        case .pending:
            return false
        }
    }

    /// Answers RequestVote / PreVote (paper §5.2, §5.4.1; thesis §9.6). A vote is granted once per
    /// term, only to a candidate whose log is at least as up to date as ours; a pre-vote for a future
    /// term is granted on the log check alone and changes nothing here.
    func handleVoteRequest(_ m: Message) {
        let canVote = vote == m.from
            || (vote == noNode && lead == noNode)
            || (m.type == .preVote && m.term > term)
        if canVote && raftLog.isUpToDate(lastIndex: m.index, lastTerm: m.logTerm) {
            send(Message(type: m.type.voteResponse, to: m.from, term: m.term))
            if m.type == .vote {
                // Granting a vote resets the election timer (paper §5.2 "Followers ... grant vote").
                electionElapsed = 0
                vote = m.from
            }
        } else {
            send(Message(type: m.type.voteResponse, to: m.from, term: term, reject: true))
        }
    }

    /// Messages while campaigning: a leader of our term wins, votes are counted.
    func stepCandidate(_ m: Message) {
        switch m.type {
        case .app:
            becomeFollower(term: m.term, leader: m.from)
            handleAppend(m)
        case .heartbeat:
            becomeFollower(term: m.term, leader: m.from)
            handleHeartbeat(m)
        case .snap:
            becomeFollower(term: m.term, leader: m.from)
            handleSnapshot(m)
        case .preVoteResp where role == .preCandidate:
            recordVote(from: m.from, granted: !m.reject)
        case .voteResp where role == .candidate:
            recordVote(from: m.from, granted: !m.reject)
        default:
            // No leader to forward to; timeoutNow is meaningless while campaigning.
            break
        }
    }
}
