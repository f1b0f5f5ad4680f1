import GRPCCore

/// etcd's `--strict-reconfig-check` rules (on by default): membership changes that could leave the
/// cluster without a quorum of started, connected voters are refused before they are proposed.
/// "Started" means the member has published its attributes (it has a name); "connected" is judged by
/// this member's peer connections, which must have been up for `healthInterval`.
extension Member {
    /// How long a peer connection must have been up to count (etcd's `HealthInterval`).
    static let healthInterval: Duration = .seconds(5)

    static let notEnoughStartedMembers = RPCError(code: .failedPrecondition, message: "etcdserver: re-configuration failed due to not enough started members")
    static let unhealthyCluster = RPCError(code: .unavailable, message: "etcdserver: unhealthy cluster")

    private var voters: [MemberRecord] { membership.all.filter { !$0.isLearner } }

    /// Whether every voter but this member has been connected for the whole health interval.
    private func connectedFully(_ members: [MemberRecord]) -> Bool {
        connectedCount(members) == members.count
    }

    /// Members connected for the whole health interval; this member counts as connected.
    private func connectedCount(_ members: [MemberRecord]) -> Int {
        let since = ContinuousClock.now - Self.healthInterval
        return members.filter { record in
            if record.id == identity.memberID { return true }
            guard let up = transport.connectedSince(record.id) else { return false }
            return up <= since
        }.count
    }

    /// etcd's `mayAddMember`.
    func checkMayAdd(isLearner: Bool) throws {
        guard config.strictReconfigCheck else { return }
        let voters = voters
        if !isLearner {
            let started = voters.filter { !$0.name.isEmpty }.count
            let members = voters.count + 1
            if !(started == 1 && members == 2) && started < members / 2 + 1 { throw Self.notEnoughStartedMembers }
        }
        if !connectedFully(voters) { throw Self.unhealthyCluster }
    }

    /// etcd's `mayRemoveMember`.
    func checkMayRemove(_ id: UInt64) throws {
        guard config.strictReconfigCheck else { return }
        if membership.record(id)?.isLearner == true { return }
        let others = voters.filter { $0.id != id }
        if others.filter({ !$0.name.isEmpty }).count < others.count / 2 + 1 { throw Self.notEnoughStartedMembers }
        // A member that is down is safe to remove: it is not part of the active quorum.
        if id != identity.memberID && transport.connectedSince(id) == nil { return }
        let voters = voters
        if connectedCount(voters) - 1 < 1 + (voters.count - 1) / 2 { throw Self.unhealthyCluster }
    }

    /// etcd's `mayPromoteMember` (the learner counts as started and as a future voter).
    func checkMayPromote() throws {
        guard config.strictReconfigCheck else { return }
        let voters = voters
        let started = voters.filter { !$0.name.isEmpty }.count + 1
        if started < (voters.count + 1) / 2 + 1 { throw Self.notEnoughStartedMembers }
    }
}
