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

    // MARK: - Plausibility (RaftWire.validate)

    /// What correct members send: at least one message of every type that crosses the network, as a
    /// leader, a follower or a candidate sends it, with the stream it travels on.
    static let plausible: [(what: String, message: Message, channel: PeerChannel)] = {
        let snapshot = Snapshot(metadata: SnapshotMetadata(index: 100, term: 4, confState: ConfState(voters: [1, 2, 3], learners: [4])))
        let limit = RaftWire.limit
        let round: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 7]
        return [
            ("an append whose entries follow its index, terms rising to the leader's",
             Message(type: .app, to: 2, from: 1, term: 5, logTerm: 3, index: 10,
                     entries: [Entry(term: 3, index: 11),
                               Entry(term: 4, index: 12, kind: .confChange, data: ConfChange(type: .addNode, nodeID: 4).encoded()),
                               Entry(term: 5, index: 13, data: Array("v".utf8))],
                     commit: 11), .messages),
            ("an append from the start of the log (log term 0 at index 0)",
             Message(type: .app, to: 2, from: 1, term: 2, index: 0, entries: [Entry(term: 1, index: 1), Entry(term: 2, index: 2)], commit: 1), .messages),
            ("a probe append with no entries", Message(type: .app, to: 2, from: 1, term: 5, logTerm: 5, index: 13, commit: 13), .messages),
            ("an append whose last entry is just below 2^62",
             Message(type: .app, to: 2, from: 1, term: 5, logTerm: 5, index: limit - 2, entries: [Entry(term: 5, index: limit - 1)], commit: limit - 2), .messages),
            ("an accepting append response", Message(type: .appResp, to: 1, from: 2, term: 5, index: 13), .messages),
            ("a rejecting append response with a hint below its index",
             Message(type: .appResp, to: 1, from: 2, term: 5, logTerm: 3, index: 13, reject: true, rejectHint: 9), .messages),
            ("a rejecting append response with the hint at its index",
             Message(type: .appResp, to: 1, from: 2, term: 5, index: 13, reject: true, rejectHint: 13), .messages),
            ("the nudge to a stale leader: an append response with only a term", Message(type: .appResp, to: 1, from: 2, term: 6), .messages),
            ("a vote request", Message(type: .vote, to: 2, from: 3, term: 6, logTerm: 5, index: 13), .messages),
            ("the vote request of a leadership transfer",
             Message(type: .vote, to: 2, from: 3, term: 6, logTerm: 5, index: 13, context: campaignTransferContext), .messages),
            ("a granted vote", Message(type: .voteResp, to: 3, from: 2, term: 6), .messages),
            ("a refused vote", Message(type: .voteResp, to: 3, from: 2, term: 6, reject: true), .messages),
            ("a pre-vote request for the next term", Message(type: .preVote, to: 2, from: 3, term: 6, logTerm: 5, index: 13), .messages),
            ("a granted pre-vote", Message(type: .preVoteResp, to: 3, from: 2, term: 6), .messages),
            ("a refused pre-vote carrying the current term", Message(type: .preVoteResp, to: 3, from: 2, term: 5, reject: true), .messages),
            ("a snapshot on the snapshots stream", Message(type: .snap, to: 2, from: 1, term: 5, snapshot: snapshot), .snapshots),
            ("a snapshot of the leader's own term at index 1",
             Message(type: .snap, to: 2, from: 1, term: 5, snapshot: Snapshot(metadata: SnapshotMetadata(index: 1, term: 5, confState: ConfState(voters: [1])))),
             .snapshots),
            ("a heartbeat with a ReadIndex round", Message(type: .heartbeat, to: 2, from: 1, term: 5, commit: 13, context: round), .messages),
            ("a heartbeat committing nothing", Message(type: .heartbeat, to: 2, from: 1, term: 5), .messages),
            ("a heartbeat response", Message(type: .heartbeatResp, to: 1, from: 2, term: 5, context: round), .messages),
            ("a forwarded proposal (no term)",
             Message(type: .prop, to: 1, from: 2, entries: [Entry(term: 0, index: 0, data: Array("put".utf8)), Entry(term: 0, index: 0)]), .messages),
            ("a forwarded ReadIndex request (no term)", Message(type: .readIndex, to: 1, from: 2, context: round), .messages),
            ("a ReadIndex response", Message(type: .readIndexResp, to: 2, from: 1, term: 5, index: 13, context: round), .messages),
            ("a ReadIndex response with a 64-byte context",
             Message(type: .readIndexResp, to: 2, from: 1, term: 5, index: 13, context: Array(repeating: 9, count: 64)), .messages),
            ("a forwarded leadership-transfer request", Message(type: .transferLeader, to: 1, from: 3, term: 5), .messages),
            ("a timeoutNow", Message(type: .timeoutNow, to: 3, from: 1, term: 5), .messages),
            ("a vote at the largest term and index below 2^62",
             Message(type: .vote, to: 2, from: 3, term: limit - 1, logTerm: limit - 1, index: limit - 1), .messages),
        ]
    }()

    /// Every kind of message a correct member sends passes `RaftWire.validate` on the stream it travels
    /// on, so the edge check never cuts a healthy member off (every type that crosses the network is
    /// covered).
    @Test func messagesCorrectMembersSendAreAccepted() {
        let types = Set(Self.plausible.map { $0.message.type })
        #expect(types == Set(MessageType.allCases.filter { !$0.isLocal }))
        for (what, message, channel) in Self.plausible {
            Self.expectAccepted(message, on: channel, "\(what)")
        }
    }

    /// Each rule of `RaftWire.validate` refuses a message that breaks that rule alone: every case is a
    /// message the test first shows is accepted, with one field changed. The label names the trap (or
    /// the misleading of the Raft core) that the rule closes.
    @Test func implausibleMessagesAreRefused() {
        let limit = RaftWire.limit
        let append = Message(type: .app, to: 2, from: 1, term: 5, logTerm: 4, index: 10,
                             entries: [Entry(term: 4, index: 11), Entry(term: 5, index: 12)], commit: 10)
        let heartbeat = Message(type: .heartbeat, to: 2, from: 1, term: 5, commit: 10)
        let vote = Message(type: .vote, to: 2, from: 3, term: 6, logTerm: 5, index: 12)
        let appResp = Message(type: .appResp, to: 1, from: 2, term: 5, index: 12)
        let proposal = Message(type: .prop, to: 1, from: 2, entries: [Entry(term: 0, index: 0, data: [1])])
        let readIndex = Message(type: .readIndex, to: 1, from: 2, context: [1])
        let snap = Message(type: .snap, to: 2, from: 1, term: 5,
                           snapshot: Snapshot(metadata: SnapshotMetadata(index: 100, term: 4, confState: ConfState(voters: [1, 2, 3], learners: [4]))))
        // The unchanged messages pass, so each refusal below is the changed field's doing.
        for base in [append, heartbeat, vote, appResp, proposal, readIndex] {
            Self.expectAccepted(base, on: .messages, "unchanged \(base.type)")
        }
        Self.expectAccepted(snap, on: .snapshots, "unchanged snap")

        // Streams: a snapshot travels only on the snapshots stream, followed by its store file.
        Self.expectRefused(snap, on: .messages, "T8: a snap on the messages stream (no store file follows it)")
        Self.expectRefused(append, on: .snapshots, "an append on the snapshots stream")
        Self.expectRefused(Self.with(snap) { $0.snapshot = nil }, on: .snapshots, "a snap message without a snapshot")
        Self.expectRefused(Self.with(append) { $0.snapshot = snap.snapshot }, "an append carrying a snapshot")

        // Terms: only forwarded proposals and ReadIndex requests travel without one.
        Self.expectRefused(Self.with(vote) { $0.term = 0 }, "T3: a vote without a term (granting it sends a voteResp without a term, which traps)")
        Self.expectRefused(Self.with(heartbeat) { $0.term = 0 }, "a heartbeat without a term (taken as local, past every term check)")
        Self.expectRefused(Self.with(appResp) { $0.term = 0 }, "an append response without a term")

        // Terms and indexes at or past 2^62 (every `+ 1` of the core stays below 2^64).
        Self.expectRefused(Self.with(vote) { $0.term = 1 << 62 }, "T5: a vote at term 2^62")
        Self.expectRefused(Self.with(vote) { $0.term = .max }, "T5: a vote at term UInt64.max (the next term overflows)")
        Self.expectRefused(Self.with(heartbeat) { $0.term = .max }, "T5: a heartbeat at term UInt64.max")
        Self.expectRefused(Self.with(vote) { $0.logTerm = limit }, "a vote whose last log term is 2^62")
        Self.expectRefused(Self.with(vote) { $0.index = .max }, "a vote whose last index is UInt64.max")
        Self.expectRefused(Self.with(appResp) { $0.index = .max }, "an append response at index UInt64.max (the leader's next index overflows)")
        Self.expectRefused(Self.with(heartbeat) { $0.commit = limit }, "a heartbeat committing index 2^62")
        Self.expectRefused(Self.with(appResp) { $0.rejectHint = .max }, "an accepting append response with a hint of UInt64.max")
        Self.expectRefused(Self.with(append) { $0.index = limit - 1; $0.entries = [Entry(term: 4, index: limit), Entry(term: 5, index: limit + 1)] },
                           "an append whose entries pass 2^62")

        // Rejections: the hint is at or below the rejected index (the leader probes back from it).
        Self.expectRefused(Self.with(appResp) { $0.reject = true; $0.rejectHint = 13 }, "a rejecting append response with a hint past its index")

        // Appends: a contiguous slice after `index`, terms never going down nor past the message's term.
        Self.expectRefused(Self.with(append) { $0.entries[1].index = 13 }, "an append whose entries skip an index (the log append traps on a gap)")
        Self.expectRefused(Self.with(append) { $0.entries[1].index = 11 }, "an append whose entries repeat an index")
        Self.expectRefused(Self.with(append) { $0.entries = [Entry(term: 4, index: 10), Entry(term: 5, index: 11)] },
                           "an append whose entries start at its index, not after it")
        Self.expectRefused(Self.with(append) { $0.entries = [Entry(term: 4, index: 12), Entry(term: 5, index: 13)] },
                           "an append whose entries start past index + 1")
        Self.expectRefused(Self.with(append) { $0.entries[1].term = 6 }, "an append with an entry of a term past the message's")
        Self.expectRefused(Self.with(append) { $0.entries = [Entry(term: 5, index: 11), Entry(term: 4, index: 12)] },
                           "an append whose entry terms go down")
        Self.expectRefused(Self.with(append) { $0.entries[0].term = 3 }, "an append whose first entry's term is below the log term at its index")
        Self.expectRefused(Self.with(append) { $0.logTerm = 0; $0.index = 0; $0.entries = [Entry(term: 0, index: 1)] },
                           "an append with an entry of term 0")
        Self.expectRefused(Self.with(append) { $0.logTerm = 6; $0.entries = [] }, "an append whose log term is past its term")

        // Snapshots: a real log prefix of a past or current term, naming real members.
        Self.expectRefused(Self.with(snap) { $0.snapshot?.metadata.index = 0 }, on: .snapshots, "a snapshot at index 0")
        Self.expectRefused(Self.with(snap) { $0.snapshot?.metadata.index = limit }, on: .snapshots, "a snapshot at index 2^62")
        Self.expectRefused(Self.with(snap) { $0.snapshot?.metadata.term = 0 }, on: .snapshots, "a snapshot of term 0")
        Self.expectRefused(Self.with(snap) { $0.snapshot?.metadata.term = 6 }, on: .snapshots, "a snapshot of a term past the message's")
        Self.expectRefused(Self.with(snap) { $0.snapshot?.metadata.confState = ConfState(voters: [0, 1, 2]) }, on: .snapshots,
                           "a snapshot whose configuration has voter 0")
        Self.expectRefused(Self.with(snap) { $0.snapshot?.metadata.confState = ConfState(voters: [1, 2], learners: [0]) }, on: .snapshots,
                           "a snapshot whose configuration has learner 0")

        // Entries travel only in appends and proposals; a proposal has some.
        Self.expectRefused(Self.with(proposal) { $0.entries = [] }, "an empty proposal (the core traps on it)")
        Self.expectRefused(Self.with(heartbeat) { $0.entries = [Entry(term: 5, index: 11)] }, "a heartbeat carrying entries")
        Self.expectRefused(Self.with(vote) { $0.entries = [Entry(term: 5, index: 13)] }, "a vote carrying entries")
        Self.expectRefused(Self.with(readIndex) { $0.entries = [Entry(term: 0, index: 0, data: [1])] }, "a ReadIndex request carrying entries")

        // Contexts: a ReadIndex round or request id, or the transfer marker; never more than 64 bytes.
        Self.expectRefused(Self.with(heartbeat) { $0.context = Array(repeating: 7, count: 65) }, "a heartbeat with a 65-byte context")
        Self.expectRefused(Self.with(readIndex) { $0.context = Array(repeating: 7, count: 1 << 16) }, "a ReadIndex request with a 64 KiB context")
    }

    private static func with(_ message: Message, _ change: (inout Message) -> Void) -> Message {
        var message = message
        change(&message)
        return message
    }

    private static func expectAccepted(_ message: Message, on channel: PeerChannel, _ what: Comment,
                                       sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(throws: Never.self, what, sourceLocation: sourceLocation) { try RaftWire.validate(message, channel: channel) }
    }

    private static func expectRefused(_ message: Message, on channel: PeerChannel = .messages, _ trap: Comment,
                                      sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(throws: RaftWireError.self, trap, sourceLocation: sourceLocation) { try RaftWire.validate(message, channel: channel) }
    }
}
