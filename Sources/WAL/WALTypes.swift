/// One raft log entry as the WAL stores it: the term it was proposed in, its log index and the opaque
/// payload the state machine applies.
public struct WALEntry: Sendable, Equatable {
    /// The raft term in which the leader created this entry.
    public var term: UInt64
    /// The entry's position in the raft log (1-based in raft; the WAL accepts any value).
    public var index: UInt64
    /// The application payload (an encoded request).
    public var data: [UInt8]

    /// Creates an entry.
    public init(term: UInt64, index: UInt64, data: [UInt8]) {
        self.term = term
        self.index = index
        self.data = data
    }
}

/// The raft state that must be on disk before a member answers a vote or acknowledges an append
/// (Raft paper §5, Figure 2 "persistent state on all servers").
public struct WALHardState: Sendable, Equatable {
    /// The latest term this member has seen.
    public var term: UInt64
    /// The member voted for in `term` (0 = none).
    public var vote: UInt64
    /// The highest log index known to be committed.
    public var commit: UInt64

    /// Creates a hard state.
    public init(term: UInt64, vote: UInt64, commit: UInt64) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }
}

/// Records that a snapshot covering the log up to and including `index` exists elsewhere, so entries at
/// or below `index` are no longer needed (etcd's `walpb.Snapshot`).
public struct WALSnapshotMarker: Sendable, Equatable {
    /// The last log index the snapshot covers.
    public var index: UInt64
    /// The term of the entry at `index`.
    public var term: UInt64

    /// Creates a snapshot marker.
    public init(index: UInt64, term: UInt64) {
        self.index = index
        self.term = term
    }
}

/// What `WriteAheadLog.open` recovered from disk.
public struct WALContents: Sendable, Equatable {
    /// The latest snapshot marker, if any was ever saved (and not released).
    public var snapshot: WALSnapshotMarker?
    /// The latest hard state, if any was ever saved.
    public var hardState: WALHardState?
    /// The live raft log: entries with an index above `snapshot.index`, contiguous and in index order.
    /// An entry written later with an index at or below an earlier one replaces it and every entry after
    /// it (raft log truncation on a conflicting append).
    public var entries: [WALEntry]

    /// Creates contents (mainly for tests and callers building expectations).
    public init(snapshot: WALSnapshotMarker? = nil, hardState: WALHardState? = nil, entries: [WALEntry] = []) {
        self.snapshot = snapshot
        self.hardState = hardState
        self.entries = entries
    }
}

/// Errors of the write-ahead log.
public enum WALError: Error, Sendable, Equatable {
    /// Data on disk is damaged somewhere other than the torn tail of the newest segment, or the segments do
    /// not form one continuous log. `segment` is the file name, `offset` the byte offset of the first bad
    /// record. Opening never drops such data silently; an operator must restore the member.
    case corrupt(segment: String, offset: Int, reason: String)
    /// A system call failed; `errno` is its error number.
    case io(operation: String, errno: Int32)
    /// Another `WriteAheadLog` (in this or another process) holds the directory's lock.
    case locked(directory: String)
    /// The entries or snapshot marker given to `save`/`saveSnapshotMarker` do not continue the log: an
    /// index gap, an entry at or below the snapshot marker, or a snapshot marker older than the last one.
    /// Nothing was written.
    case indexOutOfOrder(reason: String)
    /// An earlier write or sync failed, so what is on disk is unknown (after a failed fsync, Linux may have
    /// dropped the dirty pages). The log refuses further writes; close and reopen it to recover.
    case poisoned
    /// The log was closed.
    case closed
}
