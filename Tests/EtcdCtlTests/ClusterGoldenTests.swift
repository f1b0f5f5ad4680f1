import EtcdCtl
import EtcdProto
import Foundation
import Testing

/// member, endpoint, alarm and snapshot commands against the real etcdctl.
@Suite struct ClusterGoldenTests {
    @Test func memberList() throws {
        try withEtcd { etcd in
            let response = try etcd.protobuf(Etcdserverpb_MemberListResponse.self, ["member", "list"])
            try etcd.expectGolden(["member", "list"]) { try $0.memberList(response) }
        }
    }

    /// A name wider than 30 columns is wrapped at its spaces by tablewriter.
    @Test func memberListWrapsLongCells() throws {
        try withEtcd(name: "a member name that is longer than thirty columns") { etcd in
            let response = try etcd.protobuf(Etcdserverpb_MemberListResponse.self, ["member", "list"])
            try etcd.expectGolden(["member", "list"]) { try $0.memberList(response) }
        }
    }

    /// Learners keep the one-member quorum; etcd 3.4 allows one learner at a time, so each format adds a
    /// learner and removes it. The responses are rebuilt from the member list after each change.
    @Test func memberAddUpdateAndRemove() throws {
        try withEtcd { try memberChanges($0) }
    }

    /// A method, not the closure's body: Swift 6.3.1's SendNonSendable pass crashes on it as a closure.
    private func memberChanges(_ etcd: EtcdServer) throws {
        for (index, format) in OutputFormat.allCases.enumerated() {
            let peerURL = "http://127.0.0.1:\(40001 + index)"
            let name = "new-\(format)"
            let add = ["member", "add", name, "--learner", "--peer-urls=\(peerURL)"]
            let added = try etcd.etcdctl(["-w", format.rawValue] + add)
            let list = try etcd.protobuf(Etcdserverpb_MemberListResponse.self, ["member", "list"])
            let learner = try #require(list.members.first { $0.peerUrls == [peerURL] })
            // JSON holds the response as the server sent it.
            let expectedAdd =
                format == .json
                ? try JSONDecoder().decode(EtcdctlJSON.MemberAdd.self, from: added.stdout).message
                : Self.memberAdd(header: list.header, member: learner, members: list.members)
            try expectSame(added, format: format) {
                try $0.memberAdd(expectedAdd, newMemberName: name, peerURLs: peerURL)
            }

            let update = ["member", "update", String(learner.id, radix: 16), "--peer-urls=\(peerURL)"]
            let updated = try etcd.protobuf(Etcdserverpb_MemberUpdateResponse.self, update)
            try expectSame(try etcd.etcdctl(["-w", format.rawValue] + update), format: format) {
                try $0.memberUpdate(id: learner.id, updated)
            }

            let removed = try etcd.etcdctl(["-w", format.rawValue, "member", "remove", String(learner.id, radix: 16)])
            let left = try etcd.protobuf(Etcdserverpb_MemberListResponse.self, ["member", "list"])
            var expectedRemove = Etcdserverpb_MemberRemoveResponse()
            expectedRemove.header = left.header
            expectedRemove.members = left.members
            let finalRemove = expectedRemove
            try expectSame(removed, format: format) { try $0.memberRemove(id: learner.id, finalRemove) }
        }
    }

    private static func memberAdd(
        header: Etcdserverpb_ResponseHeader, member: Etcdserverpb_Member, members: [Etcdserverpb_Member]
    ) -> Etcdserverpb_MemberAddResponse {
        var response = Etcdserverpb_MemberAddResponse()
        response.header = header
        response.member = member
        response.members = members
        return response
    }

    @Test func endpointStatusAndHashKV() throws {
        try withEtcd { etcd in
            _ = try etcd.etcdctl(["put", "a", "1"])
            let status = try etcd.json([EtcdctlJSON.Status].self, ["endpoint", "status"]).map(\.value)
            try etcd.expectGolden(["endpoint", "status"]) { try $0.endpointStatus(status) }
            let hash = try etcd.json([EtcdctlJSON.HashKV].self, ["endpoint", "hashkv"]).map(\.value)
            try etcd.expectGolden(["endpoint", "hashkv"]) { try $0.endpointHashKV(hash) }
        }
    }

    /// "took" differs on every run, so each run's own value is read back from its output.
    @Test func endpointHealth() throws {
        try withEtcd { etcd in
            let json = try etcd.etcdctl(["-w", "json", "endpoint", "health"])
            let list = try JSONDecoder().decode([EtcdctlJSON.Health].self, from: json.stdout).map(\.value)
            #expect(JSONPrinter().endpointHealth(list) == PrintedText(stdout: json.text))

            let simple = try etcd.etcdctl(["-w", "simple", "endpoint", "health"])
            let simpleTook = try #require(simple.stderr.split(separator: "took = ").last).dropLast()
            let healthy = EndpointHealth(endpoint: etcd.clientURL, health: true, took: String(simpleTook))
            #expect(SimplePrinter().endpointHealth([healthy]) == PrintedText(stderr: simple.stderr))
            #expect(simple.text.isEmpty)

            let fields = try etcd.etcdctl(["-w", "fields", "endpoint", "health"])
            let fieldsTook = try #require(fields.text.split(separator: "\n").first { $0.hasPrefix("\"Took\" : ") })
                .dropFirst("\"Took\" : ".count)
            #expect(
                FieldsPrinter().endpointHealth([EndpointHealth(endpoint: etcd.clientURL, health: true, took: String(fieldsTook))])
                    == PrintedText(stdout: fields.text))

            let table = try etcd.etcdctl(["-w", "table", "endpoint", "health"])
            let row = table.text.split(separator: "\n")[3].split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            #expect(
                TablePrinter().endpointHealth([EndpointHealth(endpoint: etcd.clientURL, health: true, took: row[2])])
                    == PrintedText(stdout: table.text))
        }
    }

    /// An endpoint nobody listens on: the unhealthy line on stderr and "unhealthy cluster".
    @Test func endpointHealthUnhealthy() throws {
        try withEtcd { etcd in
            let dead = "http://127.0.0.1:1"
            let result = try etcd.etcdctl(["--endpoints=\(dead)", "--command-timeout=1s", "endpoint", "health"])
            #expect(result.exitCode == ExitCode.error)
            let line = try #require(result.stderr.split(separator: "\n").first { $0.hasPrefix(dead) })
            let error = String(line.split(separator: "failed to commit proposal: ", maxSplits: 1)[1])
            let health = EndpointHealth(endpoint: dead, health: false, took: "1s", error: error)
            #expect(SimplePrinter().endpointHealth([health]).stderr == line + "\n")
            #expect(result.stderr.hasSuffix(CommandText.error("unhealthy cluster")))
        }
    }

    /// etcd 3.4 sends alarm responses without a header; etcdctl's fields printer crashes on that, so
    /// fields is not compared.
    @Test func alarmList() throws {
        try withEtcd(extraArguments: ["--quota-backend-bytes=300000"]) { etcd in
            let none = try etcd.protobuf(Etcdserverpb_AlarmResponse.self, ["alarm", "list"])
            try etcd.expectGolden(["alarm", "list"], formats: [.simple, .json, .table]) { try $0.alarm(none) }
            let value = String(repeating: "x", count: 100_000)
            for index in 0..<40 where try etcd.etcdctl(["put", "big\(index)", value]).exitCode != 0 { break }
            let raised = try etcd.protobuf(Etcdserverpb_AlarmResponse.self, ["alarm", "list"])
            #expect(raised.alarms.map(\.alarm) == [.nospace])
            try etcd.expectGolden(["alarm", "list"], formats: [.simple, .json, .table]) { try $0.alarm(raised) }
        }
    }

    @Test func snapshotStatus() throws {
        try withEtcd { etcd in
            for index in 0..<20 { _ = try etcd.etcdctl(["put", "s\(index)", "value \(index)"]) }
            let path = etcd.directory.appendingPathComponent("snap.db").path
            _ = try etcd.etcdctl(["snapshot", "save", path])
            let status = try etcd.json(EtcdctlJSON.Snapshot.self, ["snapshot", "status", path]).value
            try etcd.expectGolden(["snapshot", "status", path]) { try $0.snapshotStatus(status) }
        }
    }

    /// Read-only auth commands (auth stays disabled; the commands work without it).
    @Test func rolesAndUsers() throws {
        try withEtcd { etcd in
            _ = try etcd.etcdctl(["role", "add", "reader"])
            _ = try etcd.etcdctl(["role", "grant-permission", "reader", "read", "k1"])
            _ = try etcd.etcdctl(["role", "grant-permission", "reader", "readwrite", "pre", "--prefix"])
            _ = try etcd.etcdctl(["role", "grant-permission", "reader", "write", "a", "z"])
            _ = try etcd.etcdctl(["role", "grant-permission", "reader", "read", "from", "--from-key"])
            _ = try etcd.etcdctl(["user", "add", "alice", "--new-user-password=secret"])
            _ = try etcd.etcdctl(["user", "grant-role", "alice", "reader"])

            let role = try etcd.protobuf(Etcdserverpb_AuthRoleGetResponse.self, ["role", "get", "reader"])
            try etcd.expectGolden(["role", "get", "reader"]) { try $0.roleGet("reader", role) }
            let roles = try etcd.protobuf(Etcdserverpb_AuthRoleListResponse.self, ["role", "list"])
            try etcd.expectGolden(["role", "list"]) { try $0.roleList(roles) }
            let user = try etcd.protobuf(Etcdserverpb_AuthUserGetResponse.self, ["user", "get", "alice"])
            try etcd.expectGolden(["user", "get", "alice"]) { try $0.userGet("alice", user) }
            let users = try etcd.protobuf(Etcdserverpb_AuthUserListResponse.self, ["user", "list"])
            try etcd.expectGolden(["user", "list"]) { try $0.userList(users) }
        }
    }

    /// Auth writes do not move the key-value revision, so one protobuf header serves every run.
    @Test func roleAndUserChanges() throws {
        try withEtcd { etcd in
            let added = try etcd.protobuf(Etcdserverpb_AuthRoleAddResponse.self, ["role", "add", "r-pb"])
            for format in OutputFormat.allCases {
                let role = "r-\(format)"
                try expectSame(try etcd.etcdctl(["-w", format.rawValue, "role", "add", role]), format: format) {
                    try $0.roleAdd(role, added)
                }
                var granted = Etcdserverpb_AuthRoleGrantPermissionResponse()
                granted.header = added.header
                let grant = ["role", "grant-permission", role, "read", "k"]
                try expectSame(try etcd.etcdctl(["-w", format.rawValue] + grant), format: format) {
                    try $0.roleGrantPermission(role, granted)
                }
                var revoked = Etcdserverpb_AuthRoleRevokePermissionResponse()
                revoked.header = added.header
                let revoke = ["role", "revoke-permission", role, "k"]
                try expectSame(try etcd.etcdctl(["-w", format.rawValue] + revoke), format: format) {
                    try $0.roleRevokePermission(role, key: "k", rangeEnd: "", revoked)
                }
                let user = "u-\(format)"
                var userAdded = Etcdserverpb_AuthUserAddResponse()
                userAdded.header = added.header
                let addUser = ["user", "add", user, "--new-user-password=pw"]
                try expectSame(try etcd.etcdctl(["-w", format.rawValue] + addUser), format: format) {
                    try $0.userAdd(user, userAdded)
                }
                var roleGranted = Etcdserverpb_AuthUserGrantRoleResponse()
                roleGranted.header = added.header
                try expectSame(
                    try etcd.etcdctl(["-w", format.rawValue, "user", "grant-role", user, role]), format: format
                ) { try $0.userGrantRole(user, role: role, roleGranted) }
                var userDeleted = Etcdserverpb_AuthUserDeleteResponse()
                userDeleted.header = added.header
                try expectSame(try etcd.etcdctl(["-w", format.rawValue, "user", "delete", user]), format: format) {
                    try $0.userDelete(user, userDeleted)
                }
                var roleDeleted = Etcdserverpb_AuthRoleDeleteResponse()
                roleDeleted.header = added.header
                try expectSame(try etcd.etcdctl(["-w", format.rawValue, "role", "delete", role]), format: format) {
                    try $0.roleDelete(role, roleDeleted)
                }
            }
        }
    }
}

