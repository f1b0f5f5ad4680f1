import NIOCore
import NIOHTTP1

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

/// Serves `HTTPEndpoints` on an HTTP/1.1 connection (after NIOHTTP1's decoder and encoder).
final class HTTPEndpointHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let endpoints: HTTPEndpoints
    private var request: HTTPRequestHead?

    init(endpoints: HTTPEndpoints) {
        self.endpoints = endpoints
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break
        case .end:
            guard let head = request else { return }
            request = nil
            let answer = endpoints.answer(method: head.method, path: head.uri)
            var headers = HTTPHeaders()
            headers.add(name: "Access-Control-Allow-Headers", value: "accept, content-type, authorization")
            headers.add(name: "Access-Control-Allow-Methods", value: "POST, GET, OPTIONS, PUT, DELETE")
            headers.add(name: "Access-Control-Allow-Origin", value: "*")
            headers.add(name: "Content-Type", value: answer.contentType)
            if answer.status == .notFound { headers.add(name: "X-Content-Type-Options", value: "nosniff") }
            headers.add(name: "Content-Length", value: "\(answer.body.count)")
            let keepAlive = head.isKeepAlive
            if !keepAlive { headers.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: answer.status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: answer.body)))), promise: nil)
            let done = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
            if !keepAlive {
                let channel = context.channel
                done.futureResult.whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }
}
