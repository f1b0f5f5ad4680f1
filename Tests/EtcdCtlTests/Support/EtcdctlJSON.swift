import EtcdCtl
import EtcdProto
import Foundation

/// Decoders for etcdctl's `-w json` output, used to rebuild the inputs of commands whose `-w protobuf`
/// output is not the whole response (lease commands print only the header; endpoint and snapshot commands
/// have no protobuf output). Each gives the value the printers take.
enum EtcdctlJSON {
    struct Header: Decodable {
        var clusterID: UInt64?
        var memberID: UInt64?
        var revision: Int64?
        var raftTerm: UInt64?

        enum CodingKeys: String, CodingKey {
            case clusterID = "cluster_id", memberID = "member_id", revision, raftTerm = "raft_term"
        }

        var message: Etcdserverpb_ResponseHeader {
            var header = Etcdserverpb_ResponseHeader()
            header.clusterID = clusterID ?? 0
            header.memberID = memberID ?? 0
            header.revision = revision ?? 0
            header.raftTerm = raftTerm ?? 0
            return header
        }
    }

    struct LeaseGrant: Decodable {
        var header: Header
        var id: Int64
        var ttl: Int64
        var error: String

        enum CodingKeys: String, CodingKey { case id = "ID", ttl = "TTL", error = "Error" }

        init(from decoder: any Decoder) throws {
            header = try Header(from: decoder)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            id = try container.decode(Int64.self, forKey: .id)
            ttl = try container.decode(Int64.self, forKey: .ttl)
            error = try container.decode(String.self, forKey: .error)
        }

        var message: Etcdserverpb_LeaseGrantResponse {
            var response = Etcdserverpb_LeaseGrantResponse()
            response.header = header.message
            response.id = id
            response.ttl = ttl
            response.error = error
            return response
        }
    }

    struct LeaseKeepAlive: Decodable {
        var header: Header
        var id: Int64
        var ttl: Int64

        enum CodingKeys: String, CodingKey { case id = "ID", ttl = "TTL" }

        init(from decoder: any Decoder) throws {
            header = try Header(from: decoder)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            id = try container.decode(Int64.self, forKey: .id)
            ttl = try container.decode(Int64.self, forKey: .ttl)
        }

        var message: Etcdserverpb_LeaseKeepAliveResponse {
            var response = Etcdserverpb_LeaseKeepAliveResponse()
            response.header = header.message
            response.id = id
            response.ttl = ttl
            return response
        }
    }

    struct LeaseTimeToLive: Decodable {
        var header: Header
        var id: Int64
        var ttl: Int64
        var grantedTTL: Int64
        var keys: [Data]?

        enum CodingKeys: String, CodingKey { case id, ttl, grantedTTL = "granted-ttl", keys }

        init(from decoder: any Decoder) throws {
            header = try Header(from: decoder)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            id = try container.decode(Int64.self, forKey: .id)
            ttl = try container.decode(Int64.self, forKey: .ttl)
            grantedTTL = try container.decode(Int64.self, forKey: .grantedTTL)
            keys = try container.decodeIfPresent([Data].self, forKey: .keys)
        }

        var message: Etcdserverpb_LeaseTimeToLiveResponse {
            var response = Etcdserverpb_LeaseTimeToLiveResponse()
            response.header = header.message
            response.id = id
            response.ttl = ttl
            response.grantedTtl = grantedTTL
            response.keys = keys ?? []
            return response
        }
    }

    struct LeaseList: Decodable {
        struct Lease: Decodable { var id: Int64 }
        var header: Header
        var leases: [Lease]

        enum CodingKeys: String, CodingKey { case leases }

        init(from decoder: any Decoder) throws {
            header = try Header(from: decoder)
            leases = try decoder.container(keyedBy: CodingKeys.self).decode([Lease].self, forKey: .leases)
        }

        var message: Etcdserverpb_LeaseLeasesResponse {
            var response = Etcdserverpb_LeaseLeasesResponse()
            response.header = header.message
            response.leases = leases.map { lease in
                var status = Etcdserverpb_LeaseStatus()
                status.id = lease.id
                return status
            }
            return response
        }
    }

    struct Health: Decodable {
        var endpoint: String
        var health: Bool
        var took: String
        var error: String?

        var value: EndpointHealth {
            EndpointHealth(endpoint: endpoint, health: health, took: took, error: error ?? "")
        }
    }

    struct Status: Decodable {
        struct Response: Decodable {
            var header: Header?
            var version: String?
            var dbSize: Int64?
            var leader: UInt64?
            var raftIndex: UInt64?
            var raftTerm: UInt64?
            var raftAppliedIndex: UInt64?
            var errors: [String]?
            var dbSizeInUse: Int64?
            var isLearner: Bool?
        }
        var endpoint: String
        var status: Response

        enum CodingKeys: String, CodingKey { case endpoint = "Endpoint", status = "Status" }

        var value: EndpointStatus {
            var response = Etcdserverpb_StatusResponse()
            if let header = status.header { response.header = header.message }
            response.version = status.version ?? ""
            response.dbSize = status.dbSize ?? 0
            response.leader = status.leader ?? 0
            response.raftIndex = status.raftIndex ?? 0
            response.raftTerm = status.raftTerm ?? 0
            response.raftAppliedIndex = status.raftAppliedIndex ?? 0
            response.errors = status.errors ?? []
            response.dbSizeInUse = status.dbSizeInUse ?? 0
            response.isLearner = status.isLearner ?? false
            return EndpointStatus(endpoint: endpoint, status: response)
        }
    }

    struct HashKV: Decodable {
        struct Response: Decodable {
            var header: Header?
            var hash: UInt32?
            var compactRevision: Int64?

            enum CodingKeys: String, CodingKey { case header, hash, compactRevision = "compact_revision" }
        }
        var endpoint: String
        var hashKV: Response

        enum CodingKeys: String, CodingKey { case endpoint = "Endpoint", hashKV = "HashKV" }

        var value: EndpointHashKV {
            var response = Etcdserverpb_HashKVResponse()
            if let header = hashKV.header { response.header = header.message }
            response.hash = hashKV.hash ?? 0
            response.compactRevision = hashKV.compactRevision ?? 0
            return EndpointHashKV(endpoint: endpoint, hashKV: response)
        }
    }

    struct Snapshot: Decodable {
        var hash: UInt32
        var revision: Int64
        var totalKey: Int
        var totalSize: Int64

        var value: SnapshotStatus {
            SnapshotStatus(hash: hash, revision: revision, totalKey: totalKey, totalSize: totalSize)
        }
    }

    struct Member: Decodable {
        var id: UInt64?
        var name: String?
        var peerURLs: [String]?
        var clientURLs: [String]?
        var isLearner: Bool?

        enum CodingKeys: String, CodingKey { case id = "ID", name, peerURLs, clientURLs, isLearner }

        var message: Etcdserverpb_Member {
            var member = Etcdserverpb_Member()
            member.id = id ?? 0
            member.name = name ?? ""
            member.peerUrls = peerURLs ?? []
            member.clientUrls = clientURLs ?? []
            member.isLearner = isLearner ?? false
            return member
        }
    }

    struct MemberAdd: Decodable {
        var header: Header?
        var member: Member?
        var members: [Member]?

        var message: Etcdserverpb_MemberAddResponse {
            var response = Etcdserverpb_MemberAddResponse()
            if let header { response.header = header.message }
            if let member { response.member = member.message }
            response.members = (members ?? []).map(\.message)
            return response
        }
    }
}
