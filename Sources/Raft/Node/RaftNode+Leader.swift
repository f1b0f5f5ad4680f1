/// The leader: log replication with flow control (paper §5.3, thesis §10.2.2), commitment
/// (paper §5.4.2), check-quorum (thesis §6.2), leadership transfer (thesis §3.10) and membership
/// changes (thesis §4.1).
extension RaftNode {
    func tickHeartbeat() {
        heartbeatElapsed += 1
        electionElapsed += 1
        if electionElapsed >= config.electionTick {
            electionElapsed = 0
            if config.checkQuorum {
                handle(Message(type: .checkQuorum, from: id))
            }
            // A transfer that did not finish within an election timeout is abandoned (thesis §3.10).
            if role == .leader && leadTransferee != noNode {
                leadTransferee = noNode
            }
        }
        guard role == .leader else { return }
        if heartbeatElapsed >= config.heartbeatTick {
            heartbeatElapsed = 0
            handle(Message(type: .beat, from: id))
        }
    }

    func stepLeader(_ m: Message) {
        switch m.type {
        case .beat:
            bcastHeartbeat()
            return
        case .checkQuorum:
            // Thesis §6.2: a leader that has not heard from a quorum within an election timeout
            // steps down, so clients find the real leader and ReadIndex stays safe.
            if !quorumActive() {
                becomeFollower(term: term, leader: noNode)
                return
            }
            for (pid, pr) in progress where pid != id { pr.recentActive = false }
            forgetRemovedMembers(force: true)
            return
        case .readIndex:
            handleReadIndex(m)
            return
        case .prop:
            // Proposals reach the leader through handleProposal; a stray one is ignored.
            return
        default:
            break
        }

        guard let pr = progress[m.from] else { return }
        switch m.type {
        case .appResp:
            pr.recentActive = true
            handleAppendResponse(m, pr)
        case .heartbeatResp:
            pr.recentActive = true
            pr.probeSent = false
            // The follower is alive: if the window is full, a message was probably lost.
            if pr.state == .replicate && pr.inflights.isFull { pr.inflights.freeFirstOne() }
            if pr.match < raftLog.lastIndex { sendAppend(to: m.from) }
            if !m.context.isEmpty { acknowledgeRead(context: m.context, from: m.from) }
        case .snapStatus:
            guard pr.state == .snapshot else { return }
            if m.reject {
                // Retry from what the follower is known to have.
                pr.pendingSnapshot = 0
            }
            pr.becomeProbe()
            // Wait for the follower's answer (success) or the next heartbeat (failure) before
            // probing again.
            pr.probeSent = true
        case .unreachable:
            if pr.state == .replicate { pr.becomeProbe() }
        case .transferLeader:
            handleTransferLeader(to: m.from, pr)
        default:
            break
        }
    }

    // MARK: Proposals and appending

    /// Appends a proposal to the leader's log and replicates it. Configuration changes beyond the
    /// first pending one are replaced by empty entries (one change at a time, thesis §4.1).
    func leaderPropose(_ m: Message) throws {
        // A leader removed from the configuration keeps replicating until that change commits, but
        // takes no new work (thesis §4.2.2); nor does a leader handing over leadership (thesis §3.10).
        guard let me = progress[id], me.removedAt == 0, leadTransferee == noNode else { throw RaftError.proposalDropped }
        var entries = m.entries
        for i in entries.indices where entries[i].kind == .confChange {
            let accepted: Bool
            if let change = ConfChange(encoded: entries[i].data) {
                accepted = refusalReason(change) == nil
            } else {
                accepted = false
            }
            if accepted {
                pendingConfIndex = raftLog.lastIndex + UInt64(i) + 1
            } else {
                entries[i] = Entry(term: 0, index: 0, kind: .normal, data: [])
            }
        }
        appendEntries(entries)
        bcastAppend()
    }

    /// Assigns term and indices, appends to the leader's own log (counting itself as a replica at
    /// once, which is safe because the application persists before sending, see ``Ready``), and
    /// applies any configuration entry immediately (thesis §4.1).
    func appendEntries(_ newEntries: [Entry]) {
        var entries = newEntries
        let last = raftLog.lastIndex
        for i in entries.indices {
            entries[i].term = term
            entries[i].index = last + 1 + UInt64(i)
        }
        raftLog.append(entries)
        if entries.contains(where: { $0.kind == .confChange }) {
            confHistory.appended(entries)
            configurationChanged()
        }
        if let pr = progress[id] {
            _ = pr.maybeUpdate(raftLog.lastIndex)
        }
        if maybeCommit() { bcastAppend() }
        stepDownIfRemoved()
    }

    /// Updates the progress set to the configuration in effect: new members start probing, removed
    /// ones are forgotten, and commitment is re-evaluated with the new voters.
    func configurationChanged() {
        guard role == .leader else { return }
        let conf = confHistory.current
        for member in conf.voters + conf.learners {
            if let pr = progress[member] {
                pr.isLearner = conf.isLearner(member)
                pr.removedAt = 0
            } else {
                // Marked active so check-quorum does not count a member that had no chance to answer.
                progress[member] = Progress(next: raftLog.lastIndex, maxInflight: config.maxInflightMsgs,
                                            isLearner: conf.isLearner(member), recentActive: true)
            }
        }
        for (member, pr) in progress where !conf.contains(member) && pr.removedAt == 0 {
            pr.isLearner = true
            pr.removedAt = confHistory.currentIndex
        }
        if leadTransferee != noNode && !conf.isVoter(leadTransferee) {
            leadTransferee = noNode
        }
    }

    /// Stops replicating to removed members once their removal is committed and they hold it (or,
    /// with `force`, an election timeout later, in case they are gone for good).
    func forgetRemovedMembers(force: Bool) {
        for (member, pr) in progress where pr.removedAt != 0 && raftLog.committed >= pr.removedAt {
            if force || pr.match >= pr.removedAt {
                progress[member] = nil
            }
        }
    }

    /// Thesis §4.2.2: a leader that is not a voter in the configuration in effect steps down once
    /// that configuration is committed.
    func stepDownIfRemoved() {
        guard role == .leader, !confHistory.current.isVoter(id),
              raftLog.committed >= confHistory.currentIndex else { return }
        becomeFollower(term: term, leader: noNode)
    }

    // MARK: Commitment

    /// Advances the commit index to the highest index replicated on a majority of voters, but only
    /// if that entry is of the current term (paper §5.4.2, thesis §3.6.2).
    @discardableResult
    func maybeCommit() -> Bool {
        let index = Quorum.committedIndex(voters: confHistory.current.voters) { progress[$0]?.match ?? 0 }
        guard raftLog.maybeCommit(index: index, term: term) else { return false }
        if !pendingReadIndexMessages.isEmpty && committedEntryInCurrentTerm {
            let pending = pendingReadIndexMessages
            pendingReadIndexMessages = []
            for m in pending { handleReadIndex(m) }
        }
        return true
    }

    var committedEntryInCurrentTerm: Bool {
        raftLog.term(of: raftLog.committed) == term
    }

    /// Thesis §6.2: whether a majority of voters (counting the leader) was heard from recently.
    func quorumActive() -> Bool {
        var active: [NodeID: Bool] = [:]
        for voter in confHistory.current.voters {
            if voter == id || progress[voter]?.recentActive == true { active[voter] = true }
        }
        return Quorum.voteResult(voters: confHistory.current.voters, votes: active) == .won
    }

    // MARK: Replication

    func bcastAppend() {
        for pid in progress.keys.sorted() where pid != id {
            sendAppend(to: pid)
        }
    }

    /// Sends the follower the entries after its `next` index (at most `maxSizePerMsg` bytes), or a
    /// snapshot if those entries were compacted. Returns whether a message was sent. With
    /// `sendIfEmpty` false, sends nothing when there are no new entries (used to fill the pipeline).
    @discardableResult
    func sendAppend(to peer: NodeID, sendIfEmpty: Bool = true) -> Bool {
        guard let pr = progress[peer], !pr.isPaused else { return false }
        let prevIndex = pr.next - 1
        guard let prevTerm = raftLog.term(of: prevIndex),
              let entries = try? raftLog.entries(from: pr.next, maxSize: config.maxSizePerMsg)
        else {
            return sendSnapshot(to: peer, pr)
        }
        if entries.isEmpty && !sendIfEmpty { return false }
        send(Message(type: .app, to: peer, logTerm: prevTerm, index: prevIndex, entries: entries,
                     commit: raftLog.committed))
        pr.sentEntries(last: entries.last?.index)
        return true
    }

    /// InstallSnapshot (thesis §5.1) for a follower that needs compacted entries. Only to a follower
    /// heard from recently: a snapshot is large, and a dead follower would waste it.
    func sendSnapshot(to peer: NodeID, _ pr: Progress) -> Bool {
        guard pr.recentActive, let snapshot = try? raftLog.storage.snapshot(), !snapshot.isEmpty else { return false }
        precondition(snapshot.metadata.index >= raftLog.firstIndex - 1, "storage snapshot older than its compaction point")
        pr.becomeSnapshot(snapshot.metadata.index)
        send(Message(type: .snap, to: peer, snapshot: snapshot))
        return true
    }

    func bcastHeartbeat() {
        let context = readOnly.latestRoundContext
        for pid in progress.keys.sorted() where pid != id {
            sendHeartbeat(to: pid, context: context)
        }
    }

    /// A heartbeat carries the commit index, capped at what the follower is known to hold (it may not
    /// have the leader's entries beyond its match yet), and the current ReadIndex round.
    func sendHeartbeat(to peer: NodeID, context: [UInt8]) {
        guard let pr = progress[peer] else { return }
        send(Message(type: .heartbeat, to: peer, commit: min(pr.match, raftLog.committed), context: context))
    }

    /// Paper §5.3: a success moves `matchIndex` and may commit; a rejection backs `nextIndex` up,
    /// using the follower's hint to skip a whole term at a time.
    func handleAppendResponse(_ m: Message, _ pr: Progress) {
        if m.reject {
            var nextProbe = m.rejectHint
            if m.logTerm > 0 {
                nextProbe = raftLog.findConflictByTerm(index: m.rejectHint, term: m.logTerm).index
            }
            if pr.maybeDecrTo(rejected: m.index, matchHint: nextProbe) {
                if pr.state == .replicate { pr.becomeProbe() }
                sendAppend(to: m.from)
            }
            return
        }
        let wasPaused = pr.isPaused
        let updated = pr.maybeUpdate(m.index)
        guard updated || (pr.match == m.index && pr.state == .probe) else { return }
        switch pr.state {
        case .probe:
            // The follower's log matches up to `match`: start streaming.
            pr.becomeReplicate()
        case .snapshot:
            if pr.match + 1 >= raftLog.firstIndex {
                pr.becomeProbe()
                pr.becomeReplicate()
            }
        case .replicate:
            pr.inflights.freeLE(m.index)
        }
        if maybeCommit() {
            bcastAppend()
        } else if wasPaused {
            sendAppend(to: m.from)
        }
        forgetRemovedMembers(force: false)
        // Fill the pipeline with whatever is left.
        while progress[m.from] != nil && sendAppend(to: m.from, sendIfEmpty: false) {}
        if m.from == leadTransferee && pr.match == raftLog.lastIndex {
            sendTimeoutNow(to: m.from)
        }
        stepDownIfRemoved()
    }

    // MARK: Leadership transfer (thesis §3.10)

    func handleTransferLeader(to transferee: NodeID, _ pr: Progress) {
        guard !pr.isLearner, transferee != id else { return }
        if leadTransferee != noNode {
            if leadTransferee == transferee { return }
            leadTransferee = noNode
        }
        // The transfer must finish within an election timeout.
        electionElapsed = 0
        leadTransferee = transferee
        if pr.match == raftLog.lastIndex {
            sendTimeoutNow(to: transferee)
        } else {
            sendAppend(to: transferee)
        }
    }

    func sendTimeoutNow(to peer: NodeID) {
        send(Message(type: .timeoutNow, to: peer))
    }
}
