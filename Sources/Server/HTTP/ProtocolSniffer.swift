import NIOCore
import NIOHTTP1

/// Tells gRPC (HTTP/2) connections from HTTP/1.1 ones on a client port, as etcd serves both on one.
///
/// It sits first in a connection's pipeline, in front of the gRPC HTTP/2 handlers, and holds back
/// what they write (the server's SETTINGS) until the client's first bytes arrive. On HTTP/2's
/// 24-byte connection preface it releases those writes and removes itself. On anything else it drops
/// them, installs HTTP/1.1 handlers in front of itself and replays the bytes through them; the HTTP/2
/// handlers then never see a byte and end with the connection.
final class ProtocolSniffer: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    private enum State {
        case sniffing(received: ByteBuffer?, heldWrites: [(NIOAny, EventLoopPromise<Void>?)], flushHeld: Bool)
        case http2
        case http1
    }

    private var state: State = .sniffing(received: nil, heldWrites: [], flushHeld: false)
    private let makeHTTP1Handlers: @Sendable () -> [any ChannelHandler]

    /// `makeHTTP1Handlers` builds what serves an HTTP/1.1 connection after the request decoder and
    /// response encoder (it must consume every request part).
    init(makeHTTP1Handlers: @escaping @Sendable () -> [any ChannelHandler]) {
        self.makeHTTP1Handlers = makeHTTP1Handlers
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .sniffing(var received, let held, let flushHeld) = state else {
            context.fireChannelRead(data)
            return
        }
        var bytes = unwrapInboundIn(data)
        if received == nil {
            received = bytes
        } else {
            received!.writeBuffer(&bytes)
        }
        let buffered = received!
        let prefix = buffered.readableBytesView.prefix(Self.preface.count)
        if !prefix.elementsEqual(Self.preface.prefix(prefix.count)) {
            switchToHTTP1(context: context, received: buffered, held: held)
        } else if prefix.count == Self.preface.count {
            switchToHTTP2(context: context, received: buffered, held: held, flushHeld: flushHeld)
        } else {
            state = .sniffing(received: received, heldWrites: held, flushHeld: flushHeld)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch state {
        case .sniffing(let received, var held, let flushHeld):
            held.append((data, promise))
            state = .sniffing(received: received, heldWrites: held, flushHeld: flushHeld)
        case .http2:
            context.write(data, promise: promise)
        case .http1:
            // The HTTP/2 side talks to nobody on an HTTP/1.1 connection.
            promise?.succeed(())
        }
    }

    func flush(context: ChannelHandlerContext) {
        switch state {
        case .sniffing(let received, let held, _):
            state = .sniffing(received: received, heldWrites: held, flushHeld: true)
        case .http2:
            context.flush()
        case .http1:
            break
        }
    }

    private func switchToHTTP2(context: ChannelHandlerContext, received: ByteBuffer, held: [(NIOAny, EventLoopPromise<Void>?)], flushHeld: Bool) {
        state = .http2
        for (data, promise) in held { context.write(data, promise: promise) }
        if flushHeld { context.flush() }
        context.fireChannelRead(wrapInboundOut(received))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    private func switchToHTTP1(context: ChannelHandlerContext, received: ByteBuffer, held: [(NIOAny, EventLoopPromise<Void>?)]) {
        state = .http1
        for (_, promise) in held { promise?.succeed(()) }
        do {
            let deadline = RequestHeadDeadline().handlers
            let handlers: [any ChannelHandler] = [
                deadline.bytes,
                ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)),
                deadline.heads,
                HTTPResponseEncoder(),
                HTTPServerPipelineHandler(),
                HTTPServerProtocolErrorHandler(),
            ] + makeHTTP1Handlers()
            try context.pipeline.syncOperations.addHandlers(handlers, position: .first)
        } catch {
            context.close(promise: nil)
            return
        }
        // Replay from the head of the pipeline, through the HTTP/1.1 handlers just added.
        context.pipeline.fireChannelRead(NIOAny(received))
        context.pipeline.fireChannelReadComplete()
    }
}
