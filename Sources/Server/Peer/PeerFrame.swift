import NIOCore

/// The streams between two members: raft messages on one connection, snapshots on another, so a large
/// snapshot never delays heartbeats.
public enum PeerChannel: UInt8, Sendable, CaseIterable {
    case messages = 0
    case snapshots = 1
}

/// One unit on a peer connection. Wire format: a 4-byte big-endian length of what follows, a type
/// byte, then the body. A connection opens with `hello`; everything after it is `message`.
public enum PeerFrame: Equatable, Sendable {
    /// Who is calling: the cluster (connections across clusters are refused), the sending member and
    /// which stream this connection carries.
    case hello(clusterID: UInt64, from: UInt64, channel: PeerChannel)
    /// An opaque payload for the receiving member (an encoded raft message).
    case message([UInt8])
    /// Sent instead of `hello` by a member joining the cluster: who are the members?
    case membersRequest
    /// The answer to `membersRequest` (JSON: the cluster id and the members); the connection then closes.
    case membersReply([UInt8])

    enum Kind: UInt8 {
        case hello = 1
        case message = 2
        case membersRequest = 3
        case membersReply = 4
    }
}

/// Errors of the peer wire format; any of them closes the connection.
public enum PeerFrameError: Error, Equatable, Sendable {
    case frameTooLarge(Int)
    case unknownType(UInt8)
    case malformedHello
}

/// Splits a peer byte stream into frames, refusing frames longer than `maxFrameLength`.
///
/// On the listening side the limit follows the connection: a few bytes until the hello (a stranger's
/// bytes are refused at once instead of being buffered), then the limit of the channel it names.
public struct PeerFrameDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = PeerFrame

    /// The limit for the next frame.
    public private(set) var maxFrameLength: Int
    /// The limits after a hello, by channel (nil: the limit never changes).
    private let afterHello: (messages: Int, snapshots: Int)?

    /// One limit for every frame (the dialling side).
    public init(maxFrameLength: Int) {
        self.maxFrameLength = maxFrameLength
        afterHello = nil
    }

    /// `beforeHello` until a hello arrives, then `messages` or `snapshots` by the channel it names.
    public init(beforeHello: Int, messages: Int, snapshots: Int) {
        maxFrameLength = beforeHello
        afterHello = (messages, snapshots)
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try Self.decodeFrame(from: &buffer, maxFrameLength: maxFrameLength) else { return .needMoreData }
        if case .hello(_, _, let channel) = frame, let limits = afterHello {
            maxFrameLength = channel == .messages ? limits.messages : limits.snapshots
        }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    /// Takes one whole frame off the front of `buffer`, or nothing if it is not all there yet.
    static func decodeFrame(from buffer: inout ByteBuffer, maxFrameLength: Int) throws -> PeerFrame? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard Int(length) <= maxFrameLength, length >= 1 else { throw PeerFrameError.frameTooLarge(Int(length)) }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        guard var body = buffer.readSlice(length: Int(length)), let type = body.readInteger(as: UInt8.self) else {
            preconditionFailure("length checked above")
        }
        switch PeerFrame.Kind(rawValue: type) {
        case .hello:
            guard let clusterID = body.readInteger(as: UInt64.self),
                  let from = body.readInteger(as: UInt64.self),
                  let channelByte = body.readInteger(as: UInt8.self),
                  let channel = PeerChannel(rawValue: channelByte),
                  body.readableBytes == 0
            else { throw PeerFrameError.malformedHello }
            return .hello(clusterID: clusterID, from: from, channel: channel)
        case .message:
            return .message(body.readBytes(length: body.readableBytes) ?? [])
        case .membersRequest:
            return .membersRequest
        case .membersReply:
            return .membersReply(body.readBytes(length: body.readableBytes) ?? [])
        case nil:
            throw PeerFrameError.unknownType(type)
        }
    }
}

/// Writes frames in the format `PeerFrameDecoder` reads.
public struct PeerFrameEncoder: MessageToByteEncoder, Sendable {
    public typealias OutboundIn = PeerFrame

    public init() {}

    public func encode(data: PeerFrame, out: inout ByteBuffer) throws {
        Self.encode(data, into: &out)
    }

    static func encode(_ frame: PeerFrame, into out: inout ByteBuffer) {
        switch frame {
        case .hello(let clusterID, let from, let channel):
            out.writeInteger(UInt32(1 + 8 + 8 + 1))
            out.writeInteger(PeerFrame.Kind.hello.rawValue)
            out.writeInteger(clusterID)
            out.writeInteger(from)
            out.writeInteger(channel.rawValue)
        case .message(let payload):
            out.writeInteger(UInt32(1 + payload.count))
            out.writeInteger(PeerFrame.Kind.message.rawValue)
            out.writeBytes(payload)
        case .membersRequest:
            out.writeInteger(UInt32(1))
            out.writeInteger(PeerFrame.Kind.membersRequest.rawValue)
        case .membersReply(let payload):
            out.writeInteger(UInt32(1 + payload.count))
            out.writeInteger(PeerFrame.Kind.membersReply.rawValue)
            out.writeBytes(payload)
        }
    }
}
