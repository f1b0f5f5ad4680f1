/// A node of the tree: a value, or a directory of named children.
final class V2Node {
    let path: String
    var createdIndex: UInt64
    var modifiedIndex: UInt64
    /// nil for a directory.
    var value: String?
    /// nil for a value.
    var children: [String: V2Node]?
    /// Unix nanoseconds after which the node expires; nil: never.
    var expiration: Int64?
    weak var parent: V2Node?

    init(path: String, createdIndex: UInt64, modifiedIndex: UInt64, value: String?, children: [String: V2Node]?) {
        self.path = path
        self.createdIndex = createdIndex
        self.modifiedIndex = modifiedIndex
        self.value = value
        self.children = children
    }

    var isDirectory: Bool { children != nil }

    /// Hidden nodes (a name starting with `_`) are left out of listings.
    var isHidden: Bool { V2Path.name(of: path).hasPrefix("_") }

    var record: V2NodeRecord {
        V2NodeRecord(isDirectory: isDirectory, value: value, createdIndex: createdIndex, modifiedIndex: modifiedIndex, expiration: expiration)
    }

    /// The node as clients see it at `now`. A read (`listing`) shows a directory's children (without
    /// hidden ones), and with `recursive` theirs all the way down; events show a directory's children
    /// only with `recursive` (etcd's `Repr`).
    func view(recursive: Bool, sorted: Bool, now: Int64, depth: Int, listing: Bool = false) -> V2NodeView {
        var view = V2NodeView(key: path == "/" ? "" : path, modifiedIndex: modifiedIndex, createdIndex: createdIndex)
        view.value = value
        view.isDirectory = isDirectory
        view.expiration = expiration
        if let expiration {
            view.ttl = V2NodeView.ttl(expiration: expiration, now: now)
        }
        if let children, (listing && depth == 0) || recursive {
            var listed = children.values.filter { !$0.isHidden }.map {
                $0.isDirectory && !recursive
                    ? V2NodeView(key: $0.path, isDirectory: true, expiration: $0.expiration, modifiedIndex: $0.modifiedIndex, createdIndex: $0.createdIndex, now: now)
                    : $0.view(recursive: recursive, sorted: sorted, now: now, depth: depth + 1, listing: listing)
            }
            // etcd lists in map order unless asked to sort; sorting always gives a stable answer.
            listed.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            view.nodes = listed.isEmpty ? nil : listed
        }
        if path == "/" {
            view.modifiedIndex = 0
            view.createdIndex = 0
        }
        return view
    }
}

/// A node as stored (to rebuild the tree after a restart).
public struct V2NodeRecord: Codable, Equatable, Sendable {
    public var isDirectory: Bool
    public var value: String?
    public var createdIndex: UInt64
    public var modifiedIndex: UInt64
    public var expiration: Int64?

    public init(isDirectory: Bool, value: String?, createdIndex: UInt64, modifiedIndex: UInt64, expiration: Int64?) {
        self.isDirectory = isDirectory
        self.value = value
        self.createdIndex = createdIndex
        self.modifiedIndex = modifiedIndex
        self.expiration = expiration
    }
}

/// A node as a response shows it (etcd's `NodeExtern`).
public struct V2NodeView: Sendable, Equatable {
    public var key: String
    public var value: String?
    public var isDirectory = false
    /// Unix nanoseconds.
    public var expiration: Int64?
    /// Seconds left.
    public var ttl: Int64?
    public var nodes: [V2NodeView]?
    public var modifiedIndex: UInt64
    public var createdIndex: UInt64

    init(key: String, modifiedIndex: UInt64, createdIndex: UInt64) {
        self.key = key
        self.modifiedIndex = modifiedIndex
        self.createdIndex = createdIndex
    }

    init(key: String, isDirectory: Bool, expiration: Int64?, modifiedIndex: UInt64, createdIndex: UInt64, now: Int64) {
        self.init(key: key, modifiedIndex: modifiedIndex, createdIndex: createdIndex)
        self.isDirectory = isDirectory
        self.expiration = expiration
        if let expiration { ttl = Self.ttl(expiration: expiration, now: now) }
    }

    /// Whole seconds from `now` to `expiration`, rounded up (etcd's TTL); the difference saturates as
    /// Go's `Time.Sub` does, so any expiration a client can set is answered.
    static func ttl(expiration: Int64, now: Int64) -> Int64 {
        let (difference, overflow) = expiration.subtractingReportingOverflow(now)
        let left = overflow ? (expiration < now ? Int64.min : Int64.max) : difference
        let seconds = left / 1_000_000_000
        return left % 1_000_000_000 > 0 ? seconds + 1 : seconds
    }
}

/// What a change (or a read) did.
public enum V2Action: String, Sendable {
    case get, set, create, update, compareAndSwap, delete, compareAndDelete, expire
}

/// The answer to a read or a change (etcd's `Event`).
public struct V2Event: Sendable {
    public var action: V2Action
    public var node: V2NodeView
    public var prevNode: V2NodeView?
    /// The store index after the operation.
    public var etcdIndex: UInt64
    /// For the watcher hub: every path a delete or expiry removed (watchers on them fire too).
    var removedPaths: [String] = []

    init(action: V2Action, node: V2NodeView, prevNode: V2NodeView? = nil, etcdIndex: UInt64, removedPaths: [String] = []) {
        self.action = action
        self.node = node
        self.prevNode = prevNode
        self.etcdIndex = etcdIndex
        self.removedPaths = removedPaths
    }

    /// Whether the client gets HTTP 201 (a new node) rather than 200.
    public var isCreation: Bool { action == .create || (action == .set && prevNode == nil) }
}

/// etcd's v2 errors: a code, its message, a cause and the store index.
public struct V2Error: Error, Equatable, Sendable {
    public let code: Int
    public let cause: String
    public let index: UInt64

    public init(_ code: Int, cause: String = "", index: UInt64 = 0) {
        self.code = code
        self.cause = cause
        self.index = index
    }

    public static let keyNotFound = 100
    public static let testFailed = 101
    public static let notFile = 102
    public static let notDirectory = 104
    public static let nodeExist = 105
    public static let rootReadOnly = 107
    public static let dirNotEmpty = 108
    public static let unauthorized = 110
    public static let prevValueRequired = 201
    public static let ttlNaN = 202
    public static let indexNaN = 203
    public static let invalidField = 209
    public static let invalidForm = 210
    public static let refreshValue = 211
    public static let refreshTTLRequired = 212
    public static let raftInternal = 300
    public static let eventIndexCleared = 401

    /// etcd's message for the code.
    public var message: String {
        switch code {
        case 100: "Key not found"
        case 101: "Compare failed"
        case 102: "Not a file"
        case 104: "Not a directory"
        case 105: "Key already exists"
        case 107: "Root is read only"
        case 108: "Directory not empty"
        case 110: "The request requires user authentication"
        case 201: "PrevValue is Required in POST form"
        case 202: "The given TTL in POST form is not a number"
        case 203: "The given index in POST form is not a number"
        case 209: "Invalid field"
        case 210: "Invalid POST form"
        case 211: "Value provided on refresh"
        case 212: "A TTL must be provided on refresh"
        case 300: "Raft Internal Error"
        case 401: "The event in requested index is outdated and cleared"
        default: "Unknown error"
        }
    }

    /// The HTTP status etcd answers the error with.
    public var httpStatus: Int {
        switch code {
        case 100: 404
        case 101, 105: 412
        case 102, 108: 403
        case 110: 401
        case 300: 500
        default: 400
        }
    }
}

/// Where a watch stands: answered from the history, or waiting for changes.
public enum V2WatchResult {
    case past(V2Event)
    /// `startIndex`: the store index when the watch began (the response's `X-Etcd-Index`).
    case waiting(V2Watcher, startIndex: UInt64)
}

/// Path handling (etcd cleans paths as Go's `path.Clean`).
enum V2Path {
    /// `/`-rooted, without empty, `.` or trailing components; `..` resolved.
    static func clean(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    static func components(_ path: String) -> [String] {
        path.split(separator: "/").map(String.init)
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }

    static func name(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    static func join(_ directory: String, _ name: String) -> String {
        directory == "/" ? "/" + name : directory + "/" + name
    }

    /// The root cannot be changed.
    static func isReadOnly(_ path: String) -> Bool { path == "/" }
}
