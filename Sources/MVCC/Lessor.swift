import Synchronization

/// The in-memory expiry of leases. Leases themselves (id, granted TTL, attached keys) live in LMDB and
/// change only through `MVCCStore.apply`; the lessor learns of grants and revocations after each commit.
/// As in etcd, expiry is not persisted: a member that starts gives every lease its full TTL again.
public final class Lessor: Sendable {
    private struct Entry {
        var ttl: Int64
        var expiry: ContinuousClock.Instant
    }
    private let entries: Mutex<[Int64: Entry]>

    init(leases: [Lease]) {
        entries = Mutex(Self.fresh(leases))
    }

    /// `leases`, each with its full TTL from now.
    private static func fresh(_ leases: [Lease]) -> [Int64: Entry] {
        let now = ContinuousClock.now
        return Dictionary(uniqueKeysWithValues: leases.map { ($0.id, Entry(ttl: $0.ttl, expiry: now + .seconds($0.ttl))) })
    }

    /// Replaces every lease with `leases`, each with its full TTL (after a snapshot is restored).
    func replaceAll(_ leases: [Lease]) {
        let entries = Self.fresh(leases)
        self.entries.withLock { $0 = entries }
    }

    func granted(_ lease: Lease) {
        entries.withLock { $0[lease.id] = Entry(ttl: lease.ttl, expiry: .now + .seconds(lease.ttl)) }
    }

    func revoked(_ id: Int64) {
        _ = entries.withLock { $0.removeValue(forKey: id) }
    }

    /// Whether the lease exists.
    public func contains(_ id: Int64) -> Bool { entries.withLock { $0[id] != nil } }

    /// Restarts the lease's TTL; returns the granted TTL, or nil if the lease does not exist or has
    /// already expired (as etcd: an expired lease is not brought back while its revocation is pending).
    public func renew(_ id: Int64, now: ContinuousClock.Instant = .now) -> Int64? {
        entries.withLock { entries in
            guard var entry = entries[id], entry.expiry > now else { return nil }
            entry.expiry = now + .seconds(entry.ttl)
            entries[id] = entry
            return entry.ttl
        }
    }

    /// Gives every lease its full TTL plus `extend` from `now` (etcd's Promote): a member that becomes
    /// leader expires no lease before its clients have had the time to renew with it.
    public func promote(extend: Duration, now: ContinuousClock.Instant = .now) {
        entries.withLock { entries in
            entries = entries.mapValues { Entry(ttl: $0.ttl, expiry: now + .seconds($0.ttl) + extend) }
        }
    }

    /// The granted TTL and the whole seconds remaining, or nil if the lease does not exist.
    public func timeToLive(_ id: Int64, now: ContinuousClock.Instant = .now) -> (granted: Int64, remaining: Int64)? {
        entries.withLock { entries in
            guard let entry = entries[id] else { return nil }
            let remaining = entry.expiry - now
            return (entry.ttl, max(0, remaining.components.seconds))
        }
    }

    /// Ids of leases whose TTL has run out, oldest expiry first.
    public func expired(now: ContinuousClock.Instant = .now) -> [Int64] {
        entries.withLock { entries in
            entries.filter { $0.value.expiry <= now }.sorted { $0.value.expiry < $1.value.expiry }.map(\.key)
        }
    }

    /// Ids of every lease, soonest expiry first (the order etcd lists them in).
    public func ids() -> [Int64] {
        entries.withLock { entries in
            entries.sorted { ($0.value.expiry, $0.key) < ($1.value.expiry, $1.key) }.map(\.key)
        }
    }
}
