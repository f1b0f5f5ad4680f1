import EtcdProto
import Foundation
import MVCC
import SwiftProtobuf

/// A write as it is stored in a log entry: a tag byte and the etcd request message, so the log holds
/// exactly what clients asked for and replays through the same conversion as the live path.
enum Proposal {
    case put(Etcdserverpb_PutRequest)
    case deleteRange(Etcdserverpb_DeleteRangeRequest)
    case txn(Etcdserverpb_TxnRequest)
    case compaction(Etcdserverpb_CompactionRequest)
    case leaseGrant(Etcdserverpb_LeaseGrantRequest)
    case leaseRevoke(Etcdserverpb_LeaseRevokeRequest)

    private enum Tag: UInt8 {
        case put = 1, deleteRange, txn, compaction, leaseGrant, leaseRevoke
    }

    /// The bytes of the log entry.
    func encoded() throws -> [UInt8] {
        let (tag, message): (Tag, any SwiftProtobuf.Message) = switch self {
        case .put(let m): (.put, m)
        case .deleteRange(let m): (.deleteRange, m)
        case .txn(let m): (.txn, m)
        case .compaction(let m): (.compaction, m)
        case .leaseGrant(let m): (.leaseGrant, m)
        case .leaseRevoke(let m): (.leaseRevoke, m)
        }
        var bytes: [UInt8] = [tag.rawValue]
        bytes.append(contentsOf: try message.serializedBytes() as [UInt8])
        return bytes
    }

    /// Decodes a log entry written by `encoded()`.
    init(decoding bytes: [UInt8]) throws {
        guard let first = bytes.first, let tag = Tag(rawValue: first) else { throw ProposalDecodingError() }
        let body = bytes.dropFirst()
        switch tag {
        case .put: self = .put(try Etcdserverpb_PutRequest(serializedBytes: Array(body)))
        case .deleteRange: self = .deleteRange(try Etcdserverpb_DeleteRangeRequest(serializedBytes: Array(body)))
        case .txn: self = .txn(try Etcdserverpb_TxnRequest(serializedBytes: Array(body)))
        case .compaction: self = .compaction(try Etcdserverpb_CompactionRequest(serializedBytes: Array(body)))
        case .leaseGrant: self = .leaseGrant(try Etcdserverpb_LeaseGrantRequest(serializedBytes: Array(body)))
        case .leaseRevoke: self = .leaseRevoke(try Etcdserverpb_LeaseRevokeRequest(serializedBytes: Array(body)))
        }
    }

    /// Whether the proposal may grow the store (refused while the NOSPACE alarm is raised, as in etcd).
    var addsData: Bool {
        switch self {
        case .put, .leaseGrant: return true
        case .txn(let r): return r.writes
        case .deleteRange, .compaction, .leaseRevoke: return false
        }
    }

    /// The store operation this proposal applies.
    var operation: MVCC.Operation {
        switch self {
        case .put(let r): return .txn(MVCC.TxnRequest(success: [.put(r.model)]))
        case .deleteRange(let r): return .txn(MVCC.TxnRequest(success: [.deleteRange(r.model)]))
        case .txn(let r): return .txn(r.model)
        case .compaction(let r): return .compact(revision: r.revision)
        case .leaseGrant(let r): return .leaseGrant(Lease(id: r.id, ttl: r.ttl))
        case .leaseRevoke(let r): return .leaseRevoke(id: r.id)
        }
    }
}

/// A log entry that is not a proposal setcd wrote.
struct ProposalDecodingError: Error {}
