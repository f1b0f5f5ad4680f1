/// etcd's key-value store as a sequential model for the linearizability checker: one revision
/// counter for the whole store, puts, linearizable gets, deletes and txns with compares, and every
/// answer's header revision.
public struct EtcdModel: SequentialModel {
    /// A key's current value and its revisions, as a range answers them.
    public struct KeyValue: Hashable, Sendable {
        public var value: String
        public var createRevision: Int64
        public var modRevision: Int64
        public var version: Int64

        public init(value: String, createRevision: Int64, modRevision: Int64, version: Int64) {
            self.value = value
            self.createRevision = createRevision
            self.modRevision = modRevision
            self.version = version
        }
    }

    /// The whole store: its revision and its live keys.
    public struct State: Hashable, Sendable {
        public var revision: Int64
        public var keys: [String: KeyValue]
    }

    /// One compare of a txn; a missing key has version, create and mod revision 0 and fails every
    /// value compare, as in etcd.
    public struct Compare: Hashable, Sendable {
        public enum Target: Hashable, Sendable { case value(String), version(Int64), createRevision(Int64), modRevision(Int64) }
        public enum Result: Hashable, Sendable { case equal, notEqual, greater, less }
        public var key: String
        public var target: Target
        public var result: Result

        public init(key: String, target: Target, result: Result) {
            self.key = key
            self.target = target
            self.result = result
        }
    }

    /// An operation inside a txn.
    public enum TxnOperation: Hashable, Sendable { case get(String), put(String, String), delete(String) }

    /// What a txn operation answered.
    public enum TxnResult: Hashable, Sendable { case get(KeyValue?), put, delete(deleted: Int64) }

    /// A client request.
    public enum Request: Hashable, Sendable {
        case put(String, String)
        case get(String)
        case delete(String)
        case txn(compares: [Compare], success: [TxnOperation], failure: [TxnOperation])
    }

    /// A client's answer, with the header revision.
    public enum Response: Hashable, Sendable {
        case put(revision: Int64)
        case get(revision: Int64, KeyValue?)
        case delete(revision: Int64, deleted: Int64)
        case txn(revision: Int64, succeeded: Bool, results: [TxnResult])
    }

    /// The store's revision before the history (1 for a new cluster).
    public var startRevision: Int64

    public init(startRevision: Int64 = 1) { self.startRevision = startRevision }

    public var initialState: State { State(revision: startRevision, keys: [:]) }

    public func step(_ state: State, _ input: Request, _ output: Response?) -> State? {
        let (after, answer) = Self.apply(input, to: state)
        guard let output else { return after }
        return output == answer ? after : nil
    }

    /// `request` applied to `state`: the state after it and the answer etcd gives.
    public static func apply(_ request: Request, to state: State) -> (State, Response) {
        switch request {
        case .put(let key, let value):
            var write = Write(state)
            write.put(key, value)
            return (write.state, .put(revision: write.state.revision))
        case .get(let key):
            return (state, .get(revision: state.revision, state.keys[key]))
        case .delete(let key):
            var write = Write(state)
            let deleted = write.delete(key)
            return (write.state, .delete(revision: write.state.revision, deleted: deleted))
        case .txn(let compares, let success, let failure):
            let succeeded = compares.allSatisfy { holds($0, in: state) }
            var write = Write(state)
            let results = (succeeded ? success : failure).map { operation -> TxnResult in
                switch operation {
                case .get(let key): return .get(write.state.keys[key])
                case .put(let key, let value):
                    write.put(key, value)
                    return .put
                case .delete(let key): return .delete(deleted: write.delete(key))
                }
            }
            return (write.state, .txn(revision: write.state.revision, succeeded: succeeded, results: results))
        }
    }

    /// Whether `compare` holds in `state`.
    static func holds(_ compare: Compare, in state: State) -> Bool {
        let current = state.keys[compare.key]
        func judge<T: Comparable>(_ actual: T, _ expected: T) -> Bool {
            switch compare.result {
            case .equal: actual == expected
            case .notEqual: actual != expected
            case .greater: actual > expected
            case .less: actual < expected
            }
        }
        switch compare.target {
        case .value(let expected):
            guard let current else { return false }
            return judge(current.value, expected)
        case .version(let expected): return judge(current?.version ?? 0, expected)
        case .createRevision(let expected): return judge(current?.createRevision ?? 0, expected)
        case .modRevision(let expected): return judge(current?.modRevision ?? 0, expected)
        }
    }

    /// The writes of one request: all at the next revision, which exists only if something changed.
    struct Write {
        private(set) var state: State
        private let revision: Int64

        init(_ state: State) {
            self.state = state
            revision = state.revision + 1
        }

        mutating func put(_ key: String, _ value: String) {
            let existing = state.keys[key]
            state.keys[key] = KeyValue(
                value: value, createRevision: existing?.createRevision ?? revision, modRevision: revision, version: (existing?.version ?? 0) + 1)
            state.revision = revision
        }

        mutating func delete(_ key: String) -> Int64 {
            guard state.keys.removeValue(forKey: key) != nil else { return 0 }
            state.revision = revision
            return 1
        }
    }
}

extension EtcdModel {
    /// Settles the writes whose clients got no answer, from the store's own history of changes
    /// (`changes`, e.g. a watch of everything from revision 1): a put, or a compare-and-swap txn,
    /// writes a value no other operation writes, so whether and at which revision it happened can
    /// be read off. One that happened gets its answer; one that did not is left out. Deletes stay
    /// unsettled (any delete of the key could be theirs). Without this, every unanswered write can
    /// be placed anywhere after its call, and the search grows with the length of the history.
    public static func settleUnanswered(
        _ history: [HistoryOperation<Request, Response>], changes: [WatchEvent]
    ) -> [HistoryOperation<Request, Response>] {
        var revisionOfPut: [String: [String: Int64]] = [:]
        for change in changes where change.kind == .put { revisionOfPut[change.key, default: [:]][change.value] = change.revision }
        return history.compactMap { operation in
            guard operation.output == nil else { return operation }
            var settled = operation
            switch operation.input {
            case .put(let key, let value):
                guard let revision = revisionOfPut[key]?[value] else { return nil }
                settled.output = .put(revision: revision)
            case .txn(_, let success, _):
                // Our txns put one fresh value on success and only read otherwise.
                guard success.count == 1, case .put(let key, let value) = success[0] else { return operation }
                guard let revision = revisionOfPut[key]?[value] else { return nil }
                settled.output = .txn(revision: revision, succeeded: true, results: [.put])
            case .get, .delete:
                break
            }
            return settled
        }
    }
}
