import ArgumentParser
import Chaos
import Foundation

/// `setcd-chaos`: a setcd cluster on loopback under kill -9, SIGSTOP/SIGCONT and peer-network faults
/// while clients record a history; then linearizability, lost writes, watch guarantees and HashKV.
struct SetcdChaos: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "setcd-chaos", abstract: "Run a setcd cluster under faults and check what the clients saw.")

    @Option(help: "The setcd binary") var setcd = ".build/release/setcd"
    @Option(help: "Members of the cluster") var members = 3
    @Option(help: "Concurrent clients") var clients = 4
    @Option(help: "Seconds of load and faults") var seconds = 120
    @Option(help: "Seconds between faults") var interval = 3
    @Option(help: "Faults to inject, in turn: kill, pause, partition, delay") var faults = "kill,pause,partition,delay"
    @Option(name: .customLong("data-dir"), help: "Where the members' data and logs go (default: a new temporary directory)")
    var dataDir: String?
    @Flag(help: "Keep the data and logs even if every check passes") var keep = false

    func run() async throws {
        let chosen = try faults.split(separator: ",").map { name in
            guard let fault = ChaosRun.Fault(rawValue: String(name)) else { throw ValidationError("unknown fault \(name)") }
            return fault
        }
        let root = dataDir ?? NSTemporaryDirectory() + "setcd-chaos-" + UUID().uuidString.prefix(8)
        var run = ChaosRun(binary: setcd, root: root)
        run.members = members
        run.clients = clients
        run.duration = .seconds(seconds)
        run.interval = .seconds(interval)
        run.faults = chosen
        let report = try await run.run()
        print(report.text, terminator: "")
        if report.passed && !keep {
            try? FileManager.default.removeItem(atPath: root)
        } else {
            print("data and logs: \(root)")
        }
        if !report.passed { throw ExitCode(1) }
    }
}

/// Runs a command's asynchronous `run()` (a direct call would pick the synchronous one).
func runAsync<Command: AsyncParsableCommand>(_ command: Command) async throws {
    var command = command
    try await command.run()
}

// Parsed and run by hand: ArgumentParser's async `main()` needs a platform annotation on Linux.
do {
    try await runAsync(SetcdChaos.parseOrExit())
} catch {
    SetcdChaos.exit(withError: error)
}
