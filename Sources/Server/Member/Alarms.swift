import EtcdProto
import Synchronization

/// The member's raised alarms (NOSPACE when the backend passes its quota). While NOSPACE is raised,
/// writes that add data are refused, as in etcd; reads, deletes and compaction still work.
final class Alarms: Sendable {
    private let raised = Mutex<[Etcdserverpb_AlarmMember]>([])

    /// Raises `alarm` for `memberID` (once) and returns it.
    @discardableResult
    func activate(memberID: UInt64, alarm: Etcdserverpb_AlarmType) -> Etcdserverpb_AlarmMember {
        var member = Etcdserverpb_AlarmMember()
        member.memberID = memberID
        member.alarm = alarm
        raised.withLock { if !$0.contains(member) { $0.append(member) } }
        return member
    }

    /// Clears `alarm` for `memberID`; returns the alarms cleared.
    func deactivate(memberID: UInt64, alarm: Etcdserverpb_AlarmType) -> [Etcdserverpb_AlarmMember] {
        raised.withLock { raised in
            let cleared = raised.filter { $0.memberID == memberID && $0.alarm == alarm }
            raised.removeAll { $0.memberID == memberID && $0.alarm == alarm }
            return cleared
        }
    }

    /// The raised alarms of type `alarm` (all of them for `.none`).
    func list(_ alarm: Etcdserverpb_AlarmType = .none) -> [Etcdserverpb_AlarmMember] {
        raised.withLock { raised in raised.filter { alarm == .none || $0.alarm == alarm } }
    }

    /// Whether the backend quota alarm is raised.
    var noSpace: Bool { raised.withLock { $0.contains { $0.alarm == .nospace } } }
}
