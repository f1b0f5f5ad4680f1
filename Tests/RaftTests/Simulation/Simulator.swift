@testable import Raft

/// One deterministic simulated run of a Raft cluster (in the manner of FoundationDB's simulation and
/// TigerBeetle's VOPR): nodes with in-memory "disks", a faulty network, crashes and restarts,
/// partitions, membership changes, leader transfers, client proposals and reads, all drawn from one
/// seeded generator. Every safety property is checked after every step; liveness is checked at the
/// end, after the faults stop.
final class Simulator {
    let options: SimulationOptions
    private var rng: SplitMix64
    private(set) var nodes: [NodeID: TestNode] = [:]
    /// Crashed nodes and the tick they restart at.
    private var down: [NodeID: Int] = [:]
    /// Nodes shut down after their removal from the configuration was committed.
    private var retired: Set<NodeID> = []
    private var network = SimulatedNetwork()
    let checker = InvariantChecker()
    private var now = 0
    private(set) var steps = 0
    private var nextValue: UInt64 = 1
    private var nextNodeID: NodeID
    private var nextReadID: UInt64 = 1
    private var healAt: Int?
    private var faultsEnabled = true
    private var traceLines: [String] = []
    /// Members that were ever in the committed configuration (so their later absence means removal).
    private var everMember: Set<NodeID> = []
    /// What happened, to show the faults and features were exercised.
    private(set) var stats = SimulationStats()

    /// Messages are delayed 0...maxDelay ticks (shortened for the quiet phase).
    private var maxDelay: Int

    init(options: SimulationOptions) {
        self.options = options
        maxDelay = options.maxDelay
        rng = SplitMix64(seed: options.seed)
        let voters = (1...NodeID(options.nodeCount)).map { $0 }
        nextNodeID = NodeID(options.nodeCount) + 1
        for id in voters {
            addNode(id, storage: MemoryStorage(bootstrapVoters: voters))
        }
    }

    // MARK: Nodes

    private func makeConfig(_ c: inout RaftConfig) {
        c.electionTick = 10
        c.heartbeatTick = 1
        c.checkQuorum = options.checkQuorum
        c.preVote = options.preVote
        c.maxInflightMsgs = options.maxInflightMsgs
        c.maxSizePerMsg = options.maxSizePerMsg
        c.maxCommittedSizePerReady = options.maxCommittedSizePerReady
        c.randomSeed = options.seed
    }

    private func addNode(_ id: NodeID, storage: MemoryStorage) {
        let node = TestNode(id: id, storage: storage, configure: makeConfig)
        node.onPersist = { [unowned self] n, rd in self.guarded { try self.checker.persisted(n, rd) } }
        node.onApply = { [unowned self] n, e in self.guarded { try self.checker.applied(n, e) } }
        node.onInstallSnapshot = { [unowned self] n, s in
            self.stats.snapshotsInstalled += 1
            self.guarded { try self.checker.installed(n, s) }
        }
        nodes[id] = node
    }

    private var failure: InvariantViolation?

    private func guarded(_ body: () throws -> Void) {
        guard failure == nil else { return }
        do { try body() } catch let v as InvariantViolation { failure = v } catch { failure = InvariantViolation(description: "\(error)") }
    }

    private func isUp(_ id: NodeID) -> Bool {
        nodes[id] != nil && down[id] == nil && !retired.contains(id)
    }

    private var upNodes: [TestNode] {
        nodes.keys.sorted().filter(isUp).map { nodes[$0]! }
    }

    private var leader: TestNode? {
        upNodes.filter { $0.role == .leader }.max { $0.term < $1.term }
    }

    private func trace(_ line: @autoclosure () -> String) {
        guard options.trace else { return }
        traceLines.append("t\(now) s\(steps) \(line())")
    }

    // MARK: Running

    /// Runs the faulty phase, then the quiet phase; throws the first violation.
    func run() throws {
        defer {
            stats.steps = steps
            stats.leaders = checker.leaderOfTerm.count
            stats.committed = Int(checker.maxCommittedIndex)
            stats.confChangesCommitted = checker.committedConfChanges
            stats.checks = checker.checks
        }
        for _ in 0..<options.ticks {
            try tickOnce()
        }
        try quietPhase()
        try checker.checkLogMatching(allNodes)
    }

    private var allNodes: [TestNode] { nodes.keys.sorted().map { nodes[$0]! } }

    private func chance(_ p: Double) -> Bool {
        p > 0 && Double(rng.next() % 1_000_000) < p * 1_000_000
    }

    private func random(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }

    private var pendingTransfer: (target: NodeID, term: UInt64)?

    private func afterStep() throws {
        steps += 1
        if let failure { throw failure }
        try checker.afterStep(upNodes)
        try checker.checkNoElectableNodeLacksCommitted(nodes)
        if let transfer = pendingTransfer, let node = nodes[transfer.target], node.role == .leader {
            if node.term == transfer.term + 1 { stats.transfersCompleted += 1 }
            pendingTransfer = nil
        }
        if steps % 64 == 0 { try checker.checkLogMatching(allNodes) }
    }

    /// Terms whose leader was already given the chance to crash on taking office.
    private var newLeaderTerms: Set<UInt64> = []
    /// Terms whose leader was already given the chance to propose a change on taking office.
    private var eagerChangeTerms: Set<UInt64> = []

    /// Handles every Ready of `node`, sending its messages into the network.
    private func drain(_ node: TestNode) {
        if faultsEnabled && node.role == .leader && newLeaderTerms.insert(node.term).inserted
            && chance(options.leaderCrashRate * 5) {
            // A new leader crashes after persisting its first entries but before sending anything:
            // its log now holds entries no one else has (the divergence behind paper Figure 8).
            trace("crash new leader \(node.id) of term \(node.term) before it sends")
            node.crashMidReady(persist: true)
            down[node.id] = now + 1 + random(20)
            stats.crashes += 1
            return
        }
        if faultsEnabled && node.role == .leader && eagerChangeTerms.insert(node.term).inserted
            && chance(options.membershipRate * 5) {
            // A change proposed the moment a leader takes office, before it has committed anything
            // in its term: the window the single-server change rule must close (thesis §4.1).
            changeMembership(node)
        }
        while let msgs = node.handleReady() {
            for state in node.readStates {
                stats.readsAnswered += 1
                guarded { try checker.readAnswered(node, state) }
            }
            node.readStates = []
            for m in msgs {
                guarded { try checker.sent(m) }
                send(m)
            }
            maybeSnapshot(node)
        }
    }

    private func send(_ m: Message) {
        if faultsEnabled && chance(options.lossRate) {
            trace("lost \(m.type) \(m.from)->\(m.to)")
            stats.messagesLost += 1
            if m.type == .snap { reportSnapshot(m, success: false) }
            return
        }
        let delay = maxDelay == 0 ? 0 : random(maxDelay + 1)
        network.send(m, at: now + delay)
        if faultsEnabled && chance(options.duplicateRate) {
            network.send(m, at: now + random(maxDelay + 2))
            stats.messagesDuplicated += 1
        }
    }

    private func reportSnapshot(_ m: Message, success: Bool) {
        if isUp(m.from) {
            nodes[m.from]!.raft.reportSnapshot(m.to, success: success)
            drain(nodes[m.from]!)
        }
    }

    private func maybeSnapshot(_ node: TestNode) {
        let snapshotIndex = (try? node.storage.snapshot().metadata.index) ?? 0
        if node.appliedIndex >= snapshotIndex + options.snapshotInterval {
            node.snapshotAndCompact(keep: UInt64(random(8)))
        }
    }

    private func deliver(_ m: Message) throws {
        guard isUp(m.to), !network.isBlocked(m.from, m.to) else {
            trace("dropped \(m.type) \(m.from)->\(m.to)")
            stats.messagesBlocked += 1
            if m.type == .snap { reportSnapshot(m, success: false) }
            if isUp(m.from) && chance(0.2) {
                nodes[m.from]!.raft.reportUnreachable(m.to)
                drain(nodes[m.from]!)
            }
            return
        }
        let node = nodes[m.to]!
        stats.messagesDelivered += 1
        trace("deliver \(m.type) \(m.from)->\(m.to) term \(m.term) idx \(m.index) logTerm \(m.logTerm) n=\(m.entries.count) commit \(m.commit) reject \(m.reject)")
        try? node.raft.step(m)
        if faultsEnabled && chance(options.crashRate / 20) {
            // Crash in the middle of handling the resulting Ready.
            let persist = chance(0.5)
            trace("crash node \(node.id) mid-Ready (persisted: \(persist))")
            node.crashMidReady(persist: persist)
            stats.crashes += 1
            down[node.id] = now + 1 + random(30)
        } else {
            drain(node)
        }
        if m.type == .snap { reportSnapshot(m, success: true) }
        try afterStep()
    }

    private func tickOnce() throws {
        if faultsEnabled { try injectEvents() }
        for node in upNodes.shuffled(using: &rng) {
            node.raft.tick()
            drain(node)
            try afterStep()
        }
        // Deliver what is due, including messages sent with no delay while delivering.
        var rounds = 0
        while rounds < 50 {
            let due = network.takeDue(now: now, rng: &rng)
            if due.isEmpty { break }
            for m in due { try deliver(m) }
            rounds += 1
        }
        now += 1
    }

    // MARK: Events

    private func injectEvents() throws {
        // Restarts.
        for (id, at) in down.sorted(by: { $0.key < $1.key }) where at <= now {
            down[id] = nil
            if !retired.contains(id) {
                trace("restart node \(id)")
                nodes[id]!.restart()
                drain(nodes[id]!)
            }
        }
        if let healAt, healAt <= now {
            trace("heal partition")
            network.blocked = []
            self.healAt = nil
        }
        retireRemovedNodes()

        if chance(options.crashRate) {
            let candidates = upNodes
            if !candidates.isEmpty {
                let node = candidates[random(candidates.count)]
                trace("crash node \(node.id)")
                node.restart()  // loses volatile state; comes back later
                stats.crashes += 1
                // Often a quick restart (a supervisor restarting the process), sometimes a long outage.
                down[node.id] = now + (chance(0.5) ? random(3) : 1 + random(40))
            }
        }
        if chance(options.leaderCrashRate), let leader {
            trace("crash leader \(leader.id)")
            leader.restart()
            down[leader.id] = now + 1 + random(20)
            stats.crashes += 1
        }
        if chance(options.partitionRate) && healAt == nil {
            partition()
        }
        if chance(options.proposalRate) {
            let count = 1 + random(3)
            let targets = upNodes
            if !targets.isEmpty {
                let node = chance(0.5) ? (leader ?? targets[random(targets.count)]) : targets[random(targets.count)]
                let batch = (0..<count).map { _ -> [UInt8] in
                    defer { nextValue += 1 }
                    return value(nextValue)
                }
                trace("propose \(batch.map { number($0) }) at node \(node.id)")
                try? node.raft.propose(batch: batch)
                drain(node)
                try afterStep()
            }
        }
        if chance(options.readRate) {
            let targets = upNodes
            if !targets.isEmpty {
                let node = targets[random(targets.count)]
                let context = value(nextReadID)
                nextReadID += 1
                checker.readIssued(context: context)
                trace("read \(number(context)) at node \(node.id)")
                node.raft.readIndex(context: context)
                drain(node)
                try afterStep()
            }
        }
        if chance(options.transferRate), let leader {
            let others = leader.status.confState.voters.filter { $0 != leader.id }
            if !others.isEmpty {
                let target = others[random(others.count)]
                trace("transfer leadership \(leader.id) -> \(target)")
                stats.transfersRequested += 1
                pendingTransfer = (target, leader.term)
                leader.raft.transferLeader(to: target)
                drain(leader)
                try afterStep()
            }
        }
        if chance(options.membershipRate), let leader {
            changeMembership(leader)
            drain(leader)
            try afterStep()
        }
    }

    private func partition() {
        let ids = nodes.keys.sorted()
        var blocked: Set<[NodeID]> = []
        switch random(3) {
        case 0:
            // Symmetric: two sides.
            let side = Set(ids.filter { _ in chance(0.5) })
            for a in ids { for b in ids where side.contains(a) != side.contains(b) { blocked.insert([a, b]) } }
            trace("partition \(side.sorted()) | rest")
        case 1:
            // Isolate the leader (or someone).
            let victim = leader?.id ?? ids[random(ids.count)]
            for other in ids where other != victim {
                blocked.insert([victim, other])
                blocked.insert([other, victim])
            }
            trace("isolate node \(victim)")
        default:
            // Asymmetric: random one-way links.
            for a in ids { for b in ids where a != b && chance(0.3) { blocked.insert([a, b]) } }
            trace("asymmetric partition \(blocked.sorted { $0.lexicographicallyPrecedes($1) })")
        }
        network.blocked = blocked
        healAt = now + 10 + random(80)
        stats.partitions += 1
    }

    private func changeMembership(_ leader: TestNode) {
        let conf = leader.status.confState
        var change: ConfChange?
        let maxVoters = options.nodeCount + 1
        let minVoters = 3
        switch random(4) {
        case 0 where nodes.count < options.nodeCount + 4:
            // Add a brand-new member as a learner.
            let id = nextNodeID
            nextNodeID += 1
            addNode(id, storage: MemoryStorage())
            change = ConfChange(type: .addLearnerNode, nodeID: id)
        case 1 where !conf.learners.isEmpty && conf.voters.count < maxVoters:
            change = ConfChange(type: .addNode, nodeID: conf.learners[random(conf.learners.count)])
        case 2 where conf.voters.count > minVoters:
            change = ConfChange(type: .removeNode, nodeID: conf.voters[random(conf.voters.count)])
        case 3 where conf.voters.count > minVoters:
            change = ConfChange(type: .addLearnerNode, nodeID: conf.voters[random(conf.voters.count)])
        default:
            break
        }
        guard let change else { return }
        do {
            try leader.raft.proposeConfChange(change)
            trace("propose \(change.type) \(change.nodeID) at leader \(leader.id)")
            stats.confChangesProposed += 1
        } catch {
            stats.confChangesRefused += 1
            trace("conf change \(change.type) \(change.nodeID) refused: \(error)")
        }
    }

    /// A member whose removal is committed is shut down, as setcd (and etcd) do.
    private func retireRemovedNodes() {
        let conf = checker.committedConf
        for id in conf.voters + conf.learners { everMember.insert(id) }
        for id in everMember.sorted() where !conf.contains(id) && !retired.contains(id) {
            trace("retire removed node \(id)")
            retired.insert(id)
        }
    }

    // MARK: Liveness

    /// Faults stop, partitions heal, crashed nodes restart; then there must be a leader, and a
    /// proposal must be applied by every member of the configuration.
    private func quietPhase() throws {
        faultsEnabled = false
        maxDelay = min(maxDelay, 1)
        network.blocked = []
        healAt = nil
        for id in down.keys.sorted() {
            down[id] = nil
            if !retired.contains(id) {
                nodes[id]!.restart()
                drain(nodes[id]!)
            }
        }
        let probe = value(1 << 40 | nextValue)
        var proposed = false
        for _ in 0..<600 {
            retireRemovedNodes()
            try tickOnce()
            guard let leader else { continue }
            if !proposed || now % 50 == 0 {
                // Re-propose from time to time: a leader change may drop it.
                if (try? leader.raft.propose(probe)) != nil { proposed = true }
                drain(leader)
            }
            let conf = leader.status.confState
            let members = (conf.voters + conf.learners).filter(isUp)
            let everyoneApplied = members.allSatisfy { id in nodes[id]!.values.contains(probe) }
            if proposed && everyoneApplied && checker.values.contains(probe) {
                return
            }
        }
        let states = allNodes.map { "node \($0.id): \(isUp($0.id) ? "up" : "down") \($0.role) term \($0.term) leader \($0.leader) commit \($0.commit) applied \($0.appliedIndex) conf \($0.status.confState)" }
        throw InvariantViolation(description: "liveness: no leader committing proposals \(600) ticks after faults stopped\n" + states.joined(separator: "\n"))
    }

    /// The last `count` trace lines (with tracing on).
    func traceTail(_ count: Int) -> [String] {
        Array(traceLines.suffix(count))
    }
}
