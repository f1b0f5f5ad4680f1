import Raft
import Testing
@testable import Server

/// The binary form of raft messages between members.
@Suite struct RaftWireTests {
    /// One message of every type that crosses the network, with every field set to something distinct.
    static let messages: [Message] = MessageType.allCases.filter { !$0.isLocal }.enumerated().map { offset, type in
        let n = UInt64(offset + 1)
        return Message(
            type: type, to: 0xFEDC_BA98_7654_3210 &+ n, from: n, term: 100 + n, logTerm: 99, index: 1 << 40 + n,
            entries: [
                Entry(term: 7, index: 1 << 40 + n + 1, kind: .normal, data: Array("entry \(n)".utf8)),
                Entry(term: 7, index: 1 << 40 + n + 2, kind: .confChange, data: ConfChange(type: .addLearnerNode, nodeID: 9).encoded()),
                Entry(term: 8, index: 1 << 40 + n + 3),
            ],
            commit: 1 << 39, snapshot: type == .snap ? Snapshot(metadata: SnapshotMetadata(index: 500, term: 6, confState: ConfState(voters: [1, 2, 3], learners: [4]))) : nil,
            reject: offset % 2 == 0, rejectHint: 42 + n, context: offset % 3 == 0 ? [] : Array("ctx".utf8))
    }

    @Test func everyMessageTypeRoundTrips() throws {
        for message in Self.messages {
            #expect(try RaftWire.decode(RaftWire.encode(message)) == message, "\(message.type)")
        }
    }

    /// A snapshot's data never travels inside the message: the store file streams after it in chunks.
    @Test func snapshotFramesRoundTrip() throws {
        let message = Self.messages.first { $0.type == .snap }!
        let chunk = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let frames: [SnapshotFrame] = [
            .begin(stream: 0xFEED_0000_0000_0001, message, size: 1 << 33), .chunk(stream: 7, chunk[...]),
            .chunk(stream: 7, chunk[10..<20]), .chunk(stream: 0, []), .end(stream: .max),
        ]
        for frame in frames {
            #expect(try SnapshotFrame.decode(frame.encoded()) == frame)
        }
        // Only a snap message may begin a stream; unknown kinds, short frames and trailing bytes are refused.
        #expect(throws: RaftWireError.self) { try SnapshotFrame.decode(SnapshotFrame.begin(stream: 1, Self.messages[0], size: 1).encoded()) }
        #expect(throws: RaftWireError.self) { try SnapshotFrame.decode([9, 0, 0, 0, 0, 0, 0, 0, 1]) }
        #expect(throws: RaftWireError.self) { try SnapshotFrame.decode(SnapshotFrame.end(stream: 1).encoded() + [0]) }
        #expect(throws: RaftWireError.self) { try SnapshotFrame.decode([2, 0, 0]) }
        #expect(throws: RaftWireError.self) { try SnapshotFrame.decode([]) }
    }

    /// Every truncation and a trailing byte are refused with an error, never a crash or a wrong message.
    @Test func truncatedOrPaddedBytesAreRefused() throws {
        for message in Self.messages {
            let bytes = RaftWire.encode(message)
            for length in 0..<bytes.count {
                #expect(throws: RaftWireError.self) { try RaftWire.decode(Array(bytes.prefix(length))) }
            }
            #expect(throws: RaftWireError.self) { try RaftWire.decode(bytes + [0]) }
        }
        // A local message type and an unknown version are refused as well.
        var hup = RaftWire.encode(Self.messages[0])
        hup[1] = MessageType.hup.rawValue
        #expect(throws: RaftWireError.self) { try RaftWire.decode(hup) }
        var version = RaftWire.encode(Self.messages[0])
        version[0] = 9
        #expect(throws: RaftWireError.self) { try RaftWire.decode(version) }
    }

    /// Huge counts in a short payload do not make the decoder allocate or loop for them.
    @Test func implausibleCountsAreRefused() throws {
        var bytes = RaftWire.encode(Message(type: .app))
        // The entry count sits after version, type, 7 × u64, reject and the empty context's length.
        let countOffset = 1 + 1 + 56 + 1 + 4
        bytes[countOffset] = 0xFF
        #expect(throws: RaftWireError.self) { try RaftWire.decode(bytes) }
    }
}
