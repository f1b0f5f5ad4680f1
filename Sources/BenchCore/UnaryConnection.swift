import EtcdProto
import Foundation
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import SwiftProtobuf

/// A bare gRPC connection for the benchmark's unary calls (put, range, txn): each call is one
/// HTTP/2 stream of a HEADERS and a DATA frame out and HEADERS, DATA and trailers back, handled in
/// one channel handler on the connection's event loop.
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
                        HTTP2Setting(parameter: .initialWindowSize, value: 8 << 20),
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
        let calls = try await channel.eventLoop.submit {
            NIOLoopBound(try channel.pipeline.syncOperations.handler(type: UnaryCallHandler.self), eventLoop: channel.eventLoop)
        }.get()
        return UnaryConnection(channel: channel, calls: calls)
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

    public func put(_ request: Etcdserverpb_PutRequest) async throws -> Etcdserverpb_PutResponse {
        try await call("/etcdserverpb.KV/Put", request)
    }

    public func range(_ request: Etcdserverpb_RangeRequest) async throws -> Etcdserverpb_RangeResponse {
        try await call("/etcdserverpb.KV/Range", request)
    }

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

    func start(path: String, body: [UInt8], continuation: CheckedContinuation<ByteBuffer, any Error>) {
        guard let context, closed == nil else {
            continuation.resume(throwing: closed ?? BenchError("connection closed"))
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
            // Reopen the connection's window (65,535 bytes) when half of it is used, or the server
            // stops sending. Each stream's own window (8 MiB, from our settings) outlasts its answer.
            unacknowledged += data.data.readableBytes + (data.paddingBytes ?? 0)
            if unacknowledged >= 32_768 {
                context.writeAndFlush(wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: unacknowledged))), promise: nil)
                unacknowledged = 0
            }
            if data.endStream { finish(frame.streamID, status: nil) }
        case .headers(let headers) where headers.endStream:
            finish(frame.streamID, status: headers.headers)
        case .rstStream(let code):
            calls.removeValue(forKey: frame.streamID)?.continuation.resume(throwing: BenchError("stream reset: \(code)"))
        default:
            break
        }
    }

    /// Completes a call from its trailers: its one message if the status is OK, else the error.
    private func finish(_ stream: HTTP2StreamID, status trailers: HPACKHeaders?) {
        guard let call = calls.removeValue(forKey: stream) else { return }
        let code = trailers?.first(name: "grpc-status").flatMap(Int.init) ?? -1
        guard code == 0 else {
            let message = trailers?.first(name: "grpc-message")?.removingPercentEncoding ?? "no grpc-status in the answer"
            call.continuation.resume(throwing: BenchError(message.hasPrefix("etcdserver: ") ? message : "rpc error: code = \(code) desc = \(message)"))
            return
        }
        guard var received = call.received, let flag = received.readInteger(as: UInt8.self), flag == 0,
              let length = received.readInteger(as: UInt32.self), let message = received.readSlice(length: Int(length))
        else {
            call.continuation.resume(throwing: BenchError("malformed gRPC answer"))
            return
        }
        call.continuation.resume(returning: message)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(BenchError("connection closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
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
