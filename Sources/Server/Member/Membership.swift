import Crypto
import EtcdProto
import Foundation
import Synchronization

/// One member of the cluster as every member records it: what `member list` shows.
package struct MemberRecord: Codable, Sendable, Equatable {
    package var id: UInt64
    /// Empty until the member has started and published its attributes (as in etcd).
    package var name: String
    var peerURLs: [String]
    /// Empty until the member has started and published its attributes.
    var clientURLs: [String]
    var isLearner: Bool
    /// Set once the member has been removed: the record stays so that a removed member asking its
    /// peers learns that it was removed (and not merely that they do not know it yet).
    package var removed: Bool?

    package init(id: UInt64, name: String, peerURLs: [String], clientURLs: [String], isLearner: Bool, removed: Bool? = nil) {
        self.id = id
        self.name = name
        self.peerURLs = peerURLs
        self.clientURLs = clientURLs
        self.isLearner = isLearner
        self.removed = removed
    }

    /// The record as etcd's Member message.
    var message: Etcdserverpb_Member {
        var member = Etcdserverpb_Member()
        member.id = id
        member.name = name
        member.peerUrls = peerURLs
        member.clientUrls = clientURLs
        member.isLearner = isLearner
        return member
    }

    /// The key of the record among the store's cluster records.
    var storeKey: [UInt8] { Self.storeKey(id) }

    static func storeKey(_ id: UInt64) -> [UInt8] { Array("member/".utf8) + withUnsafeBytes(of: id.bigEndian, Array.init) }

    static let storePrefix = Array("member/".utf8)

    /// Deterministic JSON (sorted keys), so that every member encodes bootstrap entries identically.
    func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Array(try! encoder.encode(self))
    }

    static func decode(_ bytes: some Collection<UInt8>) -> MemberRecord? {
        try? JSONDecoder().decode(MemberRecord.self, from: Data(bytes))
    }

    /// etcd's member id: the first 8 bytes of SHA-1 over the sorted peer URLs, the cluster token and,
    /// for a member added at run time, the Unix time (so a re-added member gets a new id).
    static func computeID(peerURLs: [String], clusterToken: String, addedAt: Date? = nil) -> UInt64 {
        var text = peerURLs.sorted().joined() + clusterToken
        if let addedAt { text += String(Int64(addedAt.timeIntervalSince1970)) }
        return Array(Insecure.SHA1.hash(data: Data(text.utf8))).prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// etcd's cluster id: the first 8 bytes of SHA-1 over the sorted initial member ids (big-endian).
    static func computeClusterID(memberIDs: [UInt64]) -> UInt64 {
        var bytes: [UInt8] = []
        for id in memberIDs.sorted() { bytes += withUnsafeBytes(of: id.bigEndian, Array.init) }
        return Array(Insecure.SHA1.hash(data: Data(bytes))).prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The members named by `--initial-cluster` (`name=url,name=url2,...`; a name may repeat to give a
    /// member several peer URLs), in the order of first appearance.
    static func parseInitialCluster(_ text: String, clusterToken: String) throws -> [MemberRecord] {
        var order: [String] = []
        var urls: [String: [String]] = [:]
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("://") else {
                throw ConfigError("--initial-cluster has an invalid member \"\(item)\" (want name=url)")
            }
            let name = String(parts[0])
            if urls[name] == nil { order.append(name) }
            urls[name, default: []].append(String(parts[1]))
        }
        guard !order.isEmpty else { throw ConfigError("--initial-cluster is empty") }
        return order.map { name in
            MemberRecord(id: computeID(peerURLs: urls[name]!, clusterToken: clusterToken), name: name,
                         peerURLs: urls[name]!, clientURLs: [], isLearner: false)
        }
    }
}

/// The members of the cluster as of the applied index, and those removed from it. Only the apply
/// thread changes it; any thread reads it.
final class Membership: Sendable {
    private let members: Mutex<[UInt64: MemberRecord]>

    init(_ records: [MemberRecord]) {
        members = Mutex(Dictionary(records.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last }))
    }

    /// Every current member, by id (etcd lists members in id order).
    var all: [MemberRecord] { members.withLock { $0.values.filter { $0.removed != true }.sorted { $0.id < $1.id } } }

    /// The ids of removed members.
    var removedIDs: [UInt64] { members.withLock { $0.values.filter { $0.removed == true }.map(\.id).sorted() } }

    /// A current member's record.
    func record(_ id: UInt64) -> MemberRecord? { members.withLock { $0[id].flatMap { $0.removed == true ? nil : $0 } } }

    func isRemoved(_ id: UInt64) -> Bool { members.withLock { $0[id]?.removed == true } }

    func set(_ record: MemberRecord) { members.withLock { $0[record.id] = record } }

    func replaceAll(_ records: [MemberRecord]) {
        members.withLock { $0 = Dictionary(records.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last }) }
    }
}

/// Splits an `http://host:port` peer URL into host and port.
func hostAndPort(ofURL url: String) -> (host: String, port: Int)? {
    guard let parsed = try? ListenURL(parsing: url) else { return nil }
    return (parsed.host, parsed.port)
}
