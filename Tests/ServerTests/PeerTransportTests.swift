import Synchronization
import Testing
@testable import Server

/// Collects what a transport delivers, for assertions.
final class Inbox: Sendable {
    let received = Mutex<[(from: UInt64, channel: PeerChannel, payload: [UInt8])]>([])

    var handler: PeerTransport.Handler {
        { from, _, channel, payload in
            self.received.withLock { $0.append((from, channel, payload)) }
            return true
        }
    }

    var count: Int { received.withLock { $0.count } }

    /// Polls until `condition` holds or `seconds` pass.
    func wait(seconds: Double = 10, until condition: @escaping @Sendable (Inbox) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if condition(self) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition(self)
    }
}

/// Two real transports on loopback ports. A hang (a connection or sender that never ends) fails the
/// test after the time limit instead of stalling the run.
@Suite(.timeLimit(.minutes(1))) struct PeerTransportTests {
    private func configuration(_ id: UInt64, cluster: UInt64 = 42) -> PeerTransport.Configuration {
        var configuration = PeerTransport.Configuration(clusterID: cluster, localID: id)
        configuration.minimumBackoff = .milliseconds(10)
        configuration.maximumBackoff = .milliseconds(100)
        return configuration
    }

    @Test func deliversInOrderOnEachChannel() async throws {
        let inbox = Inbox()
        let receiver = PeerTransport(configuration: configuration(2), handler: inbox.handler)
        let sender = PeerTransport(configuration: configuration(1), handler: { _, _, _, _ in true })
        let port = try await receiver.bind(host: "127.0.0.1", port: 0)
        _ = try await sender.bind(host: "127.0.0.1", port: 0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await receiver.run() }
            group.addTask { try await sender.run() }
            sender.addPeer(2, host: "127.0.0.1", port: port)
            var sent = 0
            while sent < 2000 {
                // Queued while connecting, then pipelined; nothing may be dropped below the queue limit.
                if sender.send(Array("m\(sent)".utf8), to: 2) { sent += 1 } else { try await Task.sleep(for: .milliseconds(1)) }
            }
            #expect(sender.send([1, 2, 3], to: 2, on: .snapshots))
            #expect(await inbox.wait { $0.count == 2001 })
            let received = inbox.received.withLock { $0 }
            let messages = received.filter { $0.channel == .messages }.map { String(decoding: $0.payload, as: UTF8.self) }
            #expect(messages == (0..<2000).map { "m\($0)" })
            #expect(received.filter { $0.channel == .snapshots }.map(\.payload) == [[1, 2, 3]])
            #expect(received.allSatisfy { $0.from == 1 })
            #expect(!sender.send([0], to: 99))
            sender.shutdown()
            receiver.shutdown()
            group.cancelAll()
        }
    }

    @Test func reconnectsAfterThePeerRestarts() async throws {
        let sender = PeerTransport(configuration: configuration(1), handler: { _, _, _, _ in true })
        _ = try await sender.bind(host: "127.0.0.1", port: 0)
        let firstInbox = Inbox()
        let first = PeerTransport(configuration: configuration(2), handler: firstInbox.handler)
        let port = try await first.bind(host: "127.0.0.1", port: 0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await sender.run() }
            group.addTask { try await first.run() }
            sender.addPeer(2, host: "127.0.0.1", port: port)
            sender.send([1], to: 2)
            #expect(await firstInbox.wait { $0.count == 1 })
            first.shutdown()

            // Same port, new process-equivalent: the sender must find it again on its own.
            let secondInbox = Inbox()
            let second = PeerTransport(configuration: configuration(2), handler: secondInbox.handler)
            // The first listener closes asynchronously (slowly on a loaded machine): retry the bind for up to 10 s.
            var bound = false
            for _ in 0..<500 where !bound {
                do {
                    _ = try await second.bind(host: "127.0.0.1", port: port)
                    bound = true
                } catch {
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            try #require(bound)
            group.addTask { try await second.run() }
            let delivered = await secondInbox.wait(seconds: 15) { inbox in
                sender.send([2], to: 2)
                return inbox.count > 0
            }
            #expect(delivered)
            #expect(secondInbox.received.withLock { $0.allSatisfy { $0.payload == [2] } })
            sender.shutdown()
            second.shutdown()
            group.cancelAll()
        }
    }

    @Test func refusesAnotherCluster() async throws {
        let inbox = Inbox()
        let receiver = PeerTransport(configuration: configuration(2, cluster: 1), handler: inbox.handler)
        let stranger = PeerTransport(configuration: configuration(1, cluster: 2), handler: { _, _, _, _ in true })
        let port = try await receiver.bind(host: "127.0.0.1", port: 0)
        _ = try await stranger.bind(host: "127.0.0.1", port: 0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await receiver.run() }
            group.addTask { try await stranger.run() }
            stranger.addPeer(2, host: "127.0.0.1", port: port)
            for _ in 0..<20 {
                stranger.send([7], to: 2)
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(inbox.count == 0)
            stranger.shutdown()
            receiver.shutdown()
            group.cancelAll()
        }
    }
}
