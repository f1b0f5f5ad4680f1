import Client
import EtcdProto
import Foundation
import Synchronization

/// etcd's benchmark workloads (`tools/benchmark`) against any etcd-compatible endpoints: `clients`
/// concurrent clients share `connections` connections (client i uses connection i mod connections;
/// connection j goes to endpoint j mod endpoints), and each request's latency is timed.
public struct Workload: Sendable {
    /// The endpoints and credentials every connection uses.
    public var configuration: EtcdClient.Configuration
    /// Connections to open (etcd's `--conns`).
    public var connections = 1
    /// Concurrent clients sharing them (etcd's `--clients`).
    public var clients = 1

    public init(configuration: EtcdClient.Configuration) { self.configuration = configuration }

    /// Runs `body` with `connections` open connections.
    public func withConnections<Result: Sendable>(_ body: @Sendable ([EtcdClient]) async throws -> Result) async throws -> Result {
        try await open(Array(0..<max(connections, 1)), opened: [], body)
    }

    private func open<Result: Sendable>(
        _ remaining: [Int], opened: [EtcdClient], _ body: @Sendable ([EtcdClient]) async throws -> Result
    ) async throws -> Result {
        guard let number = remaining.first else { return try await body(opened) }
        var configuration = configuration
        configuration.endpoints = [configuration.endpoints[number % configuration.endpoints.count]]
        return try await EtcdClient.withClient(configuration) { client in
            try await open(Array(remaining.dropFirst()), opened: opened + [client], body)
        }
    }

    /// Runs `body` with `connections` callers: bare unary connections when there is neither TLS nor
    /// a user (see `UnaryConnection`), else connections of the client library.
    public func withCallers<Result: Sendable>(_ body: @Sendable ([Caller]) async throws -> Result) async throws -> Result {
        let bare = configuration.tls == nil && configuration.credentials == nil && !configuration.endpoints.contains { $0.hasPrefix("https://") }
        guard bare else { return try await withConnections { try await body($0.map(Caller.client)) } }
        var opened: [UnaryConnection] = []
        do {
            for number in 0..<max(connections, 1) {
                opened.append(try await UnaryConnection.connect(configuration.endpoints[number % configuration.endpoints.count]))
            }
            let result = try await body(opened.map(Caller.bare))
            for connection in opened { await connection.close() }
            return result
        } catch {
            for connection in opened { await connection.close() }
            throw error
        }
    }

    /// Runs `request` (given its caller and the request's number, 0 up to `total`) `total` times from
    /// `clients` concurrent clients, at most `rate` requests per second in all (0: no limit), timing
    /// each; `bar` advances once per request.
    public func run(
        total: Int, rate: Int = 0, bar: ProgressBar? = nil,
        _ request: @escaping @Sendable (Caller, Int) async throws -> Void
    ) async throws -> BenchReport {
        try await withCallers { callers in
            try await Self.drive(connections: callers, clients: clients, total: total, rate: rate, bar: bar, request)[0]
        }
    }

    /// `total` requests from `clients` workers over `connections`, timed; see `run`. Request n is
    /// reported in report `slot(n)` of `slots` (etcd's txn-mixed reports reads and writes apart).
    public static func drive(
        connections: [Caller], clients: Int, total: Int, rate: Int, bar: ProgressBar?,
        slots: Int = 1, slot: @escaping @Sendable (Int) -> Int = { _ in 0 },
        _ request: @escaping @Sendable (Caller, Int) async throws -> Void
    ) async throws -> [BenchReport] {
        let counter = SharedCounter()
        let clock = ContinuousClock()
        let started = clock.now
        var reports = try await withThrowingTaskGroup(of: [BenchReport].self) { workers in
            for worker in 0..<max(clients, 1) {
                let client = connections[worker % connections.count]
                workers.addTask {
                    var mine = [BenchReport](repeating: BenchReport(), count: slots)
                    while true {
                        let number = counter.add(1) - 1
                        guard number < total else { break }
                        if rate > 0 {
                            // A fixed schedule, as etcd's token bucket of burst 1.
                            try await Task.sleep(until: started + .seconds(Double(number) / Double(rate)), clock: .continuous)
                        }
                        let sent = clock.now
                        do {
                            try await request(client, number)
                            mine[slot(number)].record(latency: DiskCheck.seconds(clock.now - sent))
                        } catch {
                            mine[slot(number)].record(error: describe(error))
                        }
                        bar?.advance()
                    }
                    return mine
                }
            }
            var all = [BenchReport](repeating: BenchReport(), count: slots)
            for try await part in workers {
                for index in all.indices { all[index].merge(part[index]) }
            }
            return all
        }
        let took = DiskCheck.seconds(clock.now - started)
        for index in reports.indices { reports[index].total = took }
        return reports
    }

    /// The leader's client URLs (`--target-leader`): the member list from the first endpoint that
    /// answers, and the leader id from the first member whose status answers.
    public static func leaderEndpoints(_ configuration: EtcdClient.Configuration) async throws -> [String] {
        try await EtcdClient.withClient(configuration) { client in
            let members = try await client.memberList().members
            var leader: UInt64?
            for endpoint in configuration.endpoints where leader == nil {
                var one = configuration
                one.endpoints = [endpoint]
                leader = try? await EtcdClient.withClient(one) { try await $0.status().leader }
            }
            guard let leader, let member = members.first(where: { $0.id == leader }), !member.clientUrls.isEmpty else {
                throw BenchError("failed to find a leader endpoint")
            }
            return member.clientUrls
        }
    }

    /// The `number`th key of etcd's benchmark: `keySize` bytes (at least 8) holding the key's index
    /// as Go's `binary.PutVarint` writes it, zero-padded; the index is `number` modulo `keySpace` for
    /// sequential keys, random within `keySpace` otherwise.
    public static func key(_ number: Int, keySize: Int, keySpace: Int, sequential: Bool) -> [UInt8] {
        let index = sequential ? number % max(keySpace, 1) : Int.random(in: 0..<max(keySpace, 1))
        return varintKey(index, keySize: keySize)
    }

    /// `index` as a zig-zag varint (Go's `binary.PutVarint`) at the start of `keySize` zero bytes.
    public static func varintKey(_ index: Int, keySize: Int) -> [UInt8] {
        var key = [UInt8](repeating: 0, count: max(keySize, 10))
        var zigzag = UInt64(bitPattern: Int64(index)) << 1
        if index < 0 { zigzag = ~zigzag }
        var at = 0
        while zigzag >= 0x80 {
            key[at] = UInt8(zigzag & 0x7f) | 0x80
            zigzag >>= 7
            at += 1
        }
        key[at] = UInt8(zigzag)
        return Array(key.prefix(max(keySize, at + 1)))
    }
}

/// A connection a workload's requests go over: a bare unary connection or the client library's.
public enum Caller: Sendable {
    case bare(UnaryConnection)
    case client(EtcdClient)

    /// etcd's KV.Put.
    public func put(_ request: Etcdserverpb_PutRequest) async throws -> Etcdserverpb_PutResponse {
        switch self {
        case .bare(let connection): try await connection.put(request)
        case .client(let client): try await client.put(request)
        }
    }

    /// etcd's KV.Range.
    public func range(_ request: Etcdserverpb_RangeRequest) async throws -> Etcdserverpb_RangeResponse {
        switch self {
        case .bare(let connection): try await connection.range(request)
        case .client(let client): try await client.range(request)
        }
    }

    /// etcd's KV.Txn.
    public func txn(_ request: Etcdserverpb_TxnRequest) async throws -> Etcdserverpb_TxnResponse {
        switch self {
        case .bare(let connection): try await connection.txn(request)
        case .client(let client): try await client.txn(request)
        }
    }
}

/// A benchmark that cannot run (etcd's tool prints these and exits 1).
public struct BenchError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A count shared by concurrent tasks (requests issued, events received).
public final class SharedCounter: Sendable {
    private let count = Atomic<Int>(0)

    public init() {}

    /// Adds `amount`; returns the new count.
    @discardableResult
    public func add(_ amount: Int) -> Int { count.add(amount, ordering: .relaxed).newValue }

    /// The count now.
    public var value: Int { count.load(ordering: .relaxed) }
}
