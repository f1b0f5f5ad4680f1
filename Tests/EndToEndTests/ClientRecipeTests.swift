import Client
import Foundation
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
        // etcdctl holds the lock while its command runs for 3 s.
        let holder = try Subprocess(ctl, ["--endpoints=\(server.clientAddress)", "lock", "shared", "--", "/bin/sh", "-c", "echo held; sleep 3"],
                                    environment: environment)
        #expect(holder.waitForStdout(seconds: 10) { $0.contains("held") }, "etcdctl did not take the lock")
        let held = Date()
        try await EtcdClient.withClient(.init(endpoints: [server.clientAddress])) { client in
            let session = try await Client.Session(client: client, ttl: 10)
            let mutex = EtcdMutex(session: session, name: "shared")
            try await mutex.lock()
            #expect(Date().timeIntervalSince(held) > 2.5, "the client got the lock while etcdctl held it")
            // Now etcdctl waits for the client.
            let contender = try Subprocess(ctl, ["--endpoints=\(server.clientAddress)", "lock", "shared", "echo", "acquired"], environment: environment)
            try await Task.sleep(for: .seconds(1.5))
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
            try await Task.sleep(for: .seconds(1.5))
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
