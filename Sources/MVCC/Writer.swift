import LMDB

/// Applies operations inside the apply thread's LMDB write transaction and records what changed.
struct Writer {
    let txn: WriteTransaction
    let schema: Schema
    /// The store's revision, advanced by each operation that changes something.
    var revision: Int64
    /// The revision history is compacted to, as of the operation being applied (a compaction earlier
    /// in the batch moves it, so that each entry sees what it would see applied alone: members batch
    /// entries differently and must still agree).
    var compactRevision: Int64
    /// Events produced, in revision order, for watchers.
    var events: [Event] = []
    /// Leases granted and revoked, for the in-memory lessor after commit.
    var grantedLeases: [Lease] = []
    var revokedLeases: [Int64] = []
    /// The revision history was compacted to by this batch, if any.
    var newCompactRevision: Int64?

    private var reader: Reader { Reader(txn: txn, schema: schema) }

    init(txn: WriteTransaction, schema: Schema) throws {
        self.txn = txn
        self.schema = schema
        let reader = Reader(txn: txn, schema: schema)
        revision = try reader.currentRevision()
        compactRevision = try reader.compactRevision()
    }

    mutating func apply(_ operation: Operation) throws -> OperationResult {
        do {
            switch operation {
            case .txn(let request):
                return .txn(try applyTxn(request))
            case .compact(let target):
                try compact(to: target)
                return .compact(revision: revision)
            case .leaseGrant(let lease):
                let key = leaseKey(lease.id)
                if try txn.get(schema.leases, key) != nil { throw MVCCError.leaseExists }
                var ttl = [UInt8]()
                ttl.appendBigEndian(UInt64(bitPattern: lease.ttl))
                try txn.put(schema.leases, key, ttl)
                // Keep the lessor's view ordered: a grant after a revoke of the same id in this batch wins.
                revokedLeases.removeAll { $0 == lease.id }
                grantedLeases.append(lease)
                return .leaseGrant(lease, revision: revision)
            case .leaseRevoke(let id):
                try revoke(id)
                return .leaseRevoke(revision: revision)
            case .noop:
                return .noop(revision: revision)
            case .clusterRecord(let key, let value):
                try writeRecord(key, value)
                return .noop(revision: revision)
            case .clusterRecords(let changes):
                for change in changes { try writeRecord(change.key, change.value) }
                return .noop(revision: revision)
            }
        } catch let error as MVCCError {
            return .failure(error)
        }
    }

    private func writeRecord(_ key: [UInt8], _ value: [UInt8]?) throws {
        if let value {
            try txn.put(schema.cluster, key, value)
        } else {
            try txn.delete(schema.cluster, key)
        }
    }

    /// Writes the meta records for the batch.
    func finish(consistentIndex: UInt64) throws {
        var index = [UInt8]()
        index.appendBigEndian(consistentIndex)
        try txn.put(schema.meta, MetaKey.consistentIndex, index)
        var rev = [UInt8]()
        rev.appendBigEndian(UInt64(bitPattern: revision))
        try txn.put(schema.meta, MetaKey.currentRevision, rev)
    }

    // MARK: - Transactions

    /// Per-transaction state: the revision it started at and the changes made so far.
    private struct TxnState {
        let begin: Int64
        var changes: Int64 = 0
        /// The revision reads inside the transaction see: its own writes once there are any.
        var readRevision: Int64 { changes > 0 ? begin + 1 : begin }
        var writeRevision: Int64 { begin + 1 }
    }

    private mutating func applyTxn(_ request: TxnRequest) throws -> TxnResult {
        var state = TxnState(begin: revision)
        if request.compare.contains(where: { $0.key.isEmpty }) { throw MVCCError.emptyKey }
        // As etcd, choose every branch (nested ones too) against the state before the transaction,
        // and check the chosen path before changing anything.
        let path = try choosePath(request, at: state.begin)
        try check(request, path: path[...])
        var pathSlice = path[...]
        let (succeeded, responses) = try execute(request, path: &pathSlice, state: &state)
        if state.changes > 0 { revision = state.writeRevision }
        return TxnResult(succeeded: succeeded, responses: responses, revision: revision)
    }

    /// The outcome of each transaction's compares, depth-first in execution order.
    private func choosePath(_ request: TxnRequest, at main: Int64) throws -> [Bool] {
        let succeeded = try request.compare.allSatisfy { try reader.holds($0, at: main) }
        var path = [succeeded]
        for op in succeeded ? request.success : request.failure {
            if case .txn(let inner) = op { path += try choosePath(inner, at: main) }
        }
        return path
    }

    /// Fails the whole transaction before any change if an op on the path cannot succeed.
    private func check(_ request: TxnRequest, path: ArraySlice<Bool>) throws {
        var path = path
        try check(request, path: &path)
    }

    private func check(_ request: TxnRequest, path: inout ArraySlice<Bool>) throws {
        let succeeded = path.removeFirst()
        for op in succeeded ? request.success : request.failure {
            switch op {
            case .put(let put):
                if put.key.isEmpty { throw MVCCError.emptyKey }
                if put.lease != 0, try txn.get(schema.leases, leaseKey(put.lease)) == nil { throw MVCCError.leaseNotFound }
                if put.ignoreValue || put.ignoreLease, try reader.get(put.key, at: revision) == nil { throw MVCCError.keyNotFound }
            case .range(let range):
                if range.key.isEmpty { throw MVCCError.emptyKey }
                if range.revision > revision { throw MVCCError.futureRevision }
                // As etcd's checkRequestRange: any revision but 0 below the compact revision, negative ones too.
                if range.revision != 0 && range.revision < compactRevision { throw MVCCError.compacted }
            case .deleteRange(let delete):
                if delete.key.isEmpty { throw MVCCError.emptyKey }
            case .txn(let inner):
                try check(inner, path: &path)
            }
        }
    }

    private mutating func execute(_ request: TxnRequest, path: inout ArraySlice<Bool>, state: inout TxnState) throws -> (Bool, [ResponseOp]) {
        let succeeded = path.removeFirst()
        var responses: [ResponseOp] = []
        for op in succeeded ? request.success : request.failure {
            switch op {
            case .range(let range):
                var result = try reader.range(range, current: state.readRevision, compacted: compactRevision)
                result.revision = state.readRevision
                responses.append(.range(result))
            case .put(let put):
                responses.append(.put(try self.put(put, state: &state)))
            case .deleteRange(let delete):
                responses.append(.deleteRange(try self.delete(delete, state: &state)))
            case .txn(let inner):
                let (innerSucceeded, innerResponses) = try execute(inner, path: &path, state: &state)
                responses.append(.txn(TxnResult(succeeded: innerSucceeded, responses: innerResponses, revision: state.readRevision)))
            }
        }
        return (succeeded, responses)
    }

    private mutating func put(_ request: PutRequest, state: inout TxnState) throws -> PutResult {
        let main = state.writeRevision
        let indexKey = try KeySpace.indexKeyCreating(for: request.key, in: txn, longKeys: schema.longKeys)
        let cursor = try txn.cursor(schema.index)
        var previous: KeyValue?
        if let entry = try reader.latest(indexKey: indexKey, atOrBefore: main, cursor: cursor), !entry.tombstone {
            previous = try reader.record(at: entry.revision).kv
        }
        var kv = KeyValue(key: request.key, createRevision: main, modRevision: main, version: 1, value: request.value, lease: request.lease)
        if let previous {
            kv.createRevision = previous.createRevision
            kv.version = previous.version + 1
            if request.ignoreValue { kv.value = previous.value }
            if request.ignoreLease { kv.lease = previous.lease }
        }
        let revision = Revision(main: main, sub: state.changes)
        try txn.put(schema.history, revision.encoded, HistoryRecord.encode(kv, tombstone: false))
        try txn.put(schema.index, indexKey, IndexEntry(revision: revision, tombstone: false).encoded)
        if let previous, previous.lease != 0, previous.lease != kv.lease {
            try txn.delete(schema.leaseKeys, leaseKey(previous.lease), value: indexKey)
        }
        if kv.lease != 0 {
            try txn.put(schema.leaseKeys, leaseKey(kv.lease), indexKey)
        }
        state.changes += 1
        events.append(Event(kind: .put, kv: kv, prevKV: previous))
        return PutResult(revision: main, prevKV: request.prevKV ? previous : nil)
    }

    private mutating func delete(_ request: DeleteRangeRequest, state: inout TxnState) throws -> DeleteRangeResult {
        var victims: [(key: [UInt8], indexKey: [UInt8], revision: Revision)] = []
        try reader.forEachLive(key: request.key, rangeEnd: request.rangeEnd, at: state.readRevision) { key, indexKey, live in
            victims.append((key, indexKey, live))
            return true
        }
        var prevKVs: [KeyValue] = []
        let main = state.writeRevision
        for victim in victims {
            let previous = try reader.record(at: victim.revision).kv
            let revision = Revision(main: main, sub: state.changes)
            let tombstone = KeyValue(key: victim.key, modRevision: main)
            try txn.put(schema.history, revision.encoded, HistoryRecord.encode(tombstone, tombstone: true))
            try txn.put(schema.index, victim.indexKey, IndexEntry(revision: revision, tombstone: true).encoded)
            if previous.lease != 0 {
                try txn.delete(schema.leaseKeys, leaseKey(previous.lease), value: victim.indexKey)
            }
            state.changes += 1
            events.append(Event(kind: .delete, kv: tombstone, prevKV: previous))
            if request.prevKV { prevKVs.append(previous) }
        }
        let resultRevision = state.changes > 0 ? main : state.begin
        return DeleteRangeResult(revision: resultRevision, deleted: Int64(victims.count), prevKVs: prevKVs)
    }

    // MARK: - Leases

    private mutating func revoke(_ id: Int64) throws {
        let key = leaseKey(id)
        guard try txn.get(schema.leases, key) != nil else { throw MVCCError.leaseNotFound }
        var attached: [[UInt8]] = []
        let cursor = try txn.cursor(schema.leaseKeys)
        if var entry = try cursor.seek(exactly: key) {
            while true {
                attached.append(entry.value)
                guard let next = try cursor.nextValue() else { break }
                entry = next
            }
        }
        var fullKeys = try attached.map { try KeySpace.fullKey(of: $0, in: txn, longKeys: schema.longKeys) }
        fullKeys.sort(by: lexicographicallyLess)
        var state = TxnState(begin: revision)
        for fullKey in fullKeys {
            _ = try delete(DeleteRangeRequest(key: fullKey), state: &state)
        }
        if state.changes > 0 { revision = state.writeRevision }
        try txn.delete(schema.leases, key)
        try txn.delete(schema.leaseKeys, key)
        grantedLeases.removeAll { $0.id == id }
        revokedLeases.append(id)
    }

    // MARK: - Compaction

    /// Removes every revision of every key that is superseded at `target`, and tombstones at or below it.
    private mutating func compact(to target: Int64) throws {
        if target > revision { throw MVCCError.futureRevision }
        if target <= compactRevision { throw MVCCError.compacted }
        let cursor = try txn.cursor(schema.index)
        var current = try cursor.first()
        var emptied: [[UInt8]] = []
        while let first = current {
            let indexKey = first.key
            // Values of this key at or below the target, oldest first.
            var old: [IndexEntry] = []
            var entry: Entry? = first
            while let value = entry {
                let decoded = IndexEntry(encoded: value.value)
                if decoded.revision.main > target { break }
                old.append(decoded)
                entry = try cursor.nextValue()
            }
            var remove = old.dropLast()
            var keyEmptied = false
            if let newest = old.last, newest.tombstone {
                remove = old[...]
                keyEmptied = entry == nil
            }
            for victim in remove {
                try txn.delete(schema.history, victim.revision.encoded)
                try txn.delete(schema.index, indexKey, value: victim.encoded)
            }
            if keyEmptied { emptied.append(indexKey) }
            current = try cursor.seek(atLeast: indexKey + [0])
        }
        for indexKey in emptied where KeySpace.isLong(indexKey: indexKey) {
            let bucket = Array(indexKey.prefix(KeySpace.bucketLength))
            let id = indexKey.readBigEndian(at: KeySpace.bucketLength)
            let remaining = (try txn.get(schema.longKeys, bucket).map(KeySpace.decodeBucket) ?? []).filter { $0.id != id }
            if remaining.isEmpty {
                try txn.delete(schema.longKeys, bucket)
            } else {
                try txn.put(schema.longKeys, bucket, KeySpace.encodeBucket(remaining))
            }
        }
        var bytes = [UInt8]()
        bytes.appendBigEndian(UInt64(bitPattern: target))
        try txn.put(schema.meta, MetaKey.compactRevision, bytes)
        compactRevision = target
        newCompactRevision = target
    }
}

/// The 8-byte big-endian key of a lease id.
func leaseKey(_ id: Int64) -> [UInt8] {
    var key = [UInt8]()
    key.appendBigEndian(UInt64(bitPattern: id))
    return key
}
