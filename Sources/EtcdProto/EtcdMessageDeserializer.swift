import GRPCCore
import SwiftProtobuf

/// Decodes protobuf messages and reports undecodable bytes as etcd (grpc-go with gogo-generated
/// decoders) does: status Internal, "grpc: error unmarshalling request: <gogo's reason>". The generated
/// service code uses it in place of GRPCProtobuf's deserializer (tools/genproto.sh rewrites the
/// references).
public struct EtcdMessageDeserializer<Message: SwiftProtobuf.Message>: GRPCCore.MessageDeserializer {
    public init() {}

    public func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> Message {
        let bytes = serializedMessageBytes.withUnsafeBytes { Array($0) }
        do {
            return try Message(serializedBytes: bytes, options: EtcdDecoding.options)
        } catch BinaryDecodingError.messageDepthLimit where Message.self == Etcdserverpb_TxnRequest.self {
            // Only txns nest; etcd refuses one nested this deep by its op budget, with this error.
            throw RPCError(code: .invalidArgument, message: "etcdserver: too many operations in txn request")
        } catch {
            let reason = GogoDecodingError.reason(for: bytes, as: Message.self)
            throw RPCError(code: .internalError, message: "grpc: error unmarshalling request: \(reason)")
        }
    }
}

/// How etcd's messages are decoded: nested txns (a RequestOp holding a TxnRequest, two message levels
/// per txn) may go deeper than SwiftProtobuf's default limit of 100 levels. etcd's op budget
/// (`--max-txn-ops`, 128 by default, shrinking by each level's ops) ends nesting at 128 txns; the
/// limit leaves room for that and stops a hostile depth before it can exhaust a thread's stack.
public enum EtcdDecoding {
    public static let options: BinaryDecodingOptions = {
        var options = BinaryDecodingOptions()
        options.messageDepthLimit = 300
        return options
    }()
}

/// The error text gogo's generated `Unmarshal` gives for bytes SwiftProtobuf refused, worked out by
/// scanning the top-level fields the way gogo does. Problems inside nested messages are almost always
/// truncations, which gogo reports as "unexpected EOF".
enum GogoDecodingError {
    static func reason<M: SwiftProtobuf.Message>(for bytes: [UInt8], as type: M.Type) -> String {
        let messageName = String(describing: type).split(separator: "_", maxSplits: 1).last.map(String.init) ?? "\(type)"
        var offset = 0

        /// Reads a varint; nil at the end of input; throws on overflow.
        func varint() -> UInt64?? {
            var value: UInt64 = 0
            for shift in stride(from: 0, to: 70, by: 7) {
                guard offset < bytes.count else { return .some(nil) }
                let byte = bytes[offset]
                offset += 1
                if shift == 63 && byte > 1 { return nil }
                value |= UInt64(byte & 0x7F) << UInt64(shift)
                if byte < 0x80 { return .some(value) }
            }
            return nil
        }

        while offset < bytes.count {
            let start = offset
            guard let readTag = varint() else { return "proto: integer overflow" }
            guard let tag = readTag else { return "unexpected EOF" }
            // As gogo: the field number is the tag's upper bits cut to an int32, and an illegal one is
            // reported with the whole tag as its "wire type".
            let fieldNumber = Int(Int32(truncatingIfNeeded: tag >> 3))
            let wireType = Int(tag & 7)
            if wireType == 4 { return "proto: \(messageName): wiretype end group for non-group" }
            if fieldNumber <= 0 { return "proto: \(messageName): illegal tag \(fieldNumber) (wire type \(tag))" }
            let field = goFieldName(number: fieldNumber, in: type)
            switch wireType {
            case 0:
                guard let value = varint() else { return "proto: integer overflow" }
                guard value != nil else { return "unexpected EOF" }
            case 1, 5:
                offset += wireType == 1 ? 8 : 4
                guard offset <= bytes.count else { return "unexpected EOF" }
            case 2:
                guard let readLength = varint() else { return "proto: integer overflow" }
                guard let length = readLength else { return "unexpected EOF" }
                guard length <= UInt64(Int64.max) else { return "proto: negative length found during unmarshaling" }
                guard UInt64(bytes.count - offset) >= length else { return "unexpected EOF" }
                offset += Int(length)
            default:
                if let field { return "proto: wrong wireType = \(wireType) for field \(field)" }
                return "proto: illegal wireType \(wireType)"
            }
            // A field that scans but does not decode alone has the wrong wire type for its declaration,
            // unless it is a nested message, whose own contents are at fault.
            if let field, (try? M(serializedBytes: Array(bytes[start..<offset]))) == nil, wireType != 2 {
                return "proto: wrong wireType = \(wireType) for field \(field)"
            }
        }
        return "unexpected EOF"
    }

    /// The Go name (as gogo prints it) of field `number`, or nil if the message has no such field.
    /// SwiftProtobuf keeps field names internal, so the name is read back from the text format of a
    /// message holding just that field, decoded from a small valid encoding of each wire type.
    static func goFieldName<M: SwiftProtobuf.Message>(number: Int, in type: M.Type) -> String? {
        let tag = { (wireType: Int) -> [UInt8] in
            var value = UInt64(number << 3 | wireType)
            var encoded: [UInt8] = []
            while value >= 0x80 {
                encoded.append(UInt8(value & 0x7F) | 0x80)
                value >>= 7
            }
            return encoded + [UInt8(value)]
        }
        let candidates: [[UInt8]] = [
            tag(0) + [1], tag(2) + [1, 0x41], tag(2) + [0], tag(1) + [1, 0, 0, 0, 0, 0, 0, 0], tag(5) + [1, 0, 0, 0],
        ]
        for candidate in candidates {
            guard let message = try? M(serializedBytes: candidate) else { continue }
            var options = TextFormatEncodingOptions()
            options.printUnknownFields = false
            let text = message.textFormatString(options: options)
            guard let end = text.firstIndex(where: { $0 == ":" || $0 == " " || $0 == "{" }), end != text.startIndex else { continue }
            let protoName = text[..<end]
            return protoName.split(separator: "_").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        }
        return nil
    }
}
