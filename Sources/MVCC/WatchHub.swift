import Synchronization

/// Delivers applied changes to every open watch stream.
///
/// The apply thread calls `notify` after each commit, in revision order; the hub forwards the events
/// to each stream, which queues them for its synced watchers (see `WatchStream`).
public final class WatchHub: Sendable {
    private struct State {
        var revision: Int64
        var streams: [ObjectIdentifier: WatchStream] = [:]
    }
    private let state: Mutex<State>

    init(revision: Int64) {
        state = Mutex(State(revision: revision))
    }

    /// The latest revision delivered to watchers.
    public var revision: Int64 { state.withLock { $0.revision } }

    func register(_ stream: WatchStream) {
        state.withLock { state in
            state.streams[ObjectIdentifier(stream)] = stream
            stream.start(at: state.revision)
        }
    }

    func unregister(_ stream: WatchStream) {
        _ = state.withLock { $0.streams.removeValue(forKey: ObjectIdentifier(stream)) }
    }

    /// Hands the events of one applied batch (ending at `revision`) to every stream.
    func notify(events: [Event], revision: Int64, compactRevision: Int64?) {
        state.withLock { state in
            guard revision > state.revision || !events.isEmpty else { return }
            state.revision = revision
            for stream in state.streams.values {
                stream.offer(events, revision: revision)
            }
        }
    }

    /// Moves to `revision` after a snapshot replaced the store: no events are known, so every stream
    /// catches up from the new history.
    func restored(revision: Int64) {
        state.withLock { state in
            state.revision = revision
            for stream in state.streams.values {
                stream.restored(revision: revision)
            }
        }
    }

    /// The number of open streams.
    public var streamCount: Int { state.withLock { $0.streams.count } }
}
