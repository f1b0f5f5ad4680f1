import Raft
import Server

/// One payload on its way between two members.
struct Delivery {
    var from: Int
    var to: Int
    var channel: PeerChannel
    var payload: [UInt8]
    /// The receiver's incarnation when it was sent: a member restarted since never gets it (its
    /// connections were reset).
    var incarnation: Int
}

/// The network between the simulated members: latency, loss, reordering and partitions, all drawn
/// from the simulation's seeded generator.
///
/// Snapshot streams keep their order (one connection each, as the real transport); messages keep it
/// too unless `reorder` is on (the real transport reorders only across reconnections).
struct SimulatedNetwork {
    /// One-way latency range, in nanoseconds.
    var latency: ClosedRange<Int64> = 100_000...2_000_000
    /// Probability that a message is dropped.
    var loss = 0.0
    /// Whether messages may overtake each other.
    var reorder = false
    /// Links that are cut, as (from, to) member indexes; a partition cuts both ways, a one-way fault one.
    var cut: Set<[Int]> = []
    /// When the last payload on each (from, to, channel) link arrives, to keep links in order.
    private var lastArrival: [[Int]: Int64] = [:]
    private(set) var sent = 0
    private(set) var dropped = 0

    /// The arrival time of a payload sent now, or nil if it is lost.
    mutating func route(from: Int, to: Int, channel: PeerChannel, now: Int64, random: inout SplitMix64) -> Int64? {
        sent += 1
        if cut.contains([from, to]) || (channel == .messages && loss > 0 && Double(random.next() % 1_000_000) / 1_000_000 < loss) {
            dropped += 1
            return nil
        }
        var arrival = now + latency.lowerBound + Int64(random.next() % UInt64(latency.upperBound - latency.lowerBound + 1))
        let link = [from, to, Int(channel.rawValue)]
        if channel == .snapshots || !reorder {
            arrival = max(arrival, lastArrival[link] ?? 0)
            lastArrival[link] = arrival
        }
        return arrival
    }

    /// Heals every fault.
    mutating func heal() {
        cut = []
        loss = 0
        reorder = false
        latency = 100_000...2_000_000
    }
}

/// A member's view of the simulated network (its `PeerLinks`): what it sends goes to the simulation's
/// outbox, to be routed once the member's turn (and its fsync) is over.
final class SimulatedLinks: PeerLinks, @unchecked Sendable {
    // @unchecked Sendable: the simulation runs on one thread; nothing here is touched from another.
    private let member: Int
    private unowned let simulation: Simulation
    private var peers: Set<UInt64> = []

    init(member: Int, simulation: Simulation) {
        self.member = member
        self.simulation = simulation
    }

    func send(_ payload: [UInt8], to peer: UInt64, on channel: PeerChannel) -> Bool {
        guard peers.contains(peer) else { return false }
        simulation.outbox(from: member, to: peer, channel: channel, payload: payload)
        return true
    }

    func addPeer(_ id: UInt64, host: String, port: Int) { peers.insert(id) }

    func removePeer(_ id: UInt64) { peers.remove(id) }

    /// The simulation delivers as connection number its sender's id.
    func closeInbound(connection: UInt64) { simulation.peerMessageRefused(from: connection) }
}
