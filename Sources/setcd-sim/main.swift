import ArgumentParser
import Foundation
import Simulation

/// setcd-sim: runs the whole-cluster deterministic simulation for seeds, and replays one.
@main
struct SetcdSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "setcd-sim",
        abstract: "Simulate a setcd cluster (raft, WAL, apply, MVCC on LMDB) on a simulated network and disk, seed by seed, and check it.")

    @Option(help: "Run this one seed (replay a failure).")
    var seed: UInt64?

    @Option(help: "Run the seeds first..<first+count.")
    var first: UInt64 = 1

    @Option(help: "How many seeds to run.")
    var count: UInt64 = 1

    @Option(help: "Run random seeds for this many hours (overrides --first/--count).")
    var hours: Double?

    @Option(help: "Client operations per seed.")
    var operations = 5_000

    @Option(help: "Members per cluster.")
    var members = 3

    @Option(help: "Concurrent clients.")
    var clients = 6

    @Flag(help: "Run without faults.")
    var noFaults = false

    @Flag(help: "Print each fault.")
    var verbose = false

    @Option(help: "Directory for the members' files.")
    var root = NSTemporaryDirectory()

    func run() throws {
        // Dictionary and Set order must not change between runs for a seed to replay: re-exec with
        // deterministic hashing if this process was not started with it.
        if ProcessInfo.processInfo.environment["SWIFT_DETERMINISTIC_HASHING"] == nil {
            setenv("SWIFT_DETERMINISTIC_HASHING", "1", 1)
            let arguments = CommandLine.arguments
            let argv = arguments.map { strdup($0) } + [nil]
            execv("/proc/self/exe", argv)
            throw ValidationError("cannot re-execute with SWIFT_DETERMINISTIC_HASHING=1: errno \(errno)")
        }
        var seeds: AnySequence<UInt64>
        var deadline: Date?
        if let seed {
            seeds = AnySequence([seed])
        } else if let hours {
            deadline = Date().addingTimeInterval(hours * 3600)
            seeds = AnySequence(AnyIterator { UInt64.random(in: 1...UInt64.max >> 1) })
        } else {
            seeds = AnySequence(first..<(first + count))
        }
        var (runs, operationsTotal, failed) = (0, 0, [UInt64]())
        let started = Date()
        for seed in seeds {
            if let deadline, Date() >= deadline { break }
            var options = Simulation.Options(seed: seed)
            options.operations = operations
            options.members = members
            options.clients = clients
            options.root = root
            options.verbose = verbose
            if noFaults { options.faultInterval = nil }
            let report = try Simulation(options: options).run()
            print(report.text)
            fflush(nil)
            runs += 1
            operationsTotal += report.verdict.operations
            if !report.passed { failed.append(seed) }
        }
        print("seeds: \(runs), operations: \(operationsTotal), failed seeds: \(failed.isEmpty ? "none" : failed.map(String.init).joined(separator: " ")), wall time: \(String(format: "%.0f", Date().timeIntervalSince(started))) s")
        if !failed.isEmpty { throw ExitCode(1) }
    }
}
