/// Describes the log prefix a ``Snapshot`` replaces (thesis §5.1): the index and term of the last
/// entry it covers and the configuration in effect at that index.
public struct SnapshotMetadata: Sendable, Hashable {
    /// The index of the last entry the snapshot covers.
    public var index: UInt64
    /// The term of that entry.
    public var term: UInt64
    /// The membership configuration as of `index`.
    public var confState: ConfState

    public init(index: UInt64 = 0, term: UInt64 = 0, confState: ConfState = ConfState()) {
        self.index = index
        self.term = term
        self.confState = confState
    }
}

/// A state-machine snapshot that replaces a log prefix (thesis §5.1, paper §7): sent by a leader
/// to a follower that needs entries the leader has already compacted (InstallSnapshot).
public struct Snapshot: Sendable, Hashable {
    /// Where the snapshot sits in the log.
    public var metadata: SnapshotMetadata
    /// The application's serialized state machine, opaque to Raft.
    public var data: [UInt8]

    public init(metadata: SnapshotMetadata = SnapshotMetadata(), data: [UInt8] = []) {
        self.metadata = metadata
        self.data = data
    }

    /// True for the placeholder snapshot at index 0 of a log that was never compacted.
    public var isEmpty: Bool { metadata.index == 0 }
}
