import NIOCore
import NIOPosix
import Synchronization

/// Moves opaque payloads (encoded raft messages) between the members of one cluster over TCP.
///
/// Each member listens on its peer URL. For every other member it keeps two outbound connections, one
/// per `PeerChannel`, each opened with a `hello` frame and then fed from a bounded queue: sends never
/// block the caller, and when a queue is full or a peer is down, payloads are dropped, which Raft
/// tolerates (it retries). Connections are re-established with exponential backoff. Frames from other
/// clusters are refused. The caller runs `run()` for as long as the transport should live and cancels
/// it to stop.
public final class PeerTransport: Sendable {
    /// Identity and limits of a transport.
    public struct Configuration: Sendable {
        public var clusterID: UInt64
        public var localID: UInt64
        /// The largest payload on the messages channel (etcd's raft messages are capped well below this).
        public var maxMessageBytes = 64 << 20
        /// The largest payload on the snapshots channel: a chunk of the store file and its frame header
        /// (the file itself comes in chunks).
        public var maxSnapshotBytes = SnapshotFrame.chunkSize + 4096
        /// Payloads queued per peer on the messages channel before new ones are dropped.
        public var queueLimit = 4096
        /// Payloads (snapshot chunks) queued per peer on the snapshots channel; a sender waits for room.
        public var snapshotQueueLimit = 8
        public var minimumBackoff: Duration = .milliseconds(50)
        public var maximumBackoff: Duration = .seconds(1)

        public init(clusterID: UInt64, localID: UInt64) {
            self.clusterID = clusterID
            self.localID = localID
        }
    }

    /// Receives every payload: the sending member (as the connection's hello named it), the connection's
    /// number (for `closeInbound(connection:)`), the channel it came on, and the bytes; returns false to
    /// close the connection (the payload showed it is not a correct member's).
    public typealias Handler = @Sendable (_ from: UInt64, _ connection: UInt64, _ channel: PeerChannel, _ payload: [UInt8]) -> Bool

    private enum Command: Sendable {
        case start(PeerSender)
    }

    private typealias Listener = NIOAsyncChannel<NIOAsyncChannel<PeerFrame, PeerFrame>, Never>

    public let configuration: Configuration
    private let group: any EventLoopGroup
    private let handler: Handler
    private let senders = Mutex<[UInt64: [PeerSender]]>([:])
    private let listener = Mutex<Listener?>(nil)
    /// Open inbound connections, closed by `shutdown()`; once shut down, new ones close at once.
    private let inbound = Mutex<(closed: Bool, channels: [UInt64: any Channel], lastNumber: UInt64)>((false, [:], 0))
    /// Answers a joining member's `membersRequest`.
    private let membersProvider = Mutex<(@Sendable () -> [UInt8])?>(nil)
    private let commands: AsyncStream<Command>
    private let commandSink: AsyncStream<Command>.Continuation

    public init(configuration: Configuration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, handler: @escaping Handler) {
        self.configuration = configuration
        self.group = group
        self.handler = handler
        (commands, commandSink) = AsyncStream.makeStream()
    }

    /// Binds the peer listener; returns the bound port (useful with port 0). `run()` then serves it.
    public func bind(host: String, port: Int) async throws -> Int {
        // A frame is its type byte and payload; a hello is 18 bytes, a members request one.
        let decoder = PeerFrameDecoder(beforeHello: 64, messages: configuration.maxMessageBytes + 1, snapshots: configuration.maxSnapshotBytes + 1)
        let channel: Listener = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(decoder))
                    try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(PeerFrameEncoder()))
                    return try NIOAsyncChannel<PeerFrame, PeerFrame>(wrappingChannelSynchronously: channel)
                }
            }
        listener.withLock { $0 = channel }
        return channel.channel.localAddress?.port ?? port
    }

    /// Sets what a joining member asking `membersRequest` gets.
    public func answerMembersRequests(with provider: @escaping @Sendable () -> [UInt8]) {
        membersProvider.withLock { $0 = provider }
    }

    /// Asks the member listening at `host:port` for its `membersReply` (used before a joining member
    /// knows its own id or the cluster's).
    public static func queryMembers(host: String, port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> [UInt8] {
        let connection = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(2))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(PeerFrameDecoder(maxFrameLength: 64 << 20)))
                    try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(PeerFrameEncoder()))
                    return try NIOAsyncChannel<PeerFrame, PeerFrame>(wrappingChannelSynchronously: channel)
                }
            }
        return try await connection.executeThenClose { inbound, outbound in
            try await outbound.write(.membersRequest)
            for try await frame in inbound {
                if case .membersReply(let reply) = frame { return reply }
                break
            }
            throw PeerFrameError.malformedHello
        }
    }

    /// Adds (or replaces) a peer reachable at `host:port` and starts connecting to it; nothing changes
    /// if the peer is already known at that address.
    public func addPeer(_ id: UInt64, host: String, port: Int) {
        let known = senders.withLock { $0[id]?.first.map { $0.host == host && $0.port == port } ?? false }
        if known { return }
        let created = PeerChannel.allCases.map { channel in
            PeerSender(peer: id, host: host, port: port, channel: channel, configuration: configuration, group: group)
        }
        let replaced = senders.withLock { senders in
            defer { senders[id] = created }
            return senders[id] ?? []
        }
        for sender in replaced { sender.stop() }
        for sender in created { commandSink.yield(.start(sender)) }
    }

    /// Forgets a peer and closes its connections.
    public func removePeer(_ id: UInt64) {
        let removed = senders.withLock { $0.removeValue(forKey: id) } ?? []
        for sender in removed { sender.stop() }
    }

    /// Queues `payload` for `peer`; false if the peer is unknown or its queue is full (the payload is
    /// dropped, as a lossy network would; a snapshot sender waits and tries again).
    @discardableResult
    public func send(_ payload: [UInt8], to peer: UInt64, on channel: PeerChannel = .messages) -> Bool {
        guard let sender = senders.withLock({ $0[peer]?.first { $0.channel == channel } }) else { return false }
        return sender.enqueue(payload)
    }

    /// Whether the messages connection to `peer` is currently established.
    public func isConnected(_ peer: UInt64) -> Bool { connectedSince(peer) != nil }

    /// Since when the messages connection to `peer` has been up (etcd's `ActiveSince`); nil if it is down.
    public func connectedSince(_ peer: UInt64) -> ContinuousClock.Instant? {
        senders.withLock { $0[peer]?.first { $0.channel == .messages } }?.connectedSince
    }

    /// Serves inbound connections and runs the outbound senders until cancelled.
    public func run() async throws {
        guard let listener = listener.withLock({ $0 }) else { preconditionFailure("PeerTransport.run() before bind(host:port:)") }
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                try await listener.executeThenClose { connections in
                    try await withThrowingDiscardingTaskGroup { connectionGroup in
                        for try await connection in connections {
                            connectionGroup.addTask { await self.serve(connection) }
                        }
                    }
                }
            }
            for await command in commands {
                switch command {
                case .start(let sender):
                    group.addTask { await sender.run() }
                }
            }
        }
    }

    /// Stops every sender, closes the listener and ends `run()`.
    public func shutdown() {
        let all = senders.withLock { senders in
            defer { senders.removeAll() }
            return senders.values.flatMap { $0 }
        }
        for sender in all { sender.stop() }
        commandSink.finish()
        listener.withLock { $0?.channel.close(promise: nil) }
        let open = inbound.withLock { inbound in
            inbound.closed = true
            return Array(inbound.channels.values)
        }
        for connection in open { connection.close(promise: nil) }
    }

    /// Closes inbound connection number `connection` (it delivered a message no correct member sends).
    public func closeInbound(connection: UInt64) {
        inbound.withLock { $0.channels[connection] }?.close(promise: nil)
    }

    /// Reads one inbound connection: a hello from a member of this cluster, then payloads.
    private func serve(_ connection: NIOAsyncChannel<PeerFrame, PeerFrame>) async {
        let (key, accepted) = inbound.withLock { inbound in
            inbound.lastNumber += 1
            if !inbound.closed { inbound.channels[inbound.lastNumber] = connection.channel }
            return (inbound.lastNumber, !inbound.closed)
        }
        guard accepted else {
            // Accepted while shutting down: `shutdown()` has already closed the others.
            try? await connection.channel.close()
            return
        }
        defer { _ = inbound.withLock { $0.channels.removeValue(forKey: key) } }
        try? await connection.executeThenClose { frames, outbound in
            var frames = frames.makeAsyncIterator()
            let first = try await frames.next()
            if case .membersRequest? = first, let provider = membersProvider.withLock({ $0 }) {
                try await outbound.write(.membersReply(provider()))
                return
            }
            guard case .hello(let clusterID, let from, let channel)? = first,
                  clusterID == configuration.clusterID
            else { return }
            let limit = channel == .messages ? configuration.maxMessageBytes : configuration.maxSnapshotBytes
            while let frame = try await frames.next() {
                guard case .message(let payload) = frame, payload.count <= limit, handler(from, key, channel, payload) else { return }
            }
        }
    }
}

/// The outbound side of one peer connection: a bounded queue and the loop that connects and drains it.
final class PeerSender: Sendable {
    let peer: UInt64
    let channel: PeerChannel
    let host: String
    let port: Int
    private let configuration: PeerTransport.Configuration
    private let group: any EventLoopGroup

    private struct State {
        var queue: [[UInt8]] = []
        var waiter: CheckedContinuation<Void, Never>?
        /// When the current connection was established; nil while disconnected.
        var connectedSince: ContinuousClock.Instant?
        var stopped = false
    }
    private let state = Mutex(State())

    init(peer: UInt64, host: String, port: Int, channel: PeerChannel, configuration: PeerTransport.Configuration, group: any EventLoopGroup) {
        self.peer = peer
        self.host = host
        self.port = port
        self.channel = channel
        self.configuration = configuration
        self.group = group
    }

    var connectedSince: ContinuousClock.Instant? { state.withLock { $0.connectedSince } }

    func enqueue(_ payload: [UInt8]) -> Bool {
        state.withLock { state in
            let limit = channel == .messages ? configuration.queueLimit : configuration.snapshotQueueLimit
            guard !state.stopped, state.queue.count < limit else { return false }
            state.queue.append(payload)
            state.waiter.take()?.resume()
            return true
        }
    }

    func stop() {
        state.withLock { state in
            state.stopped = true
            state.waiter.take()?.resume()
        }
    }

    /// Waits for queued payloads and takes them all; nil once stopped.
    private func nextBatch() async -> [[UInt8]]? {
        while true {
            let batch: [[UInt8]]? = state.withLock { state in
                if state.stopped { return [] }
                guard !state.queue.isEmpty else { return nil }
                defer { state.queue.removeAll(keepingCapacity: true) }
                return state.queue
            }
            if let batch { return batch.isEmpty ? nil : batch }
            // A cancelled sender stops, so the wait below always ends.
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    state.withLock { state in
                        if state.stopped || !state.queue.isEmpty {
                            continuation.resume()
                        } else {
                            state.waiter = continuation
                        }
                    }
                }
            } onCancel: {
                stop()
            }
        }
    }

    /// Connects, says hello and drains the queue; on any failure waits (exponential backoff) and
    /// reconnects, until stopped or cancelled. Payloads taken off the queue when a write fails are lost.
    func run() async {
        var backoff = configuration.minimumBackoff
        while !Task.isCancelled && !state.withLock({ $0.stopped }) {
            do {
                let connection = try await ClientBootstrap(group: group)
                    .connectTimeout(.seconds(1))
                    .channelOption(.socketOption(.tcp_nodelay), value: 1)
                    .connect(host: host, port: port) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(PeerFrameEncoder()))
                            return try NIOAsyncChannel<Never, PeerFrame>(wrappingChannelSynchronously: channel)
                        }
                    }
                try await connection.executeThenClose { _, outbound in
                    try await outbound.write(.hello(clusterID: configuration.clusterID, from: configuration.localID, channel: channel))
                    state.withLock { $0.connectedSince = .now }
                    backoff = configuration.minimumBackoff
                    while let batch = await nextBatch() {
                        try await outbound.write(contentsOf: batch.map(PeerFrame.message))
                    }
                }
            } catch {
                // Refused, reset or closed: reconnect after the backoff below.
            }
            state.withLock { $0.connectedSince = nil }
            if state.withLock({ $0.stopped }) { return }
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, configuration.maximumBackoff)
        }
    }
}
