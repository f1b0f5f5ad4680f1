import EtcdProto
import GRPCCore
import MVCC

/// etcd's Watch service: one `WatchStream` of the store per client stream. Requests are read in one
/// task; responses are written in order by another, as the stream produces them.
struct WatchService: Etcdserverpb_Watch.SimpleServiceProtocol {
    /// The store's watch for a create request; nil, as etcd refuses it, when its range end is not past
    /// its key (and not "\0", every key from the key on): such a range holds nothing.
    static func watch(for create: Etcdserverpb_WatchCreateRequest) -> WatchRequest? {
        let fromKey = create.rangeEnd.count == 1 && create.rangeEnd.first == 0
        if !create.rangeEnd.isEmpty, !fromKey, !create.key.lexicographicallyPrecedes(create.rangeEnd) { return nil }
        var watch = WatchRequest(key: create.key.isEmpty ? [0] : [UInt8](create.key), rangeEnd: [UInt8](create.rangeEnd))
        watch.startRevision = create.startRevision
        watch.prevKV = create.prevKv
        watch.watchID = create.watchID
        watch.noPut = create.filters.contains(.noput)
        watch.noDelete = create.filters.contains(.nodelete)
        return watch
    }

    let member: Member

    func watch(
        request: RPCAsyncSequence<Etcdserverpb_WatchRequest, any Error>,
        response: RPCWriter<Etcdserverpb_WatchResponse>,
        context: ServerContext
    ) async throws {
        let stream = member.store.openWatchStream()
        let member = self.member
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { stream.close() }
                for try await message in request {
                    await stream.waitForRoom()
                    switch message.requestUnion {
                    case .createRequest(let create):
                        guard let watch = Self.watch(for: create) else {
                            stream.reject(reason: "mvcc: watcher range is empty")
                            continue
                        }
                        do {
                            try member.authorize { state, user in state.permits(user, write: false, key: watch.key, rangeEnd: watch.rangeEnd) }
                        } catch let error as RPCError {
                            // Refused as etcd refuses it: a created-and-canceled answer, the stream stays open.
                            stream.reject(reason: "rpc error: code = \(error.code.goName) desc = \(error.message)")
                            continue
                        }
                        do {
                            _ = try stream.create(watch)
                        } catch {
                            stream.reject(reason: "mvcc: duplicate watch ID provided on the WatchStream")
                        }
                    case .cancelRequest(let cancel):
                        stream.cancel(cancel.watchID)
                    case .progressRequest:
                        stream.requestProgress()
                    case nil:
                        continue
                    }
                }
            }
            group.addTask {
                while let message = await stream.next() {
                    try await response.write(Self.response(for: message, member: member))
                }
            }
            defer { stream.close() }
            try await group.next()
            stream.close()
            try await group.waitForAll()
        }
    }

    /// The wire message for a stream message.
    static func response(for message: WatchMessage, member: Member) -> Etcdserverpb_WatchResponse {
        var response = Etcdserverpb_WatchResponse()
        switch message {
        case .created(let id, let revision):
            response.header = member.header(revision: revision)
            response.watchID = id
            response.created = true
        case .events(let id, let events, let revision):
            response.header = member.header(revision: revision)
            response.watchID = id
            response.events = events.map(Mvccpb_Event.init)
        case .compacted(let id, let compactRevision, _):
            // etcd's compaction notice carries no revision in its header.
            response.header = member.header(revision: 0)
            response.watchID = id
            response.compactRevision = compactRevision
            response.canceled = true
        case .canceled(let id, let revision):
            response.header = member.header(revision: revision)
            response.watchID = id
            response.canceled = true
        case .progress(let revision):
            response.header = member.header(revision: revision)
            response.watchID = -1
        case .rejected(let reason, let revision):
            response.header = member.header(revision: revision)
            response.watchID = -1
            response.created = true
            response.canceled = true
            response.cancelReason = reason
        }
        return response
    }
}
