import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What one etcdctl run printed and how it exited.
struct CommandResult {
    var stdout: Data
    var stderr: String
    var exitCode: Int32

    var text: String { String(decoding: stdout, as: UTF8.self) }
}

/// A real single-member etcd 3.4 on free loopback ports, in its own temporary directory, driven by the real
/// etcdctl. `withEtcd` starts one for a test and always stops it and removes its directory.
final class EtcdServer {
    let directory: URL
    let clientURL: String
    private let process: Process

    private init(directory: URL, clientURL: String, process: Process) {
        self.directory = directory
        self.clientURL = clientURL
        self.process = process
    }

    /// Starts etcd with extra flags and waits until it answers a read.
    static func start(name: String = "default", extraArguments: [String] = []) throws -> EtcdServer {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("etcdctl-golden-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let clientURL = "http://127.0.0.1:\(try freePort())"
        let peerURL = "http://127.0.0.1:\(try freePort())"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/etcd")
        process.arguments = [
            "--name", name,
            "--data-dir", directory.appendingPathComponent("data").path,
            "--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
            "--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
            "--initial-cluster", "\(name)=\(peerURL)",
        ] + extraArguments
        let log = directory.appendingPathComponent("etcd.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: log)
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        let server = EtcdServer(directory: directory, clientURL: clientURL, process: process)
        do {
            try server.waitUntilReady()
        } catch {
            server.stop()
            throw error
        }
        return server
    }

    private func waitUntilReady() throws {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if try etcdctl(["--command-timeout=1s", "get", "ready-probe"]).exitCode == 0 { return }
            usleep(100_000)
        }
        throw SupportError("etcd at \(clientURL) did not become ready")
    }

    /// Kills etcd, waits for it and removes its directory.
    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs `etcdctl --endpoints=<this> args...` to completion (ETCDCTL_API=3).
    func etcdctl(_ arguments: [String], stdin: String? = nil) throws -> CommandResult {
        let run = try startEtcdctl(arguments, stdin: stdin)
        run.process.waitUntilExit()
        return try run.result()
    }

    /// Runs a command that does not end by itself (watch): waits for its first output, lets it settle,
    /// interrupts it and returns what it printed.
    func etcdctlUntilQuiet(_ arguments: [String]) throws -> CommandResult {
        let run = try startEtcdctl(arguments, stdin: nil)
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, run.process.isRunning, (try? Data(contentsOf: run.stdoutFile))?.isEmpty ?? true {
            usleep(50_000)
        }
        guard run.process.isRunning else {
            run.process.waitUntilExit()
            return try run.result()
        }
        usleep(700_000)
        run.process.interrupt()
        run.process.waitUntilExit()
        // Go exits with status 2 on SIGINT; the interrupt is ours, not a failure of the command.
        var result = try run.result()
        if result.exitCode == 2 { result.exitCode = 0 }
        return result
    }

    /// A started etcdctl whose output goes to files, so large outputs never block on a pipe.
    private struct Run {
        var process: Process
        var stdoutFile: URL
        var stderrFile: URL

        func result() throws -> CommandResult {
            defer {
                try? FileManager.default.removeItem(at: stdoutFile)
                try? FileManager.default.removeItem(at: stderrFile)
            }
            return CommandResult(
                stdout: try Data(contentsOf: stdoutFile),
                stderr: String(decoding: try Data(contentsOf: stderrFile), as: UTF8.self),
                exitCode: process.terminationStatus
            )
        }
    }

    private func startEtcdctl(_ arguments: [String], stdin: String?) throws -> Run {
        let id = UUID().uuidString
        let stdoutFile = directory.appendingPathComponent("etcdctl-\(id).out")
        let stderrFile = directory.appendingPathComponent("etcdctl-\(id).err")
        _ = FileManager.default.createFile(atPath: stdoutFile.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/etcdctl")
        process.arguments = ["--endpoints=\(clientURL)"] + arguments
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ETCDCTL_") }
        environment["ETCDCTL_API"] = "3"
        process.environment = environment
        process.standardOutput = try FileHandle(forWritingTo: stdoutFile)
        process.standardError = try FileHandle(forWritingTo: stderrFile)
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        return Run(process: process, stdoutFile: stdoutFile, stderrFile: stderrFile)
    }

    /// A loopback port that was free a moment ago (bound to port 0, then released).
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SupportError("socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw SupportError("bind failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Starts an etcd for the body and stops it afterwards, whatever happens.
func withEtcd<T>(
    name: String = "default", extraArguments: [String] = [], _ body: (EtcdServer) throws -> T
) throws -> T {
    let server = try EtcdServer.start(name: name, extraArguments: extraArguments)
    defer { server.stop() }
    return try body(server)
}

struct SupportError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
