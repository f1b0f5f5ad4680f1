import Foundation
import Testing

extension EndToEnd {
    /// The whole-cluster deterministic simulation (`setcd-sim`): the server's node loop, WAL, applier
    /// and MVCC on real LMDB files, three members on a simulated network and disk, under crashes
    /// (some in the middle of a WAL save, losing or tearing its write), pauses, partitions, loss,
    /// reordering, delays, compactions and snapshots; each seed checked for linearizability, lost
    /// or misplaced writes, revision gaps, etcd's watch guarantees and equal HashKV.
    @Suite(.serialized) struct Simulation {
        /// CI's fixed seeds: 20 seeds of 5,000 client operations, at least 100,000 in all.
        @Test func fixedSeedsPass() throws {
            let result = try Subprocess.run(try Binaries.setcdSim(), ["--first", "1", "--count", "20", "--operations", "5000"], timeout: 900)
            let summary = result.stdout.split(separator: "\n").last { $0.hasPrefix("seeds: ") }.map(String.init) ?? ""
            print(summary)
            #expect(result.exitCode == 0, "a seed failed:\n\(result.stdout.suffix(4000))\n\(result.stderr.suffix(2000))")
            let operations = summary.split(separator: ",").first { $0.contains("operations:") }
                .flatMap { Int($0.split(separator: ":").last!.trimmingCharacters(in: .whitespaces)) } ?? 0
            #expect(summary.hasPrefix("seeds: 20,"))
            #expect(operations >= 100_000, "operations simulated: \(operations)")
            // The faults happened: crashes lost unsynced WAL writes somewhere among the seeds.
            let lost = result.stdout.split(separator: "\n").filter { $0.hasPrefix("WAL: ") }
                .compactMap { line in Int(line.split(separator: ",")[1].split(separator: " ")[0]) }.reduce(0, +)
            #expect(lost > 0, "no crash lost an unsynced WAL write in 20 seeds")
        }

        /// A seed replays exactly: two runs of one seed (with faults) make the same history.
        @Test func aSeedReplaysExactly() throws {
            let arguments = ["--seed", "4", "--operations", "2000"]
            let first = try Subprocess.run(try Binaries.setcdSim(), arguments, timeout: 300)
            let second = try Subprocess.run(try Binaries.setcdSim(), arguments, timeout: 300)
            let trace = { (output: String) in output.split(separator: "\n").first { $0.hasPrefix("trace: ") }.map(String.init) }
            #expect(first.exitCode == 0 && second.exitCode == 0)
            #expect(trace(first.stdout) != nil)
            #expect(trace(first.stdout) == trace(second.stdout))
            let faults = first.stdout.split(separator: "\n").first { $0.hasPrefix("faults injected: ") } ?? ""
            #expect(!faults.hasPrefix("faults injected: 0"), "the replayed run had faults: \(faults)")
        }
    }
}
