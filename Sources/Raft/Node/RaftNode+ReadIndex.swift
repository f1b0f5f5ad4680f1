/// Linearizable reads without writing to the log (thesis §6.4).
extension RaftNode {
    /// Leader: record the commit index as the read index, confirm leadership with a heartbeat round
    /// acknowledged by a quorum, then answer. A leader that has not yet committed an entry of its term
    /// does not know the cluster's commit index, so requests wait until it has (thesis §6.4 step 1).
    func handleReadIndex(_ m: Message) {
        let from = m.from == noNode ? id : m.from
        let voters = confHistory.current.voters
        if voters == [id] {
            // A single voter is always up to date.
            respondToRead(ReadRequest(index: raftLog.committed, context: m.context, from: from))
            return
        }
        if !committedEntryInCurrentTerm {
            pendingReadIndexMessages.append(m)
            return
        }
        readOnly.enqueue(context: m.context, from: from)
        if !readOnly.hasRoundInFlight { startReadRound() }
    }

    /// Starts a heartbeat round for every waiting read request.
    func startReadRound() {
        let context = readOnly.startRound(committed: raftLog.committed, leader: id)
        if quorumReached([id]) {
            // The leader alone is a quorum: no round trip needed.
            acknowledgeRead(context: context, from: id)
            return
        }
        for pid in progress.keys.sorted() where pid != id {
            sendHeartbeat(to: pid, context: context)
        }
    }

    func acknowledgeRead(context: [UInt8], from peer: NodeID) {
        let released = readOnly.acknowledge(context: context, from: peer) { quorumReached($0) }
        guard !released.isEmpty else { return }
        for request in released { respondToRead(request) }
        if !readOnly.waiting.isEmpty && !readOnly.hasRoundInFlight { startReadRound() }
    }

    func quorumReached(_ acks: Set<NodeID>) -> Bool {
        var votes: [NodeID: Bool] = [:]
        for voter in confHistory.current.voters where acks.contains(voter) { votes[voter] = true }
        return Quorum.voteResult(voters: confHistory.current.voters, votes: votes) == .won
    }

    func respondToRead(_ request: ReadRequest) {
        if request.from == id {
            readStates.append(ReadState(index: request.index, context: request.context))
        } else {
            send(Message(type: .readIndexResp, to: request.from, index: request.index, context: request.context))
        }
    }
}
