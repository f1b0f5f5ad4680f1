import Synchronization

/// What a watch asks for (etcd's WatchCreateRequest).
public struct WatchRequest: Sendable, Equatable {
    public var key: [UInt8]
    /// Empty: one key; `[0]`: every key >= `key`; otherwise [key, rangeEnd).
    public var rangeEnd: [UInt8] = []
    /// Deliver changes from this revision on (0: changes after now).
    public var startRevision: Int64 = 0
    public var prevKV = false
    public var noPut = false
    public var noDelete = false
    /// A watch id chosen by the client (0: the stream assigns one).
    public var watchID: Int64 = 0

    public init(key: [UInt8], rangeEnd: [UInt8] = [], startRevision: Int64 = 0) {
        self.key = key
        self.rangeEnd = rangeEnd
        self.startRevision = startRevision
    }

    func matches(_ key: [UInt8]) -> Bool {
        if rangeEnd.isEmpty { return key == self.key }
        if lexicographicallyLess(key, self.key) { return false }
        return rangeEnd == [0] || lexicographicallyLess(key, rangeEnd)
    }
}

/// A message for the client of a watch stream, in the order it must be sent.
public enum WatchMessage: Sendable, Equatable {
    /// The watch exists; `revision` is the store's revision at creation.
    case created(watchID: Int64, revision: Int64)
    /// Changes for one watch: whole revisions, in order; `revision` is the header revision.
    case events(watchID: Int64, events: [Event], revision: Int64)
    /// The watch ended because the revisions it needs were compacted.
    case compacted(watchID: Int64, compactRevision: Int64, revision: Int64)
    /// The watch was cancelled at the client's request.
    case canceled(watchID: Int64, revision: Int64)
    /// Every watch of the stream has seen all changes up to `revision`.
    case progress(revision: Int64)
    /// A create request was refused (etcd answers created and canceled with watch id -1).
    case rejected(reason: String, revision: Int64)
}

/// Why a watch could not be created.
public enum WatchCreateError: Error, Sendable, Equatable {
    case duplicateID
}

/// The watches of one client stream and the queue of messages for it.
///
/// A watcher is *synced* while the hub's events go straight to the queue; when the queue holds more
/// than `Limits.pendingEvents` events (a client that does not read), its watchers fall back to
/// *unsynced*: the hub stops queueing for them, and `next()` later catches them up from LMDB history,
/// chunk by chunk, until they reach the hub's revision again. So a slow client never blocks the apply
/// thread or other streams, and its memory stays bounded. A watch created at a past revision starts
/// unsynced the same way, and so does every watcher behind the revision of a restored snapshot.
public final class WatchStream: Sendable {
    /// Bounds on what a stream holds in memory.
    public struct Limits: Sendable {
        /// Events queued before watchers fall back to reading history.
        public var pendingEvents = 4096
        /// Events read from history per catch-up message (a revision is never split).
        public var catchUpEvents = 1000
        /// Messages queued for the client (created, canceled, progress, events) beyond which the
        /// stream takes no more requests until the client has read half of them (`waitForRoom`).
        public var pendingMessages = 10_000
        public init() {}
    }

    private struct Watcher {
        var request: WatchRequest
        /// The next revision this watcher must deliver.
        var nextRevision: Int64
        var synced: Bool
    }

    private struct State {
        var watchers: [Int64: Watcher] = [:]
        /// Synced watchers of one key, by key, and synced watchers of a range: the candidates for an
        /// event (so a write costs the watchers it may concern, not every watcher of the stream).
        var syncedByKey: [[UInt8]: Set<Int64>] = [:]
        var syncedRanges: Set<Int64> = []
        /// Watchers to catch up from history.
        var unsynced: Set<Int64> = []
        var nextID: Int64 = 0
        var queue: [WatchMessage] = []
        var queueHead = 0
        var queuedEvents = 0
        /// The last revision the hub delivered.
        var revision: Int64 = 0
        var waiter: CheckedContinuation<Void, Never>?
        /// The request reader, waiting for the client to read its backlog.
        var roomWaiter: CheckedContinuation<Void, Never>?
        var closed = false
        /// A progress request arrived while some watcher was unsynced: answer once all are synced.
        var progressRequested = false

        var hasWork: Bool {
            closed || queueHead < queue.count || !unsynced.isEmpty
        }

        /// Adds or replaces watcher `id`, keeping the indexes in step.
        mutating func set(_ id: Int64, _ watcher: Watcher) {
            remove(id)
            watchers[id] = watcher
            if !watcher.synced {
                unsynced.insert(id)
            } else if watcher.request.rangeEnd.isEmpty {
                syncedByKey[watcher.request.key, default: []].insert(id)
            } else {
                syncedRanges.insert(id)
            }
        }

        /// Removes watcher `id` and returns it.
        @discardableResult
        mutating func remove(_ id: Int64) -> Watcher? {
            guard let watcher = watchers.removeValue(forKey: id) else { return nil }
            if !watcher.synced {
                unsynced.remove(id)
            } else if watcher.request.rangeEnd.isEmpty {
                syncedByKey[watcher.request.key]?.remove(id)
                if syncedByKey[watcher.request.key]?.isEmpty == true { syncedByKey[watcher.request.key] = nil }
            } else {
                syncedRanges.remove(id)
            }
            return watcher
        }

        /// Makes synced watcher `id` unsynced: it has every matching event through `revision`.
        mutating func unsync(_ id: Int64, deliveredThrough revision: Int64) {
            guard var watcher = watchers[id], watcher.synced else { return }
            watcher.synced = false
            watcher.nextRevision = max(watcher.nextRevision, revision + 1)
            set(id, watcher)
        }

        mutating func enqueue(_ message: WatchMessage) {
            if case .events(_, let events, _) = message { queuedEvents += events.count }
            queue.append(message)
        }

        /// Queues a deferred progress message once no watcher is unsynced.
        mutating func answerDeferredProgress() {
            if progressRequested && unsynced.isEmpty {
                progressRequested = false
                enqueue(.progress(revision: revision))
            }
        }

        mutating func wake() {
            if hasWork, let waiter {
                self.waiter = nil
                waiter.resume()
            }
        }
    }

    private let store: MVCCStore
    private let limits: Limits
    private let state = Mutex(State())

    init(store: MVCCStore, limits: Limits) {
        self.store = store
        self.limits = limits
    }

    func start(at revision: Int64) {
        state.withLock { $0.revision = revision }
    }

    /// Creates a watch and queues its `created` message; returns its id.
    public func create(_ request: WatchRequest) throws(WatchCreateError) -> Int64 {
        try state.withLock { (state) throws(WatchCreateError) -> Int64 in
            let id: Int64
            if request.watchID != 0 {
                guard state.watchers[request.watchID] == nil else { throw .duplicateID }
                id = request.watchID
            } else {
                while state.watchers[state.nextID] != nil { state.nextID += 1 }
                id = state.nextID
                state.nextID += 1
            }
            // As etcd: 0 is "from now"; any other start at or below the current revision reads history
            // from there — a negative one is compacted if it is below the compact revision (-1 until the
            // first compaction), else it finds no history and goes on from now.
            let start = request.startRevision
            let watcher: Watcher
            if start == 0 {
                watcher = Watcher(request: request, nextRevision: state.revision + 1, synced: true)
            } else {
                watcher = Watcher(request: request, nextRevision: start, synced: start > state.revision)
            }
            state.set(id, watcher)
            state.enqueue(.created(watchID: id, revision: state.revision))
            state.wake()
            return id
        }
    }

    /// Queues the refusal of a create request, in order with the stream's other messages.
    public func reject(reason: String) {
        state.withLock { state in
            state.enqueue(.rejected(reason: reason, revision: state.revision))
            state.wake()
        }
    }

    /// Cancels a watch and queues its `canceled` message; false if there is no such watch.
    @discardableResult
    public func cancel(_ id: Int64) -> Bool {
        state.withLock { state in
            guard state.remove(id) != nil else { return false }
            state.enqueue(.canceled(watchID: id, revision: state.revision))
            state.answerDeferredProgress()
            state.wake()
            return true
        }
    }

    /// Queues a progress message, at once if every watcher is synced, else as soon as they are (so
    /// that the progress revision never runs ahead of events still to be delivered).
    public func requestProgress() {
        state.withLock { state in
            guard state.unsynced.isEmpty else {
                state.progressRequested = true
                return
            }
            state.enqueue(.progress(revision: state.revision))
            state.wake()
        }
    }

    /// Messages and events queued, and the number of unsynced watchers (for tests).
    var queueStatus: (messages: Int, events: Int, unsynced: Int) {
        state.withLock { state in
            (state.queue.count - state.queueHead, state.queuedEvents, state.unsynced.count)
        }
    }

    /// Ends the stream: `next()` returns nil from now on.
    public func close() {
        store.watchHub.unregister(self)
        let roomWaiter = state.withLock { state in
            state.closed = true
            state.wake()
            defer { state.roomWaiter = nil }
            return state.roomWaiter
        }
        roomWaiter?.resume()
    }

    /// Returns once fewer than `Limits.pendingMessages` messages wait for the client (or the stream is
    /// closed). The server calls it before taking each request, so that a client that sends requests
    /// but never reads the answers is held back by flow control instead of filling memory.
    public func waitForRoom() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let waiting = state.withLock { state in
                guard !state.closed, state.queue.count - state.queueHead >= limits.pendingMessages else { return false }
                state.roomWaiter = continuation
                return true
            }
            if !waiting { continuation.resume() }
        }
    }

    /// Called by the hub (under its lock) with each applied batch.
    func offer(_ events: [Event], revision: Int64) {
        state.withLock { state in
            // A synced watcher has had every matching event through the stream's previous revision.
            let previous = state.revision
            state.revision = revision
            var candidates = state.syncedRanges
            for event in events {
                if let ids = state.syncedByKey[event.kv.key] { candidates.formUnion(ids) }
            }
            // In id order, so that a stream's messages do not depend on hashing.
            for id in candidates.sorted() {
                guard var watcher = state.watchers[id] else { continue }
                let matched = events.filter { event in
                    event.kv.modRevision >= watcher.nextRevision && watcher.request.matches(event.kv.key)
                        && !(event.kind == .put && watcher.request.noPut)
                        && !(event.kind == .delete && watcher.request.noDelete)
                }
                if matched.isEmpty { continue }
                if state.queuedEvents + matched.count > limits.pendingEvents {
                    state.unsync(id, deliveredThrough: previous)
                } else {
                    let delivered = watcher.request.prevKV ? matched : matched.map { Event(kind: $0.kind, kv: $0.kv, prevKV: nil) }
                    state.enqueue(.events(watchID: id, events: delivered, revision: revision))
                    watcher.nextRevision = revision + 1
                    state.watchers[id] = watcher
                }
            }
            state.wake()
        }
    }

    /// Called by the hub (under its lock) once a snapshot replaced the store at `revision`: each synced
    /// watcher that has not reached it becomes unsynced, to read the revisions it missed from the
    /// snapshot's history (or to learn that they were compacted).
    func restored(revision: Int64) {
        state.withLock { state in
            let previous = state.revision
            state.revision = revision
            // Every synced watcher has had what matched through `previous`: behind the snapshot if that is older.
            if previous < revision {
                for id in state.watchers.keys.sorted() where state.watchers[id]!.synced { state.unsync(id, deliveredThrough: previous) }
            }
            state.wake()
        }
    }

    /// The next message for the client, waiting for one; nil once the stream is closed.
    public func next() async -> WatchMessage? {
        while true {
            switch poll() {
            case .message(let message): return message
            case .closed: return nil
            case .empty: break
            }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                state.withLock { state in
                    if state.hasWork {
                        continuation.resume()
                    } else {
                        state.waiter = continuation
                    }
                }
            }
        }
    }

    /// What `poll` found.
    public enum Poll: Sendable {
        case message(WatchMessage)
        /// Nothing to send now.
        case empty
        case closed
    }

    /// The next message if one is ready now, catching unsynced watchers up from history first (a
    /// simulation reads its watches this way, without a task).
    public func poll() -> Poll {
        while true {
            let step: (message: WatchMessage?, catchUp: (id: Int64, watcher: Watcher)?, closed: Bool) = state.withLock { state in
                if state.queueHead < state.queue.count {
                    let message = state.queue[state.queueHead]
                    state.queueHead += 1
                    if case .events(_, let events, _) = message { state.queuedEvents -= events.count }
                    if state.queueHead == state.queue.count {
                        state.queue.removeAll(keepingCapacity: true)
                        state.queueHead = 0
                    }
                    if let roomWaiter = state.roomWaiter, state.queue.count - state.queueHead < limits.pendingMessages / 2 {
                        state.roomWaiter = nil
                        roomWaiter.resume()
                    }
                    return (message, nil, false)
                }
                if state.closed { return (nil, nil, true) }
                if let id = state.unsynced.min(), let watcher = state.watchers[id] {
                    return (nil, (id, watcher), false)
                }
                return (nil, nil, false)
            }
            if let message = step.message { return .message(message) }
            if step.closed { return .closed }
            guard let (id, watcher) = step.catchUp else { return .empty }
            catchUp(id: id, watcher: watcher)
        }
    }

    /// Reads one chunk of history for an unsynced watcher and queues it; marks the watcher synced once
    /// it has reached the hub's revision.
    private func catchUp(id: Int64, watcher: Watcher) {
        let request = watcher.request
        let limit = limits.catchUpEvents
        let outcome: (events: [Event], readTo: Int64, compacted: Int64?)
        do {
            outcome = try store.readHistory { reader in
                let current = try reader.currentRevision()
                let compacted = try reader.compactRevision()
                if watcher.nextRevision < compacted { return ([], current, compacted) }
                var events: [Event] = []
                var readTo = current
                let cursor = try reader.txn.cursor(reader.schema.history)
                // A negative start encodes past every revision (as etcd's revToBytes does): no history.
                var entry = try cursor.seek(atLeast: Revision(main: watcher.nextRevision).encoded)
                while let e = entry {
                    let revision = Revision(encoded: e.key)
                    if revision.main > current { break }
                    if events.count >= limit, let last = events.last, last.kv.modRevision != revision.main {
                        readTo = last.kv.modRevision
                        break
                    }
                    let (kv, tombstone) = HistoryRecord.decode(e.value, revision: revision)
                    if request.matches(kv.key) && !(tombstone ? request.noDelete : request.noPut) {
                        let previous = request.prevKV ? try reader.get(kv.key, at: revision.main - 1) : nil
                        events.append(Event(kind: tombstone ? .delete : .put, kv: kv, prevKV: previous))
                    }
                    entry = try cursor.next()
                }
                return (events, readTo, nil)
            }
        } catch {
            // A read failure ends only this watch; the storage error is reported by the next write.
            outcome = ([], max(watcher.nextRevision, 1) - 1, watcher.nextRevision)
        }
        state.withLock { state in
            // The watch may have been cancelled (or replaced) while history was read.
            guard var current = state.watchers[id], current.nextRevision == watcher.nextRevision, !current.synced else { return }
            if let compacted = outcome.compacted {
                state.remove(id)
                state.enqueue(.compacted(watchID: id, compactRevision: compacted, revision: state.revision))
                state.answerDeferredProgress()
                return
            }
            if !outcome.events.isEmpty {
                state.enqueue(.events(watchID: id, events: outcome.events, revision: max(outcome.readTo, state.revision)))
            }
            current.nextRevision = outcome.readTo + 1
            current.synced = outcome.readTo >= state.revision
            state.set(id, current)
            state.answerDeferredProgress()
        }
    }
}
