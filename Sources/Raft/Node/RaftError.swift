/// Errors the ``RaftNode`` API throws. None of them is fatal: the node's state is unchanged.
public enum RaftError: Error, Sendable, Hashable {
    /// The proposal was not accepted: no leader is known, forwarding is disabled, the node is a
    /// candidate, the leader is transferring leadership, or this node was removed. Retry later.
    case proposalDropped
    /// A membership change is still pending (proposed but not applied by the leader), or the leader
    /// has not yet committed an entry of its term (thesis §4.1: one change at a time).
    case confChangeInProgress
    /// The membership change would leave no voter.
    case confChangeInvalid(String)
    /// A local-only message type arrived through ``RaftNode/step(_:)``.
    case stepLocalMessage
    /// A response came from a node that is not a member.
    case stepPeerNotFound
    /// The configuration is invalid.
    case invalidConfig(String)
}
