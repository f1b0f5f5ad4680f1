import Testing
@testable import V2Store

/// The v2 tree against etcd 3.4's observed answers (the bodies below were recorded from a real etcd
/// with `--enable-v2`; a fresh etcd starts at store index 3).
@Suite struct V2StoreTests {
    let second: Int64 = 1_000_000_000
    let now: Int64 = 1_795_750_000 * 1_000_000_000

    private func body(_ event: V2Event) -> String { V2JSON.event(event) }

    private func expectError(_ code: Int, _ cause: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("expected error \(code)", sourceLocation: sourceLocation)
        } catch let error as V2Error {
            #expect(error.code == code && error.cause == cause, "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func setGetCreateUpdateAndCompare() throws {
        let store = V2Store(index: 3)
        let first = try store.set("/foo", dir: false, value: "bar", expiration: nil, refresh: false, now: now)
        #expect(first.isCreation)
        #expect(body(first) == #"{"action":"set","node":{"key":"/foo","value":"bar","modifiedIndex":4,"createdIndex":4}}"# + "\n")
        let replaced = try store.set("/foo", dir: false, value: "baz", expiration: nil, refresh: false, now: now)
        #expect(!replaced.isCreation)
        #expect(body(replaced) == #"{"action":"set","node":{"key":"/foo","value":"baz","modifiedIndex":5,"createdIndex":5},"prevNode":{"key":"/foo","value":"bar","modifiedIndex":4,"createdIndex":4}}"# + "\n")
        expectError(101, "[wrong != baz] [3 != 5]") { _ = try store.compareAndSwap("/foo", prevValue: "wrong", prevIndex: 3, value: "x", expiration: nil, refresh: false, now: now) }
        expectError(101, "[3 != 5]") { _ = try store.compareAndSwap("/foo", prevValue: "", prevIndex: 3, value: "x", expiration: nil, refresh: false, now: now) }
        let swapped = try store.compareAndSwap("/foo", prevValue: "baz", prevIndex: 0, value: "new", expiration: nil, refresh: false, now: now)
        #expect(body(swapped) == #"{"action":"compareAndSwap","node":{"key":"/foo","value":"new","modifiedIndex":6,"createdIndex":5},"prevNode":{"key":"/foo","value":"baz","modifiedIndex":5,"createdIndex":5}}"# + "\n")
        expectError(105, "/foo") { _ = try store.create("/foo", dir: false, value: "x", unique: false, expiration: nil, now: now) }
        expectError(100, "/nope") { _ = try store.update("/nope", value: "x", expiration: nil, refresh: false, now: now) }
        expectError(104, "/foo") { _ = try store.get("/foo/bar", recursive: false, sorted: false, now: now) }
        expectError(107, "/") { _ = try store.set("/", dir: false, value: "x", expiration: nil, refresh: false, now: now) }
        let updated = try store.update("/foo", value: "u", expiration: nil, refresh: false, now: now)
        #expect(updated.node.createdIndex == 5 && updated.node.modifiedIndex == 7 && store.currentIndex == 7)
        #expect(store.stats.compareAndSwapFail == 2 && store.stats.setsSuccess == 2)
    }

    @Test func directoriesListingsHiddenAndInOrderKeys() throws {
        let store = V2Store(index: 5)
        _ = try store.set("/dir", dir: true, value: "", expiration: nil, refresh: false, now: now)  // 6
        _ = try store.set("/dir/a", dir: false, value: "1", expiration: nil, refresh: false, now: now)  // 7
        _ = try store.set("/dir/sub/b", dir: false, value: "2", expiration: nil, refresh: false, now: now)  // 8, /dir/sub too
        _ = try store.set("/dir/_hidden", dir: false, value: "h", expiration: nil, refresh: false, now: now)  // 9
        #expect(body(try store.get("/dir", recursive: false, sorted: true, now: now))
            == #"{"action":"get","node":{"key":"/dir","dir":true,"nodes":[{"key":"/dir/a","value":"1","modifiedIndex":7,"createdIndex":7},{"key":"/dir/sub","dir":true,"modifiedIndex":8,"createdIndex":8}],"modifiedIndex":6,"createdIndex":6}}"# + "\n")
        #expect(body(try store.get("/dir", recursive: true, sorted: true, now: now))
            == #"{"action":"get","node":{"key":"/dir","dir":true,"nodes":[{"key":"/dir/a","value":"1","modifiedIndex":7,"createdIndex":7},{"key":"/dir/sub","dir":true,"nodes":[{"key":"/dir/sub/b","value":"2","modifiedIndex":8,"createdIndex":8}],"modifiedIndex":8,"createdIndex":8}],"modifiedIndex":6,"createdIndex":6}}"# + "\n")
        #expect(try store.get("/dir/_hidden", recursive: false, sorted: false, now: now).node.value == "h")
        let queued = try store.create("/queue", dir: false, value: "job1", unique: true, expiration: nil, now: now)
        #expect(body(queued) == #"{"action":"create","node":{"key":"/queue/00000000000000000010","value":"job1","modifiedIndex":10,"createdIndex":10}}"# + "\n")
        expectError(102, "/dir") { _ = try store.delete("/dir", dir: false, recursive: false, now: now) }
        expectError(108, "/dir") { _ = try store.delete("/dir", dir: true, recursive: false, now: now) }
        expectError(102, "/dir") { _ = try store.set("/dir", dir: true, value: "", expiration: nil, refresh: false, now: now) }
        let deleted = try store.delete("/dir", dir: false, recursive: true, now: now)
        #expect(body(deleted) == #"{"action":"delete","node":{"key":"/dir","dir":true,"modifiedIndex":11,"createdIndex":6},"prevNode":{"key":"/dir","dir":true,"modifiedIndex":6,"createdIndex":6}}"# + "\n")
        expectError(100, "/dir") { _ = try store.get("/dir/sub/b", recursive: false, sorted: false, now: now) }
        #expect(body(try store.get("/", recursive: false, sorted: true, now: now))
            == #"{"action":"get","node":{"dir":true,"nodes":[{"key":"/queue","dir":true,"modifiedIndex":10,"createdIndex":10}]}}"# + "\n")
    }

    @Test func expiryRefreshAndTTL() throws {
        let store = V2Store(index: 15)
        let expiration = now + 5 * second + 175_529_648
        let set = try store.set("/tmp", dir: false, value: "t", expiration: expiration, refresh: false, now: now)
        #expect(body(set).contains(#""expiration":"2026-11-27T03:26:45.175529648Z","ttl":6"#), "\(body(set))")
        #expect(try store.get("/tmp", recursive: false, sorted: false, now: now + 1_300_000_000).node.ttl == 4, "5.18 s left after 1.3 s: 3.88, rounded up")
        let refreshed = try store.update("/tmp", value: "", expiration: now + 20 * second, refresh: true, now: now)
        #expect(refreshed.node.value == "t" && refreshed.node.ttl == 20)
        let cleared = try store.update("/tmp", value: "t2", expiration: nil, refresh: false, now: now)
        #expect(cleared.node.expiration == nil && cleared.node.ttl == nil)
        _ = try store.set("/sd/a", dir: false, value: "4", expiration: now + second, refresh: false, now: now)
        #expect(store.deleteExpired(cutoff: now).isEmpty)
        let before = store.currentIndex
        let expired = store.deleteExpired(cutoff: now + 2 * second)
        #expect(expired.count == 1 && expired[0].action == .expire && store.currentIndex == before + 1)
        #expect(expired[0].node.key == "/sd/a" && expired[0].node.value == nil && expired[0].prevNode?.value == "4")
        #expect(!store.hasExpiringNodes)
        #expect(store.stats.expireCount == 1)
    }

    @Test func watchesFromHistoryAndLive() async throws {
        let store = V2Store(index: 3)
        _ = try store.set("/foo", dir: false, value: "bar", expiration: nil, refresh: false, now: now)  // 4
        _ = try store.set("/foo", dir: false, value: "baz", expiration: nil, refresh: false, now: now)  // 5
        guard case .past(let past) = try store.watch("/foo", recursive: false, stream: false, sinceIndex: 5) else {
            Issue.record("expected a past event")
            return
        }
        #expect(past.node.modifiedIndex == 5 && past.prevNode?.value == "bar")

        // A live watch on a directory: a non-recursive one does not fire for a child; a recursive one does.
        guard case .waiting(let plain, let start) = try store.watch("/wd", recursive: false, stream: false, sinceIndex: 0),
              case .waiting(let deep, _) = try store.watch("/wd", recursive: true, stream: true, sinceIndex: 0),
              case .waiting(let below, _) = try store.watch("/wd/x/y", recursive: false, stream: false, sinceIndex: 0)
        else {
            Issue.record("expected live watches")
            return
        }
        #expect(start == 5 && store.watcherCount == 3)
        _ = try store.set("/wd/x/y", dir: false, value: "1", expiration: nil, refresh: false, now: now)  // 6
        _ = try store.set("/wd/_hidden", dir: false, value: "1", expiration: nil, refresh: false, now: now)  // 7
        _ = try store.delete("/wd", dir: true, recursive: true, now: now)  // 8
        var deepEvents: [V2Action] = []
        for await event in deep.events {
            deepEvents.append(event.action)
            if deepEvents.count == 2 { break }
        }
        #expect(deepEvents == [.set, .delete], "the hidden key's change is not delivered")
        var plainEvents: [V2Action] = []
        for await event in plain.events { plainEvents.append(event.action) }
        #expect(plainEvents == [.delete], "a plain watch on a directory fires only for the directory")
        var belowEvents: [UInt64] = []
        for await event in below.events { belowEvents.append(event.node.modifiedIndex) }
        #expect(belowEvents == [6], "the first change to the key ends a non-stream watch")
    }

    @Test func historyIsTheLastThousandChanges() throws {
        let store = V2Store(index: 3)
        for i in 0..<1010 { _ = try store.set("/bulk", dir: false, value: "\(i)", expiration: nil, refresh: false, now: now) }
        // Indexes 4...1013; the history keeps 14...1013.
        expectError(401, "the requested history has been cleared [14/5]") { _ = try store.watch("/bulk", recursive: false, stream: false, sinceIndex: 5) }
        guard case .past(let event) = try store.watch("/bulk", recursive: false, stream: false, sinceIndex: 14) else {
            Issue.record("expected the oldest kept change")
            return
        }
        #expect(event.node.modifiedIndex == 14)
    }

    @Test func recordsRebuildTheSameTree() throws {
        let store = V2Store(index: 3)
        _ = try store.set("/a/b/c", dir: false, value: "1", expiration: now + 100 * second, refresh: false, now: now)
        _ = try store.set("/a/d", dir: true, value: "", expiration: nil, refresh: false, now: now)
        _ = try store.create("/q", dir: false, value: "x", unique: true, expiration: nil, now: now)
        let changes = store.takeChanges()
        #expect(changes.count == 6 && store.takeChanges().isEmpty, "/a, /a/b, /a/b/c, /a/d, /q and its in-order key")
        let rebuilt = V2Store(records: store.allRecords(), index: store.currentIndex)
        #expect(body(try rebuilt.get("/", recursive: true, sorted: true, now: now)) == body(try store.get("/", recursive: true, sorted: true, now: now)))
        #expect(rebuilt.hasExpiringNodes && rebuilt.currentIndex == store.currentIndex)
        _ = try store.delete("/a", dir: true, recursive: true, now: now)
        #expect(store.takeChanges().filter { $0.value == nil }.map(\.key).sorted() == ["/a", "/a/b", "/a/b/c", "/a/d"])
    }

    @Test func goStyleJSON() {
        #expect(V2JSON.string("<a&b> é \"q\"") == #""\u003ca\u0026b\u003e é \"q\"""#)
        #expect(V2JSON.rfc3339Nano(0) == "1970-01-01T00:00:00Z")
        #expect(V2JSON.rfc3339Nano(1_795_750_000_490_930_940) == "2026-11-27T03:26:40.49093094Z")
        #expect(V2JSON.error(V2Error(202, cause: "invalid value for \"ttl\"")) == #"{"errorCode":202,"message":"The given TTL in POST form is not a number","cause":"invalid value for \"ttl\"","index":0}"# + "\n")
    }
}
