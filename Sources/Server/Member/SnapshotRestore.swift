import Crypto
import Foundation
import MVCC
import Raft
import WAL

/// Turns a snapshot file (from `etcdctl snapshot save` or setcdctl's) into the data dir of a member
/// of a new cluster, as `etcdctl snapshot restore` / `etcdutl snapshot restore` do: the keys, history
/// and leases come from the snapshot; the membership is the one `--initial-cluster` names; the raft
/// log starts with a snapshot of the restored state, so every member restored from the same file with
/// the same flags starts identical.
public enum SnapshotRestore {
    /// etcd's restore flags.
    public struct Options: Sendable {
        public var snapshotPath: String
        public var name = "default"
        /// Defaults to `<name>.etcd`, as etcdctl's restore.
        public var dataDir: String?
        public var initialCluster = "default=http://localhost:2380"
        public var initialClusterToken = "etcd-cluster"
        public var initialAdvertisePeerURLs = ["http://localhost:2380"]
        public var skipHashCheck = false

        public init(snapshotPath: String) {
            self.snapshotPath = snapshotPath
        }

        public var resolvedDataDir: String { dataDir ?? "\(name).etcd" }
    }

    /// What a restore reports.
    public struct Outcome: Sendable {
        public var memberID: UInt64
        public var clusterID: UInt64
        public var dataDir: String
    }

    /// Restores the snapshot; throws `ConfigError` with etcd's message for bad input.
    public static func restore(_ options: Options) throws -> Outcome {
        let dataDir = options.resolvedDataDir
        if FileManager.default.fileExists(atPath: dataDir) {
            throw ConfigError("data-dir \"\(dataDir)\" exists")
        }
        let members = try MemberRecord.parseInitialCluster(options.initialCluster, clusterToken: options.initialClusterToken)
        guard let local = members.first(where: { $0.name == options.name }) else {
            throw ConfigError("couldn't find local name \"\(options.name)\" in the initial cluster configuration")
        }
        guard Set(local.peerURLs) == Set(options.initialAdvertisePeerURLs) else {
            throw ConfigError("--initial-cluster has \(local.name)=\(local.peerURLs.joined(separator: ",")) but missing from --initial-advertise-peer-urls=\(options.initialAdvertisePeerURLs.joined(separator: ","))")
        }
        let store = try storeBytes(of: options.snapshotPath, skipHashCheck: options.skipHashCheck)

        let memberDir = dataDir + "/member"
        try FileManager.default.createDirectory(atPath: memberDir + "/snap", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try writeFileDurably(store, to: memberDir + "/kv.mdb")

        // The new cluster's log begins with a snapshot at index n (one entry per member, as if the
        // bootstrap entries had been applied), term 1.
        let index = UInt64(members.count)
        let records = members.map { (key: $0.storeKey, value: $0.encoded()) }
        do {
            let kv = try MVCCStore(path: memberDir + "/kv.mdb")
            // Users and roles come along, as in etcd; members and alarms are the new cluster's.
            let auth = try kv.clusterRecords().filter { $0.key == AuthState.recordKey }
            try kv.resetCluster(records: records + auth, consistentIndex: index)
            try kv.sync()
        }
        let metadata = SnapshotMetadata(index: index, term: 1, confState: ConfState(voters: members.map(\.id)))
        try SnapshotMetadataFile(metadata).save(to: RaftLoop.snapshotMetadataPath(memberDir: memberDir, index: index))
        let (wal, _) = try WriteAheadLog.open(directory: memberDir + "/wal")
        try wal.saveSnapshotMarker(WALSnapshotMarker(index: index, term: 1))
        try wal.save(entries: [], hardState: WALHardState(term: 1, vote: 0, commit: index))
        wal.close()

        let clusterID = MemberRecord.computeClusterID(memberIDs: members.map(\.id))
        let identity = Identity(format: Identity.currentFormat, name: options.name, memberID: local.id, clusterID: clusterID)
        try identity.save(to: memberDir + "/identity.json")
        return Outcome(memberID: local.id, clusterID: clusterID, dataDir: dataDir)
    }

    /// What `snapshot status` prints of a snapshot file (etcdctl's DBStatus).
    public struct Status: Sendable, Equatable {
        /// A CRC-32 of the store's whole content.
        public var hash: UInt32
        /// The store's current revision.
        public var revision: Int64
        /// Entries in all of the store's databases (history, index, leases, ...), as etcd counts keys in
        /// all of its buckets.
        public var totalKey: Int
        /// Bytes of the store file.
        public var totalSize: Int64
    }

    /// Reads a snapshot file's status; throws `ConfigError` for a missing or damaged file.
    public static func status(of path: String) throws -> Status {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ConfigError("stat \(path): no such file or directory")
        }
        // A file copied from a data dir has no hash to check; a saved snapshot's hash must match.
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let store = try storeBytes(of: path, skipHashCheck: size % 512 != 32)
        // Opened from a private copy: LMDB needs a writable file, and the snapshot must stay untouched.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("setcdctl-status-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try Data(store).write(to: URL(fileURLWithPath: scratch + "/kv.mdb"))
        do {
            let content = try MVCCStore(path: scratch + "/kv.mdb").contentStatus()
            return Status(hash: content.hash, revision: content.revision, totalKey: content.totalKey, totalSize: Int64(store.count))
        } catch {
            throw ConfigError("invalid snapshot file \(path): \(error)")
        }
    }

    /// The store file inside a snapshot file: a snapshot saved from a server ends with the SHA-256 of
    /// what precedes it, checked unless `skipHashCheck` (for a copy of a data dir's store file).
    static func storeBytes(of path: String, skipHashCheck: Bool) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError("open \(path): no such file or directory")
        }
        let bytes = Array(data)
        // An LMDB file is a whole number of pages; a saved snapshot has 32 bytes of hash after them.
        let hasHash = bytes.count % 512 == 32
        if skipHashCheck { return hasHash ? Array(bytes.dropLast(32)) : bytes }
        guard hasHash else { throw ConfigError("snapshot missing hash but --skip-hash-check=false") }
        let body = bytes.dropLast(32)
        let expected = Array(SHA256.hash(data: Data(body)))
        guard Array(bytes.suffix(32)) == expected else {
            throw ConfigError("expected sha256 \(Array(bytes.suffix(32))), got \(expected)")
        }
        return Array(body)
    }
}
