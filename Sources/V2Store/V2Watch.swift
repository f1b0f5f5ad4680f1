/// The last changes (etcd keeps 1,000), for watches that start in the past.
struct V2History {
    let capacity: Int
    private var events: [(event: V2Event, refresh: Bool)] = []

    init(capacity: Int) { self.capacity = capacity }

    mutating func append(_ event: V2Event, refresh: Bool) {
        var stored = event
        stored.removedPaths = []
        events.append((stored, refresh))
        if events.count > capacity { events.removeFirst(events.count - capacity) }
    }

    /// The first change at or after `since` that a watch of `path` sees; nil if none happened yet.
    /// A `since` older than the history is etcd's error 401.
    func scan(_ path: String, recursive: Bool, since: UInt64, currentIndex: UInt64) throws(V2Error) -> V2Event? {
        guard let first = events.first, let last = events.last else { return nil }
        let start = first.event.node.modifiedIndex
        if since < start {
            throw V2Error(V2Error.eventIndexCleared, cause: "the requested history has been cleared [\(start)/\(since)]", index: currentIndex)
        }
        if since > last.event.node.modifiedIndex { return nil }
        for (event, refresh) in events where event.node.modifiedIndex >= since && !refresh {
            if Self.concerns(event, path: path, recursive: recursive) { return event }
        }
        return nil
    }

    /// etcd's match of a past event: the key itself, a key under it (recursive), or the deletion of a
    /// directory whose path is a prefix of the key (a plain string prefix, as in etcd).
    static func concerns(_ event: V2Event, path: String, recursive: Bool) -> Bool {
        let key = event.node.key
        if key == path { return true }
        if recursive && key.hasPrefix(path == "/" ? "/" : path + "/") && !isHidden(key, under: path) { return true }
        if (event.action == .delete || event.action == .expire), event.prevNode?.isDirectory == true, path.hasPrefix(key) { return true }
        return false
    }

    /// Whether `key` is hidden as seen from a watch on `path`: a component after it starts with `_`.
    static func isHidden(_ key: String, under path: String) -> Bool {
        let rest = key.dropFirst(path == "/" ? 0 : path.count)
        return rest.contains("/_")
    }
}

/// A client waiting for changes (etcd's long-poll `wait=true`).
public final class V2Watcher: Sendable {
    public let path: String
    public let recursive: Bool
    public let stream: Bool
    let sinceIndex: UInt64
    /// The changes delivered to it; ends after the first one unless `stream`, and when it falls 100
    /// changes behind (as etcd drops such a watcher).
    public let events: AsyncStream<V2Event>
    private let continuation: AsyncStream<V2Event>.Continuation

    init(path: String, recursive: Bool, stream: Bool, sinceIndex: UInt64) {
        self.path = path
        self.recursive = recursive
        self.stream = stream
        self.sinceIndex = sinceIndex
        (events, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingOldest(100))
    }

    /// Delivers an event; false when the watcher is done (after one event, or full).
    func deliver(_ event: V2Event) -> Bool {
        guard event.node.modifiedIndex >= sinceIndex else { return true }
        switch continuation.yield(event) {
        case .enqueued:
            if !stream { continuation.finish() }
            return stream
        case .dropped, .terminated:
            continuation.finish()
            return false
        @unknown default:
            return false
        }
    }

    func finish() { continuation.finish() }
}

/// Live watchers by the path they watch.
struct V2WatcherHub {
    private var byPath: [String: [V2Watcher]] = [:]

    var count: Int { byPath.values.reduce(0) { $0 + $1.count } }

    mutating func add(_ watcher: V2Watcher) {
        byPath[watcher.path, default: []].append(watcher)
    }

    /// Ends every watcher.
    mutating func finishAll() {
        for watcher in byPath.values.joined() { watcher.finish() }
        byPath = [:]
    }

    mutating func remove(_ watcher: V2Watcher) {
        byPath[watcher.path]?.removeAll { $0 === watcher }
        if byPath[watcher.path]?.isEmpty == true { byPath[watcher.path] = nil }
    }

    /// Wakes the watchers on the event's key and on each directory above it (recursive ones), and on
    /// every path a deletion removed.
    mutating func notify(_ event: V2Event) {
        let key = event.node.key
        var paths = ["/"]
        var prefix = ""
        for name in V2Path.components(key) {
            prefix += "/" + name
            paths.append(prefix)
        }
        for path in paths {
            deliver(event, to: path) { watcher in
                watcher.path == key || (watcher.recursive && !V2History.isHidden(key, under: watcher.path))
            }
        }
        for path in event.removedPaths where path != key {
            deliver(event, to: path) { _ in true }
        }
    }

    private mutating func deliver(_ event: V2Event, to path: String, if wanted: (V2Watcher) -> Bool) {
        guard let watchers = byPath[path] else { return }
        var kept: [V2Watcher] = []
        for watcher in watchers {
            if wanted(watcher), !watcher.deliver(event) { continue }
            kept.append(watcher)
        }
        byPath[path] = kept.isEmpty ? nil : kept
    }
}
