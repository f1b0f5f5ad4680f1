import NIOCore
import NIOHTTP1
import V2Store

/// One HTTP answer: status, content type and body.
struct HTTPAnswer: Sendable {
    var status: HTTPResponseStatus
    var contentType: String
    var body: [UInt8]

    /// Go's net/http answer to an unknown path, as etcd gives it.
    static let notFound = HTTPAnswer(status: .notFound, contentType: "text/plain; charset=utf-8", body: Array("404 page not found\n".utf8))
}

/// The plain-HTTP endpoints of a client port: `/health`, `/version`, `/metrics` (etcd's paths,
/// bodies and content types).
struct HTTPEndpoints: Sendable {
    let member: Member

    func answer(method: HTTPMethod, path: String) -> HTTPAnswer {
        let path = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
        switch path {
        case "/health":
            // etcd 3.4 reports unhealthy while an alarm is raised (and without a leader, which a lone
            // member always has).
            let healthy = member.alarms.list().isEmpty
            return HTTPAnswer(status: healthy ? .ok : .serviceUnavailable, contentType: "text/plain; charset=utf-8",
                              body: Array("{\"health\":\"\(healthy)\"}".utf8))
        case "/version":
            return HTTPAnswer(status: .ok, contentType: "application/json",
                              body: Array("{\"etcdserver\":\"\(Member.version)\",\"etcdcluster\":\"\(Member.clusterVersion)\"}".utf8))
        case "/metrics":
            return HTTPAnswer(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body: member.metricsExposition())
        default:
            return .notFound
        }
    }
}

/// Serves `HTTPEndpoints` (and, with `--enable-v2`, the v2 API) on an HTTP/1.1 connection (after
/// NIOHTTP1's decoder, encoder and pipelining handler, which keeps answers in request order).
final class HTTPEndpointHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let endpoints: HTTPEndpoints
    private var request: HTTPRequestHead?
    private var body: [UInt8] = []
    /// Whether the body was longer than `maxBody` (its bytes past that were dropped).
    private var bodyTooLarge = false
    /// The v2 watch this connection is waiting on, cancelled if the client goes away.
    private var watch: Task<Void, Never>?

    /// The most body bytes read (Go's limit for a form body, 10 MiB).
    private static let maxBody = 10 << 20

    init(endpoints: HTTPEndpoints) {
        self.endpoints = endpoints
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
            body = []
            bodyTooLarge = false
        case .body(var buffer):
            if body.count + buffer.readableBytes <= Self.maxBody, let bytes = buffer.readBytes(length: buffer.readableBytes) {
                body += bytes
            } else {
                bodyTooLarge = true
            }
        case .end:
            guard let head = request else { return }
            request = nil
            let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            if (endpoints.member.config.enableV2 && V2Endpoints.handles(path)) || Gateway.handles(path) {
                serveAsync(context: context, head: head, path: path)
                return
            }
            let answer = endpoints.answer(method: head.method, path: head.uri)
            var extra: [(String, String)] = [("Content-Type", answer.contentType)]
            if answer.status == .notFound { extra.append(("X-Content-Type-Options", "nosniff")) }
            write(context: context, head: head, status: answer.status, headers: extra, body: answer.body, headOnly: false)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        watch?.cancel()
        context.fireChannelInactive()
    }

    /// Answers a v2 or gateway request off the event loop, then writes the answer (or streams the
    /// watch) on it.
    private func serveAsync(context: ChannelHandlerContext, head: HTTPRequestHead, path: String) {
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let v2 = V2Endpoints(member: endpoints.member)
        let gateway = Gateway(member: endpoints.member)
        let body = self.body
        let tooLarge = bodyTooLarge
        let task = Task {
            let answer = Gateway.handles(path)
                ? await gateway.answer(method: head.method.rawValue, path: path, authorization: head.headers.first(name: "Authorization"), body: body)
                : await v2.answer(method: head.method.rawValue, uri: head.uri, contentType: head.headers.first(name: "Content-Type"), body: body,
                                  bodyTooLarge: tooLarge)
            switch answer {
            case .chunks(let headers, let lines):
                loop.execute {
                    let (handler, context) = bound.value
                    handler.writeChunkedHead(context: context, head: head, headers: headers)
                }
                for await line in lines {
                    loop.execute {
                        let (_, context) = bound.value
                        context.writeAndFlush(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: line)))), promise: nil)
                    }
                }
                if !Task.isCancelled {
                    loop.execute {
                        let (handler, context) = bound.value
                        handler.finish(context: context, head: head)
                    }
                }
            case .whole(let status, let headers, let text, let headOnly):
                loop.execute {
                    let (handler, context) = bound.value
                    handler.write(context: context, head: head, status: status, headers: headers, body: Array(text.utf8), headOnly: headOnly)
                }
            case .watch(let headers, let events, let watcher, let stream):
                loop.execute {
                    let (handler, context) = bound.value
                    handler.writeChunkedHead(context: context, head: head, headers: headers)
                }
                for await event in events {
                    let chunk = V2JSON.event(event)
                    loop.execute {
                        let (_, context) = bound.value
                        context.writeAndFlush(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: chunk)))), promise: nil)
                    }
                    if !stream { break }
                }
                if let watcher { _ = try? v2.member.v2.withTree { store throws(V2Error) in store.cancel(watcher) } }
                if !Task.isCancelled {
                    loop.execute {
                        let (handler, context) = bound.value
                        handler.finish(context: context, head: head)
                    }
                }
            }
        }
        watch = task
    }

    private func standardHeaders(_ extra: [(String, String)]) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.add(name: "Access-Control-Allow-Headers", value: "accept, content-type, authorization")
        headers.add(name: "Access-Control-Allow-Methods", value: "POST, GET, OPTIONS, PUT, DELETE")
        headers.add(name: "Access-Control-Allow-Origin", value: "*")
        for (name, value) in extra { headers.add(name: name, value: value) }
        return headers
    }

    private func write(context: ChannelHandlerContext, head: HTTPRequestHead, status: HTTPResponseStatus, headers extra: [(String, String)],
                       body: [UInt8], headOnly: Bool) {
        var headers = standardHeaders(extra)
        headers.add(name: "Content-Length", value: "\(body.count)")
        if !head.isKeepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        if !headOnly { context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil) }
        finish(context: context, head: head)
    }

    private func writeChunkedHead(context: ChannelHandlerContext, head: HTTPRequestHead, headers extra: [(String, String)]) {
        var headers = standardHeaders(extra)
        headers.add(name: "Transfer-Encoding", value: "chunked")
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))), promise: nil)
    }

    private func finish(context: ChannelHandlerContext, head: HTTPRequestHead) {
        let done = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
        if !head.isKeepAlive {
            let channel = context.channel
            done.futureResult.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
