import Foundation
import Testing

extension EndToEnd {
    /// Integers a client controls, at their extremes and past the usual ranges, against etcd 3.4 and
    /// setcd: every answer (value, error text, exit code) is etcd's, and the server stays up.
    @Suite struct ExtremeIntegers {
        @Test func extremeIntegersAreAnsweredAsEtcdAnswersThem() throws {
            try differential { s in
                for i in 1...5 { s.ctl("put", "k", "v\(i)") }
                // Before any compaction (compact revision -1): a watch from -1 goes on from now, from -2 is compacted.
                s.ctl(["watch", "k", "--rev=-1"], timeout: 3, label: "watch k --rev=-1 (stopped after 3 s)")
                s.ctl(["watch", "k", "--rev=-2"], timeout: 10)
                s.ctl("compaction", "4")
                // Ranges: any revision but 0 below the compact revision is compacted inside a txn (etcd's
                // checkRequestRange); a plain range reads the current revision for one at or below 0.
                for revision in ["-1", "-5", "-9223372036854775808", "9223372036854775807"] {
                    s.ctl(["txn"], stdin: "\nget k --rev=\(revision)\n\n\n")
                    s.ctl("get", "k", "--rev=\(revision)")
                }
                s.ctl(["txn"], stdin: "\nput a b\nget k --rev=-2\n\n\n")
                s.ctl("get", "k", "--limit=9223372036854775807", "--rev=5")
                // Compaction at the extremes.
                for revision in ["9223372036854775807", "-1", "-9223372036854775808", "0"] {
                    s.ctl("compaction", revision)
                }
                // Leases: TTLs and ids at the extremes.
                for ttl in ["9223372036854775807", "9000000001", "-1", "-9223372036854775808"] {
                    s.ctl("lease", "grant", ttl)
                }
                for id in ["0", "7fffffffffffffff", "8000000000000000", "ffffffffffffffff"] {
                    s.ctl("lease", "revoke", id)
                    s.ctl("lease", "timetolive", id)
                }
                s.ctl("put", "k", "v", "--lease=ffffffffffffffff")
                // A watch whose range holds nothing is refused by the server.
                s.ctl(["watch", "b", "a"], timeout: 10)
                s.ctl(["watch", "k", "--rev=-9223372036854775808", "--prefix"], timeout: 3, label: "watch k --rev=MinInt64 (stopped after 3 s)")
                s.ctl("get", "", "--prefix", "-w", "json")
            }
        }
    }
}
