import Checker
import Client
import Foundation
import Synchronization

/// One chaos run: a fresh cluster, clients recording a history and a watcher following every change
/// while faults hit the members, then the checks.
public struct ChaosRun: Sendable {
    /// The kinds of fault the run injects, in turn.
    public enum Fault: String, Sendable, CaseIterable {
        /// kill -9, restarted a second later.
        case kill
        /// SIGSTOP for two seconds, then SIGCONT.
        case pause
        /// Peer traffic to the member cut for three seconds (what it sends over connections it opened
        /// itself still goes out).
        case partition
        /// 50 ms more on every chunk of the member's peer traffic for three seconds.
        case delay
    }

    public var binary: String
    public var root: String
    public var members = 3
    public var clients = 4
    public var duration: Duration = .seconds(60)
    /// Time between faults.
    public var interval: Duration = .seconds(3)
    public var faults: [Fault] = Fault.allCases

    public init(binary: String, root: String) {
        self.binary = binary
        self.root = root
    }

    /// What a run found.
    public struct Report: Sendable {
        public var seconds: Double = 0
        public var faults: [Fault: Int] = [:]
        /// Members found dead when a fault was due, which no fault had killed.
        public var unexpectedExits: [String] = []
        /// What the checks found in the history, the watch and the members' hashes.
        public var verdict = HistoryVerdict()

        /// True if every check passed.
        public var passed: Bool { unexpectedExits.isEmpty && verdict.passed }

        /// The figures, one line each.
        public var text: String {
            let injected = faults.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.value) \($0.key.rawValue)" }.joined(separator: ", ")
            return """
                duration: \(String(format: "%.0f", seconds)) s
                faults injected: \(faults.values.reduce(0, +)) (\(injected))
                unexpected member exits: \(unexpectedExits.count)\(unexpectedExits.isEmpty ? "" : " " + unexpectedExits.joined(separator: ", "))
                \(verdict.text)verdict: \(passed ? "PASS" : "FAIL")

                """
        }
    }

    /// Runs the cluster, the load and the faults for `duration`, then checks.
    public func run() async throws -> Report {
        let cluster = try await ChaosCluster.make(binary: binary, size: members, root: root)
        do {
            try await cluster.start()
            let report = try await drive(cluster)
            await cluster.stop()
            return report
        } catch {
            await cluster.stop()
            throw error
        }
    }

    private func drive(_ cluster: ChaosCluster) async throws -> Report {
        var configuration = EtcdClient.Configuration(endpoints: cluster.endpoints)
        configuration.requestTimeout = .seconds(2)
        let client = configuration
        let recorder = HistoryRecorder()
        let started = ContinuousClock.now
        let deadline = started + duration
        let watchRange = (key: Array("k".utf8), end: Array("l".utf8))

        let watched = Mutex<[[WatchEvent]]>([])
        let watcher = Task {
            try await EtcdClient.withClient(client) { etcd in
                for try await response in etcd.watch(.init(key: watchRange.key, rangeEnd: watchRange.end, startRevision: 1)) {
                    let events = response.events.map(WatchEvent.init)
                    if !events.isEmpty { watched.withLock { $0.append(events) } }
                }
            }
        }
        let (faults, interval) = (self.faults, self.interval)
        let injector = Task {
            var injected: [Fault: Int] = [:]
            var unexpected: [String] = []
            var turn = 0
            while ContinuousClock.now + interval + .seconds(3) < deadline, !faults.isEmpty {
                try await Task.sleep(for: interval)
                let member = cluster.members.randomElement()!
                let fault = faults[turn % faults.count]
                if !cluster.isRunning(member) {
                    // Nothing killed it: a crash of its own. Restart it so the run goes on, and report it.
                    unexpected.append(member.name)
                    try cluster.launch(member)
                    continue
                }
                switch fault {
                case .kill:
                    cluster.crash(member)
                    try await Task.sleep(for: .seconds(1))
                    try cluster.launch(member)
                case .pause:
                    cluster.pause(member)
                    try await Task.sleep(for: .seconds(2))
                    cluster.resume(member)
                case .partition:
                    member.proxy.fault = .partition
                    try await Task.sleep(for: .seconds(3))
                    member.proxy.fault = .none
                case .delay:
                    member.proxy.fault = .delay(.milliseconds(50))
                    try await Task.sleep(for: .seconds(3))
                    member.proxy.fault = .none
                }
                injected[fault, default: 0] += 1
                turn += 1
            }
            return (injected, unexpected)
        }
        defer {
            injector.cancel()
            watcher.cancel()
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for number in 0..<clients {
                group.addTask {
                    try await EtcdClient.withClient(client) { etcd in
                        var operation = 0
                        while ContinuousClock.now < deadline {
                            await recorder.run(randomOperation(client: number, operation: operation), client: number, on: etcd)
                            operation += 1
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        var report = Report()
        (report.faults, report.unexpectedExits) = try await injector.value
        for member in cluster.members {
            if !cluster.isRunning(member) {
                report.unexpectedExits.append(member.name)
                try cluster.launch(member)
            }
            try await cluster.waitHealthy(member)
        }

        // Final reads of every key; the store's own history of changes; every member's hash.
        let (final, truth, hashes) = try await EtcdClient.withClient(client) { etcd in
            for key in HistoryRecorder.keys { await recorder.run(.get(key), client: clients, on: etcd) }
            let revision = try await etcd.get(prefix: "k").header.revision
            var truth: [WatchEvent] = []
            if revision > 1 {
                for try await response in etcd.watch(.init(key: watchRange.key, rangeEnd: watchRange.end, startRevision: 1)) {
                    truth += response.events.map(WatchEvent.init)
                    if let last = response.events.last, last.kv.modRevision >= revision { break }
                }
            }
            var hashes: [UInt32] = []
            for endpoint in cluster.endpoints {
                var one = client
                one.endpoints = [endpoint]
                hashes.append(try await EtcdClient.withClient(one) { member in
                    // A member still catching up has not reached the revision yet.
                    let deadline = ContinuousClock.now + .seconds(10)
                    while try await member.status().header.revision < revision, ContinuousClock.now < deadline {
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    return try await member.hashKV(revision: revision).hash
                })
            }
            return (revision, truth, hashes)
        }
        // The watcher catches up to the final revision, then stops.
        let catchUp = ContinuousClock.now + .seconds(10)
        while (watched.withLock { $0.last?.last?.revision ?? 0 }) < final && ContinuousClock.now < catchUp {
            try await Task.sleep(for: .milliseconds(100))
        }

        report.seconds = Double((ContinuousClock.now - started).components.seconds)
        report.verdict = HistoryVerdict(history: await recorder.history, truth: truth, finalRevision: final,
                                        watched: watched.withLock { $0 }, watchSpec: .init(key: "k", rangeEnd: "l", startRevision: 1), hashes: hashes)
        return report
    }
}
