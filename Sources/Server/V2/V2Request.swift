import Foundation
import V2Store

/// A v2 keys request as it travels through the log: the store operation and everything it needs,
/// including the expiry computed by the member that received it (so every member applies the same).
struct V2Request: Codable, Equatable, Sendable {
    enum Method: String, Codable, Sendable {
        case set, create, update, compareAndSwap, delete, compareAndDelete
        /// A read through the log (`quorum=true`).
        case quorumGet
        /// The leader's sweep of expired keys at `time`.
        case sync
    }

    var method: Method
    var path = "/"
    var value = ""
    var dir = false
    /// `POST`: the new key is named by its index.
    var unique = false
    var recursive = false
    var sorted = false
    var prevValue = ""
    var prevIndex: UInt64 = 0
    var refresh = false
    /// Unix nanoseconds; nil: no expiry.
    var expiration: Int64?
    /// Unix nanoseconds the request was made at (TTLs in the answer; the cutoff of a sync).
    var time: Int64 = 0

    /// Carries the request out on `store`.
    func apply(to store: V2Store) throws(V2Error) -> [V2Event] {
        switch method {
        case .set: return [try store.set(path, dir: dir, value: value, expiration: expiration, refresh: refresh, now: time)]
        case .create: return [try store.create(path, dir: dir, value: value, unique: unique, expiration: expiration, now: time)]
        case .update: return [try store.update(path, value: value, expiration: expiration, refresh: refresh, now: time)]
        case .compareAndSwap:
            return [try store.compareAndSwap(path, prevValue: prevValue, prevIndex: prevIndex, value: value, expiration: expiration,
                                             refresh: refresh, now: time)]
        case .delete: return [try store.delete(path, dir: dir, recursive: recursive, now: time)]
        case .compareAndDelete: return [try store.compareAndDelete(path, prevValue: prevValue, prevIndex: prevIndex, now: time)]
        case .quorumGet: return [try store.get(path, recursive: recursive, sorted: sorted, now: time)]
        case .sync: return store.deleteExpired(cutoff: time)
        }
    }
}

/// What a v2 keys HTTP request asks for, parsed as etcd parses it (`v2http/client.go`), with its
/// errors in etcd's order.
struct V2HTTPRequest: Sendable {
    enum Kind: Sendable {
        case read(recursive: Bool, sorted: Bool, quorum: Bool)
        case watch(recursive: Bool, stream: Bool, waitIndex: UInt64)
        case write(V2Request)
    }

    var kind: Kind
    var path: String
    var noValueOnSuccess = false
    /// HEAD: headers only.
    var headOnly = false

    /// Parses method, URL (path and query) and form body. `now` is unix nanoseconds.
    /// `bodyTooLarge`: the body exceeded Go's 10 MiB form limit.
    static func parse(method: String, uri: String, contentType: String?, body: [UInt8], bodyTooLarge: Bool = false,
                      now: Int64) throws(V2Error) -> V2HTTPRequest {
        let (rawPath, query) = split(uri)
        var form: [String: [String]] = [:]
        // Body values come first, as in Go's ParseForm; the body counts only for a form POST/PUT.
        if method == "POST" || method == "PUT",
           contentType?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true {
            if bodyTooLarge { throw V2Error(V2Error.invalidForm, cause: "http: POST too large") }
            try decodeForm(String(decoding: body, as: UTF8.self), into: &form)
        }
        try decodeForm(query, into: &form)
        guard let decodedPath = rawPath.removingPercentEncoding, decodedPath.hasPrefix("/v2/keys") else {
            throw V2Error(V2Error.invalidForm, cause: "incorrect key prefix")
        }
        let path = String(decodedPath.dropFirst("/v2/keys".count))
        func first(_ name: String) -> String? { form[name]?.first }
        func uint(_ name: String) throws(V2Error) -> UInt64 {
            guard let text = first(name) else { return 0 }
            guard let value = parseGoUint(text) else {
                throw V2Error(V2Error.indexNaN, cause: "invalid value for \"\(name)\"")
            }
            return value
        }
        func bool(_ name: String, quoted: Bool = true) throws(V2Error) -> Bool? {
            guard let text = first(name) else { return nil }
            guard let value = parseGoBool(text) else {
                throw V2Error(V2Error.invalidField, cause: quoted ? "invalid value for \"\(name)\"" : "invalid value for \(name)")
            }
            return value
        }
        let prevIndex = try uint("prevIndex")
        let waitIndex = try uint("waitIndex")
        let recursive = try bool("recursive") ?? false
        let sorted = try bool("sorted") ?? false
        let wait = try bool("wait") ?? false
        let dir = try bool("dir") ?? false
        let quorum = try bool("quorum") ?? false
        let stream = try bool("stream") ?? false
        if wait && method != "GET" { throw V2Error(V2Error.invalidField, cause: "\"wait\" can only be used with GET requests") }
        let prevValue = first("prevValue")
        if let prevValue, prevValue.isEmpty { throw V2Error(V2Error.prevValueRequired, cause: "\"prevValue\" cannot be empty") }
        let noValueOnSuccess = try bool("noValueOnSuccess") ?? false
        var expiration: Int64?
        if let ttl = first("ttl"), !ttl.isEmpty {
            guard let seconds = parseGoUint(ttl) else {
                throw V2Error(V2Error.ttlNaN, cause: "invalid value for \"ttl\"")
            }
            // etcd computes `now + time.Duration(ttl) * time.Second` in Go's wrapping int64 arithmetic: a
            // huge TTL wraps to a time before 2000, which its store takes as no expiration at all (see
            // `V2Store.minimumExpiration`), and 2^64 - 1 is one second ago. The same here, without a trap.
            let expiry = now &+ Int64(bitPattern: seconds) &* 1_000_000_000
            expiration = expiry == 0 ? nil : expiry
        }
        let prevExist = try bool("prevExist", quoted: false)
        let refresh = try bool("refresh", quoted: false) ?? false
        if refresh {
            if let value = first("value"), !value.isEmpty { throw V2Error(V2Error.refreshValue, cause: "A value was provided on a refresh") }
            if first("ttl").map({ $0.isEmpty }) ?? true { throw V2Error(V2Error.refreshTTLRequired, cause: "No TTL value set") }
        }

        var request = V2HTTPRequest(kind: .read(recursive: recursive, sorted: sorted, quorum: quorum), path: path, noValueOnSuccess: noValueOnSuccess)
        var write = V2Request(method: .set, path: path, value: first("value") ?? "", dir: dir, recursive: recursive, sorted: sorted,
                              prevValue: prevValue ?? "", prevIndex: prevIndex, refresh: refresh, expiration: expiration, time: now)
        switch method {
        case "GET", "HEAD":
            request.headOnly = method == "HEAD"
            if wait { request.kind = .watch(recursive: recursive, stream: stream, waitIndex: waitIndex) }
        case "PUT":
            switch prevExist {
            case true?: write.method = prevIndex == 0 && write.prevValue.isEmpty ? .update : .compareAndSwap
            case false?: write.method = .create
            case nil: write.method = prevIndex > 0 || !write.prevValue.isEmpty ? .compareAndSwap : .set
            }
            request.kind = .write(write)
        case "POST":
            write.method = .create
            write.unique = true
            request.kind = .write(write)
        case "DELETE":
            write.method = prevIndex > 0 || !write.prevValue.isEmpty ? .compareAndDelete : .delete
            request.kind = .write(write)
        default:
            break
        }
        return request
    }

    /// Path and query of a request target.
    private static func split(_ uri: String) -> (String, String) {
        guard let mark = uri.firstIndex(of: "?") else { return (uri, "") }
        return (String(uri[..<mark]), String(uri[uri.index(after: mark)...]))
    }

    /// `application/x-www-form-urlencoded` pairs, appended to `form` (Go's `url.ParseQuery`).
    private static func decodeForm(_ text: String, into form: inout [String: [String]]) throws(V2Error) {
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = try unescape(String(parts[0]))
            let value = parts.count > 1 ? try unescape(String(parts[1])) : ""
            form[name, default: []].append(value)
        }
    }

    /// Go's `url.QueryUnescape`: `+` is a space, `%XX` a byte.
    private static func unescape(_ text: String) throws(V2Error) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            switch byte {
            case UInt8(ascii: "+"): bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                let hex = String(decoding: utf8.prefix(2), as: UTF8.self)
                guard hex.count == 2, let value = UInt8(hex, radix: 16) else {
                    let shown = "%" + String(decoding: utf8.prefix(2), as: UTF8.self)
                    throw V2Error(V2Error.invalidForm, cause: "invalid URL escape \"\(shown)\"")
                }
                utf8.removeFirst(2)
                bytes.append(value)
            default: bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Go's `strconv.ParseBool`.
func parseGoBool(_ text: String) -> Bool? {
    switch text {
    case "1", "t", "T", "TRUE", "true", "True": true
    case "0", "f", "F", "FALSE", "false", "False": false
    default: nil
    }
}

/// A decimal unsigned integer as Go's `strconv.ParseUint(text, 10, 64)` reads it: digits only (no sign,
/// not even "-0" or "+1", which Swift's parser takes), at most 2^64 − 1.
func parseGoUint(_ text: String) -> UInt64? {
    guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
    return UInt64(text)
}
