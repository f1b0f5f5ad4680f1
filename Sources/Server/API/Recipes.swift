import EtcdProto
import Foundation
import MVCC

/// The building blocks of etcd's `concurrency` recipes (mutex, election), run inside the member for the
/// v3lock and v3election services. Key layout and semantics are etcd's, so server-side and client-side
/// recipes on the same names exclude each other.
struct Recipes {
    let member: Member

    /// Creates `key` with `value` on `lease` unless it exists; returns its create revision and its
    /// state if it already existed.
    func createOrGet(key: [UInt8], value: [UInt8], lease: Int64) async throws -> (createRevision: Int64, existing: MVCC.KeyValue?) {
        var txn = Etcdserverpb_TxnRequest()
        txn.compare = [.createRevision(of: key, equals: 0)]
        txn.success = [.put(key, value: value, lease: lease)]
        txn.failure = [.get(key)]
        guard case .txn(let result) = try await member.proposeForCaller(.txn(txn)) else { throw EtcdError.corrupt }
        if result.succeeded { return (result.revision, nil) }
        guard case .range(let range)? = result.responses.first, let kv = range.kvs.first else {
            // Deleted between the compare and the read cannot happen inside one txn.
            throw EtcdError.corrupt
        }
        return (kv.createRevision, kv)
    }

    /// The key under `prefix` with the lowest create revision (the lock owner or election leader).
    func owner(prefix: [UInt8]) throws -> MVCC.KeyValue? {
        try member.authorize(Permissions.prefixRead(prefix))
        var request = MVCC.RangeRequest(key: prefix, rangeEnd: prefixEnd(prefix))
        request.sortOrder = .ascend
        request.sortTarget = .create
        request.limit = 1
        return try member.store.range(request).kvs.first
    }

    /// Waits until no key under `prefix` has a create revision below `revision`.
    func waitForDeletes(prefix: [UInt8], before revision: Int64) async throws {
        try member.authorize(Permissions.prefixRead(prefix))
        let end = prefixEnd(prefix)
        while true {
            var request = MVCC.RangeRequest(key: prefix, rangeEnd: end)
            request.maxCreateRevision = revision - 1
            request.sortOrder = .descend
            request.sortTarget = .create
            request.limit = 1
            let result = try member.store.range(request)
            guard let last = result.kvs.first else { return }
            try await waitForDelete(of: last.key, after: result.revision)
        }
    }

    func waitForDelete(of key: [UInt8], after revision: Int64) async throws {
        let stream = member.store.openWatchStream()
        defer { stream.close() }
        var watch = WatchRequest(key: key)
        watch.startRevision = revision + 1
        watch.noPut = true
        _ = try stream.create(watch)
        while let message = await stream.next() {
            try Task.checkCancellation()
            switch message {
            case .events(_, let events, _) where events.contains(where: { $0.kind == .delete }): return
            case .compacted: return
            default: continue
            }
        }
    }

}

/// The end of the range of keys starting with `prefix` (etcd's `GetPrefixRangeEnd`).
func prefixEnd(_ prefix: [UInt8]) -> [UInt8] { KeyRanges.prefixEnd(of: prefix) }
