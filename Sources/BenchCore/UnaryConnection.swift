import EtcdProto
import Foundation
import GRPCCore
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import SwiftProtobuf

/// A bare gRPC connection for the benchmark's unary calls (put, range, txn): each call is one
/// HTTP/2 stream of a HEADERS and a DATA frame out and HEADERS, DATA and trailers back, handled in
/// one channel handler on the connection's event loop. IPv4 `host:port` endpoints only.
///
/// Why not the client library: grpc-swift spends about 120 µs of CPU per unary call here (a child
/// channel and several tasks per stream), five times etcd's Go client; on a 2-core machine that
/// halves what a benchmark could measure of the server. This path costs a few tens of µs. It
/// speaks plaintext without credentials; the workloads fall back to the client library for TLS or
/// `--user`.
public final class UnaryConnection: Sendable {
    private let channel: any Channel
    private let calls: NIOLoopBound<UnaryCallHandler>

    private init(channel: any Channel, calls: NIOLoopBound<UnaryCallHandler>) {
        self.channel = channel
        self.calls = calls
    }

    /// Connects to `endpoint` (`host:port`, optionally `http://`).
    public static func connect(_ endpoint: String) async throws -> UnaryConnection {
        var rest = Substring(endpoint)
        if rest.hasPrefix("http://") { rest = rest.dropFirst("http://".count) }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]) else {
            throw BenchError("bad endpoint \(endpoint)")
        }
        let host = rest[..<colon] == "localhost" ? "127.0.0.1" : String(rest[..<colon])
        let authority = "\(host):\(port)"
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    var connection = NIOHTTP2Handler.ConnectionConfiguration()
                    connection.initialSettings = [
                        HTTP2Setting(parameter: .maxConcurrentStreams, value: 1 << 20),
                        // Each stream's window: the largest there is, as a stream carries one answer.
                        HTTP2Setting(parameter: .initialWindowSize, value: Int(Int32.max)),
                        HTTP2Setting(parameter: .maxFrameSize, value: 1 << 20),
                    ]
                    // etcd's gRPC server pings after nearly every response (its bandwidth probe); the
                    // handler answers them, and must not count them as abuse.
                    connection.controlFrameRateLimit.maximumCount = Int(Int32.max)
                    let operations = channel.pipeline.syncOperations
                    try operations.addHandler(NIOHTTP2Handler(mode: .client, connectionConfiguration: connection))
                    try operations.addHandler(UnaryCallHandler(authority: authority))
                }
            }
            .connect(host: host, port: port).get()
        do {
            let calls = try await channel.eventLoop.submit {
                NIOLoopBound(try channel.pipeline.syncOperations.handler(type: UnaryCallHandler.self), eventLoop: channel.eventLoop)
            }.get()
            return UnaryConnection(channel: channel, calls: calls)
        } catch {
            try? await channel.close()
            throw error
        }
    }

    /// Closes the connection; calls in flight fail.
    public func close() async {
        try? await channel.close()
    }

    /// Calls `path` (`/package.Service/Method`) with `request`; a gRPC status other than OK throws as
    /// the client library's errors do (etcd's text for etcd's errors).
    public func call<Response: Message>(_ path: String, _ request: some Message) async throws -> Response {
        let body: [UInt8] = try request.serializedBytes()
        let calls = self.calls
        let answer: ByteBuffer = try await withCheckedThrowingContinuation { continuation in
            calls.eventLoop.execute { calls.value.start(path: path, body: body, continuation: continuation) }
        }
        return try Response(serializedBytes: Array(answer.readableBytesView))
    }

    /// etcd's KV.Put.
    public func put(_ request: Etcdserverpb_PutRequest) async throws -> Etcdserverpb_PutResponse {
        try await call("/etcdserverpb.KV/Put", request)
    }

    /// etcd's KV.Range.
    public func range(_ request: Etcdserverpb_RangeRequest) async throws -> Etcdserverpb_RangeResponse {
        try await call("/etcdserverpb.KV/Range", request)
    }

    /// etcd's KV.Txn.
    public func txn(_ request: Etcdserverpb_TxnRequest) async throws -> Etcdserverpb_TxnResponse {
        try await call("/etcdserverpb.KV/Txn", request)
    }
}

/// The streams of one connection, on its event loop: writes each call's frames and completes it
/// from the answer's trailers.
final class UnaryCallHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    /// A call in flight: its continuation and the answer's bytes so far.
    private struct Call {
        let continuation: CheckedContinuation<ByteBuffer, any Error>
        var received: ByteBuffer?
    }

    private let authority: String
    private var context: ChannelHandlerContext?
    private var nextStream = HTTP2StreamID(1)
    private var calls: [HTTP2StreamID: Call] = [:]
    private var closed: (any Error)?
    /// Answer bytes received since the connection's flow-control window was last reopened.
    private var unacknowledged = 0

    init(authority: String) { self.authority = authority }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    /// Opens the connection's receive window (65,535 bytes to begin with) as wide as it goes.
    func channelActive(context: ChannelHandlerContext) {
        let increment = Int(Int32.max) - 65_535
        context.writeAndFlush(wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: increment))), promise: nil)
        context.fireChannelActive()
    }

    func start(path: String, body: [UInt8], continuation: CheckedContinuation<ByteBuffer, any Error>) {
        guard let context, closed == nil else {
            continuation.resume(throwing: closed ?? RPCError(code: .unavailable, message: "connection closed"))
            return
        }
        let stream = nextStream
        nextStream = HTTP2StreamID(Int(nextStream) + 2)
        calls[stream] = Call(continuation: continuation, received: nil)
        let headers: HPACKHeaders = [
            ":method": "POST", ":scheme": "http", ":path": path, ":authority": authority,
            "content-type": "application/grpc", "te": "trailers",
        ]
        context.write(wrapOutboundOut(HTTP2Frame(streamID: stream, payload: .headers(.init(headers: headers)))), promise: nil)
        // gRPC's message framing: uncompressed flag, 4-byte length, the message.
        var message = context.channel.allocator.buffer(capacity: body.count + 5)
        message.writeInteger(UInt8(0))
        message.writeInteger(UInt32(body.count))
        message.writeBytes(body)
        context.writeAndFlush(wrapOutboundOut(HTTP2Frame(streamID: stream, payload: .data(.init(data: .byteBuffer(message), endStream: true)))), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.payload {
        case .data(let data):
            if case .byteBuffer(var bytes) = data.data {
                calls[frame.streamID]?.received.setOrWriteBuffer(&bytes)
            }
            // Give back what the answers used of the connection's window, or the server stops
            // sending. (Frames NIOHTTP2 drops for reset streams go uncounted; the window is opened
            // to 2 GiB at the start, so such small losses never close it.)
            unacknowledged += data.data.readableBytes + (data.paddingBytes.map { $0 + 1 } ?? 0)
            if unacknowledged >= 1 << 20 {
                context.writeAndFlush(wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: unacknowledged))), promise: nil)
                unacknowledged = 0
            }
            if data.endStream { finish(frame.streamID, status: nil) }
        case .headers(let headers) where headers.endStream:
            finish(frame.streamID, status: headers.headers)
        case .rstStream(let code):
            calls.removeValue(forKey: frame.streamID)?.continuation.resume(throwing: RPCError(code: .unavailable, message: "stream reset: \(code)"))
        default:
            break
        }
    }

    /// A stream closed without its answer (reset, or refused by a GOAWAY) fails its call.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let closed = event as? StreamClosedEvent, let call = calls.removeValue(forKey: closed.streamID) {
            call.continuation.resume(throwing: RPCError(code: .unavailable, message: "stream closed: \(closed.reason.map { "\($0)" } ?? "no answer")"))
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Completes a call from its trailers: its one message if the status is OK, else the error as
    /// the client library reports it (an `RPCError`).
    private func finish(_ stream: HTTP2StreamID, status trailers: HPACKHeaders?) {
        guard let call = calls.removeValue(forKey: stream) else { return }
        guard let status = trailers?.first(name: "grpc-status").flatMap(Int.init).flatMap(Status.Code.init(rawValue:)) else {
            call.continuation.resume(throwing: RPCError(code: .internalError, message: "the answer carries no gRPC status"))
            return
        }
        if let code = RPCError.Code(status) {
            let text = trailers?.first(name: "grpc-message") ?? ""
            call.continuation.resume(throwing: RPCError(code: code, message: text.removingPercentEncoding ?? text))
            return
        }
        guard var received = call.received, let flag = received.readInteger(as: UInt8.self), flag == 0,
              let length = received.readInteger(as: UInt32.self), let message = received.readSlice(length: Int(length))
        else {
            call.continuation.resume(throwing: RPCError(code: .internalError, message: "malformed gRPC answer"))
            return
        }
        call.continuation.resume(returning: message)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RPCError(code: .unavailable, message: "connection closed"))
        context.fireChannelInactive()
    }

    /// An error of one stream fails that stream's call; any other ends the connection.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let streamError = error as? NIOHTTP2Errors.StreamError {
            calls.removeValue(forKey: streamError.streamID)?.continuation.resume(throwing: streamError.baseError)
            return
        }
        failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: any Error) {
        closed = error
        let pending = calls
        calls = [:]
        for call in pending.values { call.continuation.resume(throwing: error) }
    }
}
