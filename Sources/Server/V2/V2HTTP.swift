import Foundation
import NIOCore
import NIOHTTP1
import V2Store

/// The answer to a v2 request: a whole response, or a watch that streams events as they come.
enum V2Answer: Sendable {
    case whole(status: HTTPResponseStatus, headers: [(String, String)], body: String, headOnly: Bool)
    /// Headers now; then each event as a chunk (the first only, unless `stream`); `watcher` is
    /// cancelled when the client goes away. A watch answered from the history has one event and no
    /// watcher.
    case watch(headers: [(String, String)], events: AsyncStream<V2Event>, watcher: V2Watcher?, stream: Bool)
    /// Headers now, then each line as a chunk until the stream ends (the v3 gateway's watch).
    case chunks(headers: [(String, String)], lines: AsyncStream<String>)
}

/// etcd's v2 HTTP API on the client port (`--enable-v2`): `/v2/keys`, `/v2/members`, `/v2/machines`
/// and `/v2/stats/*`.
struct V2Endpoints: Sendable {
    let member: Member

    /// Whether a path is served here.
    static func handles(_ path: String) -> Bool {
        path == "/v2/keys" || path.hasPrefix("/v2/keys/") || path.hasPrefix("/v2/members") || path == "/v2/machines" || path.hasPrefix("/v2/stats/")
    }

    private var clusterID: String { String(member.identity.clusterID, radix: 16) }

    func answer(method: String, uri: String, contentType: String?, body: [UInt8], bodyTooLarge: Bool = false) async -> V2Answer {
        let path = uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? uri
        if path == "/v2/machines" {
            let urls = member.membership.all.flatMap(\.clientURLs).joined(separator: ", ")
            return .whole(status: .ok, headers: [("Content-Type", "text/plain; charset=utf-8")], body: urls, headOnly: method == "HEAD")
        }
        if path.hasPrefix("/v2/members") { return members(method: method, path: path) }
        if path.hasPrefix("/v2/stats/") { return stats(path: path) }
        return await keys(method: method, uri: uri, contentType: contentType, body: body, bodyTooLarge: bodyTooLarge)
    }

    // MARK: - /v2/keys

    private func keys(method: String, uri: String, contentType: String?, body: [UInt8], bodyTooLarge: Bool) async -> V2Answer {
        guard ["GET", "HEAD", "PUT", "POST", "DELETE"].contains(method) else {
            return .whole(status: .methodNotAllowed, headers: [("Allow", "HEAD,GET,PUT,POST,DELETE"), ("Content-Type", "text/plain; charset=utf-8"),
                                                               ("X-Content-Type-Options", "nosniff")],
                          body: "Method Not Allowed\n", headOnly: false)
        }
        let now = Self.unixNanoseconds()
        let request: V2HTTPRequest
        do {
            request = try V2HTTPRequest.parse(method: method, uri: uri, contentType: contentType, body: body, bodyTooLarge: bodyTooLarge, now: now)
        } catch {
            return failure(error)
        }
        switch request.kind {
        case .read(let recursive, let sorted, let quorum):
            if quorum {
                var read = V2Request(method: .quorumGet, path: request.path)
                read.recursive = recursive
                read.sorted = sorted
                read.time = now
                return await propose(read, request: request)
            }
            do {
                let event = try member.v2.withTree { store throws(V2Error) in try store.get(request.path, recursive: recursive, sorted: sorted, now: now) }
                return success(event, request: request)
            } catch {
                return failure(error)
            }
        case .write(let write):
            return await propose(write, request: request)
        case .watch(let recursive, let stream, let waitIndex):
            do {
                let result = try member.v2.withTree { store throws(V2Error) in
                    (try store.watch(request.path, recursive: recursive, stream: stream, sinceIndex: waitIndex), store.currentIndex)
                }
                switch result {
                case (.past(let event), let index):
                    let (events, continuation) = AsyncStream<V2Event>.makeStream()
                    continuation.yield(event)
                    continuation.finish()
                    return .watch(headers: headers(etcdIndex: index), events: events, watcher: nil, stream: false)
                case (.waiting(let watcher, let start), _):
                    return .watch(headers: headers(etcdIndex: start), events: watcher.events, watcher: watcher, stream: stream)
                }
            } catch {
                return failure(error)
            }
        }
    }

    /// Proposes a write (or a quorum read) and answers with what it did.
    private func propose(_ write: V2Request, request: V2HTTPRequest) async -> V2Answer {
        do {
            guard case .v2(let result) = try await member.proposeEntry(.v2(write)) else { throw EtcdError.corrupt }
            switch result {
            case .success(let events):
                guard let event = events.first else { throw EtcdError.corrupt }
                return success(event, request: request)
            case .failure(let error):
                return failure(error)
            }
        } catch {
            return failure(V2Error(V2Error.raftInternal, cause: EtcdError.map(error).message, index: member.v2.currentIndex))
        }
    }

    private func success(_ event: V2Event, request: V2HTTPRequest) -> V2Answer {
        .whole(status: event.isCreation ? .created : .ok, headers: headers(etcdIndex: event.etcdIndex),
               body: V2JSON.event(event, noValue: request.noValueOnSuccess), headOnly: request.headOnly)
    }

    private func failure(_ error: V2Error) -> V2Answer {
        .whole(status: HTTPResponseStatus(statusCode: error.httpStatus),
               headers: [("Content-Type", "application/json"), ("X-Etcd-Cluster-Id", clusterID), ("X-Etcd-Index", "\(error.index)")],
               body: V2JSON.error(error), headOnly: false)
    }

    private func headers(etcdIndex: UInt64) -> [(String, String)] {
        let info = member.raftInfo
        return [("Content-Type", "application/json"), ("X-Etcd-Cluster-Id", clusterID), ("X-Etcd-Index", "\(etcdIndex)"),
                ("X-Raft-Index", "\(info.commitIndex)"), ("X-Raft-Term", "\(info.term)")]
    }

    // MARK: - /v2/members, /v2/stats

    private func members(method: String, path: String) -> V2Answer {
        let json = [("Content-Type", "application/json"), ("X-Etcd-Cluster-Id", clusterID)]
        guard method == "GET" else {
            return .whole(status: .methodNotAllowed, headers: [("Allow", "GET"), ("Content-Type", "text/plain; charset=utf-8")],
                          body: "Method Not Allowed\n", headOnly: false)
        }
        func object(_ record: MemberRecord) -> String {
            "{\"id\":\"\(String(record.id, radix: 16))\",\"name\":" + V2JSON.string(record.name)
                + ",\"peerURLs\":[" + record.peerURLs.map(V2JSON.string).joined(separator: ",")
                + "],\"clientURLs\":[" + record.clientURLs.map(V2JSON.string).joined(separator: ",") + "]}"
        }
        let all = member.membership.all.filter { $0.removed != true }
        switch path {
        case "/v2/members", "/v2/members/":
            return .whole(status: .ok, headers: json, body: "{\"members\":[" + all.map(object).joined(separator: ",") + "]}\n", headOnly: false)
        case "/v2/members/leader":
            guard let leader = all.first(where: { $0.id == member.raftInfo.leader }) else {
                return .whole(status: .serviceUnavailable, headers: json, body: "{\"message\":\"During election\"}", headOnly: false)
            }
            return .whole(status: .ok, headers: json, body: object(leader) + "\n", headOnly: false)
        default:
            return .whole(status: .notFound, headers: json, body: "{\"message\":\"Not found\"}", headOnly: false)
        }
    }

    private func stats(path: String) -> V2Answer {
        let json = [("Content-Type", "application/json")]
        let id = String(member.identity.memberID, radix: 16)
        let info = member.raftInfo
        switch path {
        case "/v2/stats/store":
            let (stats, watchers) = (try? member.v2.withTree { store throws(V2Error) in (store.stats, store.watcherCount) }) ?? (V2StoreStats(), 0)
            let counters: [(String, Int)] = [
                ("getsSuccess", stats.getsSuccess), ("getsFail", stats.getsFail), ("setsSuccess", stats.setsSuccess), ("setsFail", stats.setsFail),
                ("deleteSuccess", stats.deleteSuccess), ("deleteFail", stats.deleteFail), ("updateSuccess", stats.updateSuccess),
                ("updateFail", stats.updateFail), ("createSuccess", stats.createSuccess), ("createFail", stats.createFail),
                ("compareAndSwapSuccess", stats.compareAndSwapSuccess), ("compareAndSwapFail", stats.compareAndSwapFail),
                ("compareAndDeleteSuccess", stats.compareAndDeleteSuccess), ("compareAndDeleteFail", stats.compareAndDeleteFail),
                ("expireCount", stats.expireCount), ("watchers", watchers),
            ]
            let body = "{" + counters.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
            return .whole(status: .ok, headers: json, body: body, headOnly: false)
        case "/v2/stats/self":
            let state = info.role == .leader ? "StateLeader" : "StateFollower"
            let leader = String(info.leader, radix: 16)
            let body = "{\"name\":" + V2JSON.string(member.config.name) + ",\"id\":\"\(id)\",\"state\":\"\(state)\",\"startTime\":\""
                + V2JSON.rfc3339Nano(Self.unixNanoseconds() - Self.nanoseconds(ContinuousClock.now - member.startedAt))
                + "\",\"leaderInfo\":{\"leader\":\"\(leader)\"},\"recvAppendRequestCnt\":0,\"sendAppendRequestCnt\":0}"
            return .whole(status: .ok, headers: json, body: body, headOnly: false)
        case "/v2/stats/leader":
            guard info.role == .leader else {
                return .whole(status: .forbidden, headers: json, body: "{\"message\":\"not current leader\"}", headOnly: false)
            }
            let followers = member.membership.all.filter { $0.id != member.identity.memberID && $0.removed != true }
                .map { "\"\(String($0.id, radix: 16))\":{\"latency\":{},\"counts\":{\"fail\":0,\"success\":0}}" }
            return .whole(status: .ok, headers: json, body: "{\"leader\":\"\(id)\",\"followers\":{" + followers.joined(separator: ",") + "}}",
                          headOnly: false)
        default:
            return .whole(status: .notFound, headers: [("Content-Type", "text/plain; charset=utf-8")], body: "404 page not found\n", headOnly: false)
        }
    }

    static func unixNanoseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }
}

extension Member {
    /// The leader's sweep of expired v2 keys: every 500 ms while some key has an expiry, a sync entry
    /// with the leader's clock (etcd's SYNC request).
    func runV2Expiry() async {
        guard config.enableV2 else { return }
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(500))
            guard isLeader, v2.hasExpiringNodes else { continue }
            _ = try? await proposeEntry(.v2(V2Request(method: .sync, time: V2Endpoints.unixNanoseconds())))
        }
    }
}
