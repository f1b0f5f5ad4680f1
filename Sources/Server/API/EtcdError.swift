import GRPCCore
import MVCC

/// etcd's client-visible errors: the gRPC status code and the exact text clients match on
/// (etcd's `api/v3rpc/rpctypes`).
enum EtcdError {
    static let emptyKey = RPCError(code: .invalidArgument, message: "etcdserver: key is not provided")
    static let keyNotFound = RPCError(code: .invalidArgument, message: "etcdserver: key not found")
    static let valueProvided = RPCError(code: .invalidArgument, message: "etcdserver: value is provided")
    static let leaseProvided = RPCError(code: .invalidArgument, message: "etcdserver: lease is provided")
    static let tooManyOps = RPCError(code: .invalidArgument, message: "etcdserver: too many operations in txn request")
    static let duplicateKey = RPCError(code: .invalidArgument, message: "etcdserver: duplicate key given in txn request")
    static let compacted = RPCError(code: .outOfRange, message: "etcdserver: mvcc: required revision has been compacted")
    static let futureRevision = RPCError(code: .outOfRange, message: "etcdserver: mvcc: required revision is a future revision")
    static let noSpace = RPCError(code: .resourceExhausted, message: "etcdserver: mvcc: database space exceeded")
    static let leaseNotFound = RPCError(code: .notFound, message: "etcdserver: requested lease not found")
    static let leaseExists = RPCError(code: .failedPrecondition, message: "etcdserver: lease already exists")
    static let leaseTTLTooLarge = RPCError(code: .outOfRange, message: "etcdserver: too large lease TTL")
    static let requestTooLarge = RPCError(code: .invalidArgument, message: "etcdserver: request is too large")
    static let tooManyRequests = RPCError(code: .resourceExhausted, message: "etcdserver: too many requests")
    static let timeout = RPCError(code: .unavailable, message: "etcdserver: request timed out")
    static let noLeader = RPCError(code: .unavailable, message: "etcdserver: no leader")
    static let notLeader = RPCError(code: .failedPrecondition, message: "etcdserver: not leader")
    static let badLeaderTransferee = RPCError(code: .failedPrecondition, message: "etcdserver: bad leader transferee")
    static let learnerNotReady = RPCError(code: .failedPrecondition, message: "etcdserver: can only promote a learner member which is in sync with leader")
    static let memberNotLearner = RPCError(code: .failedPrecondition, message: "etcdserver: can only promote a learner member")
    static let peerURLExists = RPCError(code: .failedPrecondition, message: "etcdserver: Peer URLs already exists")
    static let memberExists = RPCError(code: .failedPrecondition, message: "etcdserver: member ID already exist")
    static let tooManyLearners = RPCError(code: .failedPrecondition, message: "etcdserver: too many learner members in cluster")
    static let notSupportedForLearner = RPCError(code: .unavailable, message: "etcdserver: rpc not supported for learner")
    static let memberNotFound = RPCError(code: .notFound, message: "etcdserver: member not found")
    static let stopped = RPCError(code: .unavailable, message: "etcdserver: server stopped")
    static let notCapable = RPCError(code: .unavailable, message: "etcdserver: not capable")
    static let authNotEnabled = RPCError(code: .failedPrecondition, message: "etcdserver: authentication is not enabled")
    static let corrupt = RPCError(code: .dataLoss, message: "etcdserver: corrupt cluster")

    /// The client-visible error for a store error.
    static func from(_ error: MVCCError) -> RPCError {
        switch error {
        case .compacted: return compacted
        case .futureRevision: return futureRevision
        case .leaseNotFound: return leaseNotFound
        case .leaseExists: return leaseExists
        case .keyNotFound: return keyNotFound
        case .emptyKey: return emptyKey
        case .noSpace: return noSpace
        case .storage(let cause): return RPCError(code: .internalError, message: "etcdserver: \(cause)")
        }
    }

    /// Maps any error thrown below the API layer to what a client sees.
    static func map(_ error: any Error) -> RPCError {
        if let rpc = error as? RPCError { return rpc }
        if let mvcc = error as? MVCCError { return from(mvcc) }
        if let auth = error as? AuthError { return auth.rpcError }
        if error is MemberStoppedError { return stopped }
        return RPCError(code: .unknown, message: "etcdserver: \(error)")
    }
}

/// Thrown to requests still waiting when the member stops.
struct MemberStoppedError: Error {}

/// Runs an RPC body, turning every error into etcd's status.
@inline(__always)
func withEtcdErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch {
        throw EtcdError.map(error)
    }
}
