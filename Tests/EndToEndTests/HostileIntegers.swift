import Client
import EtcdProto
import Foundation

extension EndToEnd.HostileInput {
    /// The signed values every int64 field is tried with.
    static let extremeInt64s: [Int64] = [.min, .min + 1, -1, 0, 1, 9_000_000_001, .max - 1, .max]
    /// The values every uint64 field (member ids) is tried with.
    static let extremeUInt64s: [UInt64] = [0, 1, 1 << 63, .max - 1, .max]
    /// Raw values tried for every enum field: unknown ones above and below the known range.
    static let extremeEnums: [Int] = [-1, 5, 257, Int(Int32.max), Int(Int32.min)]

    /// Every numeric field of every v3 request, at the extremes, through the client library (a few
    /// hundred requests): each is answered, with a value or an error. Returns (requests, errors).
    static func sendExtremeV3Integers(_ etcd: EtcdClient) async throws -> (requests: Int, errors: Int) {
        var requests = 0, errors = 0
        func attempt(_ body: () async throws -> Void) async {
            requests += 1
            do { try await body() } catch { errors += 1 }
        }
        _ = try await etcd.put("ints/k", "v")
        for value in extremeInt64s {
            var range = Etcdserverpb_RangeRequest()
            range.key = Data("ints/".utf8)
            range.rangeEnd = Data("ints0".utf8)
            for field in 0..<6 {
                var request = range
                switch field {
                case 0: request.limit = value
                case 1: request.revision = value
                case 2: request.minModRevision = value
                case 3: request.maxModRevision = value
                case 4: request.minCreateRevision = value
                default: request.maxCreateRevision = value
                }
                await attempt { _ = try await etcd.range(request) }
                // The same range inside a txn that writes, so that every member applies it.
                var txn = Etcdserverpb_TxnRequest()
                var get = Etcdserverpb_RequestOp()
                get.requestRange = request
                var put = Etcdserverpb_RequestOp()
                put.requestPut.key = Data("ints/txn".utf8)
                txn.success = [get, put]
                await attempt { _ = try await etcd.txn(txn) }
            }
            for target in [Etcdserverpb_Compare.CompareTarget.version, .create, .mod, .lease] {
                var compare = Etcdserverpb_Compare()
                compare.key = Data("ints/k".utf8)
                compare.target = target
                switch target {
                case .version: compare.version = value
                case .create: compare.createRevision = value
                case .mod: compare.modRevision = value
                default: compare.lease = value
                }
                var txn = Etcdserverpb_TxnRequest()
                txn.compare = [compare]
                var put = Etcdserverpb_RequestOp()
                put.requestPut.key = Data("ints/compared".utf8)
                txn.success = [put]
                await attempt { _ = try await etcd.txn(txn) }
            }
            var put = Etcdserverpb_PutRequest()
            put.key = Data("ints/leased".utf8)
            put.lease = value
            await attempt { _ = try await etcd.put(put) }
            await attempt { _ = try await etcd.compact(revision: value) }
            await attempt { _ = try await etcd.grantLease(ttl: value) }
            await attempt { _ = try await etcd.grantLease(ttl: 5, id: value) }
            await attempt { _ = try await etcd.keepAliveOnce(value) }
            await attempt { _ = try await etcd.timeToLive(value, keys: true) }
            await attempt { _ = try await etcd.revokeLease(value) }
            await attempt { _ = try await etcd.hashKV(revision: value) }
        }
        for raw in extremeEnums {
            var range = Etcdserverpb_RangeRequest()
            range.key = Data("ints/".utf8)
            range.rangeEnd = Data("ints0".utf8)
            range.sortOrder = .init(rawValue: raw)!
            range.sortTarget = .init(rawValue: raw)!
            await attempt { _ = try await etcd.range(range) }
            var compare = Etcdserverpb_Compare()
            compare.key = Data("ints/k".utf8)
            compare.result = .init(rawValue: raw)!
            compare.target = .init(rawValue: raw)!
            var txn = Etcdserverpb_TxnRequest()
            txn.compare = [compare]
            await attempt { _ = try await etcd.txn(txn) }
            // Alarms of unknown types raised, and unknown actions, on any member id (cleared below).
            for memberID in extremeUInt64s {
                var raise = Etcdserverpb_AlarmRequest()
                raise.action = .activate
                raise.memberID = memberID
                raise.alarm = .init(rawValue: raw)!
                await attempt { _ = try await etcd.alarm(raise) }
                var alarm = Etcdserverpb_AlarmRequest()
                alarm.action = .init(rawValue: raw)!
                alarm.memberID = memberID
                alarm.alarm = .init(rawValue: raw)!
                await attempt { _ = try await etcd.alarm(alarm) }
            }
            await attempt { _ = try await etcd.roleGrantPermission("no-such-role", type: .init(rawValue: raw)!, key: Array("ints/".utf8)) }
        }
        for id in extremeUInt64s {
            await attempt { _ = try await etcd.memberRemove(id) }
            await attempt { _ = try await etcd.memberUpdate(id, peerURLs: ["http://127.0.0.1:1"]) }
            await attempt { _ = try await etcd.memberPromote(id) }
            await attempt { _ = try await etcd.moveLeader(to: id) }
        }
        // Watches: start revisions, ids and filters at the extremes, on one stream.
        let (requests_, sink) = AsyncStream<Etcdserverpb_WatchRequest>.makeStream()
        for (index, value) in extremeInt64s.enumerated() {
            var create = Etcdserverpb_WatchCreateRequest()
            create.key = Data("ints/".utf8)
            create.rangeEnd = Data("ints0".utf8)
            create.startRevision = value
            create.watchID = value
            create.filters = [.init(rawValue: extremeEnums[index % extremeEnums.count])!]
            create.fragment = true
            var request = Etcdserverpb_WatchRequest()
            request.createRequest = create
            sink.yield(request)
            var cancel = Etcdserverpb_WatchRequest()
            cancel.cancelRequest.watchID = value
            sink.yield(cancel)
            requests += 2
        }
        // Answers are read for a few seconds (some creates are refused, unknown cancels get none).
        let reader = Task {
            var answers = 0
            for try await _ in etcd.watchStream(requests_) { answers += 1 }
            return answers
        }
        try await Task.sleep(for: .seconds(3))
        sink.finish()
        reader.cancel()
        _ = try? await reader.value
        // Leave no alarm raised (an unknown alarm has no effect; NOSPACE was never tried).
        var clear = Etcdserverpb_AlarmRequest()
        clear.action = .get
        for alarm in try await etcd.alarm(clear).alarms {
            var deactivate = Etcdserverpb_AlarmRequest()
            deactivate.action = .deactivate
            deactivate.memberID = alarm.memberID
            deactivate.alarm = alarm.alarm
            _ = try await etcd.alarm(deactivate)
        }
        return (requests, errors)
    }

    /// v2 keys requests (`--enable-v2`) and v3 JSON gateway requests with every numeric field at the
    /// extremes, with curl. Returns (requests, HTTP answers received).
    static func sendExtremeHTTPIntegers(endpoint: String) throws -> (requests: Int, answered: Int) {
        let curl = "/usr/bin/curl"
        guard FileManager.default.isExecutableFile(atPath: curl) else { throw HarnessError("curl is needed: tools/install-deps.sh --test installs it") }
        let values = ["0", "1", "8000000000", "9223372036854775807", "9223372036854775808", "18446744073709551615",
                      "18446744073709551616", "-1", "-9223372036854775808", "-0", "+1", "1e3"]
        var requests = 0, answered = 0
        func send(_ arguments: [String]) throws {
            requests += 1
            let result = try Subprocess.run(curl, ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3"] + arguments, timeout: 20)
            if let code = Int(result.stdout), code > 0 { answered += 1 }
        }
        for value in values {
            try send(["-X", "PUT", "http://\(endpoint)/v2/keys/ints/ttl", "-d", "value=x", "-d", "ttl=\(value)"])
            try send(["-X", "PUT", "http://\(endpoint)/v2/keys/ints/ttl?prevExist=true&ttl=\(value)", "-d", "value=y"])
            try send(["-X", "PUT", "http://\(endpoint)/v2/keys/ints/ttl?prevIndex=\(value)", "-d", "value=z"])
            try send(["-X", "DELETE", "http://\(endpoint)/v2/keys/ints/ttl?prevIndex=\(value)"])
            try send(["-X", "POST", "http://\(endpoint)/v2/keys/ints/queue?ttl=\(value)", "-d", "value=q"])
            try send(["-X", "PUT", "http://\(endpoint)/v2/keys/ints/dir?dir=true&ttl=\(value)"])
            try send(["http://\(endpoint)/v2/keys/ints/ttl?wait=true&waitIndex=\(value)"])
            // The v3 JSON gateway: int64 fields travel as JSON strings or numbers.
            try send(["-X", "POST", "http://\(endpoint)/v3/kv/range", "-d", #"{"key":"aW50cy8=","limit":"\#(value)","revision":"\#(value)"}"#])
            try send(["-X", "POST", "http://\(endpoint)/v3/kv/compaction", "-d", #"{"revision":"\#(value)"}"#])
            try send(["-X", "POST", "http://\(endpoint)/v3/lease/grant", "-d", #"{"TTL":"\#(value)","ID":"\#(value)"}"#])
        }
        return (requests, answered)
    }
}
