import EtcdProto
import SwiftProtobuf

/// Go's rendering of gogo-generated protobuf values where etcdctl prints them with `%v`.
enum ProtoText {
    /// golang/protobuf 1.3's `CompactTextString` of an alarm, which `%+v` prints: each non-zero field as
    /// `name:value` followed by a space.
    static func compact(_ alarm: Etcdserverpb_AlarmMember) -> String {
        var out = ""
        if alarm.memberID != 0 { out += "memberID:\(alarm.memberID) " }
        if alarm.alarm != .none { out += "alarm:\(ProtoEnum.name(alarm.alarm)) " }
        return out
    }

    /// The text of a txn response that etcdctl does not know how to print (a nested txn). etcdctl writes
    /// golang/protobuf's compact text format; this writes SwiftProtobuf's text format on one line, which
    /// has the same content but not the same punctuation. etcdctl's own txn command never produces this.
    static func compact(_ op: Etcdserverpb_ResponseOp) -> String {
        op.textFormatString().split(separator: "\n").map { $0.drop { $0 == " " } }.joined(separator: " ")
    }
}

/// The names gogo's generated `String()` gives enum values: the proto name, or the number when unknown.
enum ProtoEnum {
    static func name(_ type: Mvccpb_Event.EventType) -> String {
        switch type {
        case .put: "PUT"
        case .delete: "DELETE"
        case .UNRECOGNIZED(let value): String(value)
        }
    }

    static func name(_ type: Etcdserverpb_AlarmType) -> String {
        switch type {
        case .none: "NONE"
        case .nospace: "NOSPACE"
        case .corrupt: "CORRUPT"
        case .UNRECOGNIZED(let value): String(value)
        }
    }

    static func name(_ type: Authpb_Permission.TypeEnum) -> String {
        switch type {
        case .read: "READ"
        case .write: "WRITE"
        case .readwrite: "READWRITE"
        case .UNRECOGNIZED(let value): String(value)
        }
    }
}
