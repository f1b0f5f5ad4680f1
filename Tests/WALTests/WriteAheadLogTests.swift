import Foundation
import Testing
@testable import WAL

@Suite struct WriteAheadLogTests {
    @Test func freshDirectoryIsCreatedAndEmpty() throws {
        try withTemporaryDirectory { root in
            let directory = root + "/a/b/wal"
            let contents = try reopen(directory)
            #expect(contents == WALContents())
            #expect(try segmentFiles(directory) == ["0000000000000000-0000000000000000.wal"])
        }
    }

    @Test func roundTripAcrossReopen() throws {
        try withTemporaryDirectory { directory in
            let hardState = WALHardState(term: 3, vote: 2, commit: 2)
            try withLog(directory) { log, _ in
                try log.save(entries: entries(1...3), hardState: hardState)
                try log.saveSnapshotMarker(WALSnapshotMarker(index: 1, term: 1))
                try log.save(entries: [entry(4, term: 3, size: 1000)], hardState: nil)
            }
            let first = try reopen(directory)
            #expect(first == WALContents(snapshot: WALSnapshotMarker(index: 1, term: 1), hardState: hardState,
                                         entries: [entry(2), entry(3), entry(4, term: 3, size: 1000)]))

            // Appends after a reopen continue after the last record.
            let newer = WALHardState(term: 3, vote: 2, commit: 4)
            try withLog(directory) { log, _ in try log.save(entries: [entry(5, term: 3)], hardState: newer) }
            try withLog(directory) { log, _ in try log.save(entries: [entry(6, term: 3)], hardState: nil) }
            let second = try reopen(directory)
            #expect(second.hardState == newer)
            #expect(second.snapshot == WALSnapshotMarker(index: 1, term: 1))
            #expect(second.entries.map(\.index) == [2, 3, 4, 5, 6])
            #expect(second.entries.last == entry(6, term: 3))
            #expect(try segmentFiles(directory).count == 1)
        }
    }

    @Test func laterEntriesOverrideFromTheirIndex() throws {
        try withTemporaryDirectory { directory in
            try withLog(directory) { log, _ in
                try log.save(entries: entries(1...10), hardState: nil)
                try log.save(entries: entries(6...7, term: 2), hardState: nil)
            }
            #expect(try reopen(directory).entries == entries(1...5) + entries(6...7, term: 2))
            try withLog(directory) { log, _ in
                try log.save(entries: [entry(8, term: 2)], hardState: nil)  // continues the truncated log
                try log.save(entries: [entry(1, term: 3)], hardState: nil)  // replaces everything
            }
            #expect(try reopen(directory).entries == [entry(1, term: 3)])
        }
    }

    @Test func overrideAcrossSegments() throws {
        try withTemporaryDirectory { directory in
            try withLog(directory, segmentSize: 256) { log, _ in
                for i in UInt64(1)...12 { try log.save(entries: [entry(i)], hardState: nil) }
                try log.save(entries: entries(3...4, term: 2), hardState: nil)
            }
            #expect(try segmentFiles(directory).count > 2)
            #expect(try reopen(directory, segmentSize: 256).entries == entries(1...2) + entries(3...4, term: 2))
        }
    }

    @Test func indexGapsAndEntriesBelowTheSnapshotAreRejected() throws {
        try withTemporaryDirectory { directory in
            try withLog(directory) { log, _ in
                try log.save(entries: entries(1...5), hardState: nil)
                let before = log.syncCount
                #expect(throws: WALError.self) { try log.save(entries: [entry(7)], hardState: nil) }
                #expect(throws: WALError.self) { try log.save(entries: [entry(6), entry(8)], hardState: nil) }
                #expect(log.syncCount == before)
                try log.saveSnapshotMarker(WALSnapshotMarker(index: 8, term: 1))  // past the entries: all dropped
                #expect(throws: WALError.self) { try log.save(entries: [entry(8)], hardState: nil) }
                #expect(throws: WALError.self) { try log.save(entries: [entry(10)], hardState: nil) }
                #expect(throws: WALError.self) { try log.saveSnapshotMarker(WALSnapshotMarker(index: 7, term: 1)) }
                try log.save(entries: [entry(9)], hardState: nil)  // rejected calls did not poison the log
            }
            let contents = try reopen(directory)
            #expect(contents.snapshot == WALSnapshotMarker(index: 8, term: 1))
            #expect(contents.entries == [entry(9)])
        }
    }

    @Test func snapshotMarkerKeepsEntriesAboveIt() throws {
        try withTemporaryDirectory { directory in
            try withLog(directory) { log, _ in
                try log.save(entries: entries(1...10), hardState: nil)
                try log.saveSnapshotMarker(WALSnapshotMarker(index: 7, term: 1))
            }
            #expect(try reopen(directory).entries == entries(8...10))
        }
    }

    @Test func segmentRollOver() throws {
        try withTemporaryDirectory { directory in
            let segmentSize = 512
            try withLog(directory, segmentSize: segmentSize) { log, _ in
                for i in UInt64(1)...40 {
                    try log.save(entries: [entry(i, size: 40)], hardState: WALHardState(term: 1, vote: 1, commit: i))
                }
            }
            let files = try segmentFiles(directory)
            #expect(files.count > 5)
            for (sequence, file) in files.enumerated() {
                #expect(file.hasPrefix(String(format: "%016x-", sequence)))
                let size = try FileManager.default.attributesOfItem(atPath: directory + "/" + file)[.size] as? Int
                if sequence == files.count - 1 {
                    #expect(size == segmentSize)  // the current segment stays preallocated
                } else {
                    #expect(size ?? .max <= segmentSize)  // finished ones give back unused space
                }
            }
            // Names carry the first entry index: segment n+1 starts right after segment n's last entry.
            let firstIndexes = files.map { UInt64($0.dropFirst(17).prefix(16), radix: 16)! }
            #expect(firstIndexes.first == 0)
            #expect(zip(firstIndexes, firstIndexes.dropFirst()).allSatisfy { $0 < $1 && $1 <= 40 })

            let contents = try reopen(directory, segmentSize: segmentSize)
            #expect(contents.entries == (UInt64(1)...40).map { entry($0, size: 40) })
            #expect(contents.hardState == WALHardState(term: 1, vote: 1, commit: 40))
        }
    }

    @Test func batchLargerThanASegment() throws {
        try withTemporaryDirectory { directory in
            try withLog(directory, segmentSize: 256) { log, _ in
                try log.save(entries: [entry(1, size: 5000)], hardState: nil)
                try log.save(entries: [entry(2, size: 10)], hardState: nil)
            }
            #expect(try reopen(directory, segmentSize: 256).entries == [entry(1, size: 5000), entry(2, size: 10)])
        }
    }

    @Test func releaseSegments() throws {
        try withTemporaryDirectory { directory in
            let segmentSize = 400
            let (log, _) = try WriteAheadLog.open(directory: directory, segmentSize: segmentSize)
            defer { log.close() }
            for i in UInt64(1)...40 {
                try log.save(entries: [entry(i, size: 30)], hardState: WALHardState(term: 1, vote: 1, commit: i))
                if i == 20 { try log.saveSnapshotMarker(WALSnapshotMarker(index: 20, term: 1)) }
            }
            let before = try segmentFiles(directory)
            #expect(before.count > 4)
            // Segment k holds entries [first(k), first(k+1) - 1] (each save is one entry, no overrides).
            let firsts = before.map { UInt64($0.dropFirst(17).prefix(16), radix: 16)! }
            let keptFrom = (0..<(before.count - 1)).first { firsts[$0 + 1] - 1 > 25 } ?? (before.count - 1)

            try log.releaseSegments(upTo: 25)
            let after = try segmentFiles(directory)
            #expect(after == Array(before[keptFrom...]))
            #expect(keptFrom > 0)

            let contents = try reopenSeparately(directory, segmentSize: segmentSize, holding: log)
            #expect(contents.snapshot == WALSnapshotMarker(index: 20, term: 1))
            #expect(contents.hardState == WALHardState(term: 1, vote: 1, commit: 40))
            #expect(contents.entries.first!.index <= 26)
            #expect(contents.entries == (contents.entries.first!.index...40).map { entry($0, size: 30) })

            // Everything but the current segment can go; hard state and marker survive in its copies.
            try log.releaseSegments(upTo: .max)
            #expect(try segmentFiles(directory) == [before.last!])
            let last = try reopenSeparately(directory, segmentSize: segmentSize, holding: log)
            #expect(last.snapshot == WALSnapshotMarker(index: 20, term: 1))
            #expect(last.hardState == WALHardState(term: 1, vote: 1, commit: 40))
            #expect(last.entries.last == entry(40, size: 30))
        }
    }

    /// Reads what a reopen would see while `log` stays open (by closing it, copying, and checking the copy).
    private func reopenSeparately(_ directory: String, segmentSize: Int, holding log: WriteAheadLog) throws -> WALContents {
        let copy = directory + "-copy"
        try? FileManager.default.removeItem(atPath: copy)
        try FileManager.default.copyItem(atPath: directory, toPath: copy)
        defer { try? FileManager.default.removeItem(atPath: copy) }
        return try reopen(copy, segmentSize: segmentSize)
    }

    @Test func releaseNeverDeletesTheCurrentSegmentOrOneWithLaterEntries() throws {
        try withTemporaryDirectory { directory in
            try withLog(directory, segmentSize: 256) { log, _ in
                for i in UInt64(1)...12 { try log.save(entries: [entry(i)], hardState: nil) }
                let files = try segmentFiles(directory)
                try log.releaseSegments(upTo: 0)
                #expect(try segmentFiles(directory) == files)  // segment 0 holds entry 1
                try log.releaseSegments(upTo: .max)
                #expect(try segmentFiles(directory) == [files.last!])
                try log.save(entries: [entry(13)], hardState: nil)
            }
            #expect(try reopen(directory, segmentSize: 256).entries.last == entry(13))
        }
    }

    @Test func syncCountIsOnePerSave() throws {
        try withTemporaryDirectory { directory in
            try withLog(directory, segmentSize: 1 << 20) { log, _ in
                let start = log.syncCount
                try log.save(entries: entries(1...100), hardState: WALHardState(term: 1, vote: 0, commit: 0))
                #expect(log.syncCount == start + 1)
                try log.save(entries: [], hardState: nil)  // nothing to write, nothing to sync
                #expect(log.syncCount == start + 1)
                try log.save(entries: [], hardState: WALHardState(term: 2, vote: 1, commit: 100))
                #expect(log.syncCount == start + 2)
                try log.saveSnapshotMarker(WALSnapshotMarker(index: 50, term: 1))
                #expect(log.syncCount == start + 3)
                for i in UInt64(101)...110 { try log.save(entries: [entry(i)], hardState: nil) }
                #expect(log.syncCount == start + 13)
            }
        }
        try withTemporaryDirectory { directory in
            try withLog(directory, segmentSize: 300) { log, _ in
                let start = log.syncCount
                try log.save(entries: [entry(1, size: 100)], hardState: nil)
                #expect(log.syncCount == start + 1)
                try log.save(entries: [entry(2, size: 200)], hardState: nil)  // new segment: file + directory
                #expect(log.syncCount == start + 3)
                #expect(try segmentFiles(directory).count == 2)
            }
        }
    }

    @Test func secondOpenIsLockedOut() throws {
        try withTemporaryDirectory { directory in
            let (log, _) = try WriteAheadLog.open(directory: directory)
            #expect(throws: WALError.locked(directory: directory)) { _ = try WriteAheadLog.open(directory: directory) }
            log.close()
            #expect(throws: WALError.closed) { try log.save(entries: [entry(1)], hardState: nil) }
            _ = try reopen(directory)
        }
    }

    @Test func leftoverTemporarySegmentIsRemoved() throws {
        try withTemporaryDirectory { directory in
            try withLog(directory) { log, _ in try log.save(entries: [entry(1)], hardState: nil) }
            try writeFile(directory + "/0000000000000001-0000000000000002.wal.tmp", [1, 2, 3])
            #expect(try reopen(directory).entries == [entry(1)])
            #expect(!FileManager.default.fileExists(atPath: directory + "/0000000000000001-0000000000000002.wal.tmp"))
        }
    }

    @Test func missingMiddleSegmentIsCorruption() throws {
        try withTemporaryDirectory { directory in
            try withLog(directory, segmentSize: 256) { log, _ in
                for i in UInt64(1)...12 { try log.save(entries: [entry(i)], hardState: nil) }
            }
            let files = try segmentFiles(directory)
            #expect(files.count >= 3)
            try FileManager.default.removeItem(atPath: directory + "/" + files[files.count / 2])
            #expect { try reopen(directory, segmentSize: 256) } throws: { isCorrupt($0) }
        }
    }
}
