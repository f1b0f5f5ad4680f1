import Foundation

/// Who a member is and which cluster it belongs to; fixed when its data dir is created.
package struct Identity: Codable, Sendable {
    /// The data dir layout version; a data dir of another version is refused rather than misread.
    var format: Int?
    var name: String
    var memberID: UInt64
    var clusterID: UInt64
    /// For a member that joined an existing cluster: the members it was told about, its peers until
    /// it has applied the cluster's log.
    var joinedMembers: [MemberRecord]?

    /// Raft log entries carry request ids and the membership lives in the store.
    package static let currentFormat = 2

    package init(format: Int? = Identity.currentFormat, name: String, memberID: UInt64, clusterID: UInt64, joinedMembers: [MemberRecord]? = nil) {
        self.format = format
        self.name = name
        self.memberID = memberID
        self.clusterID = clusterID
        self.joinedMembers = joinedMembers
    }

    static func load(from path: String) throws -> Identity {
        try JSONDecoder().decode(Identity.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Writes the identity durably.
    func save(to path: String) throws {
        try writeFileDurably(Array(try JSONEncoder().encode(self)), to: path)
    }
}

/// A member's answer to a joining member: the cluster id, the members and the removed members' ids.
struct MembersReply: Codable {
    var clusterID: UInt64
    var members: [MemberRecord]
    var removed: [UInt64]?
}
