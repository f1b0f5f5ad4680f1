import Foundation
import LMDB
@testable import MVCC
import Testing

/// A unique temporary directory, removed by `remove()`.
struct TempDir {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "mvcctests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

func b(_ s: String) -> [UInt8] { Array(s.utf8) }
func s(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// etcd's prefix range end: the key with its last byte below 0xff incremented, or `[0]` (every key).
func prefixEnd(_ key: [UInt8]) -> [UInt8] {
    var end = key
    while let last = end.last {
        if last < 0xff {
            end[end.count - 1] = last + 1
            return end
        }
        end.removeLast()
    }
    return [0]
}

/// A store in a temporary directory, with helpers that apply one log entry per call.
final class TestStore {
    let dir: TempDir
    private(set) var store: MVCCStore
    var index: UInt64
    let options: StoreOptions

    init(options: StoreOptions = { var o = StoreOptions(); o.noSync = true; return o }()) throws {
        dir = try TempDir()
        self.options = options
        store = try MVCCStore(path: dir.path + "/store.mdb", options: options)
        index = store.consistentIndex
    }

    deinit { dir.remove() }

    /// Closes and reopens the store from its file.
    func reopen() throws {
        store = try MVCCStore(path: dir.path + "/store.mdb", options: options)
        index = store.consistentIndex
    }

    var revision: Int64 { store.currentRevision }

    @discardableResult
    func apply(_ operation: MVCC.Operation) throws -> OperationResult {
        index += 1
        let results = try store.apply([(index: index, operation: operation)])
        guard results.count == 1, let result = results[0] else {
            Issue.record("apply returned \(results) for a new entry")
            return .failure(.storage(LMDBError(code: -1)))
        }
        return result
    }

    /// Applies a transaction; records an issue unless it produced a `.txn` result.
    @discardableResult
    func txn(_ request: TxnRequest, sourceLocation: SourceLocation = #_sourceLocation) throws -> TxnResult? {
        let result = try apply(.txn(request))
        guard case .txn(let txn) = result else {
            Issue.record("expected a txn result, got \(result)", sourceLocation: sourceLocation)
            return nil
        }
        return txn
    }

    @discardableResult
    func put(_ key: String, _ value: String, lease: Int64 = 0, prevKV: Bool = false) throws -> PutResult? {
        try put(b(key), b(value), lease: lease, prevKV: prevKV)
    }

    @discardableResult
    func put(_ key: [UInt8], _ value: [UInt8], lease: Int64 = 0, prevKV: Bool = false) throws -> PutResult? {
        var request = PutRequest(key: key, value: value, lease: lease)
        request.prevKV = prevKV
        guard let result = try txn(TxnRequest(success: [.put(request)])),
              result.responses.count == 1, case .put(let put) = result.responses[0]
        else { return nil }
        return put
    }

    @discardableResult
    func delete(_ key: String, _ rangeEnd: String = "", prevKV: Bool = false) throws -> DeleteRangeResult? {
        try delete(b(key), b(rangeEnd), prevKV: prevKV)
    }

    @discardableResult
    func delete(_ key: [UInt8], _ rangeEnd: [UInt8] = [], prevKV: Bool = false) throws -> DeleteRangeResult? {
        guard let result = try txn(TxnRequest(success: [.deleteRange(DeleteRangeRequest(key: key, rangeEnd: rangeEnd, prevKV: prevKV))])),
              result.responses.count == 1, case .deleteRange(let delete) = result.responses[0]
        else { return nil }
        return delete
    }

    func get(_ key: String, revision: Int64 = 0) throws -> KeyValue? {
        try get(b(key), revision: revision)
    }

    func get(_ key: [UInt8], revision: Int64 = 0) throws -> KeyValue? {
        var request = RangeRequest(key: key)
        request.revision = revision
        let result = try store.range(request)
        #expect(result.kvs.count <= 1)
        return result.kvs.first
    }

    /// The keys (as strings) of a range.
    func keys(_ key: String, _ rangeEnd: String, revision: Int64 = 0) throws -> [String] {
        var request = RangeRequest(key: b(key), rangeEnd: b(rangeEnd))
        request.revision = revision
        return try store.range(request).kvs.map { s($0.key) }
    }

    func grant(_ id: Int64, ttl: Int64 = 100) throws {
        let result = try apply(.leaseGrant(Lease(id: id, ttl: ttl)))
        guard case .leaseGrant(let lease, _) = result, lease.id == id else {
            Issue.record("grant \(id) gave \(result)")
            return
        }
    }
}

/// Takes the next message of `stream`; a watchdog closes the stream (so the test fails instead of
/// hanging) if none comes within a few seconds.
func take(_ stream: WatchStream, sourceLocation: SourceLocation = #_sourceLocation) async -> WatchMessage? {
    let watchdog = Task {
        try await Task.sleep(for: .seconds(10))
        stream.close()
    }
    defer { watchdog.cancel() }
    let message = await stream.next()
    if message == nil { Issue.record("no watch message", sourceLocation: sourceLocation) }
    return message
}

/// Reads messages until `count` events arrived for `watchID`; every message must be an events message
/// of that watch.
func takeEvents(_ stream: WatchStream, watchID: Int64, count: Int, sourceLocation: SourceLocation = #_sourceLocation) async -> [Event] {
    var events: [Event] = []
    while events.count < count {
        guard let message = await take(stream, sourceLocation: sourceLocation) else { break }
        guard case .events(let id, let batch, _) = message, id == watchID else {
            Issue.record("expected events of watch \(watchID), got \(message)", sourceLocation: sourceLocation)
            break
        }
        events += batch
    }
    return events
}

/// Nothing is queued and every watcher is synced: a further `next()` would wait.
func expectIdle(_ stream: WatchStream, sourceLocation: SourceLocation = #_sourceLocation) {
    let status = stream.queueStatus
    #expect(status.messages == 0, "messages queued", sourceLocation: sourceLocation)
    #expect(status.unsynced == 0, "watchers unsynced", sourceLocation: sourceLocation)
}
