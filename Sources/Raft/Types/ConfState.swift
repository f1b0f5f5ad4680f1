/// A membership configuration (thesis §4.1): the voters, whose majority decides elections and
/// commitment, and the learners, who receive the log but never vote or count towards a quorum.
///
/// setcd changes membership one server at a time (thesis §4.1), so there is no joint
/// ("outgoing") voter set.
public struct ConfState: Sendable, Hashable {
    /// Members that vote and count for commitment, sorted ascending.
    public var voters: [NodeID]
    /// Non-voting members that only receive the log (thesis §4.2.1 "catching up new servers"),
    /// sorted ascending. Disjoint from `voters`.
    public var learners: [NodeID]

    public init(voters: [NodeID] = [], learners: [NodeID] = []) {
        self.voters = Array(Set(voters)).sorted()
        self.learners = Array(Set(learners).subtracting(voters)).sorted()
    }

    /// Whether `id` is a voter.
    public func isVoter(_ id: NodeID) -> Bool { voters.contains(id) }
    /// Whether `id` is a learner.
    public func isLearner(_ id: NodeID) -> Bool { learners.contains(id) }
    /// Whether `id` is a voter or a learner.
    public func contains(_ id: NodeID) -> Bool { isVoter(id) || isLearner(id) }

    /// The configuration after `change`. Changes that do not apply (removing a non-member, adding
    /// an existing voter) leave it unchanged, identically on every server.
    public func applying(_ change: ConfChange) -> ConfState {
        var voters = Set(self.voters)
        var learners = Set(self.learners)
        switch change.type {
        case .addNode:
            learners.remove(change.nodeID)
            voters.insert(change.nodeID)
        case .addLearnerNode:
            voters.remove(change.nodeID)
            learners.insert(change.nodeID)
        case .removeNode:
            voters.remove(change.nodeID)
            learners.remove(change.nodeID)
        }
        return ConfState(voters: Array(voters), learners: Array(learners))
    }
}

/// A single-server membership change (thesis §4.1), proposed with
/// ``RaftNode/proposeConfChange(_:)`` and carried in an ``Entry`` of kind ``EntryKind/confChange``.
public struct ConfChange: Sendable, Hashable {
    /// What the change does.
    public enum ChangeType: UInt8, Sendable, Hashable {
        /// Add `nodeID` as a voter, or promote it from learner to voter.
        case addNode = 0
        /// Add `nodeID` as a learner, or demote it from voter to learner.
        case addLearnerNode = 1
        /// Remove `nodeID` from the configuration.
        case removeNode = 2
    }

    /// What the change does.
    public var type: ChangeType
    /// The member it concerns (never 0).
    public var nodeID: NodeID
    /// Opaque application data (setcd puts the member's name and peer URLs here).
    public var context: [UInt8]

    public init(type: ChangeType, nodeID: NodeID, context: [UInt8] = []) {
        self.type = type
        self.nodeID = nodeID
        self.context = context
    }

    /// The entry payload: one byte of type, the node id as 8 big-endian bytes, then the context.
    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = [type.rawValue]
        bytes.reserveCapacity(9 + context.count)
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: nodeID >> UInt64(shift)))
        }
        bytes.append(contentsOf: context)
        return bytes
    }

    /// Decodes ``encoded()``; nil for a payload that is not a valid change (such an entry is then
    /// a no-op on every server).
    public init?(encoded bytes: [UInt8]) {
        guard bytes.count >= 9, let type = ChangeType(rawValue: bytes[0]) else { return nil }
        var id: UInt64 = 0
        for i in 1...8 { id = id << 8 | UInt64(bytes[i]) }
        guard id != noNode else { return nil }
        self.init(type: type, nodeID: id, context: Array(bytes[9...]))
    }
}
