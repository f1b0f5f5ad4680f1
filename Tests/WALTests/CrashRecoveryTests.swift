import Foundation
import Testing
@testable import WAL

/// Torn tails and corruption, byte by byte, on real files.
@Suite struct CrashRecoveryTests {
    static let segmentSize = 4096
    static let laterHardState = WALHardState(term: 9, vote: 2, commit: 1)

    /// A pristine small log: its segment's bytes and the records in it.
    struct SmallLog {
        var bytes: [UInt8]
        var fileName: String
        var records: [TestRecord]
        var starts: [Int]
        var end: Int
        var contents: WALContents { TestRecord.expectedContents(records) }

        /// What the log must read back as when only records entirely below `offset` survived.
        func contents(completeBelow offset: Int) -> WALContents {
            TestRecord.expectedContents(zip(records, starts).filter { $1 + $0.encodedSize <= offset }.map(\.0))
        }

        /// What the log must read back as after zeroing everything from `offset` on: the records that
        /// zeroing left unchanged (a cut inside a record's zero padding keeps the record).
        func contents(zeroedFrom offset: Int) -> WALContents {
            let survivors = zip(records, starts).prefix { record, start in
                bytes[max(offset, start)..<max(offset, start + record.encodedSize)].allSatisfy { $0 == 0 }
            }
            return TestRecord.expectedContents(survivors.map(\.0))
        }
    }

    func makeSmallLog(_ root: String) throws -> SmallLog {
        let directory = root + "/pristine"
        let (records, starts, end) = try writeSmallLog(directory, segmentSize: Self.segmentSize, batches: smallLogBatches)
        let files = try segmentFiles(directory)
        #expect(files.count == 1)
        let bytes = try fileBytes(directory + "/" + files[0])
        #expect(bytes.count == Self.segmentSize)
        // The layout the tests predict matches the file: data up to `end`, zeros after.
        #expect(bytes[(end - 8)..<end].contains { $0 != 0 })
        #expect(bytes[end...].allSatisfy { $0 == 0 })
        let log = SmallLog(bytes: bytes, fileName: files[0], records: records, starts: starts, end: end)
        #expect(try reopen(directory, segmentSize: Self.segmentSize) == log.contents)
        return log
    }

    /// Puts `bytes` as the only segment of a fresh directory, runs `body`, removes the directory.
    func withCase(_ root: String, _ log: SmallLog, bytes: [UInt8], _ body: (String) throws -> Void) throws {
        let directory = root + "/case"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try writeFile(directory + "/" + log.fileName, bytes)
        try body(directory)
    }

    /// After recovery, an append lands after the surviving records and survives another reopen.
    func expectAppendWorks(_ directory: String, after contents: WALContents, _ comment: Comment) throws {
        let next = entry(nextIndex(after: contents), term: 9, size: 21)
        try withLog(directory, segmentSize: Self.segmentSize) { log, _ in
            try log.save(entries: [next], hardState: Self.laterHardState)
        }
        var expected = contents
        expected.entries.append(next)
        expected.hardState = Self.laterHardState
        #expect(try reopen(directory, segmentSize: Self.segmentSize) == expected, comment)
    }

    @Test func truncatedFileAtEveryOffset() throws {
        try withTemporaryDirectory { root in
            let log = try makeSmallLog(root)
            for cut in 0..<log.end {
                try withCase(root, log, bytes: Array(log.bytes[..<cut])) { directory in
                    if cut < RecordLayout.segmentHeaderSize {
                        #expect("cut \(cut) inside the segment header") { try reopen(directory, segmentSize: Self.segmentSize) } throws: { isCorrupt($0) }
                        return
                    }
                    let expected = log.contents(completeBelow: cut)
                    #expect(try reopen(directory, segmentSize: Self.segmentSize) == expected, "cut at \(cut)")
                    let size = try FileManager.default.attributesOfItem(atPath: directory + "/" + log.fileName)[.size] as? Int
                    #expect(size == Self.segmentSize, "preallocated again after cut at \(cut)")
                    try expectAppendWorks(directory, after: expected, "append after cut at \(cut)")
                }
            }
        }
    }

    @Test func zeroedTailAtEveryOffset() throws {
        // A write that reached the disk only partly: the rest of the record is still preallocated zeros.
        try withTemporaryDirectory { root in
            let log = try makeSmallLog(root)
            for cut in RecordLayout.segmentHeaderSize..<log.end {
                var bytes = log.bytes
                for i in cut..<log.end { bytes[i] = 0 }
                try withCase(root, log, bytes: bytes) { directory in
                    let expected = log.contents(zeroedFrom: cut)
                    #expect(try reopen(directory, segmentSize: Self.segmentSize) == expected, "zeroed from \(cut)")
                    try expectAppendWorks(directory, after: expected, "append after zeroing from \(cut)")
                }
            }
        }
    }

    @Test(arguments: [UInt8(0x01), 0x80, 0xFF])
    func flippedByteAtEveryOffset(mask: UInt8) throws {
        try withTemporaryDirectory { root in
            let log = try makeSmallLog(root)
            let finalRecord = log.starts.last!
            let withoutFinal = TestRecord.expectedContents(log.records.dropLast())
            for offset in 0..<log.end {
                var bytes = log.bytes
                bytes[offset] ^= mask
                try withCase(root, log, bytes: bytes) { directory in
                    if offset < finalRecord {
                        #expect("flip at \(offset)") { try reopen(directory, segmentSize: Self.segmentSize) } throws: { isCorrupt($0) }
                    } else {
                        // The final record is the tail: indistinguishable from a torn write, dropped.
                        #expect(try reopen(directory, segmentSize: Self.segmentSize) == withoutFinal, "flip at \(offset)")
                        let repaired = try fileBytes(directory + "/" + log.fileName)
                        #expect(repaired[finalRecord...].allSatisfy { $0 == 0 }, "tail zeroed after flip at \(offset)")
                    }
                }
            }
        }
    }

    @Test func garbageAfterTheLastRecordIsZeroed() throws {
        try withTemporaryDirectory { root in
            let log = try makeSmallLog(root)
            for offset in log.end..<(log.end + 80) {
                var bytes = log.bytes
                bytes[offset] = 0x5A
                try withCase(root, log, bytes: bytes) { directory in
                    #expect(try reopen(directory, segmentSize: Self.segmentSize) == log.contents, "garbage at \(offset)")
                    #expect(try fileBytes(directory + "/" + log.fileName) == log.bytes, "garbage at \(offset) zeroed")
                    try expectAppendWorks(directory, after: log.contents, "append after garbage at \(offset)")
                }
            }
        }
    }

    @Test func corruptionInEveryByteOfEarlierSegments() throws {
        try withTemporaryDirectory { root in
            let pristine = root + "/pristine"
            let segmentSize = 200
            try withLog(pristine, segmentSize: segmentSize) { log, _ in
                for i in UInt64(1)...10 { try log.save(entries: [entry(i)], hardState: nil) }
            }
            let files = try segmentFiles(pristine)
            #expect(files.count >= 3)
            let originals = try files.map { try fileBytes(pristine + "/" + $0) }
            let complete = TestRecord.expectedContents(entries(1...10).map { .entry($0) })
            #expect(try reopen(pristine, segmentSize: segmentSize) == complete)

            // The last segment holds a header, then one entry record per save from its first index on.
            let lastFirstIndex = UInt64(files.last!.dropFirst(17).prefix(16), radix: 16)!
            let lastRecordStart = RecordLayout.segmentHeaderSize
                + (lastFirstIndex..<10).map { RecordLayout.entrySize(entry($0)) }.reduce(0, +)
            let lastEnd = lastRecordStart + RecordLayout.entrySize(entry(10))

            for (segment, original) in originals.enumerated() {
                let isLast = segment == files.count - 1
                for offset in 0..<(isLast ? lastEnd : original.count) {
                    let directory = root + "/case"
                    try FileManager.default.copyItem(atPath: pristine, toPath: directory)
                    defer { try? FileManager.default.removeItem(atPath: directory) }
                    var bytes = original
                    bytes[offset] ^= 0x10
                    try writeFile(directory + "/" + files[segment], bytes)
                    if isLast && offset >= lastRecordStart {
                        #expect(try reopen(directory, segmentSize: segmentSize).entries == entries(1...9), "segment \(segment) offset \(offset)")
                    } else {
                        #expect("segment \(segment) offset \(offset)") { try reopen(directory, segmentSize: segmentSize) } throws: { isCorrupt($0) }
                    }
                }
            }
        }
    }

    @Test func lostTailOfAnEarlierSegmentIsCorruption() throws {
        try withTemporaryDirectory { directory in
            try withLog(directory, segmentSize: 200) { log, _ in
                for i in UInt64(1)...10 { try log.save(entries: [entry(i)], hardState: nil) }
            }
            let files = try segmentFiles(directory)
            let first = directory + "/" + files[0]
            let bytes = try fileBytes(first)
            // Drop the segment's last record, cleanly, on a record boundary.
            let shortened = Array(bytes[..<(bytes.count - RecordLayout.entrySize(entry(1)))])
            try writeFile(first, shortened + [UInt8](repeating: 0, count: 64))
            #expect { try reopen(directory, segmentSize: 200) } throws: { isCorrupt($0) }
        }
    }

    @Test func walBytesInsideATornEntryDoNotLookLikeLaterRecords() throws {
        // A value that is itself a WAL segment (say, a backup stored in the store) must not turn a torn
        // tail into "corruption": records only validate with their own segment's salt.
        try withTemporaryDirectory { root in
            let other = root + "/other"
            try withLog(other) { log, _ in try log.save(entries: entries(1...20), hardState: nil) }
            let otherBytes = try fileBytes(other + "/" + segmentFiles(other)[0])
            let payload = Array(otherBytes[..<2048])

            let directory = root + "/wal"
            try withLog(directory, segmentSize: Self.segmentSize) { log, _ in
                try log.save(entries: [entry(1)], hardState: nil)
                try log.save(entries: [WALEntry(term: 1, index: 2, data: payload)], hardState: nil)
            }
            let path = try directory + "/" + segmentFiles(directory)[0]
            let bytes = try fileBytes(path)
            let entryStart = RecordLayout.segmentHeaderSize + RecordLayout.entrySize(entry(1))
            // Tear the big entry: keep its first half, lose the beginning of the payload to zeros.
            var torn = bytes
            for i in (entryStart + 40)..<(entryStart + 100) { torn[i] = 0 }
            try writeFile(path, torn)
            #expect(try reopen(directory, segmentSize: Self.segmentSize).entries == [entry(1)])
        }
    }
}
