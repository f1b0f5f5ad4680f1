import Foundation
@testable import Server
import Testing
@testable import V2Store

/// Integers a client controls, at their extremes, are answered as etcd 3.4 answers them and never trap.
@Suite struct ExtremeIntegerTests {
    /// 2026-12-06T00:00:00Z in unix nanoseconds.
    static let now: Int64 = 1_796_515_200 * 1_000_000_000

    /// The write a v2 `PUT /v2/keys/a?ttl=<ttl>` proposes.
    static func v2Write(ttl: String) throws -> V2Request {
        let parsed = try V2HTTPRequest.parse(method: "PUT", uri: "/v2/keys/a?value=x&ttl=\(ttl)", contentType: nil, body: [], now: now)
        guard case .write(let write) = parsed.kind else { throw V2Error(0, cause: "not a write") }
        return write
    }

    /// `ttl=8000000000` once passed the parser's check and overflowed `now + ttl × 10⁹`, killing the
    /// member. etcd computes the same sum in Go's wrapping arithmetic: huge TTLs wrap to a time before
    /// 2000, which its store takes as "never expires"; 2^64 − 1 (and 2^63 − 1) wrap to −1 s, one second ago.
    @Test func hugeV2TTLsAreAnsweredAsEtcdAnswersThem() throws {
        for ttl in ["8000000000", "9223372036", "9223372037", "100000000000"] {
            let write = try Self.v2Write(ttl: ttl)
            let store = V2Store(index: 3)
            let event = try write.apply(to: store)[0]
            #expect(event.node.expiration == nil && event.node.ttl == nil, "ttl=\(ttl): \(event.node)")
            #expect(try store.get("/a", recursive: false, sorted: false, now: Self.now).node.value == "x")
        }
        let last = try Self.v2Write(ttl: "18446744073709551615")
        let store = V2Store(index: 3)
        let event = try last.apply(to: store)[0]
        #expect(event.node.expiration == Self.now - 1_000_000_000)
        #expect(event.node.ttl == -1)
        #expect(V2JSON.event(event).contains(#""expiration":"2026-12-05T23:59:59Z","ttl":-1"#), "\(V2JSON.event(event))")
        // Past 2^64 − 1 and below zero it is not a number, as in etcd.
        for ttl in ["18446744073709551616", "-1", "+5", "1e3", "-0", " 1"] {
            #expect(throws: V2Error.self, "ttl=\(ttl)") { _ = try Self.v2Write(ttl: ttl) }
        }
    }

    /// Any alarm type a client raises is recorded as itself: a restart or a snapshot reads it back
    /// unchanged (a type cut to one byte made 257 come back as NOSPACE, refusing writes on that member).
    @Test func alarmRecordsKeepAnyType() throws {
        for raw in [0, 1, 2, 255, 256, 257, -255, Int(Int32.max), Int(Int32.min)] {
            let alarm = Alarms.alarm(memberID: 0xFEDC_BA98_7654_3210, alarm: .init(rawValue: raw)!)
            #expect(Alarms.decode(storeKey: Alarms.storeKey(alarm)) == alarm, "alarm type \(raw)")
        }
        // Records written with one byte for the type still read back.
        #expect(Alarms.decode(storeKey: Alarms.storePrefix + [0, 0, 0, 0, 0, 0, 0, 7, 1])?.alarm == .nospace)
    }

    /// An update may carry any wrapped expiry (etcd's store does not clear it there): the TTL and the
    /// RFC 3339 time of the answer saturate instead of trapping.
    @Test func anyStoredExpiryIsAnswered() throws {
        let store = V2Store(index: 3)
        _ = try store.set("/a", dir: false, value: "x", expiration: nil, refresh: false, now: Self.now)
        for expiration in [Int64.min, Int64.min + 1, -1, Int64.max] {
            let event = try store.update("/a", value: "y", expiration: expiration, refresh: false, now: Self.now)
            #expect(event.node.expiration == expiration)
            #expect(!V2JSON.event(event).isEmpty)
        }
        #expect(V2NodeView.ttl(expiration: Int64.min, now: Self.now) == Int64.min / 1_000_000_000)
        #expect(V2NodeView.ttl(expiration: Int64.max, now: -Self.now) == Int64.max / 1_000_000_000 + 1)
        #expect(V2JSON.rfc3339Nano(Int64.min) == "1677-09-21T00:12:43.145224192Z")
        #expect(V2JSON.rfc3339Nano(Int64.max) == "2262-04-11T23:47:16.854775807Z")
        #expect(V2JSON.rfc3339Nano(-1) == "1969-12-31T23:59:59.999999999Z")
    }
}
