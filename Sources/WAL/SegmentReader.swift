/// A segment file's name, `%016x-%016x.wal`: its sequence number and the index of the first entry it may
/// hold (etcd's naming). Segments are read in sequence order; sequences must be consecutive.
struct SegmentName: Equatable, Comparable {
    var sequence: UInt64
    var firstIndex: UInt64

    var fileName: String { Self.hex16(sequence) + "-" + Self.hex16(firstIndex) + ".wal" }

    init(sequence: UInt64, firstIndex: UInt64) {
        self.sequence = sequence
        self.firstIndex = firstIndex
    }

    /// Parses a segment file name; nil for anything else.
    init?(fileName: String) {
        let utf8 = Array(fileName.utf8)
        guard utf8.count == 37, utf8[16] == UInt8(ascii: "-"), fileName.hasSuffix(".wal"),
              let sequence = Self.parseHex16(utf8[0..<16]), let firstIndex = Self.parseHex16(utf8[17..<33])
        else { return nil }
        self.init(sequence: sequence, firstIndex: firstIndex)
    }

    static func < (a: SegmentName, b: SegmentName) -> Bool { a.sequence < b.sequence }

    private static func hex16(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    private static func parseHex16(_ digits: ArraySlice<UInt8>) -> UInt64? {
        var value: UInt64 = 0
        for c in digits {
            let digit: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
            default: return nil
            }
            value = value << 4 | UInt64(digit)
        }
        return value
    }
}

/// What reading one segment established.
struct SegmentSummary {
    var name: SegmentName
    var header: SegmentHeader
    /// Offset just past the last valid record: where appends continue.
    var end: Int
    /// CRC of the last valid record (the next segment's header must carry it).
    var lastCRC: UInt32
    /// Highest entry index stored in this segment, nil if it holds no entries.
    var maxEntryIndex: UInt64?
    /// For a torn last segment: one past the last non-zero byte at or after `end`. The range
    /// `end..<tornEnd` must be zeroed before appending.
    var tornEnd: Int?
}

/// Reads one segment, applying its records to the log, and decides what a damaged spot means.
///
/// Reading stops at the first offset `X` that does not hold a valid record: an all-zero header (the
/// preallocated, never written area), or anything else that fails to decode (unknown type, impossible
/// length, record running past the end of the file, CRC mismatch). Then:
///
/// - Not the last segment: the segment must end cleanly. If `X` is not all-zero, or any byte after `X` is
///   non-zero, the log is corrupt. (A lost tail of a closed segment is also caught by the next segment's
///   header, which carries the CRC of this segment's last record.)
/// - The last segment: the tail after `X` is searched for a valid record — any 8-byte aligned offset
///   after `X` holding a record of this segment whose CRC (seeded with the segment's salt) checks. If one
///   exists, the damage is in the middle of the log: data that was written (and possibly acknowledged)
///   after the bad spot would be lost, so the log is corrupt. If none exists, the bad spot is a torn tail:
///   the writer never syncs a record before all records ahead of it are complete, so everything from `X`
///   on was written by the last, unacknowledged write. It is zeroed (`tornEnd`) and appends continue at `X`.
///
/// The segment header (offset 0) must always be valid: segments become visible only by rename after their
/// header is synced.
///
/// Limits: a bit flip inside the final record cannot be told from a torn write, so that record is dropped
/// even if it had been acknowledged (as in etcd). Conversely, after a power loss (not a process crash) the
/// kernel may have persisted a later page of the last, unsynced write but not an earlier one; that shows
/// up as a damaged record followed by a valid one and is reported as corruption rather than repaired —
/// refusing to start is preferred over guessing.
enum SegmentReader {
    static func read(
        _ bytes: UnsafeRawBufferPointer,
        name: SegmentName,
        isLast: Bool,
        previousCRC: UInt32?,
        into log: inout LogAccumulator
    ) throws(WALError) -> SegmentSummary {
        let decoder = RecordDecoder(bytes: bytes)
        let segment = name.fileName
        func corrupt(_ offset: Int, _ reason: String) -> WALError {
            .corrupt(segment: segment, offset: offset, reason: reason)
        }

        guard case .record(let headerRecord) = decoder.probe(at: 0, salt: 0), headerRecord.type == .segmentHeader,
              let header = decoder.segmentHeader(headerRecord)
        else { throw corrupt(0, "missing or damaged segment header") }
        guard header.sequence == name.sequence, header.firstIndex == name.firstIndex else {
            throw corrupt(0, "segment header (sequence \(header.sequence), first index \(header.firstIndex)) does not match the file name")
        }
        if let previousCRC, header.previousCRC != previousCRC {
            throw corrupt(0, "segment does not continue the previous segment (its last records are missing or changed)")
        }

        var summary = SegmentSummary(name: name, header: header, end: headerRecord.end, lastCRC: headerRecord.crc)
        var stopReason: String?
        scan: while true {
            let offset = summary.end
            switch decoder.probe(at: offset, salt: header.salt) {
            case .empty:
                break scan
            case .invalid(let reason):
                stopReason = reason
                break scan
            case .record(let record):
                var problem: String?
                switch record.type {
                case .segmentHeader:
                    problem = "segment header inside a segment"
                case .entry:
                    let entry = decoder.entry(record)
                    problem = log.apply(entry: entry)
                    summary.maxEntryIndex = max(summary.maxEntryIndex ?? entry.index, entry.index)
                case .hardState:
                    log.apply(hardState: decoder.hardState(record))
                case .snapshotMarker:
                    problem = log.apply(snapshot: decoder.snapshotMarker(record))
                }
                if let problem { throw corrupt(offset, problem) }
                summary.end = record.end
                summary.lastCRC = record.crc
            }
        }

        let stop = summary.end
        guard let lastNonZero = decoder.lastNonZero(in: stop..<bytes.count) else { return summary }
        guard isLast else {
            throw corrupt(stop, stopReason ?? "data after the end of the segment's records")
        }
        if let valid = firstValidRecord(decoder, after: stop, salt: header.salt) {
            throw corrupt(stop, (stopReason ?? "zeroed record header") + ", followed by a valid record at offset \(valid)")
        }
        summary.tornEnd = lastNonZero + 1
        return summary
    }

    /// The first 8-byte aligned offset after `offset` that holds a valid record of this segment.
    private static func firstValidRecord(_ decoder: RecordDecoder, after offset: Int, salt: UInt32) -> Int? {
        var candidate = offset + 8
        while candidate + RecordLayout.headerSize <= decoder.bytes.count {
            // Cheap filter before the CRC: a plausible type word.
            let type = decoder.u32(at: candidate + 4)
            if type >= RecordType.entry.rawValue && type <= RecordType.snapshotMarker.rawValue,
               case .record = decoder.probe(at: candidate, salt: salt) {
                return candidate
            }
            candidate += 8
        }
        return nil
    }
}

extension WriteAheadLog {
    /// Reads `bytes` as one segment file the way `open` reads it (the newest segment if `isLast`) and
    /// returns what it holds, or why it is corrupt. The entry point for fuzzing the reader.
    package static func readSegment(_ bytes: [UInt8], isLast: Bool) throws(WALError) -> WALContents {
        var accumulator = LogAccumulator()
        _ = try bytes.withBytes { (raw) throws(WALError) in
            try SegmentReader.read(raw, name: SegmentName(sequence: 0, firstIndex: 0), isLast: isLast, previousCRC: nil, into: &accumulator)
        }
        return accumulator.contents
    }
}
