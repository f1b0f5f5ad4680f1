import Checker
import Client
import EtcdProto
import Foundation
import Synchronization
import Testing

extension EndToEnd {
    /// A 3-member setcd cluster under kill -9 and SIGSTOP/SIGCONT of its members while clients put,
    /// get, delete and compare-and-swap, and a watcher follows every change. At the end: the history
    /// is linearizable (Checker), no acknowledged write is missing from the store's history, the
    /// watch broke none of etcd's guarantees, and every member has the same HashKV.
    @Suite(.serialized) struct Chaos {
        @Test func historyUnderCrashesAndPausesIsLinearizable() async throws {
            let cluster = try ClusterProcess(.setcd, size: 3)
            defer { cluster.cleanUp() }
            try cluster.start()
            let endpoints = cluster.members.map(\.endpoint)
            var configuration = EtcdClient.Configuration(endpoints: endpoints)
            configuration.requestTimeout = .seconds(2)
            let client = configuration
            let recorder = HistoryRecorder()
            let seconds = 24
            let deadline = ContinuousClock.now + .seconds(seconds)

            // The watcher: every change of the k* keys from revision 1, across reconnects.
            let watched = Mutex<[[WatchEvent]]>([])
            let watcher = Task {
                try await EtcdClient.withClient(client) { watchClient in
                    for try await response in watchClient.watch(.init(key: Array("k".utf8), rangeEnd: Array("l".utf8), startRevision: 1)) {
                        let events = response.events.map(WatchEvent.init)
                        if !events.isEmpty { watched.withLock { $0.append(events) } }
                    }
                }
            }
            // The faults: every 3 s a member is killed (and restarted a second later) or paused for 2 s.
            let faults = Task.detached {
                var count = 0
                while ContinuousClock.now < deadline - .seconds(4) {
                    try await Task.sleep(for: .seconds(3))
                    let member = cluster.members[count % cluster.members.count]
                    if count % 2 == 0 {
                        cluster.crash(member)
                        try await Task.sleep(for: .seconds(1))
                        try cluster.launch(member)
                    } else {
                        cluster.pause(member)
                        try await Task.sleep(for: .seconds(2))
                        cluster.resume(member)
                    }
                    count += 1
                }
                return count
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for number in 0..<4 {
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
            let faultCount = try await faults.value
            for member in cluster.members { try cluster.waitHealthy(member) }

            // Final reads of every key, and the store's own history of changes.
            let (final, truth, hashes) = try await EtcdClient.withClient(client) { etcd in
                for key in HistoryRecorder.keys { await recorder.run(.get(key), client: 99, on: etcd) }
                let revision = try await etcd.get(prefix: "k").header.revision
                var truth: [WatchEvent] = []
                if revision > 1 {
                    for try await response in etcd.watch(.init(key: Array("k".utf8), rangeEnd: Array("l".utf8), startRevision: 1)) {
                        truth += response.events.map(WatchEvent.init)
                        if let last = response.events.last, last.kv.modRevision >= revision { break }
                    }
                }
                var hashes: [UInt32] = []
                for endpoint in endpoints {
                    var one = client
                    one.endpoints = [endpoint]
                    hashes.append(try await EtcdClient.withClient(one) { try await $0.hashKV(revision: revision).hash })
                }
                return (revision, truth, hashes)
            }
            // Let the watcher catch up to the final revision, then stop it.
            let caughtUp = ContinuousClock.now + .seconds(10)
            while (watched.withLock { $0.last?.last?.revision ?? 0 }) < final && ContinuousClock.now < caughtUp {
                try await Task.sleep(for: .milliseconds(100))
            }
            watcher.cancel()

            let history = await recorder.history
            let acknowledged = history.filter { if case .put = $0.input, $0.output != nil { true } else { false } }
            let lost = acknowledged.filter { operation in
                guard case .put(let key, let value) = operation.input else { return false }
                return !truth.contains { $0.kind == .put && $0.key == key && $0.value == value }
            }
            let verdict = Linearizability.check(history, model: EtcdModel())
            let watchViolations = WatchValidation.validate(
                watched.withLock { $0 }, spec: .init(key: "k", rangeEnd: "l", startRevision: 1), truth: truth, through: final)
            let unknown = history.filter { $0.output == nil }.count
            print("chaos: \(seconds) s, \(faultCount) faults, \(history.count) operations (\(acknowledged.count) acknowledged puts, \(unknown) without answer), "
                + "final revision \(final), \(lost.count) lost, linearizability \(verdict), \(watchViolations.count) watch violations, hashes \(hashes)")
            #expect(faultCount >= 4, "faults were injected")
            #expect(acknowledged.count > 50, "the clients made progress: \(acknowledged.count) puts")
            #expect(lost.isEmpty, "acknowledged puts missing from the store's history: \(lost.prefix(5))")
            #expect(verdict == .linearizable)
            #expect(watchViolations.isEmpty, "\(watchViolations.prefix(5))")
            #expect(Set(hashes).count == 1, "members agree on HashKV at revision \(final): \(hashes)")
        }
    }
}

/// A random operation on a few keys: puts of unique values, linearizable gets, deletes, and
/// compare-and-swaps on the key's version.
private func randomOperation(client: Int, operation: Int) -> EtcdModel.Request {
    let key = HistoryRecorder.keys.randomElement()!
    switch Int.random(in: 0..<10) {
    case 0..<4: return .put(key, "c\(client)-\(operation)")
    case 4..<7: return .get(key)
    case 7: return .delete(key)
    default:
        return .txn(compares: [.init(key: key, target: .version(Int64.random(in: 0...3)), result: .equal)],
                    success: [.put(key, "c\(client)-\(operation)-cas")], failure: [.get(key)])
    }
}

/// Runs operations against a real server and records them as the checker reads them: call and
/// return times, and the answer (none if the call failed: then it may or may not have happened).
/// Failed reads are left out, as they change nothing.
actor HistoryRecorder {
    static let keys = ["k0", "k1", "k2", "k3", "k4"]
    private let start = ContinuousClock.now
    private(set) var history: [HistoryOperation<EtcdModel.Request, EtcdModel.Response>] = []

    private func now() -> Int64 {
        let elapsed = ContinuousClock.now - start
        return elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
    }

    func run(_ request: EtcdModel.Request, client: Int, on etcd: EtcdClient) async {
        let call = now()
        do {
            let response = try await Self.send(request, on: etcd)
            history.append(.init(client: client, input: request, output: response, call: call, returned: now()))
        } catch {
            if case .get = request { return }
            history.append(.init(client: client, input: request, output: nil, call: call, returned: nil))
        }
    }

    private static func send(_ request: EtcdModel.Request, on etcd: EtcdClient) async throws -> EtcdModel.Response {
        switch request {
        case .put(let key, let value):
            return .put(revision: try await etcd.put(key, value).header.revision)
        case .get(let key):
            var range = Etcdserverpb_RangeRequest()
            range.key = Data(key.utf8)
            let answer = try await etcd.range(range)
            return .get(revision: answer.header.revision, answer.kvs.first.map(keyValue))
        case .delete(let key):
            var delete = Etcdserverpb_DeleteRangeRequest()
            delete.key = Data(key.utf8)
            let answer = try await etcd.delete(delete)
            return .delete(revision: answer.header.revision, deleted: answer.deleted)
        case .txn(let compares, let success, let failure):
            var txn = Etcdserverpb_TxnRequest()
            txn.compare = compares.map(compare)
            txn.success = success.map(operation)
            txn.failure = failure.map(operation)
            let answer = try await etcd.txn(txn)
            let results: [EtcdModel.TxnResult] = answer.responses.map { response in
                switch response.response {
                case .responseRange(let range): .get(range.kvs.first.map(keyValue))
                case .responseDeleteRange(let delete): .delete(deleted: delete.deleted)
                default: .put
                }
            }
            return .txn(revision: answer.header.revision, succeeded: answer.succeeded, results: results)
        }
    }

    private static func keyValue(_ kv: Mvccpb_KeyValue) -> EtcdModel.KeyValue {
        .init(value: String(decoding: kv.value, as: UTF8.self), createRevision: kv.createRevision, modRevision: kv.modRevision, version: kv.version)
    }

    private static func compare(_ compare: EtcdModel.Compare) -> Etcdserverpb_Compare {
        var result = Etcdserverpb_Compare()
        result.key = Data(compare.key.utf8)
        switch compare.result {
        case .equal: result.result = .equal
        case .notEqual: result.result = .notEqual
        case .greater: result.result = .greater
        case .less: result.result = .less
        }
        switch compare.target {
        case .value(let value):
            result.target = .value
            result.value = Data(value.utf8)
        case .version(let version):
            result.target = .version
            result.version = version
        case .createRevision(let revision):
            result.target = .create
            result.createRevision = revision
        case .modRevision(let revision):
            result.target = .mod
            result.modRevision = revision
        }
        return result
    }

    private static func operation(_ operation: EtcdModel.TxnOperation) -> Etcdserverpb_RequestOp {
        var request = Etcdserverpb_RequestOp()
        switch operation {
        case .get(let key):
            var range = Etcdserverpb_RangeRequest()
            range.key = Data(key.utf8)
            request.requestRange = range
        case .put(let key, let value):
            var put = Etcdserverpb_PutRequest()
            put.key = Data(key.utf8)
            put.value = Data(value.utf8)
            request.requestPut = put
        case .delete(let key):
            var delete = Etcdserverpb_DeleteRangeRequest()
            delete.key = Data(key.utf8)
            request.requestDeleteRange = delete
        }
        return request
    }
}

extension WatchEvent {
    /// A watch event of etcd's API.
    init(_ event: Mvccpb_Event) {
        self.init(kind: event.type == .delete ? .delete : .put, key: String(decoding: event.kv.key, as: UTF8.self),
                  value: event.type == .delete ? "" : String(decoding: event.kv.value, as: UTF8.self), revision: event.kv.modRevision,
                  previousValue: event.hasPrevKv ? String(decoding: event.prevKv.value, as: UTF8.self) : nil)
    }
}
