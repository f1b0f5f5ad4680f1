@testable import Raft

/// The network of a simulated run: every message is delayed, possibly lost, duplicated or blocked
/// by a partition; links are directed, so partitions can be asymmetric.
struct SimulatedNetwork {
    struct InFlight {
        var deliverAt: Int
        var sequence: Int
        var message: Message
    }

    private(set) var inFlight: [InFlight] = []
    private var sequence = 0
    /// Directed links (from, to) that drop everything.
    var blocked: Set<[NodeID]> = []

    var isEmpty: Bool { inFlight.isEmpty }

    func isBlocked(_ from: NodeID, _ to: NodeID) -> Bool {
        blocked.contains([from, to])
    }

    mutating func send(_ message: Message, at time: Int) {
        sequence += 1
        inFlight.append(InFlight(deliverAt: time, sequence: sequence, message: message))
    }

    /// Removes and returns the messages due at `now`, in a random order (reordering).
    mutating func takeDue(now: Int, rng: inout SplitMix64) -> [Message] {
        var due: [InFlight] = []
        var rest: [InFlight] = []
        for m in inFlight {
            if m.deliverAt <= now { due.append(m) } else { rest.append(m) }
        }
        inFlight = rest
        due.sort { $0.sequence < $1.sequence }
        due.shuffle(using: &rng)
        return due.map(\.message)
    }

    mutating func dropAll() {
        inFlight = []
    }
}
