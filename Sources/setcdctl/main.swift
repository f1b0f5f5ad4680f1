import ArgumentParser
import Foundation

// `setcdctl`: etcdctl's v3 commands, flags and output, for setcd and etcd alike.

/// Runs a parsed command's asynchronous `run()` (an existential would pick the synchronous one).
func runAsync<Command: AsyncParsableCommand>(_ command: Command) async throws {
    var command = command
    try await command.run()
}

let arguments = GlobalOptions.withEnvironment(Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment)
do {
    var command = try SetcdCtl.parseAsRoot(arguments)
    if let asyncCommand = command as? any AsyncParsableCommand {
        try await runAsync(asyncCommand)
    } else {
        try command.run()
    }
} catch {
    // Help and --version exit 0; a usage error exits 1 with its message, as etcdctl's (cobra's) do.
    if SetcdCtl.exitCode(for: error) == .success { SetcdCtl.exit(withError: error) }
    FileHandle.standardError.write(Data((SetcdCtl.fullMessage(for: error) + "\n").utf8))
    exit(1)
}
