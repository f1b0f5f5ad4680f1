/// A key's state at one revision, as etcd's `mvccpb.KeyValue`.
public struct KeyValue: Sendable, Equatable {
    public var key: [UInt8]
    /// Revision of the last creation of the key (0 in a delete event).
    public var createRevision: Int64
    /// Revision of the last change to the key.
    public var modRevision: Int64
    /// Number of changes since creation; 0 means deleted.
    public var version: Int64
    public var value: [UInt8]
    /// The lease attached to the key, or 0.
    public var lease: Int64

    public init(key: [UInt8], createRevision: Int64 = 0, modRevision: Int64 = 0, version: Int64 = 0, value: [UInt8] = [], lease: Int64 = 0) {
        self.key = key
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
        self.value = value
        self.lease = lease
    }
}

/// One change to a key, as delivered to watchers.
public struct Event: Sendable, Equatable {
    /// Whether the change wrote or deleted the key.
    public enum Kind: Sendable { case put, delete }
    public var kind: Kind
    /// For a put, the new state; for a delete, only `key` and `modRevision` are set.
    public var kv: KeyValue
    /// The key's state before the change, if it existed.
    public var prevKV: KeyValue?

    public init(kind: Kind, kv: KeyValue, prevKV: KeyValue?) {
        self.kind = kind
        self.kv = kv
        self.prevKV = prevKV
    }
}

/// The encoding of one entry of the history database: the change made at a revision.
/// Layout: tombstone flag (1), create revision (8), version (8), lease (8), key length (4), key, value.
enum HistoryRecord {
    static func encode(_ kv: KeyValue, tombstone: Bool) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(29 + kv.key.count + kv.value.count)
        bytes.append(tombstone ? 1 : 0)
        bytes.appendBigEndian(UInt64(bitPattern: kv.createRevision))
        bytes.appendBigEndian(UInt64(bitPattern: kv.version))
        bytes.appendBigEndian(UInt64(bitPattern: kv.lease))
        bytes.appendBigEndian32(UInt32(kv.key.count))
        bytes.append(contentsOf: kv.key)
        bytes.append(contentsOf: kv.value)
        return bytes
    }

    /// Decodes a record stored at `revision`; `tombstone` tells whether it records a deletion.
    static func decode(_ bytes: [UInt8], revision: Revision) -> (kv: KeyValue, tombstone: Bool) {
        let tombstone = bytes[0] == 1
        let create = Int64(bitPattern: bytes.readBigEndian(at: 1))
        let version = Int64(bitPattern: bytes.readBigEndian(at: 9))
        let lease = Int64(bitPattern: bytes.readBigEndian(at: 17))
        let keyCount = Int(bytes.readBigEndian32(at: 25))
        let key = Array(bytes[29..<(29 + keyCount)])
        let value = Array(bytes[(29 + keyCount)...])
        return (KeyValue(key: key, createRevision: create, modRevision: revision.main, version: version, value: value, lease: lease), tombstone)
    }
}
