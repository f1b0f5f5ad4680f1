import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Which server a scenario runs against.
enum Flavor: String, Sendable, CaseIterable {
    /// The real etcd, the oracle.
    case etcd
    /// The server under test.
    case setcd
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A real single-member server process (etcd or setcd) on free loopback ports with its own temp data dir,
/// started with exactly the same command line for both flavors.
final class ServerProcess: @unchecked Sendable {
    let flavor: Flavor
    let binary: String
    /// A private temp directory holding the data dir, the server log and anything a test writes.
    let root: String
    var dataDir: String { root + "/data" }
    var logFile: String { root + "/server.log" }
    private(set) var clientPort = 0
    private(set) var peerPort = 0
    private(set) var arguments: [String] = []
    let extraArguments: [String]
    /// More environment for the next (re)launch (e.g. `SETCD_FAILPOINTS`).
    var extraEnvironment: [String: String] = [:]
    /// Pass the configuration as `ETCD_*` environment variables (`--data-dir x` → `ETCD_DATA_DIR=x`).
    let byEnvironment: Bool
    private var process: Subprocess?
    /// Kills the server if this test process dies without stopping it (crash, ^C, a closed pipe): a shell
    /// blocked reading a pipe only we hold open, which then runs `kill -9 <server pid>`.
    private var guardian: Subprocess?
    private var restarts = 0

    var clientAddress: String { "127.0.0.1:\(clientPort)" }
    var peerAddress: String { "127.0.0.1:\(peerPort)" }

    init(_ flavor: Flavor, extraArguments: [String] = [], byEnvironment: Bool = false) throws {
        self.flavor = flavor
        self.byEnvironment = byEnvironment
        binary = try flavor == .etcd ? Binaries.etcd() : Binaries.setcd()
        self.extraArguments = extraArguments
        root = NSTemporaryDirectory().appending("/e2e-\(flavor.rawValue)-\(UUID().uuidString.prefix(8))")
            .replacingOccurrences(of: "//", with: "/")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    /// Launches the process on fresh ports (no health wait; see `waitHealthy`).
    func launch() throws {
        clientPort = uniqueFreeLoopbackPort()
        peerPort = uniqueFreeLoopbackPort()
        let client = "http://\(clientAddress)"
        let peer = "http://\(peerAddress)"
        arguments = [
            "--name", "default",
            "--data-dir", dataDir,
            "--listen-client-urls", client,
            "--advertise-client-urls", client,
            "--listen-peer-urls", peer,
            "--initial-advertise-peer-urls", peer,
            "--initial-cluster", "default=\(peer)",
        ] + extraArguments
        try relaunch()
    }

    /// Launches the process again with the same command line (same ports and data dir).
    func relaunch() throws {
        restarts += 1
        let log = restarts == 1 ? logFile : logFile + ".\(restarts)"
        dismissGuardian()
        var commandLine = arguments
        var environment = extraEnvironment
        if byEnvironment {
            // Every flag here has a value: "--flag value" pairs become ETCD_FLAG=value.
            for index in stride(from: 0, to: arguments.count - 1, by: 2) {
                let name = arguments[index].drop { $0 == "-" }.uppercased().replacingOccurrences(of: "-", with: "_")
                environment["ETCD_" + name] = arguments[index + 1]
            }
            commandLine = []
        }
        let server = try Subprocess.retryingBusy {
            try Subprocess(binary, commandLine, environment: childEnvironment(environment), logFile: log)
        }
        process = server
        guardian = try? Subprocess("/bin/sh", ["-c", "read -r _; kill -9 \(server.pid) 2>/dev/null"], holdStdin: true)
    }

    private func dismissGuardian() {
        guardian?.signal(SIGKILL)
        guardian?.wait(seconds: 5)
        guardian = nil
    }

    /// Waits until `etcdctl endpoint health` succeeds. Throws (with the log tail) if the process dies or the
    /// wait times out.
    func waitHealthy(timeout: Double = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        let ctl = try Binaries.etcdctl()
        while Date() < deadline {
            guard let process, process.isRunning else {
                throw HarnessError("\(flavor) exited during start-up:\n\(logTail())")
            }
            let health = try Subprocess.run(
                ctl, ["--endpoints=\(clientAddress)", "--dial-timeout=1s", "--command-timeout=2s", "endpoint", "health"],
                environment: childEnvironment(["ETCDCTL_API": "3"]), timeout: 5)
            if health.exitCode == 0 { return }
            trace("\(flavor) not healthy yet: exit \(health.exitCode)\(health.timedOut ? " (timed out)" : ""): \(health.stderr.suffix(300))")
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw HarnessError("\(flavor) not healthy after \(timeout)s:\n\(logTail())")
    }

    /// Starts the server and waits for it, retrying on fresh ports when the first try fails (a port taken
    /// between our probe and the server's bind).
    func start() throws {
        var lastError: Error?
        for _ in 0..<3 {
            do {
                try launch()
                try waitHealthy()
                return
            } catch {
                trace("\(flavor) start-up failed, retrying on new ports with a fresh data dir: \(error)")
                lastError = error
                stop()
                try? FileManager.default.removeItem(atPath: dataDir)
            }
        }
        throw lastError!
    }

    var isRunning: Bool { process?.isRunning ?? false }
    var pid: Int32 { process?.pid ?? 0 }

    /// Waits up to `seconds` for the server to exit by itself: its exit status, or nil if it still runs.
    func exitStatus(within seconds: Double) -> Int32? {
        guard let process, process.wait(seconds: seconds) else { return nil }
        return process.finish(timeout: 1).exitCode
    }

    /// Everything the server logged, every launch.
    var wholeLog: String {
        (1...max(restarts, 1)).map { n in
            (try? String(contentsOfFile: n <= 1 ? logFile : logFile + ".\(n)", encoding: .utf8)) ?? ""
        }.joined()
    }

    /// kill -9.
    func crash() {
        guard let process else { return }
        process.signal(SIGKILL)
        process.wait(seconds: 10)
        dismissGuardian()
    }

    /// SIGTERM, SIGKILL after a grace period.
    func stop() {
        process?.stop(grace: 5)
        dismissGuardian()
    }

    /// Stops the server and removes its directory.
    func cleanUp() {
        stop()
        if ProcessInfo.processInfo.environment["E2E_KEEP"] != nil {
            trace("\(flavor) files kept in \(root)")
        } else {
            try? FileManager.default.removeItem(atPath: root)
        }
    }

    func logTail(lines: Int = 30) -> String {
        let log = (try? String(contentsOfFile: restarts <= 1 ? logFile : logFile + ".\(restarts)", encoding: .utf8)) ?? ""
        return log.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}
