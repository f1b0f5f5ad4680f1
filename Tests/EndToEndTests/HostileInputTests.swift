import Client
import EtcdProto
import Foundation
import GRPCCore
import Synchronization
import Testing

extension EndToEnd {
    /// The hostile-input catalogue: a running 3-member cluster is thrown huge keys and values, txns over
    /// the op limit, deeply nested txns, a million watches on one stream, a lease grant storm, a watch
    /// client that never reads, slowloris HTTP, and garbage bytes on the client and peer ports. Each
    /// gets a clear error or is cut off; no member dies or restarts; every member's memory stays under
    /// a bound; and every acknowledged write (a canary set written first, and each hostile phase's
    /// own) is still there at the end, with equal HashKV on every member.
    @Suite(.serialized) struct HostileInput {
        /// What each hostile input got, printed as the catalogue's table.
        final class Outcomes: @unchecked Sendable {
            // @unchecked Sendable: appended to only from the test's own task, between phases.
            var rows: [(input: String, outcome: String)] = []
            func add(_ input: String, _ outcome: String) {
                rows.append((input, outcome))
                print("hostile: \(input) -> \(outcome)")
            }
        }

        /// A counter shared by tasks.
        final class Tally: Sendable {
            private let count = Mutex(0)
            /// Adds one and returns the new count.
            @discardableResult
            func next() -> Int { count.withLock { $0 += 1; return $0 } }
            var value: Int { count.withLock { $0 } }
        }

        /// Resident memory of a process, in MiB.
        static func residentMiB(_ pid: Int32) -> Int {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                  let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                  let kib = Int(line.split(separator: " ").dropFirst().first ?? "")
            else { return 0 }
            return kib / 1024
        }

        /// The error text of a failed call.
        static func text(_ error: any Error) -> String {
            if let rpc = error as? RPCError { return "\(rpc.code): \(rpc.message)" }
            return "\(error)"
        }

        @Test func catalogue() async throws {
            let cluster = try ClusterProcess(.setcd, size: 3, extraArguments: ["--enable-v2"])
            defer { cluster.cleanUp() }
            try cluster.start()
            let pids = cluster.members.map(\.pid)
            var configuration = EtcdClient.Configuration(endpoints: cluster.members.map(\.endpoint))
            configuration.requestTimeout = .seconds(20)
            let outcomes = Outcomes()
            var peakMiB = 0
            func checkMembers(after phase: String) throws {
                for (member, pid) in zip(cluster.members, pids) {
                    #expect(member.isRunning && member.pid == pid, "\(member.name) died or restarted after \(phase)")
                    let resident = Self.residentMiB(pid)
                    peakMiB = max(peakMiB, resident)
                    #expect(resident < 1024, "\(member.name) holds \(resident) MiB after \(phase)")
                }
            }

            try await EtcdClient.withClient(configuration) { etcd in
                for i in 0..<100 { _ = try await etcd.put("canary/\(i)", "v\(i)") }

                // Huge keys and values.
                let bigKey = String(repeating: "k", count: 1 << 20)
                _ = try await etcd.put(bigKey, "v")
                let readBack = try await etcd.get(bigKey)
                #expect(readBack.kvs.first?.key.count == 1 << 20)
                outcomes.add("put of a 1 MiB key (LMDB keys stop at 511 bytes)", readBack.kvs.count == 1 ? "stored and read back" : "MISSING")
                for (what, size) in [("a 1.9 MiB value (over --max-request-bytes)", 1_990_000), ("a 2 MiB value (over the gRPC limit)", 2 << 20),
                                     ("a 16 MiB value", 16 << 20)] {
                    do {
                        _ = try await etcd.put("huge", String(repeating: "v", count: size))
                        outcomes.add("put of \(what)", "ACCEPTED")
                        Issue.record("a put of \(what) was accepted")
                    } catch {
                        outcomes.add("put of \(what)", Self.text(error))
                        if size < 2 << 20 { #expect(Self.text(error).contains("etcdserver: request is too large")) }
                    }
                }
                #expect(try await etcd.get("huge").kvs.isEmpty)
                try checkMembers(after: "huge keys and values")

                // Txns over the op limit, and nested deeply.
                var wide = Etcdserverpb_TxnRequest()
                wide.success = (0..<200).map { i in
                    var op = Etcdserverpb_RequestOp()
                    var put = Etcdserverpb_PutRequest()
                    put.key = Data("wide/\(i)".utf8)
                    op.requestPut = put
                    return op
                }
                do {
                    _ = try await etcd.txn(wide)
                    Issue.record("a txn of 200 ops was accepted")
                } catch {
                    outcomes.add("txn of 200 puts (--max-txn-ops 128)", Self.text(error))
                    #expect(Self.text(error).contains("too many operations in txn request"))
                }
                // Built and sent as bytes: SwiftProtobuf would recurse as deep to encode them.
                for depth in [50, 5_000] {
                    let answer = RawGRPC.call(address: cluster.members[0].endpoint, scratch: cluster.root, method: "etcdserverpb.KV/Txn",
                                              frame: RawGRPC.frame(Self.nestedTxn(depth: depth, key: "nested/\(depth)")))
                    let stored = try await etcd.get("nested/\(depth)").kvs.count
                    outcomes.add("txn nested \(depth) deep (sent raw)", answer.replacingOccurrences(of: "\n", with: "; ") + (stored == 1 ? " (applied)" : " (nothing stored)"))
                    if depth <= 100 {
                        // etcd applies it: within the op budget.
                        #expect(answer.hasPrefix("grpc-status: 0") && stored == 1, "\(answer)")
                    } else {
                        // etcd: the budget shrinks by a level's ops at each level.
                        #expect(answer.contains("etcdserver: too many operations in txn request") && stored == 0, "\(answer)")
                    }
                }
                try checkMembers(after: "txn limits")

                // A lease grant storm: 20,000 grants from 64 tasks.
                let granted = Tally(), refused = Tally()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for task in 0..<64 {
                        group.addTask {
                            for _ in stride(from: task, to: 20_000, by: 64) {
                                do {
                                    _ = try await etcd.grantLease(ttl: 5)
                                    granted.next()
                                } catch {
                                    refused.next()
                                }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                outcomes.add("20,000 lease grants from 64 clients (TTL 5 s, left to expire)",
                             "\(granted.value) granted, \(refused.value) refused")
                #expect(granted.value + refused.value == 20_000)
                try checkMembers(after: "the lease grant storm")

                // Every numeric field of every v3 request at the extremes, then v2 and gateway requests.
                let v3 = try await Self.sendExtremeV3Integers(etcd)
                outcomes.add("every int64, uint64 and enum field of every v3 request at its extremes (limits, revisions, TTLs, lease and member ids, sort, compare, alarm, watch)",
                             "\(v3.requests) requests answered (\(v3.errors) with etcd errors)")
                try checkMembers(after: "extreme v3 integers")
                let http = try Self.sendExtremeHTTPIntegers(endpoint: cluster.members[1].endpoint)
                outcomes.add("v2 ttl, prevIndex, waitIndex and gateway limit, revision, TTL, ID at extremes (2^64, -0, +1, 1e3 …)",
                             "\(http.answered) of \(http.requests) answered over HTTP")
                #expect(http.answered == http.requests)
                try checkMembers(after: "extreme v2 and gateway integers")
            }

            // A million watches on one stream, from a client that reads every answer (HTTP/2 by hand:
            // a client library would spend minutes of its own CPU on a million messages).
            let watches = try Subprocess.run("/usr/bin/python3", ["-c", Self.manyWatches, "127.0.0.1", "\(cluster.members[0].clientPort)", "1000000"], timeout: 600)
            let watchSummary = watches.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            outcomes.add("1,000,000 watch creates on one stream", "\(watchSummary); member 1 at \(Self.residentMiB(pids[0])) MiB")
            #expect(watchSummary.hasPrefix("1000000 created, 0 refused"), "\(watchSummary) \(watches.stderr)")
            try checkMembers(after: "a million watches")

            // A watch client that never reads, while 20,000 events of 1 KiB match its watch.
            let slowReader = try Subprocess("/usr/bin/python3", ["-c", Self.slowWatchReader, "127.0.0.1", "\(cluster.members[0].clientPort)", "120"])
            try await Task.sleep(for: .seconds(1))
            try await EtcdClient.withClient(configuration) { etcd in
                let value = String(repeating: "x", count: 1024)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for task in 0..<16 {
                        group.addTask { for i in stride(from: task, to: 20_000, by: 16) { _ = try await etcd.put("slow/\(i)", value) } }
                    }
                    try await group.waitForAll()
                }
                let stored = try await etcd.get("slow/", .prefix, .countOnly).count
                outcomes.add("a watch client that never reads, 20 MiB of matching events",
                             "writes went on (\(stored) stored); member 1 at \(Self.residentMiB(pids[0])) MiB")
                #expect(stored == 20_000)
            }
            slowReader.signal(SIGKILL)
            try checkMembers(after: "a watch client that never reads")

            // Slowloris: 200 HTTP connections dribbling headers, while ordinary requests go on.
            let slowloris = try Subprocess("/usr/bin/python3", ["-c", Self.slowloris, "127.0.0.1", "\(cluster.members[1].clientPort)", "200", "20"])
            try await Task.sleep(for: .seconds(3))
            let health = try Subprocess.run("/usr/bin/curl", ["-s", "--max-time", "5", "http://\(cluster.members[1].endpoint)/health"])
            let put = cluster.ctl(["put", "during/slowloris", "ok"], on: [cluster.members[1]])
            let held = slowloris.finish(timeout: 40).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            outcomes.add("slowloris: 200 connections sending a header byte every 0.5 s for 20 s",
                         (health.stdout.contains("true") && put.exitCode == 0 ? "other clients served meanwhile; " : "OTHERS STARVED; ") + held)
            #expect(health.stdout.contains("\"health\":\"true\""))
            #expect(put.exitCode == 0)
            // Cut off: a request head must be whole within 10 s of its first byte.
            #expect(held.hasPrefix("0 connections still open"), "\(held)")
            try checkMembers(after: "slowloris")

            // Garbage bytes on the client and peer ports.
            for (port, name) in [(cluster.members[2].clientPort, "client"), (cluster.members[2].peerPort, "peer")] {
                let garbage = try Subprocess.run("/usr/bin/python3", ["-c", Self.garbage, "127.0.0.1", "\(port)", "100"], timeout: 300)
                outcomes.add("garbage on the \(name) port: 100 connections of 64 KiB random bytes", garbage.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
                #expect(garbage.exitCode == 0, "\(garbage.stderr)")
                // Cut off: no connection of garbage is kept open.
                #expect(garbage.stdout.contains(" 0 still open"), "\(garbage.stdout)")
            }
            try checkMembers(after: "garbage bytes")

            // Raft messages no correct member sends, on every member's peer port.
            let implausible = try cluster.sendImplausiblePeerMessages()
            outcomes.add("implausible raft messages on the peer port (empty proposal, commit past the log, term 0 and 2^64-1, entries that skip, a snapshot on the messages stream, forged timeoutNow and readIndexResp, wrong addressee or sender)",
                         implausible == "all" ? "each dropped, its connection closed" : implausible)
            #expect(implausible == "all")
            try checkMembers(after: "implausible peer messages")

            // Nothing acknowledged was lost; the members agree.
            try await EtcdClient.withClient(configuration) { etcd in
                let canaries = try await etcd.get(prefix: "canary/")
                #expect(canaries.count == 100)
                #expect(try await etcd.get("during/slowloris").kvs.count == 1)
                let revision = try await etcd.put("final", "x").header.revision
                var hashes: [UInt32] = []
                for member in cluster.members {
                    var one = configuration
                    one.endpoints = [member.endpoint]
                    hashes.append(try await EtcdClient.withClient(one) { etcd in
                        while try await etcd.status().header.revision < revision { try await Task.sleep(for: .milliseconds(100)) }
                        return try await etcd.hashKV(revision: revision).hash
                    })
                }
                #expect(Set(hashes).count == 1, "HashKV differs: \(hashes)")
            }
            try checkMembers(after: "the final checks")
            print("hostile inputs tried: \(outcomes.rows.count); peak member memory \(peakMiB) MiB")
            for row in outcomes.rows { print("| \(row.input) | \(row.outcome) |") }
        }

        /// A TxnRequest whose success branch holds a txn, `depth` times over, around one put of `key`
        /// (protobuf bytes built from the inside out, without recursion).
        static func nestedTxn(depth: Int, key: String) -> [UInt8] {
            func varint(_ value: Int) -> [UInt8] {
                var value = value, bytes: [UInt8] = []
                while value >= 0x80 {
                    bytes.append(UInt8(value & 0x7F) | 0x80)
                    value >>= 7
                }
                return bytes + [UInt8(value)]
            }
            func field(_ number: Int, _ payload: [UInt8]) -> [UInt8] { varint(number << 3 | 2) + varint(payload.count) + payload }
            // TxnRequest.success (2) → RequestOp.request_put (2) → PutRequest key (1), value (2).
            var txn = field(2, field(2, field(1, Array(key.utf8)) + field(2, Array("v".utf8))))
            // RequestOp.request_txn (4) inside TxnRequest.success (2).
            for _ in 0..<depth { txn = field(2, field(4, txn)) }
            return txn
        }

        /// What both HTTP/2 scripts share: frame and header encoding, and the header block of a gRPC
        /// Watch call (HPACK literals without indexing).
        static let http2WatchCall = #"""
            import socket, struct, sys, threading, time
            def frame(kind, flags, stream, payload):
                return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload
            def literal(name, value):
                return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value
            headers = b"".join(literal(n, v) for n, v in [(b":method", b"POST"), (b":scheme", b"http"),
                (b":path", b"/etcdserverpb.Watch/Watch"), (b":authority", b"setcd"), (b"content-type", b"application/grpc"), (b"te", b"trailers")])

            """#

        /// HTTP/2 by hand: a gRPC Watch on prefix "slow/" whose answers are never read (argv: host,
        /// port, seconds to hold the connection).
        static let slowWatchReader = http2WatchCall + #"""
            host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
            s = socket.create_connection((host, port))
            create = b"\x0a\x05slow/" + b"\x12\x05slow0"
            request = b"\x0a" + bytes([len(create)]) + create
            message = b"\x00" + struct.pack(">I", len(request)) + request
            s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b"") + frame(1, 4, 1, headers) + frame(0, 0, 1, message))
            time.sleep(seconds)
            """#

        /// A gRPC Watch stream by hand (argv: host, port, count): `count` create requests sent as flow
        /// control allows, while every answer is read; prints how many watches were created or refused.
        static let manyWatches = http2WatchCall + #"""
            host, port, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
            s = socket.create_connection((host, port))
            # Receive windows as large as HTTP/2 allows: this side never sends WINDOW_UPDATE.
            big = 0x7fffffff
            s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, struct.pack(">HI", 4, big)) + frame(8, 0, 0, struct.pack(">I", big - 65535)) + frame(1, 4, 1, headers))
            lock = threading.Condition()
            window = {"conn": 65535, "stream": 65535, "initial": 65535}
            done = {"created": 0, "canceled": 0, "ended": None}
            def reader():
                buf = b""
                grpc = b""
                while True:
                    data = s.recv(1 << 20)
                    if not data:
                        done["ended"] = done["ended"] or "connection closed"
                        break
                    buf += data
                    while len(buf) >= 9:
                        length = int.from_bytes(buf[0:3], "big"); kind = buf[3]; flags = buf[4]; sid = int.from_bytes(buf[5:9], "big") & 0x7fffffff
                        if len(buf) < 9 + length:
                            break
                        payload = buf[9:9 + length]; buf = buf[9 + length:]
                        if kind == 4 and not flags & 1:
                            for i in range(0, len(payload), 6):
                                ident, value = struct.unpack(">HI", payload[i:i + 6])
                                if ident == 4:
                                    with lock:
                                        window["stream"] += value - window["initial"]; window["initial"] = value; lock.notify_all()
                            s.sendall(frame(4, 1, 0, b""))
                        elif kind == 8:
                            increment = struct.unpack(">I", payload)[0] & 0x7fffffff
                            with lock:
                                window["conn" if sid == 0 else "stream"] += increment; lock.notify_all()
                        elif kind == 0 and sid == 1:
                            grpc += payload
                            while len(grpc) >= 5:
                                n = int.from_bytes(grpc[1:5], "big")
                                if len(grpc) < 5 + n:
                                    break
                                message = grpc[5:5 + n]; grpc = grpc[5 + n:]
                                # WatchResponse: created = field 3, canceled = field 4 (varint bools).
                                if b"\x18\x01" in message[:64]:
                                    if b"\x20\x01" in message[:64]:
                                        done["canceled"] += 1
                                    else:
                                        done["created"] += 1
                        elif kind == 1 and sid == 1 and flags & 1:
                            done["ended"] = "stream ended by the server"
                        elif kind in (3, 7):
                            done["ended"] = "stream reset" if kind == 3 else "connection closed by GOAWAY"
                    if done["created"] + done["canceled"] >= total or done["ended"]:
                        with lock:
                            lock.notify_all()
                        break
            thread = threading.Thread(target=reader, daemon=True)
            thread.start()
            start = time.time()
            pending = b""
            sent = 0
            while sent < total or pending:
                while len(pending) < 16384 and sent < total:
                    key = b"watched/%d" % (sent % 1000)
                    create = b"\x0a" + bytes([len(key)]) + key
                    request = b"\x0a" + bytes([len(create)]) + create
                    pending += b"\x00" + struct.pack(">I", len(request)) + request
                    sent += 1
                with lock:
                    while min(window["conn"], window["stream"]) <= 0 and not done["ended"]:
                        lock.wait(1)
                    if done["ended"]:
                        break
                    n = min(len(pending), 16384, window["conn"], window["stream"])
                    window["conn"] -= n; window["stream"] -= n
                s.sendall(frame(0, 0, 1, pending[:n])); pending = pending[n:]
            thread.join(600)
            ended = f" ({done['ended']})" if done["ended"] else ""
            print(f"{done['created']} created, {done['canceled']} refused in {time.time() - start:.0f} s{ended}")
            """#

        /// Slowloris (argv: host, port, connections, seconds): each connection sends an HTTP/1.1
        /// request line and then one header byte every half second, never finishing its headers.
        static let slowloris = #"""
            import socket, sys, time
            host, port, count, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
            conns = []
            for _ in range(count):
                c = socket.create_connection((host, port))
                c.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
                conns.append(c)
            end = time.time() + seconds
            while time.time() < end and conns:
                for c in list(conns):
                    try:
                        c.sendall(b"X")
                    except OSError:
                        conns.remove(c)
                time.sleep(0.5)
            print(len(conns), "connections still open")
            """#

        /// Garbage (argv: host, port, connections): each connection sends 64 KiB of random bytes, then
        /// waits up to 2 s for the server to close it. Prints how the connections ended.
        static let garbage = #"""
            import os, socket, sys
            host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
            closed = reset = open_ = 0
            for i in range(count):
                c = socket.create_connection((host, port))
                c.settimeout(2)
                try:
                    c.sendall(os.urandom(65536))
                    while c.recv(65536):
                        pass
                    closed += 1
                except ConnectionResetError:
                    reset += 1
                except BrokenPipeError:
                    reset += 1
                except socket.timeout:
                    open_ += 1
                c.close()
            print(f"{closed} closed by the server, {reset} reset, {open_} still open after 2 s")
            """#
    }
}
