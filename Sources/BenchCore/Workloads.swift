import Client
import EtcdProto
import Foundation
import Synchronization

/// etcd's benchmark workloads (`tools/benchmark`) against any etcd-compatible endpoints: requests
/// from `clients` concurrent clients spread over `connections` connections, `total` requests in all.
public struct Workload: Sendable {
    public var endpoints: [String]
    public var connections = 1
    public var clients = 1
    public var total = 10_000
    /// Requests per second in all (0: as fast as they go).
    public var rate = 0

    public init(endpoints: [String]) { self.endpoints = endpoints }

    /// Runs `request` (given the client and the request's number) `total` times and reports.
    public func run(_ request: @escaping @Sendable (EtcdClient, Int) async throws -> Void) async throws -> BenchReport {
        let counter = Counter()
        let clock = ContinuousClock()
        let started = clock.now
        let perConnection = (clients + max(connections, 1) - 1) / max(connections, 1)
        var report = try await withThrowingTaskGroup(of: BenchReport.self) { group in
            for _ in 0..<max(connections, 1) {
                group.addTask {
                    try await EtcdClient.withClient(.init(endpoints: endpoints)) { client in
                        try await withThrowingTaskGroup(of: BenchReport.self) { workers in
                            for _ in 0..<perConnection {
                                workers.addTask {
                                    var mine = BenchReport()
                                    while true {
                                        let number = counter.take()
                                        guard number < total else { break }
                                        if rate > 0 {
                                            try await Task.sleep(until: started + .seconds(Double(number) / Double(rate)), clock: .continuous)
                                        }
                                        let sent = clock.now
                                        do {
                                            try await request(client, number)
                                            mine.record(latency: DiskCheck.seconds(clock.now - sent))
                                        } catch {
                                            mine.record(error: "\(error)")
                                        }
                                    }
                                    return mine
                                }
                            }
                            var all = BenchReport()
                            for try await part in workers { all.merge(part) }
                            return all
                        }
                    }
                }
            }
            var all = BenchReport()
            for try await part in group { all.merge(part) }
            return all
        }
        report.total = DiskCheck.seconds(clock.now - started)
        return report
    }

    /// The `number`th key: `keySize` bytes, sequential or random within `keySpace` (etcd's layout:
    /// the key number in the first bytes, zero-padded).
    public static func key(_ number: Int, keySize: Int, keySpace: Int, sequential: Bool) -> [UInt8] {
        let index = sequential ? number % max(keySpace, 1) : Int.random(in: 0..<max(keySpace, 1))
        var key = [UInt8](repeating: 0, count: max(keySize, 8))
        withUnsafeBytes(of: UInt64(index).bigEndian) { for (i, byte) in $0.enumerated() { key[i] = byte } }
        return key
    }

    /// Hands out request numbers.
    final class Counter: Sendable {
        private let value = Atomic<Int>(0)
        func take() -> Int { value.add(1, ordering: .relaxed).oldValue }
    }
}
