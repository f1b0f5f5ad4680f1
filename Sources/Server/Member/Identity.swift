import Crypto
import Foundation

/// Who a member is and which cluster it belongs to; fixed when its data dir is created.
struct Identity: Codable, Sendable {
    var name: String
    var memberID: UInt64
    var clusterID: UInt64
    var peerURLs: [String]
    var clientURLs: [String]

    /// A new member of a new cluster: ids derived, as in etcd, from the peer URLs and the cluster token.
    static func new(config: ServerConfig) -> Identity {
        let memberID = hash64(config.initialAdvertisePeerURLs.sorted().joined() + config.initialClusterToken)
        let members = (config.initialCluster ?? "\(config.name)=\(config.initialAdvertisePeerURLs.joined(separator: ","))")
            .split(separator: ",").map { String($0) }.sorted()
        let clusterID = hash64(members.joined(separator: ",") + config.initialClusterToken)
        return Identity(name: config.name, memberID: memberID, clusterID: clusterID,
                        peerURLs: config.initialAdvertisePeerURLs, clientURLs: config.advertiseClientURLs)
    }

    private static func hash64(_ text: String) -> UInt64 {
        let digest = Array(SHA256.hash(data: Data(text.utf8)))
        return digest.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    static func load(from path: String) throws -> Identity {
        try JSONDecoder().decode(Identity.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Writes the identity durably (temp file, fsync, rename).
    func save(to path: String) throws {
        let data = try JSONEncoder().encode(self)
        let temp = path + ".tmp"
        guard FileManager.default.createFile(atPath: temp, contents: data) else {
            throw CocoaError(.fileWriteUnknown)
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: temp))
        try handle.synchronize()
        try handle.close()
        _ = rename(temp, path)
    }
}
