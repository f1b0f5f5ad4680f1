/// A point-in-time view of a ``RaftNode`` for status reporting (etcd's `Status`/`MemberStatus`) and
/// for decisions such as refusing to promote a learner that has not caught up.
public struct Status: Sendable {
    /// This node.
    public var id: NodeID
    /// Current term, vote and commit index.
    public var hardState: HardState
    /// Current leader and role.
    public var softState: SoftState
    /// The highest index the application has applied (as reported through ``RaftNode/advance(_:)``).
    public var applied: UInt64
    /// The last index of the log.
    public var lastIndex: UInt64
    /// The member leadership is being transferred to, or 0.
    public var leadTransferee: NodeID
    /// The configuration in effect (the latest in the log, thesis §4.1).
    public var confState: ConfState
    /// The leader's view of every member, itself included; empty unless this node is the leader.
    public var progress: [NodeID: ProgressStatus]
}
