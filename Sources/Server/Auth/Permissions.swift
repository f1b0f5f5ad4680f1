import EtcdProto
import Foundation

/// Which key permissions each KV request needs (etcd's `apply_auth.go`), as checks on an auth state
/// for a user. Unlike etcd 3.4, the ops of a nested txn are checked too.
enum Permissions {
    /// Read on the range.
    static func range(_ r: Etcdserverpb_RangeRequest) -> (AuthState, String) -> Bool {
        { state, user in state.permits(user, write: false, key: Array(r.key), rangeEnd: Array(r.rangeEnd)) }
    }

    /// Write on the key, read too for `prev_kv`, and write on every key already attached to the lease.
    static func put(_ r: Etcdserverpb_PutRequest, leaseKeys: [[UInt8]]) -> (AuthState, String) -> Bool {
        { state, user in
            state.permits(user, write: true, key: Array(r.key), rangeEnd: [])
                && (!r.prevKv || state.permits(user, write: false, key: Array(r.key), rangeEnd: []))
                && Self.leaseKeys(leaseKeys)(state, user)
        }
    }

    /// Write on the range, read too for `prev_kv`.
    static func delete(_ r: Etcdserverpb_DeleteRangeRequest) -> (AuthState, String) -> Bool {
        { state, user in
            state.permits(user, write: true, key: Array(r.key), rangeEnd: Array(r.rangeEnd))
                && (!r.prevKv || state.permits(user, write: false, key: Array(r.key), rangeEnd: Array(r.rangeEnd)))
        }
    }

    /// Every key under `prefix`, read and write (the recipes' reads of their prefix).
    static func prefixRead(_ prefix: [UInt8]) -> (AuthState, String) -> Bool {
        { state, user in state.permits(user, write: false, key: prefix, rangeEnd: KeyRanges.prefixEnd(of: prefix)) }
    }

    /// Read on every compared key; each op of both branches as on its own (a put's lease aside, as
    /// in etcd).
    static func txn(_ r: Etcdserverpb_TxnRequest) -> (AuthState, String) -> Bool {
        { state, user in
            r.compare.allSatisfy { state.permits(user, write: false, key: Array($0.key), rangeEnd: Array($0.rangeEnd)) }
                && (r.success + r.failure).allSatisfy { op in
                    switch op.request {
                    case .requestRange(let range): return Self.range(range)(state, user)
                    case .requestPut(let put): return state.permits(user, write: true, key: Array(put.key), rangeEnd: [])
                    case .requestDeleteRange(let delete): return Self.delete(delete)(state, user)
                    case .requestTxn(let nested): return Self.txn(nested)(state, user)
                    case nil: return true
                    }
                }
        }
    }

    /// Write on every key attached to a lease (revoking deletes them).
    static func leaseKeys(_ keys: [[UInt8]]) -> (AuthState, String) -> Bool {
        { state, user in keys.allSatisfy { state.permits(user, write: true, key: $0, rangeEnd: []) } }
    }
}
