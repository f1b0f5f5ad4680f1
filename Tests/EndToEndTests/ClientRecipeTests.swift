import Client
import Foundation
import Synchronization
import Testing

extension EndToEnd.ClientLibrary {
    /// The client's mutex and the real `etcdctl lock` exclude each other on the same name, on etcd and
    /// on setcd alike (the same keys and protocol as clientv3/concurrency).
    @Test(arguments: [Flavor.etcd, .setcd])
    func mutexExcludesEtcdctlLock(_ flavor: Flavor) async throws {
        let server = try ServerProcess(flavor)
        defer { server.cleanUp() }
        try server.start()
        let ctl = try Binaries.etcdctl()
        let environment = childEnvironment(["ETCDCTL_API": "3"])
        // etcdctl holds the lock while its command runs for 3 s (the deliberate hold the client must wait
        // out); the command's last act, before etcdctl unlocks, is to create `released`.
        let released = server.root + "/released"
        let holder = try Subprocess(ctl, ["--endpoints=\(server.clientAddress)", "lock", "shared", "--", "/bin/sh", "-c",
                                          "echo held; sleep 3; touch \"$0\"", released],
                                    environment: environment)
        #expect(holder.waitForStdout(seconds: 10) { $0.contains("held") }, "etcdctl did not take the lock")
        try await EtcdClient.withClient(.init(endpoints: [server.clientAddress])) { client in
            let session = try await Client.Session(client: client, ttl: 10)
            let mutex = EtcdMutex(session: session, name: "shared")
            try await mutex.lock()
            // Checked by order, not by time: etcdctl's command had finished when the client got the lock.
            #expect(FileManager.default.fileExists(atPath: released), "the client got the lock while etcdctl held it")
            // Now etcdctl waits for the client.
            let contender = try Subprocess(ctl, ["--endpoints=\(server.clientAddress)", "lock", "shared", "echo", "acquired"], environment: environment)
            /// Waits until etcdctl has queued for the lock (its key beside the client's), so that it is seen
            /// waiting, not still starting.
            let queued = try await waitUntilAsync(seconds: 20) { try await client.get("shared/", .prefix, .countOnly).count == 2 }
            #expect(queued, "etcdctl never queued for the lock")
            #expect(contender.isRunning && !contender.stdout.contains("acquired"), "etcdctl got the lock while the client held it")
            try await mutex.unlock()
            #expect(contender.waitForStdout(seconds: 10) { $0.contains("acquired") }, "etcdctl never got the released lock")
            try await session.close()
        }
    }

    /// The client's election and `etcdctl elect` see the same leader and hand leadership over.
    @Test(arguments: [Flavor.etcd, .setcd])
    func electionInteroperatesWithEtcdctlElect(_ flavor: Flavor) async throws {
        let server = try ServerProcess(flavor)
        defer { server.cleanUp() }
        try server.start()
        let ctl = try Binaries.etcdctl()
        let environment = childEnvironment(["ETCDCTL_API": "3"])
        try await EtcdClient.withClient(.init(endpoints: [server.clientAddress])) { client in
            let session = try await Client.Session(client: client, ttl: 10)
            let election = Election(session: session, name: "office")
            try await election.campaign("swift")
            let observer = try Subprocess(ctl, ["--endpoints=\(server.clientAddress)", "elect", "--listen", "office"], environment: environment)
            #expect(observer.waitForStdout(seconds: 10) { $0.contains("\nswift\n") }, "etcdctl elect --listen: \(observer.stdout)")
            _ = observer.stop()
            // etcdctl campaigns and waits while the client leads.
            let candidate = try Subprocess(ctl, ["--endpoints=\(server.clientAddress)", "elect", "office", "go"], environment: environment)
            /// Waits until etcdctl is campaigning (its key beside the client's), so that it is seen waiting, not
            /// still starting.
            let campaigning = try await waitUntilAsync(seconds: 20) { try await client.get("office/", .prefix, .countOnly).count == 2 }
            #expect(campaigning, "etcdctl never campaigned")
            #expect(!candidate.stdout.contains("go"), "etcdctl was elected while the client led")
            try await election.resign()
            #expect(candidate.waitForStdout(seconds: 10) { $0.contains("\ngo\n") }, "etcdctl was never elected: \(candidate.stdout)")
            let leader = try await election.leader()
            #expect(leader.map { String(decoding: $0.value, as: UTF8.self) } == "go")
            await #expect(throws: ElectionError.notLeader) { try await election.proclaim("again") }
            _ = candidate.stop()
            try await session.close()
        }
    }
}

extension EndToEnd.ClientLibrary {
    /// Hundreds of calls in a few seconds on one connection: etcd's gRPC answers nearly every request
    /// with a PING, and grpc-swift alone would drop the connection after 200 of them (see
    /// `PingAnswerer`).
    @Test(arguments: [Flavor.etcd, .setcd])
    func manyCallsOnOneConnection(_ flavor: Flavor) async throws {
        let server = try ServerProcess(flavor)
        defer { server.cleanUp() }
        try server.start()
        try await EtcdClient.withClient(.init(endpoints: [server.clientAddress])) { client in
            for i in 0..<600 {
                _ = try await client.put("k/\(i % 10)", "\(i)")
            }
            #expect(try await client.get("k/9").kvs.first?.value == Data("599".utf8))
        }
    }
}

extension EndToEnd.ClientLibrary {
    /// The txn and read/delete builders give etcd's results on both servers.
    @Test(arguments: [Flavor.etcd, .setcd])
    func buildersReadWriteAndTransact(_ flavor: Flavor) async throws {
        let server = try ServerProcess(flavor)
        defer { server.cleanUp() }
        try server.start()
        try await EtcdClient.withClient(.init(endpoints: [server.clientAddress])) { client in
            for (key, value) in [("cfg/a", "1"), ("cfg/b", "2"), ("cfg/c", "3"), ("other", "x")] { _ = try await client.put(key, value) }
            let limited = try await client.get("cfg/", .prefix, .limit(2), .sort(by: .key, order: .descend))
            #expect(limited.kvs.map { String(decoding: $0.key, as: UTF8.self) } == ["cfg/c", "cfg/b"] && limited.more && limited.count == 3)
            #expect(try await client.get("", .prefix, .countOnly).count == 4)
            #expect(try await client.get("cfg/b", .fromKey, .keysOnly).kvs.map { String(decoding: $0.key, as: UTF8.self) } == ["cfg/b", "cfg/c", "other"])
            let old = try await client.get("cfg/a").header.revision
            #expect(try await client.get("cfg/a", .revision(old), .serializable).kvs.first?.value == Data("1".utf8))

            let swap = Txn()
                .when(.value("cfg/a", .equal, "1"), .version("cfg/b", .greater, 0))
                .then(.put("cfg/a", "10", prevKV: true), .get("cfg/", .prefix, .countOnly))
                .otherwise(.get("cfg/a"))
            let first = try await client.commit(swap)
            #expect(first.succeeded && first.responses.count == 2 && first.responses[0].responsePut.prevKv.value == Data("1".utf8))
            #expect(first.responses[1].responseRange.count == 3)
            let second = try await client.commit(swap)
            #expect(!second.succeeded && second.responses.first?.responseRange.kvs.first?.value == Data("10".utf8))
            let nested = try await client.commit(Txn().then(.txn(Txn().when(.createRevision("missing", .equal, 0)).then(.put("made", "1")))))
            #expect(nested.succeeded && nested.responses.first?.responseTxn.succeeded == true)

            let deleted = try await client.delete("cfg/", .prefix, .prevKV)
            #expect(deleted.deleted == 3 && deleted.prevKvs.count == 3)
            #expect(try await client.get("", .prefix, .countOnly).count == 2)
        }
    }

    /// `keepAlive` keeps a short lease alive as long as it is iterated; after that the lease expires.
    @Test(arguments: [Flavor.etcd, .setcd])
    func keepAliveStreamHoldsALease(_ flavor: Flavor) async throws {
        let server = try ServerProcess(flavor)
        defer { server.cleanUp() }
        try server.start()
        try await EtcdClient.withClient(.init(endpoints: [server.clientAddress])) { client in
            let lease = try await client.grantLease(ttl: 2).id
            _ = try await client.put("held", "v", lease: lease)
            let renewals = Task {
                var count = 0
                for try await response in client.keepAlive(lease) {
                    #expect(response.id == lease && response.ttl == 2)
                    count += 1
                }
                return count
            }
            // The behaviour, not the renewal rate: through 5 s (2.5 times the TTL) the key and its lease stay,
            // looked at every half second. The 5 s are the point (outliving the TTL), not a wait for readiness.
            var lapse: String?
            for step in 1...10 where lapse == nil {
                try await Task.sleep(for: .milliseconds(500))
                let key = try await client.get("held").kvs.count
                let remaining = try await client.timeToLive(lease).ttl
                if key != 1 || remaining < 0 {  // -1: no such lease (a remaining 0 may just round down)
                    lapse = "after \(step * 500) ms: key count \(key), remaining TTL \(remaining)"
                }
            }
            #expect(lapse == nil, "the key outlived its 2 s lease while kept alive: \(lapse ?? "")")
            // Revoking the lease ends the stream.
            _ = try await client.revokeLease(lease)
            let count = try await renewals.value
            #expect(count >= 1, "the keep-alive stream yielded no renewal")
            #expect(try await client.get("held").kvs.isEmpty)

            // Without keep-alives a lease runs out.
            let short = try await client.grantLease(ttl: 2).id
            let renewed = Flag()
            let stopped = Task { for try await _ in client.keepAlive(short) { renewed.set() } }
            /// Waits until the stream has renewed the lease once, so that the keep-alives that stop below had
            /// started.
            #expect(try await waitUntilAsync(seconds: 20) { renewed.isSet }, "the keep-alive stream never renewed the lease")
            stopped.cancel()
            // The 4 s are the point: twice the TTL after the keep-alives stopped, not a wait for readiness.
            try await Task.sleep(for: .seconds(4))
            #expect(try await client.timeToLive(short).ttl == -1, "lease expired after its keep-alives stopped")
        }
    }
}

/// A flag set from one task and read from another.
private final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
