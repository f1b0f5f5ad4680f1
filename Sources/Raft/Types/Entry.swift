/// Identifies a member of a Raft group. `0` is reserved and means "no node" (no leader, no vote).
public typealias NodeID = UInt64

/// The reserved ``NodeID`` meaning "none": no leader known, no vote cast.
let noNode: NodeID = 0

/// What an ``Entry`` carries: an application command or a membership change.
public enum EntryKind: UInt8, Sendable, Hashable {
    /// An application command (or, when `data` is empty, a no-op the leader appends on election
    /// or a proposal the leader had to refuse). Applications must skip empty normal entries.
    case normal = 0
    /// A ``ConfChange`` encoded with ``ConfChange/encoded()``.
    case confChange = 1
}

/// One entry of the replicated log (Raft paper §5.3): a command with the term in which a leader
/// received it and its position in the log.
public struct Entry: Sendable, Hashable {
    /// The term of the leader that created the entry.
    public var term: UInt64
    /// The position of the entry in the log; the first entry has index 1.
    public var index: UInt64
    /// Whether `data` is an application command or a membership change.
    public var kind: EntryKind
    /// The opaque payload.
    public var data: [UInt8]

    public init(term: UInt64, index: UInt64, kind: EntryKind = .normal, data: [UInt8] = []) {
        self.term = term
        self.index = index
        self.kind = kind
        self.data = data
    }

    /// The size counted against `maxSizePerMsg` and `maxCommittedSizePerReady`: the payload plus a
    /// fixed allowance for term, index and kind.
    public var approximateSize: Int { data.count + 17 }
}

/// Takes the longest prefix of `entries` whose total ``Entry/approximateSize`` does not exceed
/// `maxSize`, but always at least one entry, so that a single large entry still makes progress.
func limitSize(_ entries: [Entry], _ maxSize: Int) -> [Entry] {
    guard entries.count > 1 else { return entries }
    var size = entries[0].approximateSize
    var count = 1
    while count < entries.count {
        size += entries[count].approximateSize
        if size > maxSize { break }
        count += 1
    }
    return count == entries.count ? entries : Array(entries[0..<count])
}
