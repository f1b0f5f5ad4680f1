/// Everything a ``RaftNode`` needs the application to do, taken with ``RaftNode/ready()``.
///
/// ## The contract, in this order
/// 1. **Persist** `snapshot` (if any), then `entries` (replacing any stored entries from
///    `entries[0].index` on), then `hardState` (if any), durably: fsync when `mustSync` is true.
///    (Raft paper Figure 2: state is "updated on stable storage before responding to RPCs".)
/// 2. **Send** `messages`, only after step 1 completed: a vote or an append acknowledgement
///    promises that the vote or the entries are on disk, and the leader counts its own entries as
///    replicated as soon as it appends them. Messages to one peer must be sent in order (a transport
///    may still lose or reorder them; Raft tolerates that).
/// 3. **Apply**: install `snapshot` into the state machine if present, then apply
///    `committedEntries` in order (skip normal entries with empty data; for conf-change entries,
///    call ``RaftNode/applyConfChange(_:)``). Serve `readStates` once the applied index reaches
///    each one's index.
/// 4. **Advance**: call ``RaftNode/advance(_:)`` with this `Ready`.
///
/// `ready()` may not be called again before `advance`; `tick`, `step` and `propose` may be called in
/// between, and their output waits for the next `Ready`.
public struct Ready: Sendable {
    /// The leader and role, if changed since the last `Ready`.
    public var softState: SoftState?
    /// Term, vote and commit index to persist, if changed since the last `Ready`.
    public var hardState: HardState?
    /// ReadIndex answers (thesis §6.4) for this node's ``RaftNode/readIndex(context:)`` calls.
    public var readStates: [ReadState]
    /// Entries to append to stable storage.
    public var entries: [Entry]
    /// A snapshot from the leader to persist and install, replacing the whole log.
    public var snapshot: Snapshot?
    /// Committed entries to apply to the state machine, in order, after persisting.
    public var committedEntries: [Entry]
    /// Messages to send after persisting.
    public var messages: [Message]
    /// Whether the write in step 1 must be synced (new entries, or a changed term or vote). A commit
    /// index change alone need not be.
    public var mustSync: Bool

    /// True if there is nothing to do.
    public var isEmpty: Bool {
        softState == nil && hardState == nil && readStates.isEmpty && entries.isEmpty && snapshot == nil
            && committedEntries.isEmpty && messages.isEmpty
    }
}
