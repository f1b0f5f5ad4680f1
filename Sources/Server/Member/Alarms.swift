import EtcdProto
import Synchronization

/// The cluster's raised alarms (NOSPACE when a member's backend passes its quota), as applied from the
/// log, so every member knows them. While NOSPACE is raised, writes that add data are refused, as in
/// etcd; reads, deletes and compaction still work. Only the apply thread changes them.
final class Alarms: Sendable {
    private let raised = Mutex<[Etcdserverpb_AlarmMember]>([])

    /// Raises `alarm` for `memberID` (once) and returns it.
    @discardableResult
    func activate(memberID: UInt64, alarm: Etcdserverpb_AlarmType) -> Etcdserverpb_AlarmMember {
        let member = Self.alarm(memberID: memberID, alarm: alarm)
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

    /// Replaces every alarm (from the store's records, at start or after a snapshot).
    func replaceAll(_ alarms: [Etcdserverpb_AlarmMember]) {
        raised.withLock { $0 = alarms }
    }

    /// The raised alarms of type `alarm` (all of them for `.none`).
    func list(_ alarm: Etcdserverpb_AlarmType = .none) -> [Etcdserverpb_AlarmMember] {
        raised.withLock { raised in raised.filter { alarm == .none || $0.alarm == alarm } }
    }

    /// Whether the backend quota alarm is raised.
    var noSpace: Bool { raised.withLock { $0.contains { $0.alarm == .nospace } } }

    static func alarm(memberID: UInt64, alarm: Etcdserverpb_AlarmType) -> Etcdserverpb_AlarmMember {
        var member = Etcdserverpb_AlarmMember()
        member.memberID = memberID
        member.alarm = alarm
        return member
    }

    // MARK: - Records in the store

    static let storePrefix = Array("alarm/".utf8)

    /// The store key of a raised alarm: the prefix, the member id (8 bytes) and the alarm type — one byte
    /// for the types 0–255 (etcd's all are), else its int32 in 4 bytes, so that any type a client raises
    /// comes back as itself after a restart (a byte alone made type 257 read back as NOSPACE).
    static func storeKey(_ alarm: Etcdserverpb_AlarmMember) -> [UInt8] {
        let type = Int32(truncatingIfNeeded: alarm.alarm.rawValue)
        let typeBytes = (0...255).contains(type) ? [UInt8(type)] : withUnsafeBytes(of: type.bigEndian, Array.init)
        return storePrefix + withUnsafeBytes(of: alarm.memberID.bigEndian, Array.init) + typeBytes
    }

    /// The alarm a store key names, if it is one.
    static func decode(storeKey key: [UInt8]) -> Etcdserverpb_AlarmMember? {
        let typeBytes = key.count - storePrefix.count - 8
        guard typeBytes == 1 || typeBytes == 4, key.starts(with: storePrefix) else { return nil }
        let id = key[storePrefix.count..<(storePrefix.count + 8)].reduce(0) { $0 << 8 | UInt64($1) }
        let raw = key.suffix(typeBytes).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let type = typeBytes == 1 ? Int(raw) : Int(Int32(bitPattern: raw))
        guard let alarmType = Etcdserverpb_AlarmType(rawValue: type) else { return nil }
        return alarm(memberID: id, alarm: alarmType)
    }
}
