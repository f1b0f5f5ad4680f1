import CZlib

// On-disk record format (all integers little-endian, every record 8-byte aligned):
//
//   offset  size  field
//   0       4     crc     zlib crc32 of bytes [4, 16 + padded length), i.e. type, length, payload and
//                         padding; seeded with the segment's salt (0 for the segment header record)
//   4       4     type    1 segment header, 2 entry, 3 hard state, 4 snapshot marker
//   8       8     length  payload length in bytes, without padding
//   16      n     payload
//   16+n    0-7   zero padding to the next multiple of 8
//
// Payloads:
//   segment header (40 B): magic "setcdWAL", version u32 = 1, flags u32 (bit 0: previousCRC is valid),
//                          sequence u64, first index u64, salt u32, previousCRC u32 (crc of the last
//                          record of the previous segment)
//   entry (16 + n B):      term u64, index u64, data
//   hard state (24 B):     term u64, vote u64, commit u64
//   snapshot marker (16 B): index u64, term u64
//
// An all-zero 16-byte header marks the end of the written part of a segment (segments are preallocated
// with zeros). The per-segment random salt means a record can only validate inside the segment it was
// written to: entry data that happens to contain an encoded record (say, a WAL file stored as a value)
// never looks like a valid record to the tail scan in SegmentReader.

/// The kinds of records a segment holds.
enum RecordType: UInt32 {
    case segmentHeader = 1
    case entry = 2
    case hardState = 3
    case snapshotMarker = 4
}

/// Sizes of the record format.
enum RecordLayout {
    static let headerSize = 16
    static let entryFixedPayload = 16
    static let hardStatePayload = 24
    static let snapshotPayload = 16
    static let segmentHeaderPayload = 40

    /// `n` rounded up to a multiple of 8.
    static func padded(_ n: Int) -> Int { (n + 7) & ~7 }

    /// Bytes a record with an `payload`-byte payload occupies on disk.
    static func recordSize(payload: Int) -> Int { headerSize + padded(payload) }

    static func entrySize(_ entry: WALEntry) -> Int { recordSize(payload: entryFixedPayload + entry.data.count) }
    static let hardStateSize = recordSize(payload: hardStatePayload)
    static let snapshotSize = recordSize(payload: snapshotPayload)
    static let segmentHeaderSize = recordSize(payload: segmentHeaderPayload)
}

/// zlib crc32 of `bytes`, continuing from `seed`.
@inline(__always)
func walCRC(seed: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return seed }
    return UInt32(truncatingIfNeeded: crc32_z(UInt(seed), base.assumingMemoryBound(to: Bytef.self), bytes.count))
}

/// The first record of every segment: identifies the segment and links it to its predecessor.
struct SegmentHeader: Equatable {
    static let magic: UInt64 = 0x4C41_5764_6374_6573  // "setcdWAL" read as a little-endian u64
    static let version: UInt32 = 1

    var sequence: UInt64
    var firstIndex: UInt64
    /// Seed of the CRCs of this segment's other records.
    var salt: UInt32
    /// CRC of the last record of segment `sequence - 1`, nil for the first segment ever written.
    var previousCRC: UInt32?
}

/// Writes records into a caller-provided buffer. Every byte of each record (padding included) is
/// written, so the buffer needs no zeroing and can be reused across batches.
struct RecordEncoder {
    let buffer: UnsafeMutableRawBufferPointer
    /// CRC seed for everything but the segment header.
    let salt: UInt32
    private(set) var offset = 0
    /// CRC of the last record written.
    private(set) var lastCRC: UInt32 = 0

    init(buffer: UnsafeMutableRawBufferPointer, salt: UInt32) {
        self.buffer = buffer
        self.salt = salt
    }

    mutating func append(_ header: SegmentHeader) {
        let p = begin(.segmentHeader, payload: RecordLayout.segmentHeaderPayload)
        put(SegmentHeader.magic, at: p)
        put(SegmentHeader.version, at: p + 8)
        put(UInt32(header.previousCRC == nil ? 0 : 1), at: p + 12)
        put(header.sequence, at: p + 16)
        put(header.firstIndex, at: p + 24)
        put(header.salt, at: p + 32)
        put(header.previousCRC ?? 0, at: p + 36)
        finish(payload: RecordLayout.segmentHeaderPayload, seed: 0)
    }

    mutating func append(_ entry: WALEntry) {
        let payload = RecordLayout.entryFixedPayload + entry.data.count
        let p = begin(.entry, payload: payload)
        put(entry.term, at: p)
        put(entry.index, at: p + 8)
        entry.data.withUnsafeBytes { data in
            guard let source = data.baseAddress, data.count > 0 else { return }
            (buffer.baseAddress! + p + 16).copyMemory(from: source, byteCount: data.count)
        }
        finish(payload: payload, seed: salt)
    }

    mutating func append(_ hardState: WALHardState) {
        let p = begin(.hardState, payload: RecordLayout.hardStatePayload)
        put(hardState.term, at: p)
        put(hardState.vote, at: p + 8)
        put(hardState.commit, at: p + 16)
        finish(payload: RecordLayout.hardStatePayload, seed: salt)
    }

    mutating func append(_ marker: WALSnapshotMarker) {
        let p = begin(.snapshotMarker, payload: RecordLayout.snapshotPayload)
        put(marker.index, at: p)
        put(marker.term, at: p + 8)
        finish(payload: RecordLayout.snapshotPayload, seed: salt)
    }

    /// Writes type and length; returns the payload's offset.
    private mutating func begin(_ type: RecordType, payload: Int) -> Int {
        precondition(offset + RecordLayout.recordSize(payload: payload) <= buffer.count, "WAL encode buffer too small")
        put(type.rawValue, at: offset + 4)
        put(UInt64(payload), at: offset + 8)
        return offset + RecordLayout.headerSize
    }

    /// Zeroes the padding, computes the CRC and moves past the record.
    private mutating func finish(payload: Int, seed: UInt32) {
        let size = RecordLayout.recordSize(payload: payload)
        let paddingStart = offset + RecordLayout.headerSize + payload
        (buffer.baseAddress! + paddingStart).initializeMemory(as: UInt8.self, repeating: 0, count: offset + size - paddingStart)
        let crc = walCRC(seed: seed, UnsafeRawBufferPointer(rebasing: buffer[(offset + 4)..<(offset + size)]))
        put(crc, at: offset)
        lastCRC = crc
        offset += size
    }

    @inline(__always)
    private func put<T: FixedWidthInteger>(_ value: T, at position: Int) {
        buffer.storeBytes(of: value.littleEndian, toByteOffset: position, as: T.self)
    }
}

/// One record as found on disk.
struct DecodedRecord {
    var type: RecordType
    /// Range of the payload within the segment.
    var payload: Range<Int>
    var crc: UInt32
    /// Offset of the next record.
    var end: Int
}

/// The outcome of trying to read a record at some offset.
enum RecordProbe {
    case record(DecodedRecord)
    /// 16 zero bytes (or only zeros up to the end of the file): nothing was written here.
    case empty
    /// Something is here, but not a complete valid record.
    case invalid(String)
}

/// Reads records out of a segment's bytes.
struct RecordDecoder {
    let bytes: UnsafeRawBufferPointer

    /// Tries to read a record at `offset` (a multiple of 8). Types other than the segment header are
    /// checked with `salt`; the header with seed 0.
    func probe(at offset: Int, salt: UInt32) -> RecordProbe {
        let remaining = bytes.count - offset
        if remaining < RecordLayout.headerSize {
            return isZero(offset..<bytes.count) ? .empty : .invalid("partial record header")
        }
        let storedCRC = u32(at: offset)
        let rawType = u32(at: offset + 4)
        let length = u64(at: offset + 8)
        if storedCRC == 0 && rawType == 0 && length == 0 { return .empty }
        guard let type = RecordType(rawValue: rawType) else { return .invalid("unknown record type \(rawType)") }
        guard length <= UInt64(remaining - RecordLayout.headerSize) else { return .invalid("record runs past the end of the file") }
        let payloadLength = Int(length)
        let size = RecordLayout.recordSize(payload: payloadLength)
        guard size <= remaining else { return .invalid("record runs past the end of the file") }
        let lengthOK: Bool
        switch type {
        case .segmentHeader: lengthOK = payloadLength == RecordLayout.segmentHeaderPayload
        case .entry: lengthOK = payloadLength >= RecordLayout.entryFixedPayload
        case .hardState: lengthOK = payloadLength == RecordLayout.hardStatePayload
        case .snapshotMarker: lengthOK = payloadLength == RecordLayout.snapshotPayload
        }
        guard lengthOK else { return .invalid("bad length \(payloadLength) for record type \(rawType)") }
        let seed = type == .segmentHeader ? 0 : salt
        let crc = walCRC(seed: seed, UnsafeRawBufferPointer(rebasing: bytes[(offset + 4)..<(offset + size)]))
        guard crc == storedCRC else { return .invalid("crc mismatch") }
        let payloadStart = offset + RecordLayout.headerSize
        return .record(DecodedRecord(type: type, payload: payloadStart..<(payloadStart + payloadLength), crc: crc, end: offset + size))
    }

    func entry(_ record: DecodedRecord) -> WALEntry {
        let p = record.payload.lowerBound
        return WALEntry(term: u64(at: p), index: u64(at: p + 8), data: Array(bytes[(p + 16)..<record.payload.upperBound]))
    }

    func hardState(_ record: DecodedRecord) -> WALHardState {
        let p = record.payload.lowerBound
        return WALHardState(term: u64(at: p), vote: u64(at: p + 8), commit: u64(at: p + 16))
    }

    func snapshotMarker(_ record: DecodedRecord) -> WALSnapshotMarker {
        let p = record.payload.lowerBound
        return WALSnapshotMarker(index: u64(at: p), term: u64(at: p + 8))
    }

    /// Decodes a segment header record; nil if the magic or version is wrong.
    func segmentHeader(_ record: DecodedRecord) -> SegmentHeader? {
        let p = record.payload.lowerBound
        guard u64(at: p) == SegmentHeader.magic, u32(at: p + 8) == SegmentHeader.version else { return nil }
        let flags = u32(at: p + 12)
        guard flags & ~1 == 0 else { return nil }
        return SegmentHeader(sequence: u64(at: p + 16), firstIndex: u64(at: p + 24), salt: u32(at: p + 32),
                             previousCRC: flags & 1 == 1 ? u32(at: p + 36) : nil)
    }

    /// Whether every byte in `range` is zero.
    func isZero(_ range: Range<Int>) -> Bool {
        lastNonZero(in: range) == nil
    }

    /// Offset of the last non-zero byte in `range`, if any.
    func lastNonZero(in range: Range<Int>) -> Int? {
        var end = range.upperBound
        // Word-at-a-time from the back over the 8-aligned part, bytes for the rest.
        while end > range.lowerBound && end & 7 != 0 {
            if bytes[end - 1] != 0 { return end - 1 }
            end -= 1
        }
        while end - 8 >= range.lowerBound {
            if bytes.loadUnaligned(fromByteOffset: end - 8, as: UInt64.self) != 0 { break }
            end -= 8
        }
        while end > range.lowerBound {
            if bytes[end - 1] != 0 { return end - 1 }
            end -= 1
        }
        return nil
    }

    @inline(__always)
    func u32(at position: Int) -> UInt32 {
        UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt32.self))
    }

    @inline(__always)
    func u64(at position: Int) -> UInt64 {
        UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self))
    }
}
