import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One member process of a `ClusterProcess`: its ports, data dir and the command line that created it.
final class MemberProcess: @unchecked Sendable {
    let name: String
    let clientPort: Int
    let peerPort: Int
    let dataDir: String
    let logFile: String
    /// The command line the member was first started with; a restart reuses it unchanged, as an operator
    /// restarting etcd would (its `--initial-*` flags are then ignored).
    var arguments: [String] = []
    fileprivate var process: Subprocess?
    fileprivate var guardian: Subprocess?
    fileprivate var launches = 0

    var endpoint: String { "127.0.0.1:\(clientPort)" }
    var peerURL: String { "http://127.0.0.1:\(peerPort)" }
    var isRunning: Bool { process?.isRunning ?? false }
    /// The process id of the running member (0 if none).
    var pid: Int32 { process?.pid ?? 0 }

    init(name: String, root: String) {
        self.name = name
        clientPort = uniqueFreeLoopbackPort()
        peerPort = uniqueFreeLoopbackPort()
        dataDir = root + "/\(name).data"
        logFile = root + "/\(name).log"
    }

    /// The whole log, every launch.
    var log: String {
        (1...max(launches, 1)).map { n in
            (try? String(contentsOfFile: n <= 1 ? logFile : logFile + ".\(n)", encoding: .utf8)) ?? ""
        }.joined()
    }
}

/// A real cluster of etcd or setcd processes on free loopback ports, each member started with exactly
/// the flags one gives etcd (`--initial-cluster`, `--initial-cluster-token`, `--initial-cluster-state`),
/// driven with the real etcdctl.
final class ClusterProcess: @unchecked Sendable {
    let flavor: Flavor
    let binary: String
    let root: String
    let token = "e2e-cluster-\(UUID().uuidString.prefix(6))"
    private(set) var members: [MemberProcess] = []
    let extraArguments: [String]

    init(_ flavor: Flavor, size: Int, extraArguments: [String] = []) throws {
        self.flavor = flavor
        binary = try flavor == .etcd ? Binaries.etcd() : Binaries.setcd()
        self.extraArguments = extraArguments
        root = NSTemporaryDirectory().appending("/e2e-cluster-\(flavor.rawValue)-\(UUID().uuidString.prefix(8))")
            .replacingOccurrences(of: "//", with: "/")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        members = (1...size).map { MemberProcess(name: "m\($0)", root: root) }
    }

    var endpoints: String { members.filter(\.isRunning).map(\.endpoint).joined(separator: ",") }

    private func initialCluster(_ members: [MemberProcess]) -> String {
        members.map { "\($0.name)=\($0.peerURL)" }.joined(separator: ",")
    }

    /// Starts every member of a new cluster and waits until all are healthy.
    func start(timeout: Double = 30) throws {
        let initial = initialCluster(members)
        for member in members {
            member.arguments = Self.arguments(for: member, initialCluster: initial, state: "new", token: token) + extraArguments
            try launch(member)
        }
        for member in members { try waitHealthy(member, timeout: timeout) }
    }

    /// A member to be added to the running cluster (not yet started; run `member add` first, then `join`).
    func prepareMember() -> MemberProcess {
        let member = MemberProcess(name: "m\(members.count + 1)", root: root)
        members.append(member)
        return member
    }

    /// Starts a member added with `member add`: `--initial-cluster-state existing` and the cluster as it
    /// is with the new member.
    func join(_ member: MemberProcess) throws {
        let current = members.filter { $0.isRunning || $0 === member }
        member.arguments = Self.arguments(for: member, initialCluster: initialCluster(current), state: "existing", token: token) + extraArguments
        try launch(member)
    }

    static func arguments(for member: MemberProcess, initialCluster: String, state: String, token: String) -> [String] {
        let client = "http://\(member.endpoint)"
        return [
            "--name", member.name, "--data-dir", member.dataDir,
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", member.peerURL, "--initial-advertise-peer-urls", member.peerURL,
            "--initial-cluster", initialCluster, "--initial-cluster-token", token, "--initial-cluster-state", state,
        ]
    }

    /// Starts (or restarts, with the same command line) a member's process.
    func launch(_ member: MemberProcess) throws {
        member.launches += 1
        let log = member.launches == 1 ? member.logFile : member.logFile + ".\(member.launches)"
        member.guardian?.signal(SIGKILL)
        let process = try Subprocess.retryingBusy {
            try Subprocess(binary, member.arguments, environment: childEnvironment(), logFile: log)
        }
        member.process = process
        // Kills the member if this test process dies without stopping it.
        member.guardian = try? Subprocess("/bin/sh", ["-c", "read -r _; kill -9 \(process.pid) 2>/dev/null"], holdStdin: true)
    }

    func waitHealthy(_ member: MemberProcess, timeout: Double = 30) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard member.isRunning else { throw HarnessError("\(flavor) \(member.name) exited:\n\(member.log.suffix(3000))") }
            if ctl(["endpoint", "health"], on: [member], timeout: 5).exitCode == 0 { return }
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw HarnessError("\(flavor) \(member.name) not healthy after \(timeout)s:\n\(member.log.suffix(3000))")
    }

    /// kill -9.
    func crash(_ member: MemberProcess) {
        member.process?.signal(SIGKILL)
        member.process?.wait(seconds: 10)
    }

    func pause(_ member: MemberProcess) { member.process?.signal(SIGSTOP) }
    func resume(_ member: MemberProcess) { member.process?.signal(SIGCONT) }

    /// Runs etcdctl against `members` (default: every running member).
    @discardableResult
    func ctl(_ args: [String], on members: [MemberProcess]? = nil, stdin: String? = nil, timeout: Double = 20) -> CommandResult {
        let endpoints = (members ?? self.members.filter(\.isRunning)).map(\.endpoint).joined(separator: ",")
        let ctl = (try? Binaries.etcdctl()) ?? "etcdctl"
        do {
            return try Subprocess.run(ctl, ["--endpoints=\(endpoints)", "--dial-timeout=2s", "--command-timeout=5s"] + args, stdin: stdin,
                                      environment: childEnvironment(["ETCDCTL_API": "3"]), timeout: timeout)
        } catch {
            return CommandResult(stdout: "", stderr: "\(error)", exitCode: -1, timedOut: false)
        }
    }

    /// `endpoint status` of one member: its id (hex), whether it leads, its term and raft index.
    struct MemberStatus {
        var id: String
        var isLeader: Bool
        var isLearner: Bool
        var term: Int
        var raftIndex: Int
    }

    func status(_ member: MemberProcess) -> MemberStatus? {
        let result = ctl(["endpoint", "status", "-w", "simple"], on: [member], timeout: 8)
        guard result.exitCode == 0, let line = result.stdout.split(separator: "\n").first else { return nil }
        let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard fields.count >= 8 else { return nil }
        return MemberStatus(id: fields[1], isLeader: fields[4] == "true", isLearner: fields[5] == "true",
                            term: Int(fields[6]) ?? 0, raftIndex: Int(fields[7]) ?? 0)
    }

    /// The member every running member agrees leads, waiting up to `timeout` seconds for one.
    func waitForLeader(among candidates: [MemberProcess]? = nil, timeout: Double = 15) -> MemberProcess? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let running = (candidates ?? members).filter(\.isRunning)
            let leaders = running.filter { status($0)?.isLeader == true }
            if leaders.count == 1 { return leaders[0] }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return nil
    }

    /// The hex member id of `member`, from its own status.
    func memberID(_ member: MemberProcess) -> String? { status(member)?.id }

    func cleanUp() {
        for member in members {
            member.process?.signal(SIGCONT)
            _ = member.process?.stop(grace: 5)
            member.guardian?.signal(SIGKILL)
        }
        if ProcessInfo.processInfo.environment["E2E_KEEP"] != nil {
            trace("\(flavor) cluster files kept in \(root)")
        } else {
            try? FileManager.default.removeItem(atPath: root)
        }
    }
}
