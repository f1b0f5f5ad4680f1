import EtcdProto
import Foundation
import GRPCCore
import Logging
import Testing
@testable import Server

/// A real member on a temporary data dir, driven in-process through the service implementations.
final class MemberFixture: Sendable {
    let directory: String
    let member: Member

    init() async throws {
        directory = NSTemporaryDirectory() + "setcd-member-" + UUID().uuidString
        var config = ServerConfig()
        config.dataDir = directory
        member = try await Member(config: config, logger: Logger(label: "test"))
    }

    deinit {
        member.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    func context(_ method: String) -> ServerContext {
        ServerContext(descriptor: MethodDescriptor(fullyQualifiedService: "test", method: method),
                      remotePeer: "test", localPeer: "test", cancellation: .init())
    }

    func grantLease(ttl: Int64 = 60) async throws -> Int64 {
        var request = Etcdserverpb_LeaseGrantRequest()
        request.ttl = ttl
        return try await LeaseService(member: member).leaseGrant(request: request, context: context("LeaseGrant")).id
    }
}

/// The server-side v3lock and v3election recipes (etcdctl's lock and elect run their own, client-side).
@Suite struct RecipeServiceTests {
    /// Polls the store (every 10 ms) until exactly `count` keys start with `prefix` (whose last byte is below
    /// 0xff); false after 10 s, a deadline that only keeps a broken recipe from hanging the test.
    static func waitForKeys(_ fixture: MemberFixture, under prefix: String, count: Int) async throws -> Bool {
        var end = Array(prefix.utf8)
        end[end.count - 1] += 1
        let deadline = ContinuousClock.now + .seconds(10)
        while try fixture.member.store.range(.init(key: Array(prefix.utf8), rangeEnd: end)).kvs.count != count {
            if ContinuousClock.now > deadline { return false }
            try await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    @Test func lockExcludesUntilUnlocked() async throws {
        let fixture = try await MemberFixture()
        let locks = LockService(member: fixture.member)
        let (first, second) = (try await fixture.grantLease(), try await fixture.grantLease())
        var request = V3lockpb_LockRequest()
        request.name = Data("job".utf8)
        request.lease = first
        let held = try await locks.lock(request: request, context: fixture.context("Lock"))
        #expect(held.key == Data("job/\(String(first, radix: 16))".utf8))

        request.lease = second
        let granted = WaitsTests.Counter()
        let waiter = Task { [request] () async throws -> V3lockpb_LockResponse in
            let response = try await locks.lock(request: request, context: fixture.context("Lock"))
            granted.add()
            return response
        }
        /// Waits until the waiter's key is in place beside the holder's.
        let queued = try await Self.waitForKeys(fixture, under: "job/", count: 2)
        #expect(queued, "the second lock request never put its key")
        // Still waiting: its key exists but is not the oldest.
        #expect(granted.value == 0, "the second lock was granted while the first was held")

        var unlock = V3lockpb_UnlockRequest()
        unlock.key = held.key
        _ = try await locks.unlock(request: unlock, context: fixture.context("Unlock"))
        let next = try await waiter.value
        #expect(next.key == Data("job/\(String(second, radix: 16))".utf8))
    }

    @Test func electionCampaignProclaimLeaderResign() async throws {
        let fixture = try await MemberFixture()
        let elections = ElectionService(member: fixture.member)
        let (a, b) = (try await fixture.grantLease(), try await fixture.grantLease())
        var campaign = V3electionpb_CampaignRequest()
        campaign.name = Data("el".utf8)
        campaign.lease = a
        campaign.value = Data("alpha".utf8)
        let leaderA = try await elections.campaign(request: campaign, context: fixture.context("Campaign")).leader

        var leaderRequest = V3electionpb_LeaderRequest()
        leaderRequest.name = Data("el".utf8)
        #expect(try await elections.leader(request: leaderRequest, context: fixture.context("Leader")).kv.value == Data("alpha".utf8))

        var proclaim = V3electionpb_ProclaimRequest()
        proclaim.leader = leaderA
        proclaim.value = Data("alpha2".utf8)
        _ = try await elections.proclaim(request: proclaim, context: fixture.context("Proclaim"))
        #expect(try await elections.leader(request: leaderRequest, context: fixture.context("Leader")).kv.value == Data("alpha2".utf8))

        campaign.lease = b
        campaign.value = Data("beta".utf8)
        let challenger = Task { [campaign] in try await elections.campaign(request: campaign, context: fixture.context("Campaign")) }
        /// Waits until the challenger's key is in place beside the leader's: it is campaigning.
        let campaigning = try await Self.waitForKeys(fixture, under: "el/", count: 2)
        #expect(campaigning, "the challenger never put its key")
        #expect(try await elections.leader(request: leaderRequest, context: fixture.context("Leader")).kv.value == Data("alpha2".utf8))

        var resign = V3electionpb_ResignRequest()
        resign.leader = leaderA
        _ = try await elections.resign(request: resign, context: fixture.context("Resign"))
        let leaderB = try await challenger.value.leader
        #expect(leaderB.key == Data("el/\(String(b, radix: 16))".utf8))
        #expect(try await elections.leader(request: leaderRequest, context: fixture.context("Leader")).kv.value == Data("beta".utf8))

        // A stale leader key can no longer proclaim.
        await #expect(throws: RPCError.self) { try await elections.proclaim(request: proclaim, context: fixture.context("Proclaim")) }
    }
}
