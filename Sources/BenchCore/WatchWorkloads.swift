import Client
import EtcdProto
import Foundation
import Synchronization

/// etcd's watch benchmarks (`watch`, `watch-latency`, `watch-get`), with many watchers multiplexed on
/// raw watch streams as clientv3 does.
public enum WatchBench {
    /// A watch stream that its owner feeds with requests and reads answers from.
    struct Stream {
        let requests: AsyncStream<Etcdserverpb_WatchRequest>.Continuation
        let responses: AsyncThrowingStream<Etcdserverpb_WatchResponse, any Error>

        init(on client: EtcdClient) {
            let (requests, continuation) = AsyncStream<Etcdserverpb_WatchRequest>.makeStream()
            self.requests = continuation
            responses = client.watchStream(requests)
        }

        func create(_ key: [UInt8], startRevision: Int64 = 0) {
            var create = Etcdserverpb_WatchCreateRequest()
            create.key = Data(key)
            create.startRevision = startRevision
            var request = Etcdserverpb_WatchRequest()
            request.createRequest = create
            requests.yield(request)
        }
    }

    /// `watch`: `streams` streams with `watchersPerStream` watchers each over `watchedKeys` keys. Its
    /// first report times each watch's creation (until the server confirms it; a stream creates its
    /// watchers one after another, as clientv3 does); the second covers `putTotal` puts to those keys
    /// and every event the watchers receive (etcd times only the handling of each event, so that
    /// report is a throughput figure).
    public static func watch(
        _ workload: Workload, streams: Int, watchersPerStream: Int, watchedKeys: [[UInt8]], putTotal: Int, putRate: Int,
        bar: @Sendable (Int) -> ProgressBar?
    ) async throws -> (creation: BenchReport, events: BenchReport) {
        try await workload.withConnections { connections in
            let clock = ContinuousClock()
            let opened = (0..<streams).map { Stream(on: connections[$0 % connections.count]) }
            // Watcher w (of all) watches key w mod keys, as etcd's tool assigns them; counted by the
            // key's bytes, since random keys may repeat.
            var watchers: [[UInt8]: Int] = [:]
            for watcher in 0..<(streams * watchersPerStream) { watchers[watchedKeys[watcher % watchedKeys.count], default: 0] += 1 }

            let creationBar = bar(streams * watchersPerStream)
            let creationStart = clock.now
            var creation = try await withThrowingTaskGroup(of: (BenchReport, Int).self) { group in
                for (number, stream) in opened.enumerated() {
                    group.addTask {
                        var report = BenchReport()
                        var answers = stream.responses.makeAsyncIterator()
                        for index in 0..<watchersPerStream {
                            let sent = clock.now
                            stream.create(watchedKeys[(number * watchersPerStream + index) % watchedKeys.count])
                            guard let answer = try await answers.next(), answer.created else {
                                throw BenchError("watch stream \(number) ended before watcher \(index) was created")
                            }
                            report.record(latency: DiskCheck.seconds(clock.now - sent))
                            creationBar?.advance()
                        }
                        return (report, number)
                    }
                }
                var all = BenchReport()
                for try await (part, _) in group { all.merge(part) }
                return all
            }
            creation.total = DiskCheck.seconds(clock.now - creationStart)
            creationBar?.finish()

            // Every event each watcher should see: puts to key i mod keys, each seen by that key's watchers.
            let expected = (0..<putTotal).reduce(0) { $0 + watchers[watchedKeys[$1 % watchedKeys.count], default: 0] }
            let eventsBar = bar(expected)
            let eventsStart = clock.now
            /// What a phase-two task brings back: one stream's events, or the puts' reports.
            enum Part: Sendable { case events(BenchReport), puts(BenchReport) }
            var events = try await withThrowingTaskGroup(of: Part.self) { group in
                let received = SharedCounter()
                for stream in opened {
                    group.addTask {
                        var report = BenchReport()
                        for try await response in stream.responses {
                            let handled = clock.now
                            for _ in response.events {
                                report.record(latency: DiskCheck.seconds(clock.now - handled))
                                eventsBar?.advance()
                            }
                            if received.add(response.events.count) >= expected { break }
                        }
                        return .events(report)
                    }
                }
                group.addTask {
                    let puts = try await Workload.drive(
                        connections: connections.map(Caller.client), clients: workload.clients, total: putTotal, rate: putRate, bar: nil
                    ) { client, number in
                        var put = Etcdserverpb_PutRequest()
                        put.key = Data(watchedKeys[number % watchedKeys.count])
                        put.value = Data("data".utf8)
                        _ = try await client.put(put)
                    }
                    return .puts(puts[0])
                }
                var all = BenchReport()
                var putsDone = false
                while let part = try await group.next() {
                    switch part {
                    case .events(let report):
                        all.merge(report)
                    case .puts(let report):
                        if let error = report.errors.keys.first { throw BenchError("put failed: \(error)") }
                        putsDone = true
                    }
                    // Every put answered and every event seen: the streams still waiting stop (etcd keeps
                    // a watch stream open after the client's side closes, so they are cancelled).
                    if putsDone && received.value >= expected { group.cancelAll() }
                }
                return all
            }
            for stream in opened { stream.requests.finish() }
            events.total = DiskCheck.seconds(clock.now - eventsStart)
            eventsBar?.finish()
            return (creation, events)
        }
    }

    /// `watch-latency`: every client watches one key on its own stream while another connection puts
    /// to it `total` times at `putRate` per second; each watcher's latency runs from the put's answer
    /// until its event arrives (0 if it came first).
    public static func latency(
        _ workload: Workload, total: Int, putRate: Int, keySize: Int, valueSize: Int, bar: ProgressBar?
    ) async throws -> BenchReport {
        let key = (0..<keySize).map { _ in UInt8.random(in: 0...255) }
        let value = Data((0..<valueSize).map { _ in UInt8.random(in: 0...255) })
        return try await workload.withConnections { connections in
            try await EtcdClient.withClient(workload.configuration) { putClient in
                let clock = ContinuousClock()
                // Each watcher's event arrival times, in order.
                var arrivals: [AsyncThrowingStream<ContinuousClock.Instant, any Error>.Iterator] = []
                var streams: [Stream] = []
                var feeders: [Task<Void, Never>] = []
                let created = SharedCounter()
                let ended = SharedCounter()
                for watcher in 0..<max(workload.clients, 1) {
                    let stream = Stream(on: connections[watcher % connections.count])
                    stream.create(key)
                    let (times, timesContinuation) = AsyncThrowingStream<ContinuousClock.Instant, any Error>.makeStream()
                    feeders.append(Task {
                        do {
                            for try await response in stream.responses {
                                let now = clock.now
                                if response.created { created.add(1) }
                                for _ in response.events { timesContinuation.yield(now) }
                            }
                            timesContinuation.finish()
                        } catch {
                            timesContinuation.finish(throwing: error)
                        }
                        ended.add(1)
                    })
                    streams.append(stream)
                    arrivals.append(times.makeAsyncIterator())
                }
                defer {
                    for stream in streams { stream.requests.finish() }
                    for feeder in feeders { feeder.cancel() }
                }
                // Puts start once every watch is in place: a watcher created later would miss events.
                while created.value < streams.count {
                    guard ended.value == 0 else { throw BenchError("a watch stream ended before its watch was created") }
                    try await Task.sleep(for: .milliseconds(5))
                }
                var report = BenchReport()
                let started = clock.now
                for number in 0..<total {
                    if putRate > 0 { try await Task.sleep(until: started + .seconds(Double(number) / Double(putRate)), clock: .continuous) }
                    var put = Etcdserverpb_PutRequest()
                    put.key = Data(key)
                    put.value = value
                    _ = try await putClient.put(put)
                    let answered = clock.now
                    for index in arrivals.indices {
                        guard let arrived = try await arrivals[index].next() else { throw BenchError("a watch stream ended") }
                        report.record(latency: max(0, DiskCheck.seconds(arrived - answered)))
                    }
                    bar?.advance()
                }
                report.total = DiskCheck.seconds(clock.now - started)
                return report
            }
        }
    }

    /// `watch-get`: `watchers` watchers on `streams` streams each read `events` past events of one key
    /// (so they start unsynced), while serializable gets of another key are timed on their own
    /// connection until every watcher has its events.
    public static func get(
        _ workload: Workload, watchers: Int, streams: Int, events: Int, bar: ProgressBar?
    ) async throws -> BenchReport {
        try await workload.withConnections { connections in
            try await EtcdClient.withClient(workload.configuration) { getClient in
                let clock = ContinuousClock()
                var revisions: [Int64] = []
                for number in 0..<events { revisions.append(try await connections[0].put("watchkey", String(number)).header.revision) }
                let firstRevision = revisions.first ?? 0
                let opened = (0..<max(streams, 1)).map { Stream(on: connections[$0 % connections.count]) }
                let done = SharedCounter()
                let started = clock.now
                var report = try await withThrowingTaskGroup(of: BenchReport.self) { group in
                    for (number, stream) in opened.enumerated() {
                        let mine = (0..<watchers).filter { $0 % opened.count == number }.count
                        group.addTask {
                            guard mine * events > 0 else { return BenchReport() }
                            for _ in 0..<mine { stream.create(Array("watchkey".utf8), startRevision: firstRevision) }
                            var seen = 0
                            for try await response in stream.responses where !response.events.isEmpty {
                                seen += response.events.count
                                for _ in response.events { bar?.advance() }
                                if seen >= mine * events { break }
                            }
                            stream.requests.finish()
                            return BenchReport()
                        }
                    }
                    group.addTask {
                        var gets = BenchReport()
                        var request = Etcdserverpb_RangeRequest()
                        request.key = Data("abc".utf8)
                        request.serializable = true
                        while done.value == 0 {
                            let sent = clock.now
                            do {
                                _ = try await getClient.range(request)
                                gets.record(latency: DiskCheck.seconds(clock.now - sent))
                            } catch {
                                gets.record(error: describe(error))
                            }
                        }
                        return gets
                    }
                    var all = BenchReport()
                    var watchersDone = 0
                    while let part = try await group.next() {
                        all.merge(part)
                        watchersDone += 1
                        if watchersDone == opened.count { done.add(1) }
                    }
                    return all
                }
                report.total = DiskCheck.seconds(clock.now - started)
                return report
            }
        }
    }
}
