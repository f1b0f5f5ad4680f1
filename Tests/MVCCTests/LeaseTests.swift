@testable import MVCC
import Testing

@Suite struct LeaseTests {
    @Test func grantAndDuplicateGrant() throws {
        let t = try TestStore()
        #expect(try t.apply(.leaseGrant(Lease(id: 42, ttl: 10))) == .leaseGrant(Lease(id: 42, ttl: 10), revision: 1))
        #expect(t.revision == 1)  // a grant changes no key
        #expect(t.store.lessor.contains(42))
        #expect(t.store.lessor.timeToLive(42)?.granted == 10)
        #expect(try t.store.keys(ofLease: 42) == [])
        #expect(try t.store.keys(ofLease: 43) == nil)
        #expect(try t.apply(.leaseGrant(Lease(id: 42, ttl: 99))) == .failure(.leaseExists))
        #expect(t.store.lessor.timeToLive(42)?.granted == 10)
    }

    @Test func putWithLeaseAndUnknownLease() throws {
        let t = try TestStore()
        try t.grant(1)
        try t.put("a", "1", lease: 1)  // 2
        #expect(try t.get("a")?.lease == 1)
        // Unknown lease: failure, no revision, no change (etcd 3.4.23: "requested lease not found").
        #expect(try t.apply(.txn(TxnRequest(success: [.put(PutRequest(key: b("b"), value: b("1"), lease: 77))]))) == .failure(.leaseNotFound))
        #expect(t.revision == 2)
        #expect(try t.get("b") == nil)
        // Inside a txn with other writes: the whole txn fails.
        #expect(try t.apply(.txn(TxnRequest(success: [
            .put(PutRequest(key: b("c"), value: b("1"))),
            .deleteRange(DeleteRangeRequest(key: b("a"))),
            .put(PutRequest(key: b("d"), value: b("1"), lease: 77)),
        ]))) == .failure(.leaseNotFound))
        #expect(t.revision == 2)
        #expect(try t.get("c") == nil)
        #expect(try t.get("a") != nil)
        // An unknown lease in the branch not taken does not matter.
        let result = try t.txn(TxnRequest(
            compare: [Compare(key: b("a"), result: .equal, target: .lease(1))],
            success: [.put(PutRequest(key: b("c"), value: b("1")))],
            failure: [.put(PutRequest(key: b("d"), value: b("1"), lease: 77))]
        ))
        #expect(result?.succeeded == true)
        #expect(t.revision == 3)
        // A revoked lease is unknown.
        try t.apply(.leaseRevoke(id: 1))  // deletes a: 4
        #expect(try t.apply(.txn(TxnRequest(success: [.put(PutRequest(key: b("a"), value: b("1"), lease: 1))]))) == .failure(.leaseNotFound))
        #expect(t.revision == 4)
    }

    @Test func revokeDeletesAllKeysInOneRevision() async throws {
        let t = try TestStore()
        try t.grant(1)
        try t.grant(2)
        try t.put("l/c", "3", lease: 1)  // 2
        try t.put("l/a", "1", lease: 1)  // 3
        try t.put("l/b", "2", lease: 1)  // 4
        try t.put("other", "x", lease: 2) // 5
        try t.put("free", "y")           // 6
        #expect(try t.store.keys(ofLease: 1) == [b("l/a"), b("l/b"), b("l/c")])
        let stream = t.store.openWatchStream()
        defer { stream.close() }
        var watch = WatchRequest(key: [0], rangeEnd: [0])
        watch.prevKV = true
        let id = try stream.create(watch)
        #expect(await take(stream) == .created(watchID: id, revision: 6))
        #expect(try t.apply(.leaseRevoke(id: 1)) == .leaseRevoke(revision: 7))
        // etcd 3.4.23: revoking a lease with 3 keys adds one revision.
        #expect(t.revision == 7)
        #expect(try t.keys("a", "z") == ["free", "other"])
        #expect(try t.get("l/a", revision: 6)?.value == b("1"))
        #expect(try t.store.keys(ofLease: 1) == nil)
        #expect(!t.store.lessor.contains(1))
        #expect(t.store.lessor.contains(2))
        // Watchers see the three deletes, in key order, in one message, with their previous values.
        let message = await take(stream)
        guard case .events(let watchID, let events, let revision) = message else {
            Issue.record("\(String(describing: message))")
            return
        }
        #expect(watchID == id)
        #expect(revision == 7)
        #expect(events.map(\.kind) == [.delete, .delete, .delete])
        #expect(events.map(\.kv) == ["l/a", "l/b", "l/c"].map { KeyValue(key: b($0), modRevision: 7) })
        #expect(events.map { $0.prevKV?.value ?? [] } == [b("1"), b("2"), b("3")])
        #expect(events.map { $0.prevKV?.lease ?? 0 } == [1, 1, 1])
        expectIdle(stream)
        // Revoking again: not found, no revision.
        #expect(try t.apply(.leaseRevoke(id: 1)) == .failure(.leaseNotFound))
        // Revoking a lease with no keys adds no revision (etcd 3.4.23).
        try t.grant(3)
        #expect(try t.apply(.leaseRevoke(id: 3)) == .leaseRevoke(revision: 7))
        #expect(t.revision == 7)
    }

    @Test func reattachingMovesTheKey() throws {
        let t = try TestStore()
        try t.grant(1)
        try t.grant(2)
        try t.put("k", "1", lease: 1)
        try t.put("j", "1", lease: 1)
        try t.put("k", "2", lease: 2)
        #expect(try t.store.keys(ofLease: 1) == [b("j")])
        #expect(try t.store.keys(ofLease: 2) == [b("k")])
        #expect(try t.get("k")?.lease == 2)
        // A put without a lease detaches the key.
        try t.put("j", "2")
        #expect(try t.store.keys(ofLease: 1) == [])
        #expect(try t.get("j")?.lease == 0)
        // The same lease again: attached once.
        try t.put("k", "3", lease: 2)
        #expect(try t.store.keys(ofLease: 2) == [b("k")])
        // Revoking lease 1 now deletes nothing; revoking 2 deletes only k.
        let before = t.revision
        try t.apply(.leaseRevoke(id: 1))
        #expect(t.revision == before)
        #expect(try t.get("j")?.value == b("2"))
        try t.apply(.leaseRevoke(id: 2))
        #expect(t.revision == before + 1)
        #expect(try t.get("k") == nil)
        #expect(try t.get("j") != nil)
    }

    @Test func deletingAKeyDetachesIt() throws {
        let t = try TestStore()
        try t.grant(1)
        try t.put("k", "1", lease: 1)  // 2
        try t.delete("k")              // 3
        #expect(try t.store.keys(ofLease: 1) == [])
        try t.put("k", "new")          // 4
        try t.apply(.leaseRevoke(id: 1))
        #expect(t.revision == 4)
        #expect(try t.get("k")?.value == b("new"))
    }

    @Test func revokeOfAKeyPutTwiceInOneTxn() throws {
        // A txn that attaches then re-attaches within itself, then revoke.
        let t = try TestStore()
        try t.grant(1)
        try t.grant(2)
        try t.txn(TxnRequest(success: [
            .put(PutRequest(key: b("a"), value: b("1"), lease: 1)),
            .put(PutRequest(key: b("b"), value: b("1"), lease: 2)),
        ]))
        #expect(try t.store.keys(ofLease: 1) == [b("a")])
        #expect(try t.store.keys(ofLease: 2) == [b("b")])
        try t.apply(.leaseRevoke(id: 2))
        #expect(try t.keys("a", "z") == ["a"])
    }

    @Test func lessorExpiry() throws {
        let t = try TestStore()
        try t.grant(1, ttl: 5)
        try t.grant(2, ttl: 50)
        let now = ContinuousClock.now
        #expect(t.store.lessor.expired(now: now) == [])
        #expect(t.store.lessor.expired(now: now + .seconds(6)) == [1])
        #expect(Set(t.store.lessor.expired(now: now + .seconds(60))) == [1, 2])
        #expect(t.store.lessor.expired(now: now + .seconds(60)).first == 1)  // oldest expiry first
        #expect(t.store.lessor.renew(1, now: now + .seconds(4)) == 5)
        #expect(t.store.lessor.expired(now: now + .seconds(6)) == [])
        #expect(t.store.lessor.renew(99) == nil)
        // An expired lease is not brought back by a late keep-alive (its revocation is on its way).
        #expect(t.store.lessor.renew(1, now: now + .seconds(30)) == nil)
        #expect(t.store.lessor.expired(now: now + .seconds(30)) == [1])
        #expect(Set(t.store.lessor.ids()) == [1, 2])
        let ttl = t.store.lessor.timeToLive(2, now: now)
        #expect(ttl?.granted == 50)
        #expect((ttl?.remaining ?? 0) >= 49 && (ttl?.remaining ?? 0) <= 50)
    }

    @Test func grantAndRevokeOfOneLeaseInOneBatch() throws {
        // The lessor must end up as LMDB says, whatever the order of grants and revokes in a batch.
        let t = try TestStore()
        let put = MVCC.Operation.txn(TxnRequest(success: [.put(PutRequest(key: b("k"), value: b("v"), lease: 5))]))
        // Grant, attach, revoke, grant again: the lease exists (with no keys).
        let results = try t.store.apply([
            (1, .leaseGrant(Lease(id: 5, ttl: 10))), (2, put), (3, .leaseRevoke(id: 5)), (4, .leaseGrant(Lease(id: 5, ttl: 20))),
        ])
        #expect(results[3] == .leaseGrant(Lease(id: 5, ttl: 20), revision: 3))
        #expect(try t.store.keys(ofLease: 5) == [])
        #expect(t.store.lessor.contains(5))
        #expect(t.store.lessor.timeToLive(5)?.granted == 20)
        #expect(try t.get("k") == nil)
        // Grant then revoke: gone.
        _ = try t.store.apply([(5, .leaseGrant(Lease(id: 6, ttl: 10))), (6, .leaseRevoke(id: 6))])
        #expect(!t.store.lessor.contains(6))
        #expect(try t.store.keys(ofLease: 6) == nil)
        // Revoke of an existing lease then grant again: exists, with the new TTL.
        _ = try t.store.apply([(7, .leaseRevoke(id: 5)), (8, .leaseGrant(Lease(id: 5, ttl: 30)))])
        #expect(t.store.lessor.contains(5))
        #expect(t.store.lessor.timeToLive(5)?.granted == 30)
        #expect(Set(t.store.lessor.ids()) == [5])
        // The lessor agrees with a reopened store.
        t.index = 8
        try t.reopen()
        #expect(Set(t.store.lessor.ids()) == [5])
        #expect(t.store.lessor.timeToLive(5)?.granted == 30)
    }

    @Test func grantAndPutInOneBatch() throws {
        let t = try TestStore()
        let results = try t.store.apply([
            (1, .leaseGrant(Lease(id: 5, ttl: 10))),
            (2, .txn(TxnRequest(success: [.put(PutRequest(key: b("k"), value: b("v"), lease: 5))]))),
        ])
        #expect(results.count == 2)
        if case .txn(let txn) = results[1] { #expect(txn.revision == 2) } else { Issue.record("\(String(describing: results[1]))") }
        #expect(try t.get("k")?.lease == 5)
        #expect(try t.store.keys(ofLease: 5) == [b("k")])
    }
}
