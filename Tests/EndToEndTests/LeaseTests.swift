import Foundation
import Testing

/// The lease id (hex, as etcdctl takes it) from `lease grant` output in simple or JSON format.
func grantedLease(_ result: CommandResult) -> String {
    let out = result.stdout
    if let range = out.range(of: #"lease [0-9a-f]+ granted"#, options: .regularExpression) {
        return String(out[range].split(separator: " ")[1])
    }
    if let range = out.range(of: #""ID":\d+"#, options: .regularExpression),
       let id = UInt64(out[range].dropFirst(5)) {
        return String(id, radix: 16)
    }
    return "0"
}

extension EndToEnd {
    @Suite struct Lease {
        /// A lease id no server has granted (etcdctl reads lease ids as hex).
        static let unknown = "deadbeef123"

        @Test func leaseLifecycle() throws {
            try differential { s in
                // Granted in decreasing TTL order: etcd lists leases by expiry, soonest first.
                let long = grantedLease(s.ctl("lease", "grant", "300"))
                let medium = grantedLease(s.ctl("lease", "grant", "200", "-w", "json"))
                let short = grantedLease(s.ctl("lease", "grant", "100", "-w", "fields"))
                s.ctl("put", "l/1", "a", "--lease=\(long)")
                s.ctl("put", "l/2", "b", "--lease=\(long)", "-w", "json")
                s.ctl("put", "l/3", "c", "--lease=\(medium)")
                s.ctl("put", "free", "d")
                s.ctl("get", "", "--prefix", "-w", "json")
                s.ctl("get", "l/1", "-w", "fields")
                s.ctl("lease", "timetolive", long)
                s.ctl("lease", "timetolive", long, "--keys")
                s.ctl("lease", "timetolive", long, "--keys", "-w", "json")
                s.ctl("lease", "timetolive", short, "--keys", "-w", "fields")
                s.ctl("lease", "list")
                s.ctl("lease", "list", "-w", "json")
                s.ctl("lease", "keep-alive", "--once", long)
                s.ctl("lease", "keep-alive", "--once", medium, "-w", "json")
                // attaching an existing key to another lease moves it
                s.ctl("put", "l/2", "b2", "--lease=\(medium)")
                s.ctl("lease", "timetolive", long, "--keys")
                s.ctl("lease", "timetolive", medium, "--keys")
                // revoke deletes every attached key in one revision
                s.ctl("lease", "revoke", medium)
                s.ctl("get", "", "--prefix", "-w", "json")
                try s.watch(["l/", "--prefix", "--rev", "7", "--prev-kv", "-w", "json"], events: 2)
                s.ctl("lease", "revoke", medium)
                s.ctl("lease", "revoke", medium, "-w", "json")
                s.ctl("lease", "timetolive", medium)
                s.ctl("lease", "timetolive", medium, "-w", "json")
                s.ctl("lease", "keep-alive", "--once", medium)
                s.ctl("put", "l/4", "x", "--lease=\(medium)")
                s.ctl("lease", "list")
                // unknown lease
                s.ctl("put", "l/5", "x", "--lease=\(Self.unknown)")
                s.ctl("put", "l/5", "x", "--lease=\(Self.unknown)", "-w", "json")
                s.ctl("lease", "revoke", Self.unknown)
                s.ctl("lease", "timetolive", Self.unknown, "--keys")
                s.ctl("lease", "keep-alive", "--once", Self.unknown)
                s.ctl("get", "", "--prefix", "-w", "json")
                s.ctl("lease", "revoke", long)
                s.ctl("lease", "revoke", short)
                s.ctl("lease", "list")
                s.ctl("get", "", "--prefix", "-w", "json")
            }
        }

        /// A lease that is not kept alive expires, and its keys go with it (one revision, in key order).
        @Test func leaseExpiry() throws {
            try differential { s in
                // Below the minimum TTL: the server raises it (and says so).
                let minimum = grantedLease(s.ctl("lease", "grant", "1"))
                s.ctl("lease", "timetolive", minimum)
                s.ctl("lease", "revoke", minimum)
                // One lease expiring (two expiring together are revoked concurrently by etcd, in no set order).
                let lease = grantedLease(s.ctl("lease", "grant", "2"))
                s.ctl("put", "e/2", "b", "--lease=\(lease)")
                s.ctl("put", "e/1", "a", "--lease=\(lease)")
                s.ctl("put", "stays", "c")
                s.ctl("get", "", "--prefix", "--keys-only")
                var gone = false
                let deadline = Date().addingTimeInterval(10)
                while !gone && Date() < deadline {
                    Thread.sleep(forTimeInterval: 0.25)
                    let result = s.ctlUnrecorded(["get", "e/", "--prefix", "--keys-only"])
                    gone = result.exitCode == 0 && result.stdout.isEmpty
                }
                s.record("leased keys gone within 10 s", gone ? "yes" : "no")
                s.ctl("get", "", "--prefix", "-w", "json")
                s.ctl("lease", "timetolive", lease, "--keys")
                s.ctl("lease", "list")
                try s.watch(["e/", "--prefix", "--rev", "2", "--prev-kv", "-w", "json"], events: 4)
            }
        }
    }
}
