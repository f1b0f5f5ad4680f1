import Foundation
import Logging
import Server

/// `setcd`: one member of an etcd-compatible cluster, started with etcd's flags.
let usage = """
Usage:

  setcd [flags]
    Start a setcd member (etcd's flags and ETCD_* environment variables).

  setcd --version
    Show the version of setcd.
"""

let parsed: (config: ServerConfig, warnings: [String], version: Bool)
do {
    parsed = try Flags.parse(Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment)
} catch FlagError.help {
    print(usage)
    exit(0)
} catch {
    FileHandle.standardError.write(Data("\(error)\n\(usage)\n".utf8))
    exit(2)
}
do {
    try parsed.config.validate()
} catch {
    FileHandle.standardError.write(Data("error verifying flags, \(error). See 'setcd --help'.\n".utf8))
    exit(1)
}

if parsed.version {
    print("setcd Version: 0.1.0\netcd API Version: 3.5")
    exit(0)
}

LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = Logger.Level(etcdLevel: parsed.config.logLevel)
    return handler
}
var logger = Logger(label: "setcd")
for warning in parsed.warnings { logger.warning("\(warning)") }

let config = parsed.config
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
        FileHandle.standardError.write(Data("setcd: \(error)\n".utf8))
        exit(1)
    }
}
dispatchMain()

extension Logger.Level {
    /// etcd's log levels (debug, info, warn, error, panic, fatal).
    init(etcdLevel: String) {
        switch etcdLevel {
        case "debug": self = .debug
        case "warn": self = .warning
        case "error": self = .error
        case "panic", "fatal": self = .critical
        default: self = .info
        }
    }
}
