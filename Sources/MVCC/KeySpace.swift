import LMDB

/// How user keys map to LMDB keys of the index database, given LMDB's 511-byte key limit.
///
/// A key of at most `directLimit` bytes is its own index key. A longer key is stored under
/// `prefix(directLimit) + [0x00] + id` (8-byte big-endian id), and the `longKeys` database maps the
/// bucket `prefix(directLimit) + [0x00]` to the full keys sharing that prefix. Bucket keys sort exactly
/// where their full keys would among the direct keys (a direct key is at most `directLimit` bytes, so
/// none can start with a bucket); inside a bucket, range scans sort by full key.
enum KeySpace {
    static let directLimit = 480
    static let bucketLength = directLimit + 1
    static let longIndexKeyLength = directLimit + 9

    static func isLong(indexKey: [UInt8]) -> Bool { indexKey.count == longIndexKeyLength }

    static func bucket(of key: [UInt8]) -> [UInt8] { Array(key.prefix(directLimit)) + [0] }

    /// Decodes a `longKeys` value: a list of (id, full key).
    static func decodeBucket(_ bytes: [UInt8]) -> [(id: UInt64, key: [UInt8])] {
        var result: [(UInt64, [UInt8])] = []
        var offset = 0
        while offset + 12 <= bytes.count {
            let id = bytes.readBigEndian(at: offset)
            let count = Int(bytes.readBigEndian32(at: offset + 8))
            offset += 12
            result.append((id, Array(bytes[offset..<(offset + count)])))
            offset += count
        }
        return result
    }

    static func encodeBucket(_ entries: [(id: UInt64, key: [UInt8])]) -> [UInt8] {
        var bytes = [UInt8]()
        for entry in entries {
            // id (8 bytes) then length (4 bytes), both big-endian.
            bytes.appendBigEndian(entry.id)
            bytes.appendBigEndian32(UInt32(entry.key.count))
            bytes.append(contentsOf: entry.key)
        }
        return bytes
    }

    /// The index key of `key`, or nil if it is a long key never stored.
    static func indexKey(for key: [UInt8], in txn: ReadTransaction, longKeys: Database) throws -> [UInt8]? {
        guard key.count > directLimit else { return key }
        let bucket = bucket(of: key)
        guard let stored = try txn.get(longKeys, bucket) else { return nil }
        guard let entry = decodeBucket(stored).first(where: { $0.key == key }) else { return nil }
        return longIndexKey(bucket: bucket, id: entry.id)
    }

    /// The index key of `key`, registering a long key if it is new.
    static func indexKeyCreating(for key: [UInt8], in txn: WriteTransaction, longKeys: Database) throws -> [UInt8] {
        guard key.count > directLimit else { return key }
        let bucket = bucket(of: key)
        var entries = try txn.get(longKeys, bucket).map(decodeBucket) ?? []
        if let entry = entries.first(where: { $0.key == key }) {
            return longIndexKey(bucket: bucket, id: entry.id)
        }
        let id = (entries.map(\.id).max() ?? 0) + 1
        entries.append((id, key))
        try txn.put(longKeys, bucket, encodeBucket(entries))
        return longIndexKey(bucket: bucket, id: id)
    }

    static func longIndexKey(bucket: [UInt8], id: UInt64) -> [UInt8] {
        var key = bucket
        key.appendBigEndian(id)
        return key
    }

    /// The full user key of an index key.
    static func fullKey(of indexKey: [UInt8], in txn: ReadTransaction, longKeys: Database) throws -> [UInt8] {
        guard isLong(indexKey: indexKey) else { return indexKey }
        let bucket = Array(indexKey.prefix(bucketLength))
        let id = indexKey.readBigEndian(at: bucketLength)
        guard let stored = try txn.get(longKeys, bucket),
              let entry = decodeBucket(stored).first(where: { $0.id == id })
        else { preconditionFailure("long key \(id) missing from its bucket") }
        return entry.key
    }
}

/// One value of a key in the index database: the revision of a change and whether it deleted the key.
/// Encoded as the 16-byte revision plus a flag byte, so a key's values sort by revision.
struct IndexEntry: Equatable {
    var revision: Revision
    var tombstone: Bool

    var encoded: [UInt8] {
        var bytes = revision.encoded
        bytes.append(tombstone ? 1 : 0)
        return bytes
    }

    init(revision: Revision, tombstone: Bool) {
        self.revision = revision
        self.tombstone = tombstone
    }

    init(encoded bytes: [UInt8]) {
        revision = Revision(encoded: bytes)
        tombstone = bytes[16] == 1
    }
}

/// Compares byte strings lexicographically, as etcd compares keys.
@inline(__always)
func lexicographicallyLess(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    a.lexicographicallyPrecedes(b)
}
