import Foundation
import Testing

/// One observation in a scenario: the command (or a description) and what came of it.
struct Entry {
    var label: String
    var text: String
}

/// A scenario's view of one server: run etcdctl (or setcdctl) against it, record what it printed.
final class Session: @unchecked Sendable {
    let server: ServerProcess
    /// The client binary the scenario's `ctl` runs: etcdctl, or setcdctl when comparing clients.
    let etcdctlPath: String
    private(set) var entries: [Entry] = []
    /// Per-server check failures, reported on the test's own task when the scenario ends (issues recorded on
    /// the worker threads the two sessions run on would not be attributed to the test).
    private(set) var failures: [(String, SourceLocation)] = []
    var flavor: Flavor { server.flavor }
    /// Shared with the scenario's other session (nil for a lone session): see `repeatWrite`.
    var agreement: (shared: Agreement, side: Int)?
    /// Probe rounds so far: each round's probe values are distinct from every other round's.
    private var probeRounds = 0

    init(server: ServerProcess, client: String? = nil) throws {
        self.server = server
        etcdctlPath = try client ?? Binaries.etcdctl()
    }

    /// etcdctl's own arguments for this server, before the command's.
    var globalArguments: [String] { ["--endpoints=\(server.clientAddress)"] }

    /// Runs `etcdctl args` (stdin piped when given) and records stdout, the non-log stderr lines, the gRPC
    /// status codes etcdctl's retry logger reports, and the exit code.
    @discardableResult
    func ctl(_ args: [String], stdin: String? = nil, timeout: Double = 20, label: String? = nil) -> CommandResult {
        let result = ctlUnrecorded(args, stdin: stdin, timeout: timeout)
        record(label ?? Self.describe(args, stdin: stdin), Self.render(result, retryLog: recordsRetryLog))
        return result
    }

    @discardableResult
    func ctl(_ args: String..., stdin: String? = nil, timeout: Double = 20) -> CommandResult {
        ctl(args, stdin: stdin, timeout: timeout)
    }

    func ctlUnrecorded(_ args: [String], stdin: String? = nil, timeout: Double = 20) -> CommandResult {
        let started = Date()
        defer { trace("\(flavor) \(Self.describe(args)) took \(Int(Date().timeIntervalSince(started) * 1000)) ms") }
        do {
            return try Subprocess.run(etcdctlPath, globalArguments + args, stdin: stdin,
                                      environment: childEnvironment(["ETCDCTL_API": "3"]), timeout: timeout)
        } catch {
            // Both servers would record the same placeholder: fail loudly instead of comparing equal.
            fail("\(flavor): cannot run \(etcdctlPath): \(error)")
            return CommandResult(stdout: "", stderr: "harness: cannot run etcdctl: \(error)", exitCode: -1, timedOut: false)
        }
    }

    /// Starts `etcdctl args` in the background (a watch, a lock holder, a candidate...).
    func background(_ args: [String], holdStdin: Bool = false) throws -> Subprocess {
        try Subprocess(etcdctlPath, globalArguments + args, environment: childEnvironment(["ETCDCTL_API": "3"]), holdStdin: holdStdin)
    }

    /// Runs `etcdctl watch args` in the background, runs `during`, waits until `events` events were printed
    /// (10 s at most) and a little longer (to catch extra or duplicate events), stops it and records what it
    /// printed (the exit status of a stopped watch is not compared).
    ///
    /// A live watch (no `--rev`) sees only what is written once it is in place: give `probe`, a key the watch
    /// covers, and the watch is first confirmed in place by puts of that key (`confirmLiveWatches`); what the
    /// probes made it print is left out of the record. Returns the number of probe puts made (the same on
    /// both servers), for a scenario that counts the events of `probe` elsewhere.
    @discardableResult
    func watch(_ args: [String], events: Int, probe: String? = nil, during: () -> Void = {}) throws -> Int {
        let child = try background(["watch"] + args)
        let confirmed = probe.flatMap { confirmLiveWatches([child], probing: $0) }
        let skipped = confirmed?.printed[0] ?? 0
        during()
        func after(_ output: String) -> String { Self.dropping(skipped, from: output) }
        let complete = child.waitForStdout(seconds: 10) { countWatchEvents(after($0)) >= events }
        /// Not a wait for readiness: a short window after the expected events, in which extra or duplicate
        /// events would show.
        Thread.sleep(forTimeInterval: 0.3)
        var result = child.stop()
        result.stdout = after(result.stdout)
        var text = Self.render(result)
        text = text.replacingOccurrences(of: #"^exit: [^\n]*\n"#, with: "", options: .regularExpression)
        text += "\n(\(complete ? "all \(events) events arrived" : "only \(countWatchEvents(result.stdout)) of \(events) events arrived in 10 s"))"
        let confirmation = probe.map { ", confirmed in place by puts of \($0)" } ?? ""
        record(Self.describe(["watch"] + args) + " [background, until \(events) events\(confirmation)]", text)
        return confirmed?.values.count ?? 0
    }

    /// What live watches printed before the scenario's own writes: the values of the probe puts that confirmed
    /// them in place, and for each watch the length (UTF-8 bytes) of its output up to the end of the line
    /// that shows the last probe.
    struct ConfirmedWatches {
        var values: [String]
        var printed: [Int]
    }

    /// Confirms that live watches (started in the background without --rev) are in place before the scenario
    /// makes the writes they should see, instead of sleeping and hoping: puts `key` (a key every one of them
    /// covers) with a fresh probe value until each watch has printed one of those puts (`repeatWrite`: a
    /// watch that is not in place yet never sees a put), then waits until each has printed the last one.
    /// Every probe's event ends with the line holding its value in the formats used here (simple, json), so
    /// each watch's output up to the end of that line is the probes' part; where something else ends it (a
    /// watch's exec-command echoing the value after etcdctl printed the event), `marker` gives that text.
    /// Returns nil, with a check failure recorded, if a watch printed no probe.
    func confirmLiveWatches(_ children: [Subprocess], probing key: String, marker: (String) -> String = { $0 },
                            sourceLocation: SourceLocation = #_sourceLocation) -> ConfirmedWatches? {
        probeRounds += 1
        let round = probeRounds
        func value(_ n: Int) -> String { String(format: "probe-%02d-%03d", round, n) }
        let outcome = repeatWrite({ n in
            _ = ctlUnrecorded(["put", key, value(n)])
        }, until: { n in
            children.allSatisfy { child in
                let output = child.stdout
                return (1...n).contains { Self.endOfLine(showing: value($0), in: output) != nil }
            }
        })
        guard outcome.noticed else {
            fail("\(flavor): a background watch printed none of \(outcome.writes) puts of \(key): it never was in place",
                 sourceLocation: sourceLocation)
            return nil
        }
        let values = (1...outcome.writes).map(value)
        var printed: [Int] = []
        for child in children {
            var end: Int?
            child.waitForStdout(seconds: 20) { output in
                end = Self.endOfLine(showing: marker(values[values.count - 1]), in: output)
                return end != nil
            }
            guard let end else {
                fail("\(flavor): a background watch in place did not print the last probe put of \(key)", sourceLocation: sourceLocation)
                return nil
            }
            printed.append(end)
        }
        return ConfirmedWatches(values: values, printed: printed)
    }

    /// Makes `write(n)` (n = 1, 2, ...: an unrecorded write a background client should notice, such as a put
    /// a watch prints) once a second until `noticed(n)` holds, `attempts` times at most. A background client
    /// may not be in place yet when the first write is made and then never notices it, so the number of writes
    /// this takes varies from run to run and from server to server; the two sessions of a scenario then agree
    /// on it, and the one that made fewer makes as many more, so that both servers get exactly the same writes
    /// (and print the same revisions afterwards). Returns whether `noticed` held, and the writes made.
    func repeatWrite(attempts: Int = 30, _ write: (Int) -> Void, until noticed: (Int) -> Bool) -> (noticed: Bool, writes: Int) {
        var writes = 0
        var seen = false
        while !seen && writes < attempts {
            writes += 1
            write(writes)
            let made = writes
            seen = waitUntil(seconds: 1) { noticed(made) }
        }
        if let agreement {
            let target = agreement.shared.agree(side: agreement.side, writes) ?? writes
            while writes < target {
                writes += 1
                write(writes)
            }
        }
        return (seen, writes)
    }

    /// The UTF-8 length of `output` up to the end of the first complete line that shows `value`, as is or in
    /// base64 (as etcdctl's `-w json` prints values); nil if no complete line shows it.
    static func endOfLine(showing value: String, in output: String) -> Int? {
        let forms = [value, Data(value.utf8).base64EncodedString()]
        guard let found = forms.compactMap({ output.range(of: $0) }).min(by: { $0.lowerBound < $1.lowerBound }),
              let newline = output[found.upperBound...].firstIndex(of: "\n") else { return nil }
        return output.utf8.distance(from: output.startIndex, to: newline) + 1
    }

    /// `output` without its first `count` UTF-8 bytes.
    static func dropping(_ count: Int, from output: String) -> String {
        String(decoding: output.utf8.dropFirst(count), as: UTF8.self)
    }

    /// Records an arbitrary observation; it is compared between the two servers like command output.
    func record(_ label: String, _ text: String) {
        entries.append(Entry(label: label, text: text))
    }

    /// The whole keyspace with revisions, as JSON (not recorded).
    func dump() -> String {
        let result = ctlUnrecorded(["get", "", "--prefix", "-w", "json"])
        return "exit \(result.exitCode)\n" + result.stdout.replacingOccurrences(
            of: #""raft_term":\d+"#, with: "", options: .regularExpression)
    }

    /// Checks (on this server alone) that the keyspace is what `before` recorded, revision included, and
    /// that the server still answers.
    func expectUnchanged(since before: String, after what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let now = dump()
        let same = now == before
        record("keyspace unchanged and server answering after \(what)", same ? "yes" : "NO")
        if !same {
            fail("\(flavor): keyspace changed (or server stopped answering) after \(what)\nbefore: \(before)\nafter:  \(now)",
                 sourceLocation: sourceLocation)
        }
    }

    /// Records a failure of a check made on this server alone.
    func fail(_ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
        failures.append((message, sourceLocation))
    }

    static func describe(_ args: [String], stdin: String? = nil) -> String {
        let quoted = args.map { arg -> String in
            if arg.isEmpty { return "\"\"" }
            if arg.count > 60 { return "<\(arg.count)-byte argument \(arg.prefix(12))...>" }
            if arg.contains(where: { " \"'()$*<>|".contains($0) }) { return "'\(arg)'" }
            return arg
        }
        var label = "etcdctl " + quoted.joined(separator: " ")
        if let stdin { label += " <<< " + stdin.debugDescription }
        return label
    }

    /// Whether steps record the gRPC codes etcdctl's retry logger reports (not when comparing clients:
    /// those log lines are etcdctl's, the verdict line and exit code are what scripts see).
    var recordsRetryLog = true

    static func render(_ result: CommandResult, retryLog: Bool = true) -> String {
        var lines = ["exit: \(result.exitCode)\(result.timedOut ? " (timed out, stopped by the harness)" : "")"]
        lines.append("stdout:")
        lines.append(result.stdout)
        let (stderr, codes) = splitStderr(result.stderr)
        if !stderr.isEmpty {
            lines.append("stderr:")
            lines.append(stderr)
        }
        if retryLog && !codes.isEmpty {
            lines.append("grpc status:")
            lines.append(contentsOf: codes)
        }
        return lines.joined(separator: "\n")
    }

    /// stderr without etcdctl's JSON log lines (timestamps, client ids), and the distinct
    /// `code = X desc = Y` pairs those lines report.
    static func splitStderr(_ stderr: String) -> (String, [String]) {
        var kept: [String] = []
        var codes: [String] = []
        let codePattern = try! NSRegularExpression(pattern: #"rpc error: code = (\w+) desc = ((?:[^"\\]|\\.)*)"#)
        for line in stderr.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(line)
            if line.hasPrefix("{\"level\":") {
                let ns = line as NSString
                for match in codePattern.matches(in: line, range: NSRange(location: 0, length: ns.length)) {
                    let code = "code = \(ns.substring(with: match.range(at: 1))) desc = \(ns.substring(with: match.range(at: 2)))"
                    if !codes.contains(code) { codes.append(code) }
                }
            } else {
                kept.append(line)
            }
        }
        while kept.last == "" { kept.removeLast() }
        return (kept.joined(separator: "\n"), codes)
    }
}

/// Options both servers of a scenario are started with.
struct ScenarioOptions {
    var serverArguments: [String] = []
    /// Configure both servers through `ETCD_*` environment variables instead of command-line flags.
    var configureByEnvironment = false
}

/// Runs `body` against a real etcd and against setcd (both started the same way, fresh data dirs, free ports)
/// and records an issue for every step whose normalised output differs, showing etcd's and setcd's output.
func differential(
    _ options: ScenarioOptions = .init(),
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: @escaping @Sendable (Session) throws -> Void
) throws {
    let etcd = try ServerProcess(.etcd, extraArguments: options.serverArguments, byEnvironment: options.configureByEnvironment)
    let setcd = try ServerProcess(.setcd, extraArguments: options.serverArguments, byEnvironment: options.configureByEnvironment)
    try compareRuns(etcd, setcd, clients: (nil, nil), sourceLocation: sourceLocation, body)
}

/// Runs `body` with etcdctl and with setcdctl, each against its own fresh `flavor` server started the same
/// way, and records an issue for every step whose normalised output (stdout, error lines, exit code) differs.
func clientDifferential(
    _ flavor: Flavor,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: @escaping @Sendable (Session) throws -> Void
) throws {
    try compareRuns(try ServerProcess(flavor), try ServerProcess(flavor), clients: (nil, try Binaries.setcdctl()),
                    sourceLocation: sourceLocation, body)
}

/// Starts both servers, runs `body` against each at once (the first through `clients.0`, the second through
/// `clients.1`; nil is etcdctl), and compares the normalised transcripts step by step.
private func compareRuns(
    _ first: ServerProcess, _ second: ServerProcess, clients: (String?, String?),
    sourceLocation: SourceLocation, _ body: @escaping @Sendable (Session) throws -> Void
) throws {
    defer {
        trace("stopping servers")
        DispatchQueue.concurrentPerform(iterations: 2) { [first, second] index in
            (index == 0 ? first : second).cleanUp()
        }
        trace("stopped servers")
    }
    // Start both at once: start-up is most of a scenario's time.
    let group = DispatchGroup()
    let errors = ErrorBox()
    for server in [first, second] {
        group.enter()
        DispatchQueue.global().async {
            do { try server.start() } catch { errors.append("\(server.flavor): \(error)") }
            group.leave()
        }
    }
    group.wait()
    trace("servers started")
    if !errors.all.isEmpty {
        throw HarnessError("server start-up failed:\n" + errors.all.joined(separator: "\n"))
    }

    // Run the scenario against both servers at once (each against its own server, so they cannot interfere).
    let sessions = [try Session(server: first, client: clients.0), try Session(server: second, client: clients.1)]
    if clients.1 != nil {
        for session in sessions { session.recordsRetryLog = false }
    }
    let agreement = Agreement()
    for (side, session) in sessions.enumerated() { session.agreement = (agreement, side) }
    // One thread per session, so that the two really run at once whatever the number of CPUs (they meet in
    // `Agreement`); the group wait returns when both are done.
    let box = UncheckedBox(sessions)
    let done = DispatchGroup()
    for index in sessions.indices {
        done.enter()
        Thread.detachNewThread {
            let session = box.value[index]
            do {
                try body(session)
            } catch {
                session.record("scenario aborted", "\(error)")
                session.fail("\(session.flavor): scenario aborted: \(error)", sourceLocation: sourceLocation)
            }
            agreement.finish(side: index)
            done.leave()
        }
    }
    done.wait()

    var transcripts: [[Entry]] = []
    for session in sessions {
        let server = session.server
        for (message, location) in session.failures {
            Issue.record(Comment(rawValue: message), sourceLocation: location)
        }
        if !server.isRunning {
            Issue.record("\(server.flavor) is no longer running at the end of the scenario:\n\(server.logTail())",
                         sourceLocation: sourceLocation)
        }
        // Labels and outputs share one id map (a lease id in a label is the one granted in an output).
        let normalized = Normalizer(server: server).normalize(session.entries.flatMap { [$0.label, $0.text] })
        transcripts.append(stride(from: 0, to: normalized.count, by: 2).map {
            Entry(label: normalized[$0], text: normalized[$0 + 1])
        })
    }
    if ProcessInfo.processInfo.environment["E2E_DUMP"] != nil {
        for (index, transcript) in transcripts.enumerated() {
            let text = transcript.enumerated().map { "## \($0.offset + 1) \($0.element.label)\n\($0.element.text)" }
            FileHandle.standardError.write(Data("=== transcript \(index + 1)\n\(text.joined(separator: "\n"))\n".utf8))
        }
    }
    compareTranscripts(expected: transcripts[0], actual: transcripts[1], sourceLocation: sourceLocation)
}

/// One issue per differing step: "etcd printed this, setcd printed that", with the first differing line marked.
func compareTranscripts(expected: [Entry], actual: [Entry], sourceLocation: SourceLocation) {
    if expected.count != actual.count {
        Issue.record("the scenario recorded \(expected.count) steps against etcd but \(actual.count) against setcd",
                     sourceLocation: sourceLocation)
    }
    for (index, (e, a)) in zip(expected, actual).enumerated() where e.text != a.text || e.label != a.label {
        Issue.record(Comment(rawValue: diffReport(step: index + 1, expected: e, actual: a)), sourceLocation: sourceLocation)
    }
}

func diffReport(step: Int, expected e: Entry, actual a: Entry) -> String {
    let el = e.text.split(separator: "\n", omittingEmptySubsequences: false)
    let al = a.text.split(separator: "\n", omittingEmptySubsequences: false)
    var firstDiff = 0
    while firstDiff < min(el.count, al.count) && el[firstDiff] == al[firstDiff] { firstDiff += 1 }
    func indent(_ lines: [Substring]) -> String {
        lines.enumerated().map { (i, line) in (i == firstDiff ? "  ▶ " : "    ") + line }.joined(separator: "\n")
    }
    var report = "setcd differs from etcd at step \(step): \(e.label)\n"
    if e.label != a.label { report += "(setcd step label: \(a.label))\n" }
    report += "--- etcd:\n\(indent(el))\n+++ setcd:\n\(indent(al))"
    return report
}

/// Lets the two sessions of a scenario agree on a count at the same point of the scenario (how many writes it
/// took until a background client noticed one, see `Session.repeatWrite`), so that both servers get the same
/// writes.
final class Agreement: @unchecked Sendable {
    // @unchecked Sendable: `posted` and `finished` are only read or written with `condition` locked.
    private let condition = NSCondition()
    private var posted: [[Int]] = [[], []]
    private var finished = [false, false]

    /// Posts `value` as `side`'s next count and returns the larger of it and the other side's count at the
    /// same point; nil if the other side never gets there (its scenario ended or aborted first, or it has not
    /// arrived after `timeout` seconds).
    func agree(side: Int, _ value: Int, timeout: Double = 120) -> Int? {
        condition.lock()
        defer { condition.unlock() }
        let round = posted[side].count
        posted[side].append(value)
        condition.broadcast()
        let other = 1 - side
        let deadline = Date().addingTimeInterval(timeout)
        while posted[other].count <= round {
            if finished[other] { return nil }
            if !condition.wait(until: deadline) && posted[other].count <= round { return nil }
        }
        return max(value, posted[other][round])
    }

    /// `side`'s scenario is over: the other side no longer waits for it.
    func finish(side: Int) {
        condition.lock()
        finished[side] = true
        condition.broadcast()
        condition.unlock()
    }
}

/// Hands a non-Sendable value to another thread when we know only that thread uses it meanwhile.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private var errors: [String] = []
    func append(_ error: String) {
        lock.lock()
        errors.append(error)
        lock.unlock()
    }
    var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return errors
    }
}

/// Lines of stdin (an etcdctl txn script: compares, blank line, success ops, blank line, failure ops, blank line).
func lines(_ lines: String...) -> String {
    lines.joined(separator: "\n") + "\n"
}

func lines(_ lines: [String]) -> String {
    lines.joined(separator: "\n") + "\n"
}

/// Progress lines on stderr when E2E_TRACE is set.
func trace(_ message: @autoclosure () -> String) {
    if ProcessInfo.processInfo.environment["E2E_TRACE"] != nil {
        FileHandle.standardError.write(Data("[e2e \(Date().timeIntervalSince1970)] \(message())\n".utf8))
    }
}

/// Events in `etcdctl watch` output, in any of its formats.
func countWatchEvents(_ output: String) -> Int {
    var count = 0
    for line in output.split(separator: "\n") {
        if line == "PUT" || line == "DELETE" || line.hasPrefix("\"Type\" : ") { count += 1 }
        if line.hasPrefix("{") { count += line.components(separatedBy: "\"kv\":{").count - 1 }
    }
    return count
}
