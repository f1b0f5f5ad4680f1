import Client
import Foundation
import NIOPosix
import Synchronization

/// A cluster of real setcd processes on loopback, started with etcd's flags, each member behind a
/// fault proxy for its peer traffic; members can be killed (-9), restarted, paused and resumed.
public final class ChaosCluster: Sendable {
    /// One member: its ports, its data and its current process.
    public final class Member: Sendable {
        public let name: String
        public let clientPort: Int
        let peerPort: Int
        let proxy: FaultProxy
        let dataDir: String
        let logFile: String
        let process = Mutex<Process?>(nil)
        let paused = Atomic<Bool>(false)

        init(name: String, clientPort: Int, peerPort: Int, proxy: FaultProxy, root: String) {
            self.name = name
            self.clientPort = clientPort
            self.peerPort = peerPort
            self.proxy = proxy
            dataDir = root + "/" + name
            logFile = root + "/" + name + ".log"
        }

        public var endpoint: String { "127.0.0.1:\(clientPort)" }
        /// The address other members reach it at: its proxy.
        var advertisedPeerURL: String { "http://127.0.0.1:\(proxy.port)" }
    }

    public let members: [Member]
    private let binary: String
    private let root: String

    private init(binary: String, root: String, members: [Member]) {
        self.binary = binary
        self.root = root
        self.members = members
    }

    /// A new cluster of `size` members of `binary` with data under `root` (not yet started).
    public static func make(binary: String, size: Int, root: String) async throws -> ChaosCluster {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        var members: [Member] = []
        for number in 1...size {
            let peerPort = try await freePort()
            members.append(Member(name: "m\(number)", clientPort: try await freePort(), peerPort: peerPort,
                                  proxy: try await FaultProxy.start(targetPort: peerPort), root: root))
        }
        return ChaosCluster(binary: binary, root: root, members: members)
    }

    public var endpoints: [String] { members.map(\.endpoint) }

    /// Starts every member and waits until each answers.
    public func start() async throws {
        for member in members { try launch(member) }
        for member in members { try await waitHealthy(member) }
    }

    /// Starts (or restarts) a member with the same command line.
    public func launch(_ member: Member) throws {
        let initial = members.map { "\($0.name)=\($0.advertisedPeerURL)" }.joined(separator: ",")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--name", member.name, "--data-dir", member.dataDir,
            "--listen-client-urls", "http://\(member.endpoint)", "--advertise-client-urls", "http://\(member.endpoint)",
            "--listen-peer-urls", "http://127.0.0.1:\(member.peerPort)", "--initial-advertise-peer-urls", member.advertisedPeerURL,
            "--initial-cluster", initial, "--initial-cluster-state", "new", "--initial-cluster-token", "chaos",
        ]
        if !FileManager.default.fileExists(atPath: member.logFile) { _ = FileManager.default.createFile(atPath: member.logFile, contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: member.logFile))
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        try process.run()
        try log.close()
        member.process.withLock { $0 = process }
        member.paused.store(false, ordering: .relaxed)
    }

    /// Whether the member's process is alive.
    public func isRunning(_ member: Member) -> Bool {
        member.process.withLock { $0?.isRunning ?? false }
    }

    /// kill -9, and waits for the process to go.
    public func crash(_ member: Member) {
        guard let process = member.process.withLock({ $0 }), process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGSTOP: the member freezes with its connections open.
    public func pause(_ member: Member) {
        guard let process = member.process.withLock({ $0 }), process.isRunning else { return }
        kill(process.processIdentifier, SIGSTOP)
        member.paused.store(true, ordering: .relaxed)
    }

    /// SIGCONT.
    public func resume(_ member: Member) {
        guard let process = member.process.withLock({ $0 }), process.isRunning else { return }
        kill(process.processIdentifier, SIGCONT)
        member.paused.store(false, ordering: .relaxed)
    }

    /// Waits until the member answers a status call (throws if its process exits or `timeout` passes).
    public func waitHealthy(_ member: Member, timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        var configuration = EtcdClient.Configuration(endpoints: [member.endpoint])
        configuration.requestTimeout = .seconds(1)
        while ContinuousClock.now < deadline {
            guard member.process.withLock({ $0?.isRunning ?? false }) else {
                throw ChaosError("\(member.name) exited; see \(member.logFile)")
            }
            if (try? await EtcdClient.withClient(configuration, { try await $0.status() })) != nil { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw ChaosError("\(member.name) did not answer within \(timeout); see \(member.logFile)")
    }

    /// Stops every member (SIGCONT first for a paused one) and its proxy.
    public func stop() async {
        for member in members {
            if member.paused.load(ordering: .relaxed) { resume(member) }
            crash(member)
            await member.proxy.stop()
        }
    }

    /// Removes the data and logs.
    public func removeData() {
        try? FileManager.default.removeItem(atPath: root)
    }

    /// A free loopback port (bound, then released).
    static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        defer { channel.close(promise: nil) }
        guard let port = channel.localAddress?.port else { throw ChaosError("no free port") }
        return port
    }
}

/// A chaos run that cannot go on.
public struct ChaosError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
