import Foundation
import Logging
import Server

// `setcd`: one member of an etcd-compatible cluster, started with etcd's flags.

/// Refuses to start as etcd refuses a configuration it cannot run with: one line, exit status 1.
func refuseStart(_ reason: String) -> Never {
    FileHandle.standardError.write(Data("error verifying flags, \(reason). See 'setcd --help'.\n".utf8))
    exit(1)
}

// In etcd's order: the command line (a malformed one prints the usage, exit 2), then --version, which
// answers before anything else is read or checked, then the ETCD_* variables and the checks (exit 1).
var flags: Flags
do {
    flags = try Flags(commandLine: Array(CommandLine.arguments.dropFirst()))
} catch FlagError.help {
    FileHandle.standardError.write(Data("\(Help.usage)\n\n".utf8))
    print("\n\(Help.flags)\n")
    exit(0)
} catch let error as ConfigError {
    refuseStart("\(error)")
} catch {
    FileHandle.standardError.write(Data("\(error)\n\(Help.usage)\n\n".utf8))
    exit(2)
}
if flags.showVersion {
    print("setcd Version: 0.1.0\netcd API Version: 3.5")
    exit(0)
}
do {
    try flags.readEnvironment(ProcessInfo.processInfo.environment)
    try flags.verify()
} catch {
    refuseStart("\(error)")
}

let config = flags.config
let logLevel = Logger.Level(etcdLevel: config.debug ? "debug" : config.logLevel)
LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = logLevel
    return handler
}
var logger = Logger(label: "setcd")
if config.debug { logger.warning("--debug is deprecated; use --log-level=debug instead") }
for warning in flags.warnings { logger.warning("\(warning)") }

let serving = Task {
    try await ServerRunner.run(config: config, logger: logger)
}

// SIGINT and SIGTERM stop the member gracefully, as they stop etcd.
signal(SIGINT, SIG_IGN)
signal(SIGTERM, SIG_IGN)
let signalSources = [SIGINT, SIGTERM].map { number in
    let source = DispatchSource.makeSignalSource(signal: number, queue: .main)
    source.setEventHandler {
        logger.info("received signal; shutting down", metadata: ["signal": "\(number)"])
        serving.cancel()
    }
    source.resume()
    return source
}

Task {
    do {
        try await serving.value
        exit(0)
    } catch {
        logger.critical("setcd stopped: \(error)")
        exit(1)
    }
}
dispatchMain()

extension Logger.Level {
    /// etcd's log levels (`ServerConfig.logLevels`; `validate` refuses any other).
    init(etcdLevel: String) {
        switch etcdLevel {
        case "debug": self = .debug
        case "warn": self = .warning
        case "error": self = .error
        case "dpanic", "panic", "fatal": self = .critical
        default: self = .info
        }
    }
}
