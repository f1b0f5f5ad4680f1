import NIOCore
import NIOHTTP1

/// Cuts off an HTTP/1.1 connection whose request head does not arrive whole within `limit` of its
/// first byte (slowloris: a client dribbling header bytes to hold a connection and its memory).
/// Connections idle between requests, and requests whose head has arrived (a v2 watch may then wait
/// for minutes), are left alone.
///
/// Its two handlers share the clock, on the connection's event loop: `Bytes` goes before the request
/// decoder and starts the clock when a request's first bytes arrive; `Heads` goes after it and stops
/// the clock at the request's head, watching again once the request has ended.
final class RequestHeadDeadline {
    private let limit: TimeAmount
    private var timer: Scheduled<Void>?
    private var inRequest = false

    init(limit: TimeAmount = .seconds(10)) {
        self.limit = limit
    }

    /// The handlers to put before and after `HTTPRequestDecoder`.
    var handlers: (bytes: Bytes, heads: Heads) { (Bytes(self), Heads(self)) }

    /// Starts the clock on a request's first bytes.
    final class Bytes: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer
        typealias InboundOut = ByteBuffer
        private let deadline: RequestHeadDeadline

        fileprivate init(_ deadline: RequestHeadDeadline) { self.deadline = deadline }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if !deadline.inRequest && deadline.timer == nil {
                let channel = context.channel
                deadline.timer = context.eventLoop.scheduleTask(in: deadline.limit) { channel.close(promise: nil) }
            }
            context.fireChannelRead(data)
        }

        func channelInactive(context: ChannelHandlerContext) {
            deadline.timer?.cancel()
            deadline.timer = nil
            context.fireChannelInactive()
        }
    }

    /// Stops the clock at a request's head.
    final class Heads: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias InboundOut = HTTPServerRequestPart
        private let deadline: RequestHeadDeadline

        fileprivate init(_ deadline: RequestHeadDeadline) { self.deadline = deadline }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head:
                deadline.inRequest = true
                deadline.timer?.cancel()
                deadline.timer = nil
            case .body:
                break
            case .end:
                deadline.inRequest = false
            }
            context.fireChannelRead(data)
        }
    }
}
