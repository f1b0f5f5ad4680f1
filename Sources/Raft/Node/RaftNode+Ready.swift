/// The output side: what the application must persist, send and apply (see ``Ready``).
extension RaftNode {
    /// Whether ``ready()`` has anything to hand out. False while a `Ready` awaits ``advance(_:)``.
    public var hasReady: Bool {
        if awaitingAdvance { return false }
        return softState != prevSoftState
            || hardState != prevHardState
            || raftLog.hasPendingSnapshot
            || !raftLog.unstable.entries.isEmpty
            || !msgs.isEmpty
            || !readStates.isEmpty
            || raftLog.hasNextCommittedEntries
    }

    /// Takes the pending output. Call ``advance(_:)`` with it once it has been handled.
    public func ready() -> Ready {
        precondition(!awaitingAdvance, "ready() called again before advance()")
        let soft = softState
        let hard = hardState
        let hardChanged = hard != prevHardState
        let entries = raftLog.unstable.entries
        let snapshot = raftLog.unstable.snapshot
        let rd = Ready(
            softState: soft != prevSoftState ? soft : nil,
            hardState: hardChanged ? hard : nil,
            readStates: readStates,
            entries: entries,
            snapshot: snapshot,
            committedEntries: raftLog.nextCommittedEntries(maxSize: config.maxCommittedSizePerReady),
            messages: msgs,
            mustSync: !entries.isEmpty || snapshot != nil
                || (hardChanged && (hard.term != prevHardState.term || hard.vote != prevHardState.vote))
        )
        msgs = []
        readStates = []
        awaitingAdvance = true
        return rd
    }

    /// Reports that `rd` was handled: its entries and snapshot are persisted, its committed entries
    /// applied.
    public func advance(_ rd: Ready) {
        precondition(awaitingAdvance, "advance() without ready()")
        awaitingAdvance = false
        if let soft = rd.softState { prevSoftState = soft }
        if let hard = rd.hardState {
            precondition(hard.commit >= prevHardState.commit, "persisted commit index moved back")
            prevHardState = hard
        }
        if let snapshot = rd.snapshot {
            raftLog.unstable.stableSnapshotTo(index: snapshot.metadata.index)
            raftLog.appliedSnapshot(snapshot.metadata.index)
            if snapshot.metadata.index >= raftLog.applied {
                appliedConf = snapshot.metadata.confState
            }
        }
        if let last = rd.entries.last {
            raftLog.unstable.stableTo(index: last.index, term: last.term)
        }
        if let last = rd.committedEntries.last {
            raftLog.appliedTo(last.index)
        }
        // A leader waiting to apply its pending configuration change may now accept the next one;
        // a removed leader may now step down.
        if role == .leader { stepDownIfRemoved() }
        afterStep()
    }
}
