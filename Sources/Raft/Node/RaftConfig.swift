/// The parameters of one ``RaftNode``. Times are in ticks: the application calls
/// ``RaftNode/tick()`` at a fixed interval (setcd: the heartbeat interval, 100 ms by default, with
/// `electionTick = 10` for etcd's 1000 ms election timeout).
public struct RaftConfig: Sendable {
    /// This node's id; never 0.
    public var id: NodeID
    /// Ticks without hearing from a leader before a follower campaigns. The actual timeout is drawn
    /// uniformly from `[electionTick, 2 * electionTick)` at every reset (paper §5.2), from a PRNG
    /// seeded with `randomSeed ^ id`, so a run is reproducible.
    public var electionTick: Int = 10
    /// Ticks between leader heartbeats. Must be less than `electionTick`.
    public var heartbeatTick: Int = 1
    /// The index the application has already applied (from its own durable state) when restarting.
    /// Committed entries after it are delivered again; none before it.
    public var applied: UInt64 = 0
    /// Upper bound on the bytes of entries in one MsgApp (at least one entry is always sent).
    public var maxSizePerMsg: Int = 1 << 20
    /// Upper bound on the bytes of committed entries in one ``Ready`` (at least one entry).
    public var maxCommittedSizePerReady: Int = .max
    /// How many MsgApps may be in flight to a follower in replicate state (the pipelining window).
    public var maxInflightMsgs: Int = 256
    /// A leader steps down if it has not heard from a quorum within an election timeout, and a node
    /// that heard from a leader within the election timeout ignores vote requests (thesis §6.2, §4.2.3).
    public var checkQuorum: Bool = true
    /// Run a pre-vote round before incrementing the term (thesis §9.6).
    public var preVote: Bool = true
    /// When true, followers drop proposals instead of forwarding them to the leader.
    public var disableProposalForwarding: Bool = false
    /// Mixed with `id` to seed the election-timeout PRNG.
    public var randomSeed: UInt64 = 0

    public init(id: NodeID) {
        self.id = id
    }

    /// Checks the configuration; throws ``RaftError/invalidConfig(_:)``.
    func validate() throws {
        if id == noNode { throw RaftError.invalidConfig("id must not be 0") }
        if heartbeatTick <= 0 { throw RaftError.invalidConfig("heartbeatTick must be positive") }
        if electionTick <= heartbeatTick { throw RaftError.invalidConfig("electionTick must be greater than heartbeatTick") }
        if maxInflightMsgs <= 0 { throw RaftError.invalidConfig("maxInflightMsgs must be positive") }
        if maxSizePerMsg <= 0 || maxCommittedSizePerReady <= 0 { throw RaftError.invalidConfig("size limits must be positive") }
    }
}
