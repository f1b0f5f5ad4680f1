import GRPCCore
import SwiftProtobuf

/// Decodes protobuf messages and reports undecodable bytes as etcd (grpc-go) does: status Internal,
/// "grpc: error unmarshalling request: ...". The generated service code uses it in place of
/// GRPCProtobuf's deserializer (tools/genproto.sh rewrites the references).
public struct EtcdMessageDeserializer<Message: SwiftProtobuf.Message>: GRPCCore.MessageDeserializer {
    public init() {}

    public func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> Message {
        do {
            return try serializedMessageBytes.withUnsafeBytes { try Message(serializedBytes: Array($0)) }
        } catch BinaryDecodingError.truncated {
            throw RPCError(code: .internalError, message: "grpc: error unmarshalling request: unexpected EOF")
        } catch {
            throw RPCError(code: .internalError, message: "grpc: error unmarshalling request: proto: cannot parse invalid wire-format data")
        }
    }
}
