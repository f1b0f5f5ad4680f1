import EtcdProto
import GRPCCore
import SwiftProtobuf
import Testing

/// Malformed request messages get gogo's error text (as etcd gives it), and never crash the server.
@Suite struct EtcdDecodingTests {
    private func refusal<M: SwiftProtobuf.Message>(_ bytes: [UInt8], as type: M.Type) -> String? {
        do {
            _ = try EtcdMessageDeserializer<M>().deserialize(bytes)
            return nil
        } catch let error as RPCError {
            return "\(error.code): \(error.message)"
        } catch {
            return "\(error)"
        }
    }

    /// Found by fuzzing (tools/fuzz, target grpc): a 10-byte tag above Int32's range made the error
    /// text's field-name lookup trap, so one request could stop a member. etcd 3.4 answers as below.
    @Test func tagsPastInt32GetGogosIllegalTagText() {
        let bytes: [UInt8] = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x03, 0x0a, 0x95, 0x01, 0x87, 0, 0, 0xc0]
        #expect(refusal(bytes, as: Etcdserverpb_DeleteRangeRequest.self)
                == "internalError: grpc: error unmarshalling request: proto: DeleteRangeRequest: illegal tag -1 (wire type 18446744073709551615)")
    }

    /// Nested txns deeper than the decoder allows are refused with etcd's op-budget error.
    @Test func txnsNestedTooDeepGetTooManyOps() {
        var txn: [UInt8] = [0x12, 0x00]
        for _ in 0..<400 { txn = [0x12] + Self.varint(txn.count + 1 + Self.varint(txn.count).count) + [0x22] + Self.varint(txn.count) + txn }
        #expect(refusal(txn, as: Etcdserverpb_TxnRequest.self) == "invalidArgument: etcdserver: too many operations in txn request")
    }

    private static func varint(_ value: Int) -> [UInt8] {
        var value = value, bytes: [UInt8] = []
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        return bytes + [UInt8(value)]
    }
}
