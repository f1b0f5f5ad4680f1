import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a finished child process left behind.
struct CommandResult: Sendable {
    var stdout: String
    var stderr: String
    /// The exit status, or 128 + signal when the process was killed by a signal.
    var exitCode: Int32
    /// True when the harness had to stop the process because it outlived its timeout.
    var timedOut: Bool
}

/// The environment children run in: ours, minus anything that would change how etcd or etcdctl behave.
func childEnvironment(_ extra: [String: String] = [:]) -> [String: String] {
    var env = ProcessInfo.processInfo.environment.filter { key, _ in
        !key.hasPrefix("ETCD_") && !key.hasPrefix("ETCDCTL_")
    }
    for (key, value) in extra { env[key] = value }
    return env
}

/// Collects everything read from a file descriptor on a background thread until end of file (so a chatty
/// child never blocks on a full pipe), then closes it.
final class FDCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(fd: Int32) {
        Thread.detachNewThread { [self] in
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                lock.lock()
                data.append(contentsOf: buffer[0..<n])
                lock.unlock()
            }
            close(fd)
            done.signal()
        }
    }

    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }

    /// Waits for end of file (every writer closed); false if it did not come in time.
    @discardableResult
    func waitForEOF(seconds: Double) -> Bool {
        guard done.wait(timeout: .now() + seconds) == .success else { return false }
        done.signal()  // later waiters pass too
        return true
    }
}

private let spawnLock = NSLock()

/// A child process started with posix_spawn and reaped by its own thread (blocking waitpid), its output
/// collected while it runs.
///
/// Not Foundation's `Process`: on Linux it sometimes never notices that a child exited when children are
/// spawned from several threads at once (the harness starts two servers and their clients in parallel), and
/// its pipes can leak into concurrently spawned children. Here every descriptor is close-on-exec except the
/// child's own 0, 1 and 2.
final class Subprocess: @unchecked Sendable {
    let executable: String
    let arguments: [String]
    let pid: pid_t
    private let out: FDCollector?
    private let err: FDCollector?
    private let exited = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var status: Int32?
    private var _timedOut = false
    private let heldStdin: Int32

    deinit {
        if heldStdin >= 0 { close(heldStdin) }
    }

    struct SpawnError: Error, CustomStringConvertible {
        let code: Int32
        let executable: String
        var description: String { "cannot start \(executable): \(String(cString: strerror(code))) (errno \(code))" }
    }

    /// Starts `executable arguments`; stdout and stderr are collected, or both written to `logFile` when given.
    ///
    /// With `holdStdin`, the child's stdin is a pipe this process keeps open for the child's lifetime (so the
    /// child sees end of file exactly when this process dies).
    init(_ executable: String, _ arguments: [String], stdin: String? = nil, environment: [String: String]? = nil,
         logFile: String? = nil, holdStdin: Bool = false) throws {
        self.executable = executable
        self.arguments = arguments

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var parentCloses: [Int32] = []  // the child's ends, closed in the parent after the spawn
        var cleanupOnFailure: [Int32] = []

        // pipe() then FD_CLOEXEC is not atomic: hold the spawn lock from the first pipe to the spawn, so no
        // other thread's child inherits our descriptors in between.
        spawnLock.lock()
        defer { spawnLock.unlock() }
        func makePipe() -> (read: Int32, write: Int32) {
            var fds: [Int32] = [-1, -1]
            let rc = pipe(&fds)
            precondition(rc == 0, "pipe failed: \(errno)")
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            return (fds[0], fds[1])
        }

        var stdinWrite: Int32 = -1
        if stdin != nil || holdStdin {
            let p = makePipe()
            posix_spawn_file_actions_adddup2(&actions, p.read, 0)
            parentCloses.append(p.read)
            stdinWrite = p.write
            cleanupOnFailure.append(p.write)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        var outRead: Int32 = -1, errRead: Int32 = -1
        if let logFile {
            let fd = open(logFile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw SpawnError(code: errno, executable: logFile) }
            posix_spawn_file_actions_adddup2(&actions, fd, 1)
            posix_spawn_file_actions_adddup2(&actions, fd, 2)
            parentCloses.append(fd)
        } else {
            let o = makePipe(), e = makePipe()
            posix_spawn_file_actions_adddup2(&actions, o.write, 1)
            posix_spawn_file_actions_adddup2(&actions, e.write, 2)
            parentCloses += [o.write, e.write]
            outRead = o.read
            errRead = e.read
            cleanupOnFailure += [o.read, e.read]
        }

        // Default signal dispositions and an empty mask in the child, whatever this thread has.
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let env = environment ?? childEnvironment()
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, &attr, argv, envp)
        for fd in parentCloses { close(fd) }
        guard rc == 0 else {
            for fd in cleanupOnFailure { close(fd) }
            throw SpawnError(code: rc, executable: executable)
        }
        pid = child
        heldStdin = holdStdin ? stdinWrite : -1
        let reaped = child
        out = outRead >= 0 ? FDCollector(fd: outRead) : nil
        err = errRead >= 0 ? FDCollector(fd: errRead) : nil

        if let stdin {
            let bytes = Array(stdin.utf8)
            let fd = stdinWrite
            Thread.detachNewThread {
                var offset = 0
                while offset < bytes.count {
                    let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { break }
                    offset += n
                }
                close(fd)
            }
        }

        // The reaper: a blocking waitpid for this child only.
        Thread.detachNewThread { [self] in
            var raw: Int32 = 0
            while waitpid(reaped, &raw, 0) < 0 && errno == EINTR {}
            let code: Int32 = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
            lock.lock()
            status = code
            lock.unlock()
            exited.signal()
        }
    }

    /// Writes to the child's stdin (started with `holdStdin`).
    func writeStdin(_ text: String) {
        guard heldStdin >= 0 else { return }
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(heldStdin, $0.baseAddress, $0.count) }
    }

    var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        return status == nil
    }

    var stdout: String { out?.text ?? "" }
    var stderr: String { err?.text ?? "" }

    /// Waits for the process to exit; false on timeout.
    @discardableResult
    func wait(seconds: Double) -> Bool {
        guard exited.wait(timeout: .now() + seconds) == .success else { return false }
        exited.signal()  // later waiters pass too
        return true
    }

    func signal(_ sig: Int32) {
        if isRunning { kill(pid, sig) }
    }

    /// SIGTERM, then SIGKILL if it is still alive after `grace` seconds; returns what it printed.
    @discardableResult
    func stop(grace: Double = 5) -> CommandResult {
        if isRunning {
            signal(SIGTERM)
            if !wait(seconds: grace) {
                signal(SIGKILL)
                wait(seconds: 10)
            }
        }
        return result()
    }

    /// Waits up to `seconds` for exit (stopping it on timeout) and returns what it printed.
    func finish(timeout seconds: Double) -> CommandResult {
        if !wait(seconds: seconds) {
            lock.lock()
            _timedOut = true
            lock.unlock()
            stop(grace: 2)
        }
        return result()
    }

    private func result() -> CommandResult {
        wait(seconds: 10)
        // A grandchild (etcdctl lock running a command) may hold the pipes a little longer.
        out?.waitForEOF(seconds: 2)
        err?.waitForEOF(seconds: 2)
        lock.lock()
        defer { lock.unlock() }
        return CommandResult(stdout: stdout, stderr: stderr, exitCode: status ?? -1, timedOut: _timedOut)
    }

    /// Polls the collected stdout until `condition` holds; false if it did not within `seconds`.
    @discardableResult
    func waitForStdout(seconds: Double, _ condition: (String) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if condition(stdout) { return true }
            if Date() > deadline { return false }
            if !isRunning {
                out?.waitForEOF(seconds: 1)
                return condition(stdout)
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    /// Retries `launch` while it fails with ETXTBSY: the executable is being rewritten by a concurrent build
    /// (up to 60 s).
    static func retryingBusy<T>(_ launch: () throws -> T) throws -> T {
        let deadline = Date().addingTimeInterval(60)
        while true {
            do {
                return try launch()
            } catch let error as SpawnError where error.code == ETXTBSY && Date() < deadline {
                trace("executable busy (being rebuilt?), retrying: \(error)")
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
    }

    /// Runs a command to completion.
    static func run(_ executable: String, _ arguments: [String], stdin: String? = nil,
                    environment: [String: String]? = nil, timeout: Double = 30) throws -> CommandResult {
        let child = try retryingBusy { try Subprocess(executable, arguments, stdin: stdin, environment: environment) }
        return child.finish(timeout: timeout)
    }
}

/// A free TCP port on 127.0.0.1 (bound to port 0, read back, closed). Another process may take it before we
/// use it; callers retry on bind failures.
func freeLoopbackPort() -> Int {
    #if canImport(Glibc)
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
    let fd = socket(AF_INET, SOCK_STREAM, 0)
    #endif
    precondition(fd >= 0, "socket() failed")
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    precondition(bound == 0, "bind(127.0.0.1:0) failed")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// Ports handed out in this test process, so two servers started close together never get the same one.
private let handedOutLock = NSLock()
nonisolated(unsafe) private var handedOut: Set<Int> = []

func uniqueFreeLoopbackPort() -> Int {
    while true {
        let port = freeLoopbackPort()
        handedOutLock.lock()
        defer { handedOutLock.unlock() }
        if handedOut.insert(port).inserted { return port }
    }
}
