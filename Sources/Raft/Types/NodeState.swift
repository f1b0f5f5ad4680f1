/// The role a node plays (paper §5.1, thesis §9.6 for the pre-candidate).
public enum StateRole: Sendable, Hashable, CustomStringConvertible {
    case follower
    /// Running a pre-vote (thesis §9.6): asking whether it could win before disturbing anyone.
    case preCandidate
    case candidate
    case leader

    public var description: String {
        switch self {
        case .follower: return "follower"
        case .preCandidate: return "pre-candidate"
        case .candidate: return "candidate"
        case .leader: return "leader"
        }
    }
}

/// Volatile state the application may want to observe (for status and metrics); never persisted.
public struct SoftState: Sendable, Hashable {
    /// The leader this node knows of, or 0 for none.
    public var leader: NodeID
    /// This node's role.
    public var role: StateRole

    public init(leader: NodeID, role: StateRole) {
        self.leader = leader
        self.role = role
    }
}

/// The answer to a ``RaftNode/readIndex(context:)`` request (thesis §6.4): once the application has
/// applied up to `index`, a read started when the request was made observes every write committed
/// before it.
public struct ReadState: Sendable, Hashable {
    /// The commit index the read must wait for.
    public var index: UInt64
    /// The context passed to ``RaftNode/readIndex(context:)``.
    public var context: [UInt8]

    public init(index: UInt64, context: [UInt8]) {
        self.index = index
        self.context = context
    }
}
