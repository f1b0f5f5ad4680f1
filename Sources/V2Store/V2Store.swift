/// etcd's v2 key tree (etcd's `v2store`): directories and values addressed by slash-separated paths,
/// each node with the store index that created and last modified it, optional expiry, a history of
/// the last 1,000 changes, and watchers.
///
/// The store is deterministic: every change takes the time it applies at from the caller (the log
/// entry), so members applying the same entries reach the same tree and indexes. It is not thread-safe;
/// the owner serialises access. Paths are the user's (`/a/b`), without etcd's internal `/1` namespace.
public final class V2Store {
    /// The index of the last change (etcd's `X-Etcd-Index`).
    public private(set) var currentIndex: UInt64
    let root: V2Node
    private var history = V2History(capacity: 1000)
    private var watchers = V2WatcherHub()
    /// The nodes with an expiry, by path.
    private var expiring: [String: V2Node] = [:]
    /// Changes since the owner last took them (`takeChanges`), for persisting the tree.
    private var changes: [String: V2NodeRecord?] = [:]
    /// Counters for `/v2/stats/store`.
    public private(set) var stats = V2StoreStats()

    /// 2000-01-01T00:00:00Z in unix nanoseconds: a created node expiring before it never expires (etcd's
    /// `minExpireTime`).
    public static let minimumExpiration: Int64 = 946_684_800 * 1_000_000_000

    /// An empty store at index `index`.
    public init(index: UInt64 = 0) {
        currentIndex = index
        root = V2Node(path: "/", createdIndex: 0, modifiedIndex: 0, value: nil, children: [:])
    }

    // MARK: - Reads

    /// The node at `path` (its children, and theirs with `recursive`; sorted by key with `sorted`).
    public func get(_ path: String, recursive: Bool, sorted: Bool, now: Int64) throws(V2Error) -> V2Event {
        let path = V2Path.clean(path)
        do throws(V2Error) {
            let node = try walk(path)
            stats.getsSuccess += 1
            return V2Event(action: .get, node: node.view(recursive: recursive, sorted: sorted, now: now, depth: 0, listing: true), etcdIndex: currentIndex)
        } catch {
            stats.getsFail += 1
            throw error
        }
    }

    // MARK: - Changes

    /// `PUT` without preconditions: creates or replaces a value (or creates a directory), etcd's `Set`.
    /// With `refresh`, only the expiry changes (the key must exist).
    public func set(_ path: String, dir: Bool, value: String, expiration: Int64?, refresh: Bool, now: Int64) throws(V2Error) -> V2Event {
        let path = V2Path.clean(path)
        do throws(V2Error) {
            var value = value
            let existing: V2Node?
            do throws(V2Error) {
                existing = try walk(path)
            } catch where error.code == V2Error.keyNotFound {
                existing = nil
            }
            if refresh {
                guard let existing else { throw V2Error(V2Error.keyNotFound, cause: path, index: currentIndex) }
                value = existing.value ?? ""
            }
            let event = try internalCreate(path, dir: dir, value: value, unique: false, replace: true, expiration: expiration,
                                           action: .set, now: now)
            stats.setsSuccess += 1
            return finish(event, refresh: refresh)
        } catch {
            stats.setsFail += 1
            throw error
        }
    }

    /// `PUT ?prevExist=false` (and `POST`, with `unique`: the new key is named by its index,
    /// 20 digits): creates a key that must not exist yet.
    public func create(_ path: String, dir: Bool, value: String, unique: Bool, expiration: Int64?, now: Int64) throws(V2Error) -> V2Event {
        let path = V2Path.clean(path)
        do throws(V2Error) {
            let event = try internalCreate(path, dir: dir, value: value, unique: unique, replace: false, expiration: expiration,
                                           action: .create, now: now)
            stats.createSuccess += 1
            return finish(event, refresh: false)
        } catch {
            stats.createFail += 1
            throw error
        }
    }

    /// `PUT ?prevExist=true`: a new value and expiry for an existing key (a directory takes only a new
    /// expiry).
    public func update(_ path: String, value: String, expiration: Int64?, refresh: Bool, now: Int64) throws(V2Error) -> V2Event {
        let path = V2Path.clean(path)
        do throws(V2Error) {
            if V2Path.isReadOnly(path) { throw V2Error(V2Error.rootReadOnly, cause: "/", index: currentIndex) }
            let node = try walk(path)
            if node.isDirectory && !value.isEmpty { throw V2Error(V2Error.notFile, cause: path, index: currentIndex) }
            let previous = node.view(recursive: false, sorted: false, now: now, depth: 0)
            let index = currentIndex + 1
            if !node.isDirectory { node.value = refresh ? node.value : value }
            // etcd does not record a directory's new modified index (its write fails and is ignored).
            if !node.isDirectory { node.modifiedIndex = index }
            node.expiration = expiration
            currentIndex = index
            record(node)
            var view = node.view(recursive: false, sorted: false, now: now, depth: 0)
            view.modifiedIndex = index
            stats.updateSuccess += 1
            return finish(V2Event(action: .update, node: view, prevNode: previous, etcdIndex: index), refresh: refresh)
        } catch {
            stats.updateFail += 1
            throw error
        }
    }

    /// `PUT` with `prevValue` and/or `prevIndex`: a new value if the key still has them.
    public func compareAndSwap(_ path: String, prevValue: String, prevIndex: UInt64, value: String, expiration: Int64?,
                               refresh: Bool, now: Int64) throws(V2Error) -> V2Event {
        let path = V2Path.clean(path)
        do throws(V2Error) {
            if V2Path.isReadOnly(path) { throw V2Error(V2Error.rootReadOnly, cause: "/", index: currentIndex) }
            let node = try walk(path)
            if node.isDirectory { throw V2Error(V2Error.notFile, cause: path, index: currentIndex) }
            try compare(node, prevValue: prevValue, prevIndex: prevIndex)
            let previous = node.view(recursive: false, sorted: false, now: now, depth: 0)
            let index = currentIndex + 1
            if !refresh { node.value = value }
            node.modifiedIndex = index
            node.expiration = expiration
            currentIndex = index
            record(node)
            stats.compareAndSwapSuccess += 1
            return finish(V2Event(action: .compareAndSwap, node: node.view(recursive: false, sorted: false, now: now, depth: 0),
                                  prevNode: previous, etcdIndex: index), refresh: refresh)
        } catch {
            stats.compareAndSwapFail += 1
            throw error
        }
    }

    /// `DELETE`: a key, an empty directory (`dir`), or a directory and everything under it
    /// (`recursive`).
    public func delete(_ path: String, dir: Bool, recursive: Bool, now: Int64) throws(V2Error) -> V2Event {
        let path = V2Path.clean(path)
        do throws(V2Error) {
            if V2Path.isReadOnly(path) { throw V2Error(V2Error.rootReadOnly, cause: "/", index: currentIndex) }
            let node = try walk(path)
            if node.isDirectory {
                if !dir && !recursive { throw V2Error(V2Error.notFile, cause: path, index: currentIndex) }
                if !recursive && !(node.children?.isEmpty ?? true) { throw V2Error(V2Error.dirNotEmpty, cause: path, index: currentIndex) }
            }
            let event = remove(node, action: .delete, now: now)
            stats.deleteSuccess += 1
            return finish(event, refresh: false)
        } catch {
            stats.deleteFail += 1
            throw error
        }
    }

    /// `DELETE` with `prevValue` and/or `prevIndex`: deletes a key if it still has them.
    public func compareAndDelete(_ path: String, prevValue: String, prevIndex: UInt64, now: Int64) throws(V2Error) -> V2Event {
        let path = V2Path.clean(path)
        do throws(V2Error) {
            let node = try walk(path)
            if node.isDirectory { throw V2Error(V2Error.notFile, cause: path, index: currentIndex) }
            try compare(node, prevValue: prevValue, prevIndex: prevIndex)
            var event = remove(node, action: .compareAndDelete, now: now)
            event.node.isDirectory = false
            stats.compareAndDeleteSuccess += 1
            return finish(event, refresh: false)
        } catch {
            stats.compareAndDeleteFail += 1
            throw error
        }
    }

    /// Removes every node whose expiry is at or before `cutoff` (unix nanoseconds), oldest expiry
    /// first, each with an `expire` event (etcd's `DeleteExpiredKeys`, applied from the leader's SYNC).
    public func deleteExpired(cutoff: Int64) -> [V2Event] {
        var events: [V2Event] = []
        while let node = earliestExpiring(), let expiration = node.expiration, expiration <= cutoff {
            var event = remove(node, action: .expire, now: cutoff)
            event.node.value = nil
            stats.expireCount += 1
            events.append(finish(event, refresh: false))
        }
        return events
    }

    /// An internal change (etcd keeps membership and the cluster version in the same store): takes the
    /// next index and a history slot, invisible to watchers.
    public func recordInternalChange() {
        currentIndex += 1
        let event = V2Event(action: .set, node: V2NodeView(key: "/_internal", modifiedIndex: currentIndex, createdIndex: currentIndex),
                            etcdIndex: currentIndex)
        history.append(event, refresh: true)
    }

    /// Whether any node has an expiry (the leader then proposes a sweep every 500 ms).
    public var hasExpiringNodes: Bool { earliestExpiring() != nil }

    // MARK: - Watching

    /// Watches `path` (and, with `recursive`, everything under it) for changes at or after
    /// `sinceIndex` (0: after now): a change still in the history answers at once; otherwise the
    /// returned watcher receives the next ones (every one with `stream`, else the first).
    public func watch(_ path: String, recursive: Bool, stream: Bool, sinceIndex: UInt64) throws(V2Error) -> V2WatchResult {
        let path = V2Path.clean(path)
        let since = sinceIndex == 0 ? currentIndex + 1 : sinceIndex
        if let event = try history.scan(path, recursive: recursive, since: since, currentIndex: currentIndex) {
            return .past(event)
        }
        let watcher = V2Watcher(path: path, recursive: recursive, stream: stream, sinceIndex: since)
        watchers.add(watcher)
        return .waiting(watcher, startIndex: currentIndex)
    }

    /// Stops a watcher (its client went away).
    public func cancel(_ watcher: V2Watcher) {
        watchers.remove(watcher)
        watcher.finish()
    }

    /// The number of live watchers.
    public var watcherCount: Int { watchers.count }

    // MARK: - Persistence

    /// The nodes changed since the last call, by path (nil: removed), for the owner to store.
    public func takeChanges() -> [String: V2NodeRecord?] {
        defer { changes = [:] }
        return changes
    }

    /// Every node, for a full copy (a snapshot) of the tree.
    public func allRecords() -> [(path: String, record: V2NodeRecord)] {
        var records: [(String, V2NodeRecord)] = []
        func visit(_ node: V2Node) {
            if node !== root { records.append((node.path, node.record)) }
            for child in (node.children ?? [:]).values { visit(child) }
        }
        visit(root)
        return records
    }

    /// A store rebuilt from stored nodes (parents before or after children, any order) at `index`.
    public convenience init(records: [(path: String, record: V2NodeRecord)], index: UInt64) {
        self.init(index: index)
        for (path, record) in records.sorted(by: { $0.path.count < $1.path.count }) {
            let parent = ensureDirectory(V2Path.parent(of: path), index: record.createdIndex)
            let node = V2Node(path: path, createdIndex: record.createdIndex, modifiedIndex: record.modifiedIndex,
                              value: record.isDirectory ? nil : record.value ?? "", children: record.isDirectory ? [:] : nil)
            node.expiration = record.expiration
            node.parent = parent
            parent.children?[V2Path.name(of: path)] = node
            if record.expiration != nil { expiring[path] = node }
        }
        changes = [:]
    }

    /// Takes `other`'s tree and index (a snapshot installed); current watchers end.
    public func replaceContents(with other: V2Store) {
        root.children = other.root.children
        for child in (root.children ?? [:]).values { child.parent = root }
        currentIndex = other.currentIndex
        expiring = other.expiring
        history = V2History(capacity: 1000)
        watchers.finishAll()
        changes = [:]
    }

    // MARK: - Internals

    /// The node at `path`; etcd's errors for a missing component (cause: the path up to it) or a
    /// value on the way (cause: its path).
    private func walk(_ path: String) throws(V2Error) -> V2Node {
        var node = root
        for name in V2Path.components(path) {
            guard let children = node.children else { throw V2Error(V2Error.notDirectory, cause: node.path, index: currentIndex) }
            guard let child = children[name] else {
                throw V2Error(V2Error.keyNotFound, cause: V2Path.join(node.path, name), index: currentIndex)
            }
            node = child
        }
        return node
    }

    private func internalCreate(_ path: String, dir: Bool, value: String, unique: Bool, replace: Bool, expiration: Int64?,
                                action: V2Action, now: Int64) throws(V2Error) -> V2Event {
        let index = currentIndex + 1
        var path = path
        if unique { path = V2Path.join(path, String(repeating: "0", count: max(0, 20 - String(index).count)) + String(index)) }
        if V2Path.isReadOnly(path) { throw V2Error(V2Error.rootReadOnly, cause: "/", index: currentIndex) }
        let parent = try parentDirectory(of: path, index: index)
        let name = V2Path.name(of: path)
        var previous: V2NodeView?
        if let existing = parent.children?[name] {
            guard replace else { throw V2Error(V2Error.nodeExist, cause: path, index: currentIndex) }
            if existing.isDirectory { throw V2Error(V2Error.notFile, cause: path, index: currentIndex) }
            previous = existing.view(recursive: false, sorted: false, now: now, depth: 0)
            parent.children?[name] = nil
        }
        let node = V2Node(path: path, createdIndex: index, modifiedIndex: index, value: dir ? nil : value, children: dir ? [:] : nil)
        // As etcd's store: an expiry before 2000 (a huge TTL wrapped around) means none.
        node.expiration = expiration.flatMap { $0 < Self.minimumExpiration ? nil : $0 }
        node.parent = parent
        parent.children?[name] = node
        currentIndex = index
        record(node)
        return V2Event(action: action, node: node.view(recursive: false, sorted: false, now: now, depth: 0), prevNode: previous, etcdIndex: index)
    }

    /// The directory that will hold `path`, created (with its ancestors) at `index` if missing.
    private func parentDirectory(of path: String, index: UInt64) throws(V2Error) -> V2Node {
        var node = root
        for name in V2Path.components(V2Path.parent(of: path)) {
            guard node.children != nil else { throw V2Error(V2Error.notDirectory, cause: node.path, index: currentIndex) }
            if let child = node.children?[name] {
                guard child.isDirectory else { throw V2Error(V2Error.notDirectory, cause: child.path, index: currentIndex) }
                node = child
            } else {
                let directory = V2Node(path: V2Path.join(node.path, name), createdIndex: index, modifiedIndex: index, value: nil, children: [:])
                directory.parent = node
                node.children?[name] = directory
                record(directory)
                node = directory
            }
        }
        return node
    }

    /// The directory at `path` for a rebuild, created if a record of it is missing.
    private func ensureDirectory(_ path: String, index: UInt64) -> V2Node {
        var node = root
        for name in V2Path.components(path) {
            if let child = node.children?[name] {
                node = child
            } else {
                let directory = V2Node(path: V2Path.join(node.path, name), createdIndex: index, modifiedIndex: index, value: nil, children: [:])
                directory.parent = node
                node.children?[name] = directory
                node = directory
            }
        }
        return node
    }

    private func compare(_ node: V2Node, prevValue: String, prevIndex: UInt64) throws(V2Error) {
        let valueMatches = prevValue.isEmpty || node.value == prevValue
        let indexMatches = prevIndex == 0 || node.modifiedIndex == prevIndex
        guard !(valueMatches && indexMatches) else { return }
        var cause: [String] = []
        if !valueMatches { cause.append("[\(prevValue) != \(node.value ?? "")]") }
        if !indexMatches { cause.append("[\(prevIndex) != \(node.modifiedIndex)]") }
        throw V2Error(V2Error.testFailed, cause: cause.joined(separator: " "), index: currentIndex)
    }

    /// Removes `node` (and what is under it) at the next index and returns the event.
    private func remove(_ node: V2Node, action: V2Action, now: Int64) -> V2Event {
        let index = currentIndex + 1
        let previous = node.view(recursive: false, sorted: false, now: now, depth: 0)
        node.parent?.children?[V2Path.name(of: node.path)] = nil
        var removed: [String] = []
        func forget(_ node: V2Node) {
            changes[node.path] = .some(nil)
            expiring[node.path] = nil
            removed.append(node.path)
            for child in (node.children ?? [:]).values { forget(child) }
        }
        forget(node)
        currentIndex = index
        var view = V2NodeView(key: node.path, modifiedIndex: index, createdIndex: node.createdIndex)
        view.isDirectory = node.isDirectory
        return V2Event(action: action, node: view, prevNode: previous, etcdIndex: index, removedPaths: removed)
    }

    /// Records the event and wakes the watchers it concerns (not for refreshes, as in etcd).
    private func finish(_ event: V2Event, refresh: Bool) -> V2Event {
        history.append(event, refresh: refresh)
        if !refresh { watchers.notify(event) }
        var answer = event
        answer.removedPaths = []
        return answer
    }

    private func record(_ node: V2Node) {
        changes[node.path] = node.record
        expiring[node.path] = node.expiration == nil ? nil : node
    }

    private func earliestExpiring() -> V2Node? {
        expiring.values.min { ($0.expiration ?? .max, $0.path) < ($1.expiration ?? .max, $1.path) }
    }
}

/// `/v2/stats/store`'s counters.
public struct V2StoreStats: Sendable, Equatable {
    public var getsSuccess = 0, getsFail = 0, setsSuccess = 0, setsFail = 0, deleteSuccess = 0, deleteFail = 0
    public var updateSuccess = 0, updateFail = 0, createSuccess = 0, createFail = 0
    public var compareAndSwapSuccess = 0, compareAndSwapFail = 0, compareAndDeleteSuccess = 0, compareAndDeleteFail = 0
    public var expireCount = 0

    public init() {}
}
