import EtcdProto

/// The header and rows that etcdctl builds once and shows either as a table or, joined by ", ", as simple
/// lines (printer.go's `make*Table` functions).
struct Rows {
    var header: [String]
    var rows: [[String]]

    /// The rows as the simple printer shows them: one line per row, cells joined by ", ".
    var simpleLines: String {
        rows.map { $0.joined(separator: ", ") + "\n" }.joined()
    }

    static func memberList(_ response: Etcdserverpb_MemberListResponse) -> Rows {
        Rows(
            header: ["ID", "Status", "Name", "Peer Addrs", "Client Addrs", "Is Learner"],
            rows: response.members.map { member in
                [
                    GoFormat.hex(member.id),
                    member.name.isEmpty ? "unstarted" : "started",
                    member.name,
                    member.peerUrls.joined(separator: ","),
                    member.clientUrls.joined(separator: ","),
                    String(member.isLearner),
                ]
            }
        )
    }

    static func endpointHealth(_ list: [EndpointHealth]) -> Rows {
        Rows(
            header: ["endpoint", "health", "took", "error"],
            rows: list.map { [$0.endpoint, String($0.health), $0.took, $0.error] }
        )
    }

    static func endpointStatus(_ list: [EndpointStatus]) -> Rows {
        Rows(
            header: [
                "endpoint", "ID", "version", "db size", "is leader", "is learner", "raft term",
                "raft index", "raft applied index", "errors",
            ],
            rows: list.map { entry in
                let status = entry.status
                return [
                    entry.endpoint,
                    GoFormat.hex(status.header.memberID),
                    status.version,
                    Humanize.bytes(UInt64(bitPattern: status.dbSize)),
                    String(status.leader == status.header.memberID),
                    String(status.isLearner),
                    String(status.raftTerm),
                    String(status.raftIndex),
                    String(status.raftAppliedIndex),
                    status.errors.joined(separator: ", "),
                ]
            }
        )
    }

    static func endpointHashKV(_ list: [EndpointHashKV]) -> Rows {
        Rows(header: ["endpoint", "hash"], rows: list.map { [$0.endpoint, String($0.hashKV.hash)] })
    }

    static func snapshotStatus(_ status: SnapshotStatus) -> Rows {
        Rows(
            header: ["hash", "revision", "total keys", "total size"],
            rows: [
                [
                    GoFormat.hex(UInt64(status.hash)),
                    String(status.revision),
                    String(status.totalKey),
                    Humanize.bytes(UInt64(bitPattern: status.totalSize)),
                ]
            ]
        )
    }
}
