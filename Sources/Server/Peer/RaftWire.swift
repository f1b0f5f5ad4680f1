import NIOCore
import Raft

/// The binary form of a raft `Message` on the peer transport.
///
/// Layout (big-endian): version byte, type byte, to, from, term, logTerm, index, commit, rejectHint
/// (u64 each), reject byte, context (u32 length + bytes), entry count (u32) and per entry term, index
/// (u64), kind (u8), data (u32 length + bytes), then a snapshot flag byte and, if set, the snapshot
/// metadata: index, term, voter count and voters, learner count and learners. A snapshot's data (the
/// store file) never travels inside the message: `SnapshotFrame` carries it after the message.
enum RaftWire {
    static let version: UInt8 = 1

    /// Encodes `message` (its snapshot's data is left out).
    static func encode(_ message: Message) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(64 + message.context.count + message.entries.reduce(0) { $0 + 21 + $1.data.count })
        write(message, into: &buffer)
        return Array(buffer.readableBytesView)
    }

    static func write(_ message: Message, into buffer: inout ByteBuffer) {
        buffer.writeInteger(version)
        buffer.writeInteger(message.type.rawValue)
        for value in [message.to, message.from, message.term, message.logTerm, message.index, message.commit, message.rejectHint] {
            buffer.writeInteger(value)
        }
        buffer.writeInteger(UInt8(message.reject ? 1 : 0))
        writeBytes(message.context, into: &buffer)
        buffer.writeInteger(UInt32(message.entries.count))
        for entry in message.entries {
            buffer.writeInteger(entry.term)
            buffer.writeInteger(entry.index)
            buffer.writeInteger(entry.kind.rawValue)
            writeBytes(entry.data, into: &buffer)
        }
        if let snapshot = message.snapshot {
            buffer.writeInteger(UInt8(1))
            buffer.writeInteger(snapshot.metadata.index)
            buffer.writeInteger(snapshot.metadata.term)
            writeIDs(snapshot.metadata.confState.voters, into: &buffer)
            writeIDs(snapshot.metadata.confState.learners, into: &buffer)
        } else {
            buffer.writeInteger(UInt8(0))
        }
    }

    /// Decodes a message written by `encode`; throws `RaftWireError` for anything malformed.
    static func decode(_ bytes: [UInt8]) throws(RaftWireError) -> Message {
        var buffer = ByteBuffer(bytes: bytes)
        let message = try read(from: &buffer)
        guard buffer.readableBytes == 0 else { throw .malformed("trailing bytes") }
        return message
    }

    static func read(from buffer: inout ByteBuffer) throws(RaftWireError) -> Message {
        guard let version = buffer.readInteger(as: UInt8.self), version == Self.version else { throw .malformed("unknown version") }
        // Local message types (hup, beat, ...) never cross the network.
        guard let typeByte = buffer.readInteger(as: UInt8.self), let type = MessageType(rawValue: typeByte), !type.isLocal else {
            throw .malformed("unknown message type")
        }
        var fields: [UInt64] = []
        for _ in 0..<7 {
            guard let value = buffer.readInteger(as: UInt64.self) else { throw .malformed("short header") }
            fields.append(value)
        }
        guard let reject = buffer.readInteger(as: UInt8.self) else { throw .malformed("short header") }
        let context = try readBytes(from: &buffer)
        guard let count = buffer.readInteger(as: UInt32.self), Int(count) <= buffer.readableBytes / 21 else {
            throw .malformed("bad entry count")
        }
        var entries: [Entry] = []
        entries.reserveCapacity(Int(count))
        for _ in 0..<count {
            guard let term = buffer.readInteger(as: UInt64.self), let index = buffer.readInteger(as: UInt64.self),
                  let kindByte = buffer.readInteger(as: UInt8.self), let kind = EntryKind(rawValue: kindByte)
            else { throw .malformed("bad entry") }
            entries.append(Entry(term: term, index: index, kind: kind, data: try readBytes(from: &buffer)))
        }
        var snapshot: Snapshot?
        guard let hasSnapshot = buffer.readInteger(as: UInt8.self) else { throw .malformed("missing snapshot flag") }
        if hasSnapshot == 1 {
            guard let index = buffer.readInteger(as: UInt64.self), let term = buffer.readInteger(as: UInt64.self) else {
                throw .malformed("bad snapshot metadata")
            }
            let voters = try readIDs(from: &buffer)
            let learners = try readIDs(from: &buffer)
            snapshot = Snapshot(metadata: SnapshotMetadata(index: index, term: term, confState: ConfState(voters: voters, learners: learners)))
        }
        return Message(type: type, to: fields[0], from: fields[1], term: fields[2], logTerm: fields[3], index: fields[4],
                       entries: entries, commit: fields[5], snapshot: snapshot, reject: reject != 0, rejectHint: fields[6],
                       context: context)
    }

    private static func writeBytes(_ bytes: [UInt8], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(bytes.count))
        buffer.writeBytes(bytes)
    }

    private static func readBytes(from buffer: inout ByteBuffer) throws(RaftWireError) -> [UInt8] {
        guard let length = buffer.readInteger(as: UInt32.self), let bytes = buffer.readBytes(length: Int(length)) else {
            throw .malformed("bad length")
        }
        return bytes
    }

    private static func writeIDs(_ ids: [NodeID], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(ids.count))
        for id in ids { buffer.writeInteger(id) }
    }

    private static func readIDs(from buffer: inout ByteBuffer) throws(RaftWireError) -> [NodeID] {
        guard let count = buffer.readInteger(as: UInt32.self), Int(count) <= buffer.readableBytes / 8 else {
            throw .malformed("bad member count")
        }
        return (0..<count).map { _ in buffer.readInteger(as: UInt64.self)! }
    }
}

/// A snapshot streams on the snapshots channel as a sequence of payloads: `begin` (the `snap` message
/// and the store file's size), `chunk`s of the file in order, and `end`, each carrying the stream's
/// id; the receiver writes the chunks to a file and hands the message to Raft only once the whole file
/// is there. A chunk of another stream than the one in progress is ignored; a stream cut short (a
/// reconnect) never reaches `end` with the right size; a new `begin` discards the stream before it.
enum SnapshotFrame: Equatable {
    case begin(stream: UInt64, Message, size: UInt64)
    case chunk(stream: UInt64, ArraySlice<UInt8>)
    case end(stream: UInt64)

    /// The size of one chunk of the store file.
    static let chunkSize = 1 << 20

    private enum Kind: UInt8 {
        case begin = 1, chunk, end
    }

    func encoded() -> [UInt8] {
        switch self {
        case .begin(let stream, let message, let size):
            var buffer = ByteBuffer()
            buffer.writeInteger(Kind.begin.rawValue)
            buffer.writeInteger(stream)
            buffer.writeInteger(size)
            RaftWire.write(message, into: &buffer)
            return Array(buffer.readableBytesView)
        case .chunk(let stream, let bytes):
            var payload = [UInt8]()
            payload.reserveCapacity(bytes.count + 9)
            payload.append(Kind.chunk.rawValue)
            payload.append(contentsOf: withUnsafeBytes(of: stream.bigEndian, Array.init))
            payload.append(contentsOf: bytes)
            return payload
        case .end(let stream):
            return [Kind.end.rawValue] + withUnsafeBytes(of: stream.bigEndian, Array.init)
        }
    }

    static func decode(_ payload: [UInt8]) throws(RaftWireError) -> SnapshotFrame {
        guard payload.count >= 9, let kind = Kind(rawValue: payload[0]) else { throw .malformed("unknown snapshot frame") }
        let stream = payload[1..<9].reduce(0) { $0 << 8 | UInt64($1) }
        switch kind {
        case .begin:
            var buffer = ByteBuffer(bytes: payload.dropFirst(9))
            guard let size = buffer.readInteger(as: UInt64.self) else { throw .malformed("short snapshot frame") }
            let message = try RaftWire.read(from: &buffer)
            guard buffer.readableBytes == 0 else { throw .malformed("trailing bytes") }
            guard message.type == .snap, message.snapshot != nil else { throw .malformed("not a snapshot message") }
            return .begin(stream: stream, message, size: size)
        case .chunk:
            return .chunk(stream: stream, payload[9...])
        case .end:
            guard payload.count == 9 else { throw .malformed("trailing bytes") }
            return .end(stream: stream)
        }
    }
}

/// A peer payload that is not a valid raft message; the payload is dropped.
enum RaftWireError: Error, Equatable {
    case malformed(String)
    /// Well formed, but no correct member sends it: the Raft core would trap on it or be misled.
    case implausible(String)
}

extension RaftWire {
    /// Terms and indexes at or past this are refused: no cluster gets there (10⁷ elections or entries
    /// a second would take 14,000 years), and it leaves room for every `+ 1` the Raft core does.
    static let limit: UInt64 = 1 << 62

    /// Checks what a message says, without any member state, against what a correct member sends;
    /// throws `.implausible` for anything else. The Raft core's preconditions are invariants of
    /// correct messages (a proposal has entries, an append's entries follow its index, terms are set):
    /// a message breaking one would trap it, so it is dropped here, at the edge. `channel` is the
    /// stream it came on (a snapshot travels only on the snapshots stream, with its store file).
    static func validate(_ m: Message, channel: PeerChannel) throws(RaftWireError) {
        func refuse(_ reason: String) -> RaftWireError { .implausible("\(m.type) \(reason)") }
        if (channel == .snapshots) != (m.type == .snap) || (m.type == .snap) != (m.snapshot != nil) {
            throw refuse("on the \(channel) stream")
        }
        // Only proposals and ReadIndex requests travel without a term (forwarded by a follower).
        if m.term == 0 && m.type != .prop && m.type != .readIndex { throw refuse("without a term") }
        if max(m.term, m.logTerm, m.index, m.commit, m.rejectHint) >= limit { throw refuse("with a term or index past 2^62") }
        if m.context.count > 64 { throw refuse("with a \(m.context.count)-byte context") }
        switch m.type {
        case .prop:
            if m.entries.isEmpty { throw refuse("with no entries") }
        case .app:
            // A contiguous slice of the leader's log after `index`, whose terms never go down and never
            // pass the leader's term.
            if m.logTerm > m.term { throw refuse("with a log term past its term") }
            if m.index > limit - UInt64(m.entries.count) { throw refuse("with an index past 2^62") }
            var previousTerm = max(m.logTerm, 1)
            for (offset, entry) in m.entries.enumerated() {
                if entry.index != m.index + 1 + UInt64(offset) { throw refuse("with entries that do not follow its index") }
                if entry.term < previousTerm || entry.term > m.term { throw refuse("with entry terms out of order") }
                previousTerm = entry.term
            }
        case .snap:
            guard let metadata = m.snapshot?.metadata else { throw refuse("without a snapshot") }
            if metadata.index == 0 || metadata.index >= limit || metadata.term == 0 || metadata.term > m.term {
                throw refuse("with snapshot index \(metadata.index) and term \(metadata.term)")
            }
            if metadata.confState.voters.contains(0) || metadata.confState.learners.contains(0) { throw refuse("naming member 0") }
        case .appResp:
            if m.reject && m.rejectHint > m.index { throw refuse("with a hint past its index") }
        default:
            break
        }
        if m.type != .app && m.type != .prop && !m.entries.isEmpty { throw refuse("carrying entries") }
    }
}
