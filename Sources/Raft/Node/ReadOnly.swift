/// A pending ReadIndex request (thesis §6.4).
struct ReadRequest: Sendable {
    /// The commit index when the request's heartbeat round started.
    var index: UInt64
    var context: [UInt8]
    /// The node that asked (this node for local requests).
    var from: NodeID
}

/// The leader's ReadIndex bookkeeping (thesis §6.4): requests are answered once a heartbeat round
/// started after they arrived has been acknowledged by a quorum, which proves the leader was still
/// the leader when they arrived.
///
/// Batching: at most one round is in flight. Requests arriving meanwhile wait and all share the next
/// round, so a burst of reads costs one heartbeat exchange. Every regular heartbeat carries the id of
/// the latest round, so a round whose heartbeats were lost is retried.
struct ReadOnly: Sendable {
    struct Round: Sendable {
        var id: UInt64
        var requests: [ReadRequest]
        var acks: Set<NodeID>
    }

    /// Rounds started, oldest first; acknowledging one acknowledges all before it.
    private(set) var rounds: [Round] = []
    /// Requests waiting for the next round.
    private(set) var waiting: [(context: [UInt8], from: NodeID)] = []
    private var nextRoundID: UInt64 = 1

    var latestRoundContext: [UInt8] {
        rounds.last.map { Self.encode($0.id) } ?? []
    }

    var hasRoundInFlight: Bool { !rounds.isEmpty }

    mutating func enqueue(context: [UInt8], from: NodeID) {
        waiting.append((context, from))
    }

    /// Starts a round for every waiting request at commit index `committed`; returns its context.
    mutating func startRound(committed: UInt64, leader: NodeID) -> [UInt8] {
        let id = nextRoundID
        nextRoundID += 1
        let requests = waiting.map { ReadRequest(index: committed, context: $0.context, from: $0.from) }
        waiting = []
        rounds.append(Round(id: id, requests: requests, acks: [leader]))
        return Self.encode(id)
    }

    /// Records `from`'s acknowledgement of the round in `context`; returns the requests released if
    /// the round (and so every earlier one) now has a quorum.
    mutating func acknowledge(context: [UInt8], from: NodeID, hasQuorum: (Set<NodeID>) -> Bool) -> [ReadRequest] {
        guard let id = Self.decode(context), let position = rounds.firstIndex(where: { $0.id == id }) else { return [] }
        rounds[position].acks.insert(from)
        guard hasQuorum(rounds[position].acks) else { return [] }
        let released = rounds[...position].flatMap(\.requests)
        rounds.removeFirst(position + 1)
        return released
    }

    /// Drops every request (leadership lost: the application retries); round ids keep increasing.
    mutating func reset() {
        rounds = []
        waiting = []
    }

    static func encode(_ id: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: id >> (56 - 8 * UInt64($0))) }
    }

    static func decode(_ bytes: [UInt8]) -> UInt64? {
        guard bytes.count == 8 else { return nil }
        return bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }
}
