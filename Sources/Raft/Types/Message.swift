/// The kinds of ``Message``, numbered as etcd's `raftpb.MessageType` so a wire encoding can use the
/// same numbers.
///
/// Local messages (`hup`, `beat`, `unreachable`, `snapStatus`, `checkQuorum`) never cross the
/// network; ``RaftNode/step(_:)`` refuses them.
public enum MessageType: UInt8, Sendable, Hashable, CaseIterable {
    /// Local: start an election (election timeout elapsed, or ``RaftNode/campaign()``).
    case hup = 0
    /// Local: the leader should broadcast heartbeats.
    case beat = 1
    /// A proposal of entries, local or forwarded by a follower to the leader.
    case prop = 2
    /// AppendEntries request (paper §5.3).
    case app = 3
    /// AppendEntries response; `reject` with `rejectHint`/`logTerm` for fast log backtracking.
    case appResp = 4
    /// RequestVote (paper §5.2).
    case vote = 5
    /// RequestVote response.
    case voteResp = 6
    /// InstallSnapshot (thesis §5.1).
    case snap = 7
    /// Leader heartbeat: an empty AppendEntries carrying the commit index and a ReadIndex context.
    case heartbeat = 8
    /// Heartbeat response.
    case heartbeatResp = 9
    /// Local: the transport could not reach `from`.
    case unreachable = 10
    /// Local: outcome of sending a snapshot to `from` (`reject` = failed).
    case snapStatus = 11
    /// Local: the leader should check it still has quorum contact.
    case checkQuorum = 12
    /// Ask the leader to hand leadership to `from` (thesis §3.10).
    case transferLeader = 13
    /// Tell the transfer target to start an election at once (thesis §3.10).
    case timeoutNow = 14
    /// A linearizable read request (thesis §6.4), forwarded to the leader by followers.
    case readIndex = 15
    /// The leader's answer to a forwarded ``readIndex``.
    case readIndexResp = 16
    /// Pre-vote request (thesis §9.6).
    case preVote = 17
    /// Pre-vote response.
    case preVoteResp = 18

    /// Whether the message is generated locally and must never arrive from a peer.
    public var isLocal: Bool {
        switch self {
        case .hup, .beat, .unreachable, .snapStatus, .checkQuorum: return true
        default: return false
        }
    }

    /// Whether the message answers a request.
    public var isResponse: Bool {
        switch self {
        case .appResp, .voteResp, .heartbeatResp, .unreachable, .preVoteResp: return true
        default: return false
        }
    }

    /// The response type that answers a vote or pre-vote request.
    var voteResponse: MessageType {
        self == .preVote ? .preVoteResp : .voteResp
    }
}

/// A message between Raft nodes: a plain value so a transport can encode it field by field.
/// Which fields are meaningful depends on `type`; the others stay at their zero values.
public struct Message: Sendable, Hashable {
    /// What the message is.
    public var type: MessageType
    /// The recipient.
    public var to: NodeID
    /// The sender.
    public var from: NodeID
    /// The sender's term; 0 for local messages and proposals.
    public var term: UInt64
    /// `app`: term of the entry at `index`. `vote`/`preVote`: candidate's last log term.
    /// Rejecting `appResp`: term of the entry at `rejectHint` in the follower's log.
    public var logTerm: UInt64
    /// `app`: index preceding `entries`. `appResp`: the follower's last matching index, or the
    /// rejected index. `vote`/`preVote`: candidate's last log index. `readIndexResp`: read index.
    public var index: UInt64
    /// `app`, `prop`: the entries.
    public var entries: [Entry]
    /// `app`, `heartbeat`: the leader's commit index (for heartbeats, capped at the follower's match).
    public var commit: UInt64
    /// `snap`: the snapshot to install.
    public var snapshot: Snapshot?
    /// Responses: whether the request was refused.
    public var reject: Bool
    /// Rejecting `appResp`: the follower's guess at the highest index where the logs may match.
    public var rejectHint: UInt64
    /// `readIndex`/`readIndexResp`: the request context; `heartbeat`/`heartbeatResp`: the ReadIndex
    /// round; `vote`/`preVote`: ``campaignTransferContext`` for a leader-transfer election.
    public var context: [UInt8]

    public init(
        type: MessageType, to: NodeID = 0, from: NodeID = 0, term: UInt64 = 0, logTerm: UInt64 = 0,
        index: UInt64 = 0, entries: [Entry] = [], commit: UInt64 = 0, snapshot: Snapshot? = nil,
        reject: Bool = false, rejectHint: UInt64 = 0, context: [UInt8] = []
    ) {
        self.type = type
        self.to = to
        self.from = from
        self.term = term
        self.logTerm = logTerm
        self.index = index
        self.entries = entries
        self.commit = commit
        self.snapshot = snapshot
        self.reject = reject
        self.rejectHint = rejectHint
        self.context = context
    }
}

/// The `context` of a vote request sent because of ``MessageType/timeoutNow``: it bypasses the
/// leader-lease vote rejection (thesis §4.2.3) because the old leader itself asked for the election.
public let campaignTransferContext: [UInt8] = Array("CampaignTransfer".utf8)
