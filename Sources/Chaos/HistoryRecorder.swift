import Checker
import Client
import EtcdProto
import Foundation

/// A random operation on one of `HistoryRecorder.keys`: puts of unique values, linearizable gets,
/// deletes, and compare-and-swaps on the key's version.
public func randomOperation(client: Int, operation: Int) -> EtcdModel.Request {
    var generator = SystemRandomNumberGenerator()
    return randomOperation(client: client, operation: operation, using: &generator)
}

/// `randomOperation(client:operation:)` drawn from `generator` (a seeded one replays).
public func randomOperation(client: Int, operation: Int, using generator: inout some RandomNumberGenerator) -> EtcdModel.Request {
    let key = HistoryRecorder.keys.randomElement(using: &generator)!
    switch Int.random(in: 0..<10, using: &generator) {
    case 0..<4: return .put(key, "c\(client)-\(operation)")
    case 4..<7: return .get(key)
    case 7: return .delete(key)
    default:
        return .txn(compares: [.init(key: key, target: .version(Int64.random(in: 0...3, using: &generator)), result: .equal)],
                    success: [.put(key, "c\(client)-\(operation)-cas")], failure: [.get(key)])
    }
}

/// Runs operations against a real server and records them as the checker reads them: call and
/// return times, and the answer (none if the call failed: then it may or may not have happened).
/// Failed reads are left out, as they change nothing.
public actor HistoryRecorder {
    public static let keys = ["k0", "k1", "k2", "k3", "k4"]
    private let start = ContinuousClock.now
    public private(set) var history: [HistoryOperation<EtcdModel.Request, EtcdModel.Response>] = []

    private func now() -> Int64 {
        let elapsed = ContinuousClock.now - start
        return elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
    }

    public init() {}

    /// Runs `request` and records it.
    public func run(_ request: EtcdModel.Request, client: Int, on etcd: EtcdClient) async {
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
            let answer = try await etcd.txn(txnRequest(compares: compares, success: success, failure: failure))
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

    /// The etcd transaction of the model's `.txn`.
    public static func txnRequest(compares: [EtcdModel.Compare], success: [EtcdModel.TxnOperation], failure: [EtcdModel.TxnOperation]) -> Etcdserverpb_TxnRequest {
        var txn = Etcdserverpb_TxnRequest()
        txn.compare = compares.map(compare)
        txn.success = success.map(operation)
        txn.failure = failure.map(operation)
        return txn
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
    public init(_ event: Mvccpb_Event) {
        self.init(kind: event.type == .delete ? .delete : .put, key: String(decoding: event.kv.key, as: UTF8.self),
                  value: event.type == .delete ? "" : String(decoding: event.kv.value, as: UTF8.self), revision: event.kv.modRevision,
                  previousValue: event.hasPrevKv ? String(decoding: event.prevKv.value, as: UTF8.self) : nil)
    }
}
