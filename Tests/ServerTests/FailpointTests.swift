import Testing
@testable import Server

/// `SETCD_FAILPOINTS`' grammar: what it accepts and what it refuses at start.
@Suite struct FailpointParsingTests {
    @Test func acceptsCrashesAndSleepsOnEveryOrTheNthHit() throws {
        let terms = try Failpoint.parse("walAfterSave=crash@40; raftBeforeSend=sleep(50);applyBeforeCommit=crash")
        #expect(terms.count == 3)
        #expect(terms[.walAfterSave]?.action == .crash && terms[.walAfterSave]?.onHit == 40)
        #expect(terms[.raftBeforeSend]?.action == .sleep(milliseconds: 50) && terms[.raftBeforeSend]?.onHit == nil)
        #expect(terms[.applyBeforeCommit]?.onHit == nil)
    }

    @Test(arguments: [
        "walBeforeSav=crash", "walAfterSave", "walAfterSave=explode", "walAfterSave=crash@", "walAfterSave=crash@0",
        "walAfterSave=crash@1@2", "walAfterSave=sleep(-1)", "walAfterSave=sleep(100000)", "walAfterSave=crash;walAfterSave=sleep(1)",
    ])
    func refusesMalformedTerms(_ text: String) {
        #expect(throws: FailpointError.self) { try Failpoint.parse(text) }
    }
}
