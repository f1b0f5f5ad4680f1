import EtcdCtl
import EtcdProto
import Foundation
import Testing

/// Lease commands. etcdctl's `-w protobuf` prints only the header for these (it marshals clientv3's wrapper,
/// whose only protobuf part is the embedded header), so the inputs are rebuilt from `-w json`.
@Suite struct LeaseGoldenTests {
    @Test func grantAndRevoke() throws {
        try withEtcd { etcd in
            let granted = try etcd.json(EtcdctlJSON.LeaseGrant.self, ["lease", "grant", "100"]).message
            // A grant answers a new ID each time: take it from the lease list after each run.
            for format in OutputFormat.allCases {
                let before = Set(try leaseIDs(etcd))
                let result = try etcd.etcdctl(["-w", format.rawValue, "lease", "grant", "100"])
                var expected = granted
                expected.id = try #require(Set(try leaseIDs(etcd)).subtracting(before).first)
                try expectSame(result, format: format) { try $0.leaseGrant(expected) }
            }
            // Revoking a lease without keys changes no revision: every revoke has the same header.
            let ids = try leaseIDs(etcd)
            let revoked = try etcd.json(
                RevokeJSON.self, ["lease", "revoke", GoHex.lease(ids[0])]
            ).message
            for (format, id) in zip(OutputFormat.allCases, ids.dropFirst()) {
                let result = try etcd.etcdctl(["-w", format.rawValue, "lease", "revoke", GoHex.lease(id)])
                try expectSame(result, format: format) { try $0.leaseRevoke(id: id, revoked) }
            }
        }
    }

    @Test func timeToLiveListAndKeepAlive() throws {
        try withEtcd { etcd in
            let lease = try etcd.json(EtcdctlJSON.LeaseGrant.self, ["lease", "grant", "1000"]).message
            let id = GoHex.lease(lease.id)
            _ = try etcd.etcdctl(["put", "--lease", id, "lk1", "x"])
            _ = try etcd.etcdctl(["put", "--lease", id, "lk2", "y"])
            for arguments in [["lease", "timetolive", id], ["lease", "timetolive", id, "--keys"]] {
                let keys = arguments.contains("--keys")
                for format in OutputFormat.allCases {
                    try expectWithRetry(etcd, arguments, format: format) { etcd in
                        try etcd.json(EtcdctlJSON.LeaseTimeToLive.self, arguments).message
                    } render: { printer, response in
                        try printer.leaseTimeToLive(response, keys: keys)
                    }
                }
            }
            let expired = try etcd.json(EtcdctlJSON.LeaseTimeToLive.self, ["lease", "timetolive", "1"]).message
            try etcd.expectGolden(["lease", "timetolive", "1"]) { try $0.leaseTimeToLive(expired, keys: false) }

            _ = try etcd.etcdctl(["lease", "grant", "500"])
            let list = try etcd.json(EtcdctlJSON.LeaseList.self, ["lease", "list"]).message
            #expect(list.leases.count == 2)
            try etcd.expectGolden(["lease", "list"]) { try $0.leaseList(list) }

            let keepAlive = ["lease", "keep-alive", "--once", id]
            let kept = try etcd.json(EtcdctlJSON.LeaseKeepAlive.self, keepAlive).message
            try etcd.expectGolden(keepAlive) { try $0.leaseKeepAlive(kept) }
        }
    }

    @Test func emptyLeaseList() throws {
        try withEtcd { etcd in
            let list = try etcd.json(EtcdctlJSON.LeaseList.self, ["lease", "list"]).message
            try etcd.expectGolden(["lease", "list"]) { try $0.leaseList(list) }
        }
    }

    @Test func keepAliveEndedLine() {
        #expect(SimplePrinter().leaseKeepAliveEnded(id: 0x694d_77aa_9e38_260f) == "lease 694d77aa9e38260f expired or revoked.\n")
        #expect(JSONPrinter().leaseKeepAliveEnded(id: 1) == "")
    }

    /// The remaining TTL may tick between two runs, and etcd lists a lease's keys in no fixed order (Go
    /// map iteration): compare again with a fresh input when the two runs differ.
    private func expectWithRetry<M>(
        _ etcd: EtcdServer, _ arguments: [String], format: OutputFormat,
        input: (EtcdServer) throws -> M, render: (any Printer, M) throws -> String
    ) throws {
        var last: (expected: String, actual: String) = ("", "")
        for _ in 0..<12 {
            let response = try input(etcd)
            let result = try etcd.etcdctl(["-w", format.rawValue] + arguments)
            if result.exitCode == ExitCode.badFeature {
                try expectSame(result, format: format) { try render($0, response) }
                return
            }
            last = (result.text, try render(makePrinter(format), response))
            if last.expected == last.actual { return }
        }
        #expect(last.actual == last.expected, "format \(format)")
    }

    private func leaseIDs(_ etcd: EtcdServer) throws -> [Int64] {
        try etcd.json(EtcdctlJSON.LeaseList.self, ["lease", "list"]).message.leases.map(\.id)
    }
}

/// `lease revoke -w json`: the protobuf response itself, `{"header":{...}}`.
private struct RevokeJSON: Decodable {
    var header: EtcdctlJSON.Header

    var message: Etcdserverpb_LeaseRevokeResponse {
        var response = Etcdserverpb_LeaseRevokeResponse()
        response.header = header.message
        return response
    }
}

/// Lease IDs as etcdctl's arguments take them: hexadecimal.
enum GoHex {
    static func lease(_ id: Int64) -> String { String(id, radix: 16) }
}
