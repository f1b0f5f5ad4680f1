/// One change a watch reports (or the store made): a put or a delete of a key at a revision.
public struct WatchEvent: Hashable, Sendable {
    public enum Kind: Hashable, Sendable { case put, delete }
    public var kind: Kind
    public var key: String
    /// The value put (empty for a delete).
    public var value: String
    /// The revision of the change.
    public var revision: Int64
    /// The value before the change, when the watch asked for `prev_kv` (nil: none, or not asked).
    public var previousValue: String?

    public init(kind: Kind, key: String, value: String = "", revision: Int64, previousValue: String? = nil) {
        self.kind = kind
        self.key = key
        self.value = value
        self.revision = revision
        self.previousValue = previousValue
    }
}

/// What a watch asked for: a key or a range of keys, from a revision, with prev_kv and filters.
public struct WatchRequestSpec: Sendable {
    public var key: String
    /// The end of the range (exclusive); nil for the single key. "\0" means every key from `key`.
    public var rangeEnd: String?
    /// The first revision asked for (0: from the revision after the watch was created).
    public var startRevision: Int64
    public var prevKV: Bool
    public var noPut: Bool
    public var noDelete: Bool

    public init(key: String, rangeEnd: String? = nil, startRevision: Int64 = 0, prevKV: Bool = false, noPut: Bool = false, noDelete: Bool = false) {
        self.key = key
        self.rangeEnd = rangeEnd
        self.startRevision = startRevision
        self.prevKV = prevKV
        self.noPut = noPut
        self.noDelete = noDelete
    }

    /// Whether the watch covers `event` (key range and filters).
    func covers(_ event: WatchEvent) -> Bool {
        if noPut && event.kind == .put || noDelete && event.kind == .delete { return false }
        guard let rangeEnd else { return event.key == key }
        return event.key.utf8.lexicographicallyPrecedes(key.utf8) == false
            && (rangeEnd == "\0" || event.key.utf8.lexicographicallyPrecedes(rangeEnd.utf8))
    }
}

/// A property of etcd's watch guarantees that a watch's responses broke.
public enum WatchViolation: Hashable, Sendable {
    /// An event at a lower revision came after one at a higher revision.
    case unordered(revision: Int64, after: Int64)
    /// The same change was reported twice.
    case duplicate(revision: Int64, key: String)
    /// One revision's changes were split over several responses.
    case split(revision: Int64)
    /// A change the store made, inside the watched range and revisions, was not reported.
    case missing(WatchEvent)
    /// A reported change the store never made (or not as reported).
    case phantom(WatchEvent)
    /// An event before the revision the watch started from.
    case beforeStart(WatchEvent)
    /// An event outside what the watch asked for (another key, or one its filters exclude).
    case notAskedFor(WatchEvent)
    /// prev_kv asked for and wrong: `expected` is the key's value before the change.
    case wrongPreviousValue(WatchEvent, expected: String?)
}

/// etcd's watch guarantees, checked on what one watch delivered against the changes the store made
/// (`truth`, every change of every key in revision order, e.g. from a watch of everything on a
/// healthy member, or from the linearized history):
/// ordered, unique, atomic (a revision is never split), reliable (no gap), resumable (a watch from
/// revision R sees every change from R on), prev_kv correct, filters honoured.
public enum WatchValidation {
    /// The violations in `responses` (each the events of one watch response, in arrival order).
    /// Changes up to `through` (default: the last revision the watch reported) must all be there.
    public static func validate(
        _ responses: [[WatchEvent]], spec: WatchRequestSpec, truth: [WatchEvent], through: Int64? = nil
    ) -> [WatchViolation] {
        var violations: [WatchViolation] = []
        let delivered = responses.flatMap { $0 }
        // Ordered and unique.
        var last: Int64 = 0
        var seen = Set<[String]>()
        for event in delivered {
            if event.revision < last { violations.append(.unordered(revision: event.revision, after: last)) }
            last = max(last, event.revision)
            if !seen.insert([String(event.revision), event.key]).inserted { violations.append(.duplicate(revision: event.revision, key: event.key)) }
        }
        // Atomic: a revision's events all in one response.
        var responseOf: [Int64: Int] = [:]
        var split = Set<Int64>()
        for (index, response) in responses.enumerated() {
            for event in response {
                if let earlier = responseOf[event.revision], earlier != index { split.insert(event.revision) }
                responseOf[event.revision] = index
            }
        }
        violations += split.sorted().map { .split(revision: $0) }

        // The store's values before each change, for prev_kv.
        var values: [String: String] = [:]
        var previous: [[String]: String?] = [:]
        for change in truth {
            previous[[String(change.revision), change.key]] = values[change.key]
            values[change.key] = change.kind == .put ? change.value : nil
        }
        let firstRevision = spec.startRevision > 0 ? spec.startRevision : (delivered.first?.revision ?? Int64.max)
        let lastRevision = through ?? delivered.last?.revision ?? 0
        let truthByChange = Dictionary(truth.map { ([String($0.revision), $0.key], $0) }, uniquingKeysWith: { first, _ in first })
        for event in delivered {
            let identity = [String(event.revision), event.key]
            if !spec.covers(event) {
                violations.append(.notAskedFor(event))
            } else if spec.startRevision > 0 && event.revision < spec.startRevision {
                violations.append(.beforeStart(event))
            } else if !(truthByChange[identity].map { same($0, event) } ?? false) {
                violations.append(.phantom(event))
            } else if spec.prevKV, let expected = previous[identity], event.previousValue != expected {
                violations.append(.wrongPreviousValue(event, expected: expected))
            }
        }
        // Reliable and resumable: every covered change from the start through the last revision.
        let deliveredKeys = Set(delivered.map { [String($0.revision), $0.key] })
        for change in truth where change.revision >= firstRevision && change.revision <= lastRevision && spec.covers(change) {
            if !deliveredKeys.contains([String(change.revision), change.key]) { violations.append(.missing(change)) }
        }
        return violations
    }

    /// The same change: kind, key, revision and (for puts) value.
    private static func same(_ a: WatchEvent, _ b: WatchEvent) -> Bool {
        a.kind == b.kind && a.key == b.key && a.revision == b.revision && (a.kind == .delete || a.value == b.value)
    }
}
