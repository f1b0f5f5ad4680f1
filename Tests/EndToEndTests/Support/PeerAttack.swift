import Foundation
import NIOCore
import Raft
@testable import Server
#if canImport(Glibc)
import Glibc
#endif

extension ClusterProcess {
    /// Sends each setcd member, on connections whose hello names another member (the cluster id is
    /// public: any client reads it in a response header), raft messages that no correct member sends and
    /// that the Raft core would trap on or be misled by. Returns "all" if the member closed every such
    /// connection, or which it kept open.
    func sendImplausiblePeerMessages() throws -> String {
        let list = ctl(["member", "list", "-w", "json"])
        guard let object = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: Any],
              let header = object["header"] as? [String: Any], let clusterID = (header["cluster_id"] as? NSNumber)?.uint64Value,
              let term = (header["raft_term"] as? NSNumber)?.uint64Value,
              let members = object["members"] as? [[String: Any]]
        else { throw HarnessError("cannot read member list: \(list.stdout) \(list.stderr)") }
        let ids = members.compactMap { ($0["ID"] as? NSNumber)?.uint64Value }
        let byPeerPort = Dictionary(uniqueKeysWithValues: members.compactMap { member -> (Int, UInt64)? in
            guard let id = (member["ID"] as? NSNumber)?.uint64Value, let url = (member["peerURLs"] as? [String])?.first,
                  let port = URL(string: url)?.port else { return nil }
            return (port, id)
        })
        var open: [String] = []
        for member in self.members {
            guard let target = byPeerPort[member.peerPort], let sender = ids.first(where: { $0 != target }) else {
                throw HarnessError("no member id for \(member.name)")
            }
            let snapshot = Snapshot(metadata: SnapshotMetadata(index: 1 << 30, term: term, confState: ConfState(voters: [target])))
            let messages: [(String, Message, PeerChannel)] = [
                ("empty proposal", Message(type: .prop, to: target, from: sender, term: term), .messages),
                ("heartbeat committing index 2^40", Message(type: .heartbeat, to: target, from: sender, term: term, commit: 1 << 40), .messages),
                ("append for another member", Message(type: .app, to: target &+ 1, from: sender, term: term), .messages),
                ("vote request from a stranger", Message(type: .vote, to: target, from: 0xdead_beef, term: term + 1, logTerm: term, index: 1 << 40),
                 .messages),
                ("vote request without a term", Message(type: .vote, to: target, from: sender, term: 0, logTerm: 1 << 61), .messages),
                ("heartbeat at term 2^64-1", Message(type: .heartbeat, to: target, from: sender, term: .max), .messages),
                ("append response for index 2^64-1", Message(type: .appResp, to: target, from: sender, term: term, index: .max), .messages),
                ("append whose entries skip an index", Message(type: .app, to: target, from: sender, term: term, logTerm: term, index: 1,
                                                              entries: [Raft.Entry(term: term, index: 5)]), .messages),
                ("snapshot on the messages stream", Message(type: .snap, to: target, from: sender, term: term, snapshot: snapshot), .messages),
                ("timeoutNow naming a stranger", Message(type: .timeoutNow, to: target, from: 0xdead_beef, term: term), .messages),
                ("readIndexResp naming a stranger", Message(type: .readIndexResp, to: target, from: 0xdead_beef, term: term, index: 1), .messages),
                ("append on the snapshots stream", Message(type: .app, to: target, from: sender, term: term), .snapshots),
            ]
            for (what, message, channel) in messages {
                var frames = ByteBuffer()
                PeerFrameEncoder.encode(.hello(clusterID: clusterID, from: sender, channel: channel), into: &frames)
                let payload = channel == .messages ? RaftWire.encode(message) : SnapshotFrame.begin(stream: 1, message, size: 0).encoded()
                PeerFrameEncoder.encode(.message(payload), into: &frames)
                if !Self.sendAndWaitForClose(Array(frames.readableBytesView), port: member.peerPort, seconds: 5) {
                    open.append("\(member.name): \(what)")
                }
            }
        }
        return open.isEmpty ? "all" : "still open: " + open.joined(separator: "; ")
    }

    /// Connects to 127.0.0.1:`port`, sends `bytes`, and waits up to `seconds` for the other side to close.
    static func sendAndWaitForClose(_ bytes: [UInt8], port: Int, seconds: Double) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return false }
        guard bytes.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == bytes.count else { return false }
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) >= 0 else { return false }
            if poller.revents != 0 {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n <= 0 { return true }
            }
        }
        return false
    }
}
