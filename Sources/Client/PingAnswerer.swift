import NIOCore

/// Answers the server's HTTP/2 PINGs below the HTTP/2 handler, which never sees them.
///
/// etcd's gRPC (grpc-go) sends a PING for its bandwidth estimate after nearly every request it
/// receives, while grpc-swift's client HTTP/2 handler closes the connection once the server sends more
/// than 200 control frames in 30 seconds (a denial-of-service guard it does not let us configure). So a
/// client making more than 200 calls in 30 seconds to etcd lost its connection and its calls in flight.
/// This handler sits next to the socket, acknowledges each PING (as the HTTP/2 handler would) and
/// passes every other frame on unchanged. It reads only the 9-byte frame headers.
final class PingAnswerer: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// Bytes received that do not yet make a whole frame.
    private var pending = ByteBuffer()

    private static let frameHeaderLength = 9
    private static let pingType: UInt8 = 6
    private static let ackFlag: UInt8 = 1

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        // The usual case: whole frames and no PING among them pass on untouched, without a copy.
        if pending.readableBytes == 0 && Self.wholeFramesWithoutPing(bytes) {
            context.fireChannelRead(data)
            return
        }
        pending.writeBuffer(&bytes)
        var passOn = context.channel.allocator.buffer(capacity: pending.readableBytes)
        var answered = false
        while pending.readableBytes >= Self.frameHeaderLength,
              let length = pending.getUInt24(at: pending.readerIndex),
              pending.readableBytes >= Self.frameHeaderLength + Int(length) {
            let frameLength = Self.frameHeaderLength + Int(length)
            let type = pending.getInteger(at: pending.readerIndex + 3, as: UInt8.self)
            let flags = pending.getInteger(at: pending.readerIndex + 4, as: UInt8.self) ?? 0
            var frame = pending.readSlice(length: frameLength)!
            if type == Self.pingType && flags & Self.ackFlag == 0 && length == 8 {
                // The acknowledgement: the same frame with the ACK flag.
                frame.setInteger(flags | Self.ackFlag, at: frame.readerIndex + 4)
                var ack = context.channel.allocator.buffer(capacity: frameLength)
                ack.writeBuffer(&frame)
                context.write(wrapOutboundOut(.byteBuffer(ack)), promise: nil)
                answered = true
            } else {
                passOn.writeBuffer(&frame)
            }
        }
        pending.discardReadBytes()
        if answered { context.flush() }
        if passOn.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(passOn)) }
    }
}

extension PingAnswerer {
    /// Whether `bytes` is a sequence of complete frames none of which is a PING awaiting an answer.
    private static func wholeFramesWithoutPing(_ bytes: ByteBuffer) -> Bool {
        var index = bytes.readerIndex
        while index < bytes.writerIndex {
            guard bytes.writerIndex - index >= frameHeaderLength, let length = bytes.getUInt24(at: index),
                  bytes.writerIndex - index >= frameHeaderLength + Int(length),
                  let type = bytes.getInteger(at: index + 3, as: UInt8.self)
            else { return false }
            if type == pingType { return false }
            index += frameHeaderLength + Int(length)
        }
        return true
    }
}

extension ByteBuffer {
    /// A 24-bit big-endian length (an HTTP/2 frame header's first field).
    fileprivate func getUInt24(at index: Int) -> UInt32? {
        guard let high = getInteger(at: index, as: UInt16.self), let low = getInteger(at: index + 2, as: UInt8.self) else { return nil }
        return UInt32(high) << 8 | UInt32(low)
    }
}
