import EtcdProto
import Foundation
import GRPCCore
import Synchronization

/// What to watch.
public struct WatchOptions: Sendable {
    /// The key, or the start of the range.
    public var key: [UInt8]
    /// The end of the range (exclusive); empty for `key` alone, `[0]` for every key from `key` on.
    public var rangeEnd: [UInt8] = []
    /// The first revision to report; 0 for changes after now.
    public var startRevision: Int64 = 0
    /// Include each change's previous key-value.
    public var prevKV = false
    /// Ask the server for periodic progress notifications.
    public var progressNotify = false
    public var filters: [Etcdserverpb_WatchCreateRequest.FilterType] = []

    public init(key: [UInt8], rangeEnd: [UInt8] = [], startRevision: Int64 = 0) {
        self.key = key
        self.rangeEnd = rangeEnd
        self.startRevision = startRevision
    }

    /// Every key starting with `prefix`.
    public static func prefix(_ prefix: String, startRevision: Int64 = 0) -> WatchOptions {
        let key = Array(prefix.utf8)
        return WatchOptions(key: key, rangeEnd: EtcdClient.prefixEnd(of: key), startRevision: startRevision)
    }
}

extension EtcdClient {
    /// The changes to the watched keys, one server response (one or more whole revisions) at a time.
    ///
    /// The watch survives the loss of the member it runs on: it reconnects (to another endpoint when
    /// there is one) and resumes from the revision after the last one it delivered, so no event is
    /// missed or repeated. It ends with `EtcdClientError.compacted` when the revision it needs was
    /// compacted meanwhile, and when the task iterating it is cancelled.
    public func watch(_ watch: WatchOptions) -> AsyncThrowingStream<Etcdserverpb_WatchResponse, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    try await runWatch(watch, continuation: continuation)
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private func runWatch(_ watch: WatchOptions, continuation: AsyncThrowingStream<Etcdserverpb_WatchResponse, any Error>.Continuation) async throws {
        // The first revision not yet delivered (0 until the server tells the current one), kept
        // across reconnects.
        let progress = WatchCursor(watch.startRevision)
        var backoff: Duration = .milliseconds(50)
        while !Task.isCancelled {
            let next = progress.next
            var create = Etcdserverpb_WatchCreateRequest()
            create.key = Data(watch.key)
            create.rangeEnd = Data(watch.rangeEnd)
            create.startRevision = next
            create.prevKv = watch.prevKV
            create.progressNotify = watch.progressNotify
            create.filters = watch.filters
            var watchRequest = Etcdserverpb_WatchRequest()
            watchRequest.createRequest = create
            let request = watchRequest
            do {
                // The request side stays open while events flow: etcd ends a watch stream whose client
                // closed its side.
                let (done, doneSignal) = AsyncStream<Void>.makeStream()
                var requireLeader = CallOptions.defaults
                requireLeader.timeout = nil
                var watchMetadata = metadata
                watchMetadata.replaceOrAddString("true", forKey: "hasleader")
                try await watcher.watch(metadata: watchMetadata, options: requireLeader, requestProducer: { writer in
                    try await writer.write(request)
                    for await _ in done {}
                }, onResponse: { response in
                    defer { doneSignal.finish() }
                    for try await message in response.messages {
                        if message.canceled {
                            if message.compactRevision > 0 { throw EtcdClientError.compacted(revision: message.compactRevision) }
                            throw EtcdClientError.watchCanceled(reason: message.cancelReason)
                        }
                        if message.created {
                            // Watching "from now": later reconnects resume after the revision it started at.
                            progress.startIfUnset(at: message.header.revision + 1)
                            continue
                        }
                        if let last = message.events.last {
                            progress.advance(to: last.kv.modRevision + 1)
                            continuation.yield(message)
                        } else if message.header.revision >= progress.next {
                            // A progress notification: every change up to it has been delivered.
                            progress.advance(to: message.header.revision + 1)
                            continuation.yield(message)
                        }
                    }
                })
            } catch let error as EtcdClientError {
                throw error
            } catch where !Task.isCancelled {
                // The member went away (or lost its leader, or no longer knows our token): reconnect
                // and resume where we were.
                if let rpc = error as? RPCError, configuration.credentials != nil, Self.isStaleToken(rpc) {
                    try? await refreshToken(initial: false)
                }
                try await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(1))
                continue
            }
            backoff = .milliseconds(50)
        }
    }
}

/// The first revision a watch has not delivered yet, shared between its reconnects.
final class WatchCursor: Sendable {
    private let revision: Mutex<Int64>

    init(_ start: Int64) { revision = Mutex(start) }

    var next: Int64 { revision.withLock { $0 } }

    func advance(to next: Int64) { revision.withLock { $0 = max($0, next) } }

    /// For a watch from "now": the revision after the one the server started it at.
    func startIfUnset(at next: Int64) { revision.withLock { if $0 == 0 { $0 = next } } }
}

extension EtcdClient {
    /// One raw `Watch` stream, as etcd's API has it: every request `requests` yields is sent on the
    /// stream, and every response comes back as the server sent it, `created` and `canceled` ones
    /// included. Many watchers share the stream (etcd's benchmark multiplexes them so). Unlike
    /// `watch(_:)` it neither reconnects nor resumes; it ends when the server or `requests` does.
    public func watchStream(_ requests: AsyncStream<Etcdserverpb_WatchRequest>) -> AsyncThrowingStream<Etcdserverpb_WatchResponse, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    var noTimeout = CallOptions.defaults
                    noTimeout.timeout = nil
                    try await watcher.watch(metadata: metadata, options: noTimeout, requestProducer: { writer in
                        for await request in requests { try await writer.write(request) }
                    }, onResponse: { response in
                        for try await message in response.messages { continuation.yield(message) }
                    })
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
