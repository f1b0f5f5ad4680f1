import Foundation

// Builders for the requests lock, election and transaction recipes send (the server's v3lock and
// v3election services, and the client's mutex and election).

extension Etcdserverpb_Compare {
    /// `create_revision(key) == revision` (0: the key does not exist).
    public static func createRevision(of key: [UInt8], equals revision: Int64) -> Self {
        var compare = Etcdserverpb_Compare()
        compare.key = Data(key)
        compare.target = .create
        compare.result = .equal
        compare.createRevision = revision
        return compare
    }
}

extension Etcdserverpb_RequestOp {
    public static func put(_ key: [UInt8], value: [UInt8], lease: Int64) -> Self {
        var put = Etcdserverpb_PutRequest()
        put.key = Data(key)
        put.value = Data(value)
        put.lease = lease
        var op = Etcdserverpb_RequestOp()
        op.requestPut = put
        return op
    }

    public static func get(_ key: [UInt8]) -> Self {
        var range = Etcdserverpb_RangeRequest()
        range.key = Data(key)
        var op = Etcdserverpb_RequestOp()
        op.requestRange = range
        return op
    }

    public static func delete(_ key: [UInt8]) -> Self {
        var delete = Etcdserverpb_DeleteRangeRequest()
        delete.key = Data(key)
        var op = Etcdserverpb_RequestOp()
        op.requestDeleteRange = delete
        return op
    }
}
