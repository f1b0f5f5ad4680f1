import Foundation
import Testing

extension EndToEnd {
    /// setcdctl against etcdctl: the same commands, each client against its own fresh server of the same
    /// kind (real etcd, then setcd), compared step by step (stdout, error line, exit code).
    @Suite struct Setcdctl {
        @Test(arguments: [Flavor.etcd, .setcd])
        func putGetDelMatchEtcdctl(_ flavor: Flavor) throws {
            try clientDifferential(flavor) { s in
                s.ctl("put", "a", "1")
                s.ctl("put", "b", "2", "--prev-kv")
                s.ctl("put", "b", "3", "--prev-kv", "-w", "json")
                s.ctl("put", "dir/x", "x")
                s.ctl("put", "dir/y", "y", "-w", "fields")
                s.ctl(["put", "--", "dash", "-value"])
                s.ctl(["put", "fromstdin"], stdin: "piped value")
                for format in ["simple", "json", "fields", "table"] {
                    s.ctl("get", "a", "-w", format)
                    s.ctl("get", "dir/", "--prefix", "-w", format)
                }
                s.ctl("get", "a", "--hex")
                s.ctl("get", "", "--prefix", "--keys-only")
                s.ctl("get", "", "--from-key", "--limit", "2", "-w", "json")
                s.ctl("get", "a", "c", "--print-value-only")
                s.ctl("get", "", "--prefix", "--sort-by", "MODIFY", "--order", "DESCEND")
                s.ctl("get", "a", "--rev", "2", "--consistency", "s")
                s.ctl("get", "missing")
                s.ctl("get", "missing", "-w", "json")
                s.ctl("del", "a", "--prev-kv")
                s.ctl("del", "dir/", "--prefix", "-w", "json")
                s.ctl("del", "nothing")
                // Bad input: the same message and exit code.
                s.ctl("get")
                s.ctl("put")
                s.ctl("get", "a", "--prefix", "--from-key")
                s.ctl("get", "a", "--consistency", "x")
                s.ctl("get", "a", "--sort-by", "nope")
                s.ctl("get", "a", "-w", "json", "--print-value-only")
                s.ctl("put", "k", "v", "--lease", "zz")
                s.ctl("put", "k", "v", "--lease", "123")
                s.ctl("get", "a", "--rev", "1000")
                s.ctl("get", "", "--prefix", "-w", "yaml")
            }
        }

        @Test(arguments: [Flavor.etcd, .setcd])
        func leaseMemberAlarmCompactionMatchEtcdctl(_ flavor: Flavor) throws {
            try clientDifferential(flavor) { s in
                let lease = grantedLease(s.ctl("lease", "grant", "300"))
                s.ctl("lease", "grant", "200", "-w", "json")
                s.ctl("put", "l/1", "a", "--lease=\(lease)")
                s.ctl("lease", "timetolive", lease)
                s.ctl("lease", "timetolive", lease, "--keys", "-w", "json")
                s.ctl("lease", "list")
                s.ctl("lease", "keep-alive", "--once", lease)
                s.ctl("lease", "revoke", lease)
                s.ctl("lease", "timetolive", lease)
                s.ctl("lease", "keep-alive", "--once", lease)
                s.ctl("lease", "grant")
                s.ctl("lease", "grant", "ten")
                s.ctl("lease", "revoke", "zz")
                // Tables are left out where member ids appear: the two servers' ids differ, and with them the
                // column widths (the printers' tables are checked byte for byte in EtcdCtlTests).
                for format in ["simple", "json"] {
                    s.ctl("member", "list", "-w", format)
                }
                s.ctl("member", "remove", "1234abcd")
                s.ctl("member", "remove", "nothex")
                s.ctl("member", "update", "1234abcd")
                s.ctl("member", "add", "x")
                s.ctl("member", "add", "x", "http://127.0.0.1:1")
                s.ctl("alarm", "list")
                s.ctl("alarm", "disarm")
                s.ctl("alarm", "list", "extra")
                s.ctl("put", "c", "1")
                s.ctl("put", "c", "2")
                s.ctl("compaction", "2")
                s.ctl("compaction", "2")
                s.ctl("compaction", "x")
                s.ctl("compaction")
                s.ctl("get", "c", "--rev", "1")
            }
        }

        @Test(arguments: [Flavor.etcd, .setcd])
        func endpointAndMaintenanceMatchEtcdctl(_ flavor: Flavor) throws {
            try clientDifferential(flavor) { s in
                s.ctl("put", "e", "1")
                for format in ["simple", "json"] {
                    s.ctl("endpoint", "status", "-w", format)
                    s.ctl("endpoint", "hashkv", "-w", format)
                }
                s.ctl("endpoint", "status", "--cluster")
                s.ctl("endpoint", "hashkv", "--cluster", "--rev", "2")
                s.ctl("endpoint", "health")
                s.ctl("endpoint", "health", "-w", "json")
                s.ctl("endpoint", "health", "--cluster")
                s.ctl("defrag")
                s.ctl("defrag", "--cluster")
                s.ctl("move-leader", "nothex")
                s.ctl("move-leader")
                s.ctl("endpoint", "status", "-w", "fields")
            }
        }

        @Test(arguments: [Flavor.etcd, .setcd])
        func watchMatchesEtcdctl(_ flavor: Flavor) throws {
            try clientDifferential(flavor) { s in
                s.ctl("put", "w/a", "1")
                s.ctl("put", "w/b", "2")
                s.ctl("del", "w/a")
                try s.watch(["w/", "--prefix", "--rev", "2"], events: 3)
                try s.watch(["w/", "--prefix", "--rev", "2", "--prev-kv", "-w", "json"], events: 3)
                try s.watch(["w/a", "w/c", "--rev", "3"], events: 1)
                // A live watch, confirmed in place by puts of w/probe (a key nothing else here reads) before
                // the writes it should see.
                try s.watch(["w/", "--prefix"], events: 2, probe: "w/probe") {
                    s.ctlUnrecorded(["put", "w/c", "3"])
                    s.ctlUnrecorded(["del", "w/b"])
                }
                s.ctl("watch")
                s.ctl("watch", "a", "b", "--prefix")
                s.ctl("compaction", "4")
                s.ctl("watch", "w/", "--prefix", "--rev", "2")
            }
        }

        @Test(arguments: [Flavor.etcd, .setcd])
        func txnMatchesEtcdctl(_ flavor: Flavor) throws {
            try clientDifferential(flavor) { s in
                let inputs = [
                    "\nput a 1\n\n\n",
                    "\nput a 2\nget a\n\n\n",
                    "mod(\"a\") > \"0\"\n\nput a 3\n\nput a 4\n\n",
                    "val(\"a\") = \"3\"\n\nput b x --prev-kv\ndel a --prev-kv\n\nget a\n\n",
                    "version(\"nokey\") = \"0\"\n\nput \"quoted key\" \"v\\tx\"\n\n\n",
                    "create(\"b\") < \"100\"\n\nget \"\" --prefix --keys-only\n\n\n",
                    "mod(\"b\")  >  \"0\"\nval(`b`) = `x`\n\nget b --print-value-only\n\n\n",
                    "val(\"a\\x41\") != \"\\u00e9\"\n\nput \"k\\n\" v\n\n\n",
                    " \n \nput c   d  \n \n \n",
                    // Malformed input: etcdctl's message and exit code.
                    "ver(\"a\") = \"zz\"\n\n\n\n",
                    "value(\"a\" = \"1\"\n\n\n\n",
                    "foo(\"a\") = \"1\"\n\n\n\n",
                    "noparen\n\n\n\n",
                    "m(\"a\") >\n\n\n\n",
                    "c(\"a\")>\"1\"\n\n\n\n",
                    "val(\"a) = \"1\"\n\n\n\n",
                    "\nput onlykey\n\n\n",
                    "\nfrob a b\n\n\n",
                    "\nget a --prefix --from-key\n\n\n",
                    "\nget\n\n\n",
                    "\nput k v --lease=zz\n\n\n",
                    "\nput a b",
                    "\nput a b\n",
                ]
                for input in inputs { s.ctl(["txn"], stdin: input) }
                s.ctl(["txn", "-w", "json"], stdin: "\nget a\nput j 1\n\n\n")
                s.ctl(["txn", "-i"], stdin: "val(\"j\") = \"1\"\n\ndel j\n\n\n")
                s.ctl(["txn", "extra"])
                s.ctl("get", "", "--prefix", "-w", "json")
            }
        }

        /// Where etcdctl's txn crashes or mangles input, setcdctl does what the input says.
        @Test func txnInputEtcdctlMishandles() throws {
            let server = try ServerProcess(.setcd)
            defer { server.cleanUp() }
            try server.start()
            let session = try Session(server: server, client: try Binaries.setcdctl())
            let unknownOperator = session.ctl(["txn"], stdin: "m(\"a\") ~ \"1\"\n\n\n\n")
            #expect(unknownOperator.exitCode == 3 && unknownOperator.stderr == "Error: malformed comparison: m(\"a\") ~ \"1\" (unknown operator ~; use =, !=, < or >)\n")
            // A single-quoted word is taken whole (etcdctl 3.4 cuts it short by the number of words).
            session.ctl(["txn"], stdin: "\nput 'a key' 'a value'\n\n\n")
            #expect(session.ctl("get", "a key", "--print-value-only").stdout == "a value\n")
            // A lease compare (etcdctl 3.4 panics on one).
            let lease = grantedLease(session.ctl("lease", "grant", "100"))
            session.ctl("put", "leased", "v", "--lease=\(lease)")
            let id = Int64(lease, radix: 16) ?? -1
            #expect(session.ctl(["txn"], stdin: "lease(\"leased\") = \"\(id)\"\n\n\n\n").stdout == "SUCCESS\n")
            #expect(session.ctl(["txn"], stdin: "lease(\"leased\") = \"\(id + 1)\"\n\n\n\n").stdout == "FAILURE\n")
            let unknownFlag = session.ctl(["txn"], stdin: "\nput a b --nosuch\n\n\n")
            #expect(unknownFlag.exitCode == 3 && unknownFlag.stderr == "Error: invalid txn request: put a b --nosuch\n")
            let globalFlag = session.ctl(["txn"], stdin: "\nget a -w json\n\n\n")
            #expect(globalFlag.exitCode == 3 && globalFlag.stderr == "Error: invalid txn request: get a -w json\n")
        }

        @Test(arguments: [Flavor.etcd, .setcd])
        func watchExecCommandAndInteractiveMatchEtcdctl(_ flavor: Flavor) throws {
            try clientDifferential(flavor) { s in
                /// Stops a background client and records what it printed (`clean` leaves out what probe puts made
                /// it print).
                func stopped(_ child: Subprocess, _ label: String, _ clean: (String) -> String = { $0 }) {
                    var result = child.stop()
                    result.stdout = clean(result.stdout)
                    s.record(label, Session.render(result).replacingOccurrences(of: #"^exit: [^\n]*\n"#, with: "", options: .regularExpression))
                }
                // An exec-command runs once per event with the event in its environment.
                let exec = try s.background(["watch", "wx", "--", "sh", "-c",
                                             "echo \"rev=$ETCD_WATCH_REVISION type=$ETCD_WATCH_EVENT_TYPE key=$ETCD_WATCH_KEY val=$ETCD_WATCH_VALUE\""])
                /// Waits until the watch is in place: unrecorded puts of wx until it has printed one and its
                /// command has echoed the last (`val="..."`: the variable holds the value Go-quoted); what the
                /// probes made it print is left out below.
                let execProbes = s.confirmLiveWatches([exec], probing: "wx") { "val=\"\($0)\"" }
                let execProbePart = execProbes?.printed[0] ?? 0
                s.ctlUnrecorded(["put", "wx", "a\"b"])
                s.ctlUnrecorded(["del", "wx"])
                s.record("exec-command ran for both events", "\(exec.waitForStdout(seconds: 10) { Session.dropping(execProbePart, from: $0).components(separatedBy: "rev=").count >= 3 })")
                stopped(exec, "watch wx -- sh -c echo (background)") { Session.dropping(execProbePart, from: $0) }
                // A failing exec-command ends the watch with its error.
                let failing = try s.background(["watch", "wy", "--", "sh", "-c", "exit 3"])
                /// Waits for the watch to be in place by its own effect: puts wy (unrecorded, once a second,
                /// the same number on both servers) until the watch, having run the failing command, ends.
                let ended = s.repeatWrite({ _ in _ = s.ctlUnrecorded(["put", "wy", "1"]) }, until: { _ in !failing.isRunning }).noticed
                s.record("watch ended after the failing command", "\(ended)")
                stopped(failing, "watch wy -- sh -c 'exit 3' (background)")
                s.ctl("watch", "wx", "--")

                // -i: watch lines from stdin, each a watch of its own; bad lines are reported and skipped.
                let interactive = try s.background(["watch", "-i"], holdStdin: true)
                interactive.writeStdin("watch --rev 2 wx\n")
                interactive.writeStdin("bogus line\n")
                interactive.writeStdin("watch\n")
                // The history of wx: the probe puts above, the put and the delete.
                let history = (execProbes?.values.count ?? 0) + 2
                s.record("history arrived", "\(interactive.waitForStdout(seconds: 10) { countWatchEvents($0) >= history })")
                interactive.writeStdin("watch --prefix z\n")
                /// Waits until the new watch is in place: unrecorded puts of z0 until it prints one; their
                /// events (simple format: PUT, key, value) are left out of the record.
                let zProbes = s.confirmLiveWatches([interactive], probing: "z0")?.values ?? []
                s.ctlUnrecorded(["put", "z1", "v"])
                s.record("live event arrived", "\(interactive.waitForStdout(seconds: 10) { $0.contains("PUT\nz1\nv\n") })")
                /// Not a wait for readiness: a short window after the expected event, in which extra or duplicate
                /// events would show.
                Thread.sleep(forTimeInterval: 0.3)
                stopped(interactive, "watch -i (background)") { output in
                    zProbes.reduce(output) { $0.replacingOccurrences(of: "PUT\nz0\n\($1)\n", with: "") }
                }
            }
        }

        @Test(arguments: [Flavor.etcd, .setcd])
        func lockAndElectMatchEtcdctl(_ flavor: Flavor) throws {
            try clientDifferential(flavor) { s in
                /// A background command's output with its lease ids (random per run) replaced.
                func finished(_ child: Subprocess, _ label: String) {
                    let text = Session.render(child.stop()).replacingOccurrences(
                        of: #"/[0-9a-f]{1,16}\b"#, with: "/<lease>", options: .regularExpression)
                    s.record(label, text)
                }
                s.ctl("lock")
                s.ctl("lock", "L", "--", "sh", "-c", "echo held ${ETCD_LOCK_KEY%%/*} rev=$ETCD_LOCK_REV")
                s.ctl("lock", "L", "--", "sh", "-c", "exit 3")
                s.ctl("lock", "L", "--", "no-such-command-anywhere")
                s.ctl("get", "L", "--prefix", "--keys-only")
                // A holder excludes a second locker until it is interrupted.
                let holder = try s.background(["lock", "L"])
                s.record("holder printed its key", "\(holder.waitForStdout(seconds: 10) { $0.hasPrefix("L/") })")
                let waiter = try s.background(["lock", "L", "--", "echo", "second holder ran"])
                /// Waits until the second locker has queued (its key beside the holder's), so that what follows
                /// checks a locker that is waiting, not one still starting.
                s.record("second locker queued", "\(waitUntil(seconds: 20) { keyCount(s, under: "L/") == 2 })")
                // The 1 s is the window in which the queued locker must not run (a negative observation).
                s.record("second locker still waiting after 1 s", "\(!waiter.waitForStdout(seconds: 1) { $0.contains("ran") })")
                holder.signal(SIGINT)
                s.record("second locker ran once the holder was interrupted", "\(waiter.waitForStdout(seconds: 10) { $0.contains("ran") })")
                finished(holder, "lock L (interrupted holder)")
                finished(waiter, "lock L -- echo (waiter)")
                s.ctl("get", "L", "--prefix", "--keys-only")

                s.ctl("elect")
                s.ctl("elect", "E")
                s.ctl("elect", "-l", "E", "proposal")
                let observer = try s.background(["elect", "-l", "E"])
                let first = try s.background(["elect", "E", "one"])
                s.record("first candidate elected", "\(first.waitForStdout(seconds: 10) { $0.contains("one") })")
                /// Waits until the observer is in place: it prints the first leader (whether it started observing
                /// before or after the election), before that leader resigns below.
                s.record("observer saw the first leader", "\(observer.waitForStdout(seconds: 10) { $0.contains("one") })")
                let second = try s.background(["elect", "E", "two"])
                /// Waits until the second candidate has queued (its key beside the leader's), so that what follows
                /// checks a candidate that is waiting, not one still starting.
                s.record("second candidate queued", "\(waitUntil(seconds: 20) { keyCount(s, under: "E/") == 2 })")
                // The 1 s is the window in which the queued candidate must not be elected (a negative observation).
                s.record("second candidate not elected after 1 s", "\(!second.waitForStdout(seconds: 1) { $0.contains("two") })")
                first.signal(SIGINT)
                s.record("second candidate elected after the first resigned", "\(second.waitForStdout(seconds: 10) { $0.contains("two") })")
                s.record("observer saw both leaders", "\(observer.waitForStdout(seconds: 10) { $0.contains("two") })")
                second.signal(SIGINT)
                observer.signal(SIGINT)
                finished(first, "elect E one")
                finished(second, "elect E two")
                finished(observer, "elect -l E")
            }
        }
    }
}

extension EndToEnd.Setcdctl {
    /// Unknown commands and flags, unreachable endpoints and bad files: a message on stderr starting
    /// with "Error:", etcdctl's exit code, never a crash or stack trace.
    @Test func badInputGetsAMessageAndEtcdctlsExitCode() throws {
        let setcdctl = try Binaries.setcdctl()
        let etcdctl = try Binaries.etcdctl()
        let cases: [[String]] = [
            ["frob"], ["get", "--nosuch", "k"], ["--endpoints=127.0.0.1:1", "--dial-timeout=1s", "get", "k"],
            ["--endpoints=127.0.0.1:1", "--dial-timeout=1s", "put", "k", "v"], ["snapshot", "restore", "/nonexistent/file.db"],
            ["lease", "revoke", "zz"], ["member", "remove", "xyz"], ["-w", "yaml", "get", "k"], ["watch", "--rev", "abc", "k"],
        ]
        for args in cases {
            let ours = try Subprocess.run(setcdctl, args, timeout: 30)
            let theirs = try Subprocess.run(etcdctl, args, environment: childEnvironment(["ETCDCTL_API": "3"]), timeout: 30)
            let stderrLines = ours.stderr.split(separator: "\n")
            #expect(ours.exitCode == theirs.exitCode, "\(args): setcdctl exit \(ours.exitCode), etcdctl \(theirs.exitCode)")
            #expect(stderrLines.first?.hasPrefix("Error: ") == true, "\(args): \(ours.stderr)")
            #expect(!ours.stderr.contains("Fatal error") && !ours.stderr.contains("Stack dump") && ours.exitCode < 128 + 1,
                    "\(args) crashed: \(ours.stderr)")
        }
    }
}

extension EndToEnd.Setcdctl {
    /// Ctrl-C (SIGINT to the foreground process group) while `lock` runs a command: the command dies of it,
    /// the lock is released, and the verdict is etcdctl's.
    @Test(arguments: [Flavor.etcd, .setcd])
    func interruptedLockCommandMatchesEtcdctl(_ flavor: Flavor) throws {
        try clientDifferential(flavor) { s in
            // A session of its own (setsid), so the signal reaches the client and its command but not the tests.
            let holder = try Subprocess("/usr/bin/setsid", [s.etcdctlPath] + s.globalArguments + ["lock", "L", "--", "sleep", "30"],
                                        environment: childEnvironment(["ETCDCTL_API": "3"]))
            /// Waits until the client holds the lock and runs its command (`sleep`, a process under the client),
            /// so that Ctrl-C interrupts the command, not the client still acquiring the lock.
            s.record("lock command running", "\(waitUntil(seconds: 20) { descendantCommands(of: holder.pid).contains("sleep") })")
            kill(-holder.pid, SIGINT)
            s.record("lock ended within 10 s of SIGINT", "\(holder.wait(seconds: 10))")
            s.record("lock L -- sleep 30 (interrupted)", Session.render(holder.stop()))
            s.ctl("get", "L", "--prefix", "--keys-only")
        }
    }
}
