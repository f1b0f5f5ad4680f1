import ArgumentParser
import Client
import Dispatch
import EtcdCtl
import EtcdProto
import Foundation
import Synchronization

/// `lock <lockname> [exec-command arg1 arg2 ...]`, as etcdctl's: holds the lock until SIGINT/SIGTERM
/// (printing the lock key), or for as long as the command runs (with `ETCD_LOCK_KEY` and
/// `ETCD_LOCK_REV` in its environment).
struct LockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lock", abstract: "Acquires a named lock")

    @OptionGroup var global: GlobalOptions
    @Argument var args: [String] = []
    @Option(help: "timeout for session") var ttl = 10

    func run() async throws {
        await runReportingErrors {
            guard let name = args.first else {
                throw CtlError(code: ExitCode.badArgs, message: "lock takes a lock name argument and an optional command to execute")
            }
            let command = Array(args.dropFirst())
            let printer = try global.printer()
            let stop = TerminationSignal()
            try await global.withClient { client in
                // As etcdctl: a TTL of 0 or less is the session default.
                let session = try await Session(client: client, ttl: ttl > 0 ? Int64(ttl) : Session.defaultTTL)
                let mutex = EtcdMutex(session: session, name: name)
                let header = try await stop.cancelling { try await mutex.lock() }
                if !command.isEmpty {
                    let outcome: Result<String?, any Error>
                    do {
                        outcome = .success(try await runChild(command, environment: ["ETCD_LOCK_KEY": mutex.key, "ETCD_LOCK_REV": "\(header.revision)"]))
                    } catch {
                        outcome = .failure(error)
                    }
                    // The lock is released however the command ended.
                    try await mutex.unlock()
                    if let failure = try outcome.get() { throw CtlError(code: ExitCode.error, message: failure) }
                    return
                }
                let held = try await client.get(mutex.key)
                if held.kvs.isEmpty { throw CtlError(code: ExitCode.error, message: "lock lost on init") }
                try emit(printer.get(held))
                if await stop.raceSession(session) {
                    try await mutex.unlock()
                } else {
                    throw CtlError(code: ExitCode.error, message: "session expired")
                }
            }
        }
    }
}

/// `elect [-l] <election-name> [proposal]`, as etcdctl's: campaigns with the proposal and, once elected,
/// prints the leader key and holds leadership until SIGINT/SIGTERM; with `-l`, prints every leader and
/// proclamation instead.
struct ElectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "elect", abstract: "Observes and participates in leader election")

    @OptionGroup var global: GlobalOptions
    @Argument var args: [String] = []
    @Flag(name: [.customShort("l"), .long], help: "observation mode") var listen = false

    func run() async throws {
        await runReportingErrors {
            guard args.count == 1 || args.count == 2 else {
                throw CtlError(code: ExitCode.badArgs, message: "elect takes one election name argument and an optional proposal argument")
            }
            if args.count == 1 && !listen { throw CtlError(code: ExitCode.badArgs, message: "no proposal argument but -l not set") }
            if args.count == 2 && listen { throw CtlError(code: ExitCode.badArgs, message: "proposal given but -l is set") }
            let printer = try global.printer()
            let stop = TerminationSignal()
            try await global.withClient { client in
                let session = try await Session(client: client)
                let election = Election(session: session, name: args[0])
                if listen {
                    do {
                        try await stop.cancelling {
                            for try await leader in election.observe() { try emit(printer.get(leader)) }
                        }
                    } catch _ where stop.received {
                        return  // interrupted: etcdctl ends an observation quietly
                    }
                    // The stream ends by itself only when its watch was lost.
                    throw CtlError(code: ExitCode.error, message: "elect: observer lost")
                }
                try await stop.cancelling { try await election.campaign(args[1]) }
                try emit(printer.get(try await client.get(election.key)))
                guard await stop.raceSession(session) else {
                    throw CtlError(code: ExitCode.error, message: "elect: session expired")
                }
                try await election.resign()
            }
        }
    }
}

/// SIGINT and SIGTERM as an event a command can wait for or cancel work with (etcdctl's
/// `signal.Notify` on both). Creating it stops the default handling of both signals.
final class TerminationSignal: Sendable {
    // Only retained, to keep the handlers installed; never touched after init, so sharing is safe.
    nonisolated(unsafe) private let sources: [any DispatchSourceSignal]
    private let flag = Mutex(false)

    init() {
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            sources.append(source)
        }
        self.sources = sources
        for source in sources {
            source.setEventHandler { [weak self] in self?.signalled() }
            source.resume()
        }
    }

    private func signalled() {
        flag.withLock { $0 = true }
    }

    /// Whether a signal has arrived.
    var received: Bool { flag.withLock { $0 } }

    /// Waits for the first signal (looking every 50 ms), or until the calling task is cancelled.
    func wait() async {
        while !received && !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Runs `body`, cancelling it when a signal arrives; a cancelled body's error is reported as
    /// `CancellationError` (etcdctl's "context canceled").
    func cancelling<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                await self.wait()
                return nil
            }
            defer { group.cancelAll() }
            guard let result = try await group.next(), let value = result else {
                throw CtlError(code: ExitCode.error, message: "context canceled")
            }
            return value
        }
    }

    /// Waits for a signal or for `session` to end; true if the signal came first.
    func raceSession(_ session: Session) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await self.wait()
                return true
            }
            group.addTask {
                await session.waitUntilDone()
                return false
            }
            defer { group.cancelAll() }
            return await group.next() ?? false
        }
    }
}

/// Runs `command` (found on `PATH` as Go's exec does) with stdin, stdout and stderr inherited and
/// `environment` added to setcdctl's own, in setcdctl's process group and with SIGINT and SIGTERM at
/// their default actions (so Ctrl-C reaches it as it reaches etcdctl's child); waits for it off the
/// concurrency pool. Returns nil when it exited with status 0, else Go's description of how it ended
/// ("exit status 3", "signal: interrupt").
func runChild(_ command: [String], environment: [String: String]) async throws -> String? {
    let current = ProcessInfo.processInfo.environment
    guard let executable = findExecutable(command[0], path: current["PATH"] ?? "") else {
        throw CtlError(code: ExitCode.error, message: "exec: \(goQuote(command[0])): executable file not found in $PATH")
    }
    let variables = current.merging(environment) { _, added in added }.map { "\($0.key)=\($0.value)" }
    let argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
    let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup($0) } + [nil]
    defer {
        for pointer in argv + envp { free(pointer) }
    }
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var defaults = sigset_t()
    sigemptyset(&defaults)
    sigaddset(&defaults, SIGINT)
    sigaddset(&defaults, SIGTERM)
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    // The spawning thread (a concurrency pool thread) blocks signals; the command must not inherit that.
    var unblocked = sigset_t()
    sigemptyset(&unblocked)
    posix_spawnattr_setsigmask(&attributes, &unblocked)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, executable, nil, &attributes, argv, envp)
    guard spawned == 0 else {
        throw CtlError(code: ExitCode.error, message: "fork/exec \(executable): \(String(cString: strerror(spawned)))")
    }
    let child = pid
    let status: Int32 = await withCheckedContinuation { continuation in
        let waiter = Thread {
            var status: Int32 = 0
            while waitpid(child, &status, 0) < 0 && errno == EINTR {}
            continuation.resume(returning: status)
        }
        waiter.start()
    }
    let signal = status & 0x7f
    if signal == 0 {
        let code = (status >> 8) & 0xff
        return code == 0 ? nil : "exit status \(code)"
    }
    return "signal: " + String(cString: strsignal(signal)).lowercased()
}

/// `name` itself if it names a path, else the first executable file called `name` in `path`'s folders.
private func findExecutable(_ name: String, path: String) -> String? {
    if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
    for folder in path.split(separator: ":") {
        let candidate = "\(folder)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}
