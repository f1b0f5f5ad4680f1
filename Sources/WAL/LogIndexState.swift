/// The index bookkeeping shared by the writer (to reject a batch before writing it) and the reader (to
/// reject a log that could not have been written): entries must continue the log without gaps and stay
/// above the latest snapshot marker; snapshot markers never move back.
struct LogIndexState: Equatable {
    /// Index of the latest snapshot marker.
    var snapshotIndex: UInt64?
    /// Index of the last live entry (always above `snapshotIndex`).
    var lastIndex: UInt64?
    /// Whether any entry has been appended. The first entry of a log may carry any index above the
    /// snapshot marker: after `releaseSegments`, the oldest remaining segment can start with a copy of a
    /// marker followed by entries well above it.
    var sawEntry = false

    /// The highest index the log covers, by entries or by snapshot.
    var highestIndex: UInt64? { lastIndex ?? snapshotIndex }

    /// The index the next appended entry would normally carry (0 for an empty log, as etcd names its first
    /// segment).
    var nextIndex: UInt64 { highestIndex.map { $0 &+ 1 } ?? 0 }

    /// Why an entry with `index` cannot be appended now, or nil if it can. Appending at or below
    /// `lastIndex` is allowed: it truncates the log there (raft conflict resolution).
    func problem(appendingEntry index: UInt64) -> String? {
        if let snapshotIndex, index <= snapshotIndex {
            return "entry \(index) is not above snapshot marker \(snapshotIndex)"
        }
        if sawEntry, let highest = highestIndex, index > highest, index - highest > 1 {
            return "entry \(index) leaves a gap after \(highest)"
        }
        return nil
    }

    /// Records an appended entry; call only when `problem(appendingEntry:)` is nil.
    mutating func append(entry index: UInt64) {
        lastIndex = index
        sawEntry = true
    }

    /// Why `marker` cannot be recorded now, or nil if it can.
    func problem(recordingSnapshot marker: WALSnapshotMarker) -> String? {
        if let snapshotIndex, marker.index < snapshotIndex {
            return "snapshot marker \(marker.index) is older than marker \(snapshotIndex)"
        }
        return nil
    }

    /// Records a snapshot marker: entries at or below it stop being live.
    mutating func record(snapshot marker: WALSnapshotMarker) {
        snapshotIndex = marker.index
        if let last = lastIndex, last <= marker.index { lastIndex = nil }
    }
}

/// Rebuilds `WALContents` record by record while segments are read.
struct LogAccumulator {
    var contents = WALContents()
    var indexState = LogIndexState()

    /// Applies an entry record; returns a reason if the log is inconsistent.
    mutating func apply(entry: WALEntry) -> String? {
        if let problem = indexState.problem(appendingEntry: entry.index) { return problem }
        if let first = contents.entries.first, entry.index < first.index {
            // Entries before the first live one went with their segment or a snapshot; none can be rewritten.
            return "entry \(entry.index) precedes the first live entry \(first.index)"
        }
        if let last = contents.entries.last, entry.index <= last.index {
            // Live entries are contiguous, so the ones at or above `entry.index` are a suffix.
            contents.entries.removeLast(Int(last.index - entry.index) + 1)
        }
        contents.entries.append(entry)
        indexState.append(entry: entry.index)
        return nil
    }

    /// Applies a hard state record.
    mutating func apply(hardState: WALHardState) {
        contents.hardState = hardState
    }

    /// Applies a snapshot marker record; returns a reason if the log is inconsistent.
    mutating func apply(snapshot marker: WALSnapshotMarker) -> String? {
        if let problem = indexState.problem(recordingSnapshot: marker) { return problem }
        if let first = contents.entries.first, first.index <= marker.index {
            let covered = min(Int(marker.index - first.index) + 1, contents.entries.count)
            contents.entries.removeFirst(covered)
        }
        contents.snapshot = marker
        indexState.record(snapshot: marker)
        return nil
    }
}
