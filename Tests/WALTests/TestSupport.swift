import Foundation
import Testing
@testable import WAL

/// A fresh directory under the system temp dir, removed when the body returns.
func withTemporaryDirectory<R>(_ body: (String) throws -> R) throws -> R {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("waltest-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

/// An entry whose payload names its index and term, so mix-ups show in failures.
func entry(_ index: UInt64, term: UInt64 = 1, size: Int? = nil) -> WALEntry {
    var data = Array("entry \(index) term \(term)".utf8)
    if let size { data = (0..<size).map { UInt8(truncatingIfNeeded: Int(index) &* 31 &+ $0 | 1) } }
    return WALEntry(term: term, index: index, data: data)
}

func entries(_ range: ClosedRange<UInt64>, term: UInt64 = 1) -> [WALEntry] {
    range.map { entry($0, term: term) }
}

/// Segment file names in `directory`, in sequence order.
func segmentFiles(_ directory: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".wal") }.sorted()
}

func fileBytes(_ path: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}

func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Opens, runs `body`, closes.
@discardableResult
func withLog<R>(_ directory: String, segmentSize: Int = 64 * 1024, _ body: (WriteAheadLog, WALContents) throws -> R) throws -> R {
    let (log, contents) = try WriteAheadLog.open(directory: directory, segmentSize: segmentSize)
    defer { log.close() }
    return try body(log, contents)
}

func reopen(_ directory: String, segmentSize: Int = 64 * 1024) throws -> WALContents {
    try withLog(directory, segmentSize: segmentSize) { _, contents in contents }
}

/// One record as the tests write it, to predict what any prefix of a log must read back as.
enum TestRecord {
    case entry(WALEntry)
    case hardState(WALHardState)
    case snapshot(WALSnapshotMarker)

    var encodedSize: Int {
        switch self {
        case .entry(let e): RecordLayout.entrySize(e)
        case .hardState: RecordLayout.hardStateSize
        case .snapshot: RecordLayout.snapshotSize
        }
    }

    /// The contents a log holding exactly `records` must open to (no overrides in these logs).
    static func expectedContents(_ records: some Sequence<TestRecord>) -> WALContents {
        var contents = WALContents()
        for record in records {
            switch record {
            case .entry(let e): contents.entries.append(e)
            case .hardState(let h): contents.hardState = h
            case .snapshot(let m):
                contents.snapshot = m
                contents.entries.removeAll { $0.index <= m.index }
            }
        }
        return contents
    }
}

/// Writes `batches` (each one `save` or `saveSnapshotMarker`) into a fresh log in `directory`; returns
/// the records in file order and each record's start offset in the (single) segment.
func writeSmallLog(_ directory: String, segmentSize: Int, batches: [[TestRecord]]) throws -> (records: [TestRecord], starts: [Int], end: Int) {
    var records: [TestRecord] = []
    var starts: [Int] = []
    var offset = RecordLayout.segmentHeaderSize
    try withLog(directory, segmentSize: segmentSize) { log, _ in
        for batch in batches {
            if case .snapshot(let m) = batch.first {
                try log.saveSnapshotMarker(m)
            } else {
                var es: [WALEntry] = []
                var hs: WALHardState?
                for r in batch {
                    if case .entry(let e) = r { es.append(e) }
                    if case .hardState(let h) = r { hs = h }
                }
                try log.save(entries: es, hardState: hs)
            }
            // `save` writes entries first, then the hard state.
            let ordered = batch.filter { if case .hardState = $0 { false } else { true } } + batch.filter { if case .hardState = $0 { true } else { false } }
            for r in ordered {
                records.append(r)
                starts.append(offset)
                offset += r.encodedSize
            }
        }
    }
    return (records, starts, offset)
}

/// The batches of the small log used by the torn-tail and corruption tests: all record types, one
/// multi-record batch last, entries of several padding lengths.
let smallLogBatches: [[TestRecord]] = [
    [.entry(entry(1)), .entry(entry(2, size: 3)), .hardState(WALHardState(term: 1, vote: 1, commit: 1))],
    [.entry(entry(3, size: 8))],
    [.hardState(WALHardState(term: 2, vote: 1, commit: 3))],
    [.snapshot(WALSnapshotMarker(index: 2, term: 1))],
    [.entry(entry(4, term: 2, size: 13))],
    [.entry(entry(5, term: 2, size: 1)), .entry(entry(6, term: 2, size: 0)), .hardState(WALHardState(term: 2, vote: 1, commit: 6))],
]

/// The index the next entry appended to `contents` must carry.
func nextIndex(after contents: WALContents) -> UInt64 {
    (contents.entries.last?.index ?? contents.snapshot?.index ?? 0) + 1
}

/// Whether `error` is `WALError.corrupt`.
func isCorrupt(_ error: any Error) -> Bool {
    if case WALError.corrupt = error { return true }
    return false
}
