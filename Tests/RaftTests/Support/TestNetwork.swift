@testable import Raft

/// A hand-driven cluster for focused tests (in the spirit of etcd-io/raft's `network`): messages are
/// delivered in FIFO order until the cluster is quiet, through an optional filter that can drop or
/// inspect them.
final class TestNetwork {
    var nodes: [NodeID: TestNode] = [:]
    /// Messages sent but not delivered yet.
    var pending: [Message] = []
    /// Every message sent, for assertions.
    var sent: [Message] = []
    /// Return false to drop a message.
    var filter: (Message) -> Bool = { _ in true }
    /// Nodes cut off from everyone.
    var isolated: Set<NodeID> = []
    /// Directed links that drop everything.
    var cut: Set<[NodeID]> = []

    /// A cluster of `voters` (and `learners`), all bootstrapped with the same initial entries.
    init(voters: [NodeID], learners: [NodeID] = [], configure: (inout RaftConfig) -> Void = { _ in }) {
        for id in voters + learners {
            nodes[id] = TestNode(id: id, storage: MemoryStorage(bootstrapVoters: voters, learners: learners), configure: configure)
        }
        stabilize()
    }

    subscript(_ id: NodeID) -> TestNode { nodes[id]! }

    /// Adds a node with empty storage (a member joining an existing cluster).
    func addEmptyNode(_ id: NodeID, configure: (inout RaftConfig) -> Void = { _ in }) {
        nodes[id] = TestNode(id: id, storage: MemoryStorage(), configure: configure)
    }

    func collect() {
        for id in nodes.keys.sorted() {
            while let msgs = nodes[id]!.handleReady() {
                sent.append(contentsOf: msgs)
                pending.append(contentsOf: msgs)
            }
        }
    }

    func deliverable(_ m: Message) -> Bool {
        nodes[m.to] != nil && !isolated.contains(m.to) && !isolated.contains(m.from)
            && !cut.contains([m.from, m.to]) && filter(m)
    }

    /// Delivers messages (and handles Readys) until nothing is left; returns the messages delivered.
    @discardableResult
    func stabilize(maxMessages: Int = 100_000) -> [Message] {
        var delivered: [Message] = []
        collect()
        while !pending.isEmpty {
            precondition(delivered.count < maxMessages, "cluster does not settle")
            let m = pending.removeFirst()
            if deliverable(m) {
                delivered.append(m)
                try? nodes[m.to]!.raft.step(m)
            } else if m.type == .snap, let sender = nodes[m.from] {
                sender.raft.reportSnapshot(m.to, success: false)
            }
            collect()
        }
        return delivered
    }

    /// Ticks the given nodes (all by default) `count` times, stabilizing after each tick.
    func tick(_ ids: [NodeID]? = nil, count: Int = 1) {
        for _ in 0..<count {
            for id in ids ?? nodes.keys.sorted() { nodes[id]!.raft.tick() }
            stabilize()
        }
    }

    /// Makes `id` campaign and lets the election run.
    func campaign(_ id: NodeID) {
        nodes[id]!.raft.campaign()
        stabilize()
    }

    func propose(_ id: NodeID, _ n: UInt64) throws {
        try nodes[id]!.raft.propose(value(n))
        stabilize()
    }

    var leaders: [NodeID] {
        nodes.keys.sorted().filter { nodes[$0]!.role == .leader }
    }
}
