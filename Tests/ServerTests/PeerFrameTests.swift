import NIOCore
import NIOEmbedded
import Testing
@testable import Server

/// The peer wire format, byte by byte, through a real channel pipeline.
@Suite struct PeerFrameTests {
    private func encoded(_ frames: [PeerFrame]) -> ByteBuffer {
        var buffer = ByteBuffer()
        for frame in frames { PeerFrameEncoder.encode(frame, into: &buffer) }
        return buffer
    }

    @Test func roundTripEvenWhenSplitIntoSingleBytes() throws {
        let frames: [PeerFrame] = [
            .hello(clusterID: 0xDEAD_BEEF, from: 7, channel: .snapshots),
            .message([]),
            .message(Array(0...255)),
            .message([UInt8](repeating: 0xAB, count: 70_000)),
            .membersRequest,
            .membersReply(Array("{}".utf8)),
        ]
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(PeerFrameDecoder(maxFrameLength: 1 << 20)))
        var bytes = encoded(frames)
        while let byte = bytes.readSlice(length: 1) {
            try channel.writeInbound(byte)
        }
        var decoded: [PeerFrame] = []
        while let frame = try channel.readInbound(as: PeerFrame.self) { decoded.append(frame) }
        #expect(decoded == frames)
        #expect(try channel.finish().isClean)
    }

    @Test func encoderMatchesTheHandler() throws {
        let channel = EmbeddedChannel(handler: MessageToByteHandler(PeerFrameEncoder()))
        try channel.writeOutbound(PeerFrame.message([1, 2, 3]))
        let written = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(Array(written.readableBytesView) == [0, 0, 0, 4, 2, 1, 2, 3])
    }

    @Test func oversizedFrameIsRefused() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(PeerFrameDecoder(maxFrameLength: 16)))
        #expect(throws: PeerFrameError.frameTooLarge(1 + 17)) {
            try channel.writeInbound(encoded([.message([UInt8](repeating: 0, count: 17))]))
        }
    }

    /// Found by the hostile-input catalogue: the peer port took frames of up to 4 GiB before any
    /// hello, so a stranger's garbage held the connection open while the server buffered whatever
    /// followed. Before a hello only a few bytes may come; after it, the channel's own limit holds.
    @Test func framesBeforeTheHelloMustBeSmall() throws {
        let decoder = PeerFrameDecoder(beforeHello: 64, messages: 1 << 20, snapshots: 2 << 20)
        let stranger = EmbeddedChannel(handler: ByteToMessageHandler(decoder))
        var header = ByteBuffer()
        header.writeInteger(UInt32(1 << 20))
        #expect(throws: PeerFrameError.frameTooLarge(1 << 20)) { try stranger.writeInbound(header) }

        let peer = EmbeddedChannel(handler: ByteToMessageHandler(decoder))
        let frames: [PeerFrame] = [.hello(clusterID: 1, from: 2, channel: .messages), .message([UInt8](repeating: 7, count: 70_000))]
        try peer.writeInbound(encoded(frames))
        var decoded: [PeerFrame] = []
        while let frame = try peer.readInbound(as: PeerFrame.self) { decoded.append(frame) }
        #expect(decoded == frames)
        var tooLarge = ByteBuffer()
        tooLarge.writeInteger(UInt32((1 << 20) + 2))
        #expect(throws: PeerFrameError.frameTooLarge((1 << 20) + 2)) { try peer.writeInbound(tooLarge) }
    }

    @Test func unknownTypeAndBadHelloAreRefused() throws {
        var unknown = ByteBuffer()
        unknown.writeInteger(UInt32(2))
        unknown.writeBytes([9, 0])
        #expect(throws: PeerFrameError.unknownType(9)) {
            _ = try PeerFrameDecoder.decodeFrame(from: &unknown, maxFrameLength: 100)
        }
        var shortHello = ByteBuffer()
        shortHello.writeInteger(UInt32(5))
        shortHello.writeBytes([1, 0, 0, 0, 1])
        #expect(throws: PeerFrameError.malformedHello) {
            _ = try PeerFrameDecoder.decodeFrame(from: &shortHello, maxFrameLength: 100)
        }
    }
}
