/// One member of a Raft group as a pure, deterministic state machine, in the shape of etcd-io/raft's
/// `RawNode`: no clock, no I/O, no threads.
///
/// The application drives it with ``tick()`` (its logical clock), ``step(_:)`` (messages from peers),
/// and the request methods (``propose(_:)``, ``proposeConfChange(_:)``, ``readIndex(context:)``,
/// ``transferLeader(to:)``, ``campaign()``), and carries out its decisions by taking a ``Ready`` when
/// ``hasReady`` is true, following the contract documented on ``Ready``, then calling
/// ``advance(_:)``. The same inputs always produce the same outputs, which is what makes the
/// deterministic simulation tests possible.
///
/// Membership changes are single-server changes (thesis §4.1): a configuration takes effect as
/// soon as its entry is appended to a log, on every server, and a leader accepts a new change only
/// after it has applied the previous one and has committed an entry of its own term.
///
/// Not thread-safe: owned by one isolation domain (setcd's node loop).
public final class RaftNode {
    /// This node's id.
    public let id: NodeID
    let config: RaftConfig
    var raftLog: RaftLog

    // Persistent state (paper Figure 2).
    var term: UInt64 = 0
    var vote: NodeID = noNode

    // Volatile state.
    var role: StateRole = .follower
    var lead: NodeID = noNode
    /// Configurations in the log; the latest is in effect (thesis §4.1).
    var confHistory: ConfigHistory
    /// The configuration as of the application's applied index, returned by ``applyConfChange(_:)``.
    var appliedConf: ConfState

    // Leader state.
    var progress: [NodeID: Progress] = [:]
    /// A configuration change is pending until the leader has applied this index. Set to the
    /// leader's first (empty) entry on election, so no change is accepted before the leader has
    /// committed an entry of its term (the fix to single-server changes, thesis §4.1 and its errata).
    var pendingConfIndex: UInt64 = 0
    /// The target of a leadership transfer in progress (thesis §3.10), or 0.
    var leadTransferee: NodeID = noNode
    var readOnly = ReadOnly()
    /// ReadIndex requests that arrived before the leader committed an entry of its term (thesis §6.4
    /// step 1): answered once it has.
    var pendingReadIndexMessages: [Message] = []

    // Candidate state.
    var votes: [NodeID: Bool] = [:]

    // Timers, in ticks.
    var electionElapsed = 0
    var heartbeatElapsed = 0
    var randomizedElectionTimeout = 0
    var rng: SplitMix64

    // Output.
    var msgs: [Message] = []
    var readStates: [ReadState] = []
    var prevHardState: HardState
    var prevSoftState: SoftState
    var awaitingAdvance = false

    /// Creates a node from what `storage` holds: a new node (empty storage, or bootstrap entries
    /// from ``bootstrapEntries(voters:learners:)``) or a restarted one.
    public init(config: RaftConfig, storage: any Storage) throws {
        try config.validate()
        self.config = config
        id = config.id
        rng = SplitMix64(seed: config.randomSeed ^ config.id)
        raftLog = try RaftLog(storage: storage)
        let (hardState, confState) = try storage.initialState()

        // Rebuild the configuration from the snapshot plus every configuration entry in the log.
        confHistory = ConfigHistory(base: confState, baseIndex: raftLog.firstIndex - 1)
        var lo = raftLog.firstIndex
        let last = raftLog.lastIndex
        while lo <= last {
            let chunk = try storage.entries(lo, last + 1, maxSize: 4 << 20)
            confHistory.appended(chunk)
            lo += UInt64(chunk.count)
        }

        if !hardState.isEmpty {
            precondition(hardState.vote == noNode || hardState.term > 0, "vote without a term")
            raftLog.restoreCommit(hardState.commit)
            term = hardState.term
            vote = hardState.vote
        }
        raftLog.restoreApplied(config.applied)
        appliedConf = confHistory.conf(atIndex: raftLog.applied)
        confHistory.committed(raftLog.committed)

        prevHardState = HardState(term: term, vote: vote, commit: raftLog.committed)
        prevSoftState = SoftState(leader: noNode, role: .follower)
        becomeFollower(term: term, leader: noNode)
    }

    /// The entries and hard state that found a brand-new cluster (etcd's `Bootstrap`): one
    /// committed conf-change entry per initial member, at term 1. Every initial member persists the
    /// same entries before creating its node, so their logs agree; a member joining later starts
    /// empty and receives them (or a snapshot) from the leader.
    public static func bootstrapEntries(voters: [NodeID], learners: [NodeID] = []) -> (entries: [Entry], hardState: HardState) {
        var entries: [Entry] = []
        for v in voters.sorted() {
            entries.append(Entry(term: 1, index: UInt64(entries.count + 1), kind: .confChange,
                                 data: ConfChange(type: .addNode, nodeID: v).encoded()))
        }
        for l in learners.sorted() {
            entries.append(Entry(term: 1, index: UInt64(entries.count + 1), kind: .confChange,
                                 data: ConfChange(type: .addLearnerNode, nodeID: l).encoded()))
        }
        return (entries, HardState(term: 1, vote: noNode, commit: UInt64(entries.count)))
    }

    // MARK: - Public inputs

    /// Advances the logical clock by one tick: followers and candidates count towards an election
    /// timeout, the leader towards its next heartbeat and its check-quorum round.
    public func tick() {
        switch role {
        case .leader: tickHeartbeat()
        case .follower, .preCandidate, .candidate: tickElection()
        }
        afterStep()
    }

    /// Starts an election now (with a pre-vote first if configured), as if the election timeout had
    /// elapsed. Does nothing on a leader or a non-voter.
    public func campaign() {
        handle(Message(type: .hup, from: id))
        afterStep()
    }

    /// Proposes an application command. On a follower it is forwarded to the leader (unless
    /// forwarding is disabled). Accepting a proposal does not mean it will commit: a leader change
    /// can drop it, so the application must time out and retry.
    public func propose(_ data: [UInt8]) throws {
        try handleProposal(Message(type: .prop, from: id, entries: [Entry(term: 0, index: 0, kind: .normal, data: data)]))
    }

    /// Proposes several commands at once; they go into the log together (batching, thesis §10.2.2).
    public func propose(batch: [[UInt8]]) throws {
        guard !batch.isEmpty else { return }
        try handleProposal(Message(type: .prop, from: id, entries: batch.map { Entry(term: 0, index: 0, kind: .normal, data: $0) }))
    }

    /// Proposes a single-server membership change (thesis §4.1). On the leader, throws
    /// ``RaftError/confChangeInProgress`` while a previous change is not yet applied (or the leader
    /// has not committed an entry of its term), and ``RaftError/confChangeInvalid(_:)`` if it would
    /// leave no voter. A follower forwards it; the leader then replaces a refused change with an
    /// empty entry.
    public func proposeConfChange(_ change: ConfChange) throws {
        if role == .leader {
            if let reason = refusalReason(change) { throw reason }
        }
        try handleProposal(Message(type: .prop, from: id, entries: [Entry(term: 0, index: 0, kind: .confChange, data: change.encoded())]))
    }

    /// Feeds a message from a peer. Throws ``RaftError/stepLocalMessage`` for local-only types and
    /// ``RaftError/proposalDropped`` for a forwarded proposal this node cannot take; other messages
    /// that do not apply (stale terms, unknown senders) are ignored, as the protocol requires.
    public func step(_ message: Message) throws {
        if message.type.isLocal { throw RaftError.stepLocalMessage }
        if message.type == .prop {
            try handleProposal(message)
            return
        }
        handle(message)
        afterStep()
    }

    /// Asks for a linearizable read point (thesis §6.4). The answer arrives as a ``ReadState`` with
    /// the same `context` in a later ``Ready``; the application serves the read once it has applied
    /// up to its index. Many reads can share one request (batch them under one context). Requests
    /// are silently dropped when there is no leader or leadership is lost; the application retries.
    public func readIndex(context: [UInt8]) {
        handle(Message(type: .readIndex, from: id, context: context))
        afterStep()
    }

    /// Asks the leader to hand leadership to `transferee` (thesis §3.10). The leader brings it up to
    /// date, then tells it to campaign at once; proposals are refused meanwhile; the transfer is
    /// abandoned after an election timeout.
    public func transferLeader(to transferee: NodeID) {
        handle(Message(type: .transferLeader, from: transferee))
        afterStep()
    }

    /// Tells the leader that `peer` could not be reached, so it stops streaming appends to it and
    /// probes instead.
    public func reportUnreachable(_ peer: NodeID) {
        handle(Message(type: .unreachable, from: peer))
        afterStep()
    }

    /// Tells the leader whether sending a snapshot to `peer` succeeded; replication then resumes
    /// (after the follower's acknowledgement, or after a heartbeat on failure). The transport must
    /// report every ``MessageType/snap`` it fails to deliver, or the follower stays paused.
    public func reportSnapshot(_ peer: NodeID, success: Bool) {
        handle(Message(type: .snapStatus, from: peer, reject: !success))
        afterStep()
    }

    /// Records that the application applied a conf-change entry and returns the configuration as of
    /// that entry, which the application keeps for the snapshots it takes at or after it.
    ///
    /// The change already took effect in the Raft algorithm when its entry was appended (thesis
    /// §4.1); this only tracks the applied configuration.
    @discardableResult
    public func applyConfChange(_ change: ConfChange) -> ConfState {
        appliedConf = appliedConf.applying(change)
        return appliedConf
    }

    /// The configuration as of the applied index.
    public var appliedConfState: ConfState { appliedConf }

    /// A snapshot of the node's state.
    public var status: Status {
        var prs: [NodeID: ProgressStatus] = [:]
        if role == .leader {
            for (pid, pr) in progress {
                prs[pid] = ProgressStatus(match: pr.match, next: pr.next, state: pr.state,
                                          isLearner: pr.isLearner, recentActive: pr.recentActive)
            }
        }
        return Status(id: id, hardState: hardState, softState: softState, applied: raftLog.applied,
                      lastIndex: raftLog.lastIndex, leadTransferee: leadTransferee,
                      confState: confHistory.current, progress: prs)
    }

    var hardState: HardState { HardState(term: term, vote: vote, commit: raftLog.committed) }
    var softState: SoftState { SoftState(leader: lead, role: role) }

    /// Whether this node may campaign: it is a voter in its latest configuration (learners and
    /// removed servers never start elections, thesis §4.2.1, §4.2.3) and is not installing a snapshot.
    var promotable: Bool {
        confHistory.current.isVoter(id) && !raftLog.hasPendingSnapshot
    }

    // MARK: - Proposals

    private func handleProposal(_ m: Message) throws {
        precondition(!m.entries.isEmpty, "empty proposal")
        defer { afterStep() }
        switch role {
        case .leader:
            try leaderPropose(m)
        case .preCandidate, .candidate:
            throw RaftError.proposalDropped
        case .follower:
            // Proposal forwarding to the leader (paper §8: clients may contact any server).
            guard lead != noNode, !config.disableProposalForwarding else { throw RaftError.proposalDropped }
            var forwarded = m
            forwarded.to = lead
            send(forwarded)
        }
    }

    /// Why the leader would refuse `change` now, or nil to accept it.
    func refusalReason(_ change: ConfChange) -> RaftError? {
        if pendingConfIndex > raftLog.applied { return .confChangeInProgress }
        if confHistory.current.applying(change).voters.isEmpty {
            return .confChangeInvalid("removing the last voter")
        }
        return nil
    }

    // MARK: - Dispatch

    /// The term rules shared by every role (paper §5.1: a higher term converts to follower, a lower
    /// term is stale), then the role-specific handling.
    func handle(_ m: Message) {
        if m.term == 0 {
            // Local message, or a proposal/ReadIndex forwarded without a term.
        } else if m.term > term {
            if m.type == .vote || m.type == .preVote {
                // Leader lease (thesis §4.2.3): with check-quorum, a server that heard from a live
                // leader within the minimum election timeout ignores vote requests, so a removed or
                // partitioned server cannot disrupt the cluster. A transfer election is exempt.
                let force = m.context == campaignTransferContext
                let inLease = config.checkQuorum && lead != noNode && electionElapsed < config.electionTick
                if !force && inLease { return }
            }
            switch m.type {
            case .preVote:
                // A pre-vote never changes our term (thesis §9.6).
                break
            case .preVoteResp where !m.reject:
                // Granted pre-votes carry the future term the pre-candidate asked about.
                break
            case .app, .heartbeat, .snap:
                becomeFollower(term: m.term, leader: m.from)
            default:
                becomeFollower(term: m.term, leader: noNode)
            }
        } else if m.term < term {
            if (config.checkQuorum || config.preVote) && (m.type == .heartbeat || m.type == .app) {
                // A stale leader cut off by a partition may never hear a vote request (they are
                // ignored in lease, or never sent by pre-vote); tell it the current term so it steps
                // down.
                send(Message(type: .appResp, to: m.from))
            } else if m.type == .preVote {
                // Tell the pre-candidate the current term so it can catch up.
                send(Message(type: .preVoteResp, to: m.from, term: term, reject: true))
            }
            return
        }

        switch m.type {
        case .hup:
            hup(transfer: false)
        case .vote, .preVote:
            handleVoteRequest(m)
        default:
            switch role {
            case .leader: stepLeader(m)
            case .preCandidate, .candidate: stepCandidate(m)
            case .follower: stepFollower(m)
            }
        }
    }

    /// Queues a message for the next ``Ready``, filling in sender and term.
    func send(_ message: Message) {
        var m = message
        if m.from == noNode { m.from = id }
        switch m.type {
        case .vote, .voteResp, .preVote, .preVoteResp:
            precondition(m.term != 0, "\(m.type) needs an explicit term")
        case .prop, .readIndex:
            // Forwarded requests travel without a term: the leader treats them as local.
            m.term = 0
        default:
            m.term = term
        }
        msgs.append(m)
    }

    /// Work done after every input: folds committed configurations and checks invariants.
    func afterStep() {
        confHistory.committed(raftLog.committed)
        precondition(raftLog.applied <= raftLog.committed, "applied \(raftLog.applied) > committed \(raftLog.committed)")
        precondition(raftLog.committed <= raftLog.lastIndex, "committed \(raftLog.committed) > last index \(raftLog.lastIndex)")
        precondition(term >= prevHardState.term, "term moved back from \(prevHardState.term) to \(term)")
        precondition(raftLog.committed >= prevHardState.commit, "commit index moved back from \(prevHardState.commit) to \(raftLog.committed)")
    }

    // MARK: - Role transitions

    /// Resets per-term volatile state; a new term clears the vote.
    func reset(term newTerm: UInt64) {
        precondition(newTerm >= term, "term moving back from \(term) to \(newTerm)")
        if newTerm != term {
            term = newTerm
            vote = noNode
        }
        lead = noNode
        electionElapsed = 0
        heartbeatElapsed = 0
        resetRandomizedElectionTimeout()
        leadTransferee = noNode
        votes = [:]
        progress = [:]
        pendingConfIndex = 0
        readOnly.reset()
        pendingReadIndexMessages = []
    }

    /// The election timeout, drawn afresh from `[electionTick, 2 * electionTick)` (paper §5.2:
    /// randomized timeouts make split votes rare).
    func resetRandomizedElectionTimeout() {
        randomizedElectionTimeout = config.electionTick + Int(rng.next() % UInt64(config.electionTick))
    }

    func becomeFollower(term newTerm: UInt64, leader: NodeID) {
        reset(term: newTerm)
        lead = leader
        role = .follower
    }

    /// Pre-candidate (thesis §9.6): asks for votes for `term + 1` without incrementing its term, so a
    /// server that cannot win (partitioned, or with a stale log) never disrupts the cluster.
    func becomePreCandidate() {
        precondition(role != .leader, "leader cannot become pre-candidate")
        votes = [:]
        lead = noNode
        role = .preCandidate
        resetRandomizedElectionTimeout()
    }

    /// Candidate (paper §5.2): a new term, voting for itself.
    func becomeCandidate() {
        precondition(role != .leader, "leader cannot become candidate")
        reset(term: term + 1)
        vote = id
        role = .candidate
    }

    /// Leader (paper §5.2, §5.3): initializes every follower's progress at the end of its log and
    /// appends an empty entry of its term, so that earlier entries commit (§5.4.2) and ReadIndex can
    /// be served (thesis §6.4).
    func becomeLeader() {
        precondition(role == .candidate, "only a candidate can become leader")
        reset(term: term)
        lead = id
        role = .leader
        let last = raftLog.lastIndex
        let conf = confHistory.current
        for member in conf.voters + conf.learners {
            let pr = Progress(next: last + 1, maxInflight: config.maxInflightMsgs,
                              isLearner: conf.isLearner(member), recentActive: member == id)
            if member == id { pr.match = last }
            progress[member] = pr
        }
        appendEntries([Entry(term: term, index: 0)])
        pendingConfIndex = raftLog.lastIndex
    }
}
