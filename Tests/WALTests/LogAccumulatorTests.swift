import Testing
@testable import WAL

/// The reader's bookkeeping of live entries.
@Suite struct LogAccumulatorTests {
    private func entry(_ index: UInt64) -> WALEntry { WALEntry(term: 1, index: index, data: []) }

    /// Found by fuzzing (tools/fuzz, target wal): a segment whose first entry is 2 and that later holds
    /// an entry 1 made the reader remove more entries than it had, and trap — a damaged WAL stopped
    /// the member with a crash instead of a corruption report. Such a log cannot have been written.
    @Test func anEntryBelowTheFirstLiveEntryIsAProblem() {
        var log = LogAccumulator()
        #expect(log.apply(entry: entry(2)) == nil)
        #expect(log.apply(entry: entry(3)) == nil)
        #expect(log.apply(entry: entry(1)) != nil)
        #expect(log.contents.entries.map(\.index) == [2, 3])
    }

    /// An entry at or below the last one truncates the log there (raft's conflict resolution).
    @Test func anEntryWithinTheLogTruncatesIt() {
        var log = LogAccumulator()
        for index in UInt64(2)...5 { #expect(log.apply(entry: entry(index)) == nil) }
        #expect(log.apply(entry: entry(3)) == nil)
        #expect(log.contents.entries.map(\.index) == [2, 3])
        #expect(log.apply(entry: entry(2)) == nil)
        #expect(log.contents.entries.map(\.index) == [2])
    }
}
