import Foundation
import Testing

extension EndToEnd {
    /// `make-mirror`: setcdctl mirrors setcd into a real etcd (and etcdctl mirrors etcd into setcd),
    /// the initial copy and the changes after it, with the prefix renamed.
    @Suite struct MakeMirror {
        @Test(arguments: [(Flavor.setcd, Flavor.etcd), (Flavor.etcd, Flavor.setcd)])
        func mirrorsInitialKeysAndLaterChanges(_ flavors: (Flavor, Flavor)) throws {
            let (sourceFlavor, destinationFlavor) = flavors
            let source = try ServerProcess(sourceFlavor)
            let destination = try ServerProcess(destinationFlavor)
            defer {
                source.cleanUp()
                destination.cleanUp()
            }
            try source.start()
            try destination.start()
            let etcdctl = try Binaries.etcdctl()
            // setcdctl mirrors from setcd; etcdctl from etcd.
            let mirrorClient = sourceFlavor == .setcd ? try Binaries.setcdctl() : etcdctl
            let environment = childEnvironment(["ETCDCTL_API": "3"])
            func ctl(_ server: ServerProcess, _ args: [String]) -> CommandResult {
                do {
                    return try Subprocess.run(etcdctl, ["--endpoints=\(server.clientAddress)"] + args, environment: environment, timeout: 20)
                } catch {
                    Issue.record("cannot run etcdctl: \(error)")
                    return CommandResult(stdout: "", stderr: "cannot run etcdctl", exitCode: -1, timedOut: false)
                }
            }
            for i in stride(from: 0, to: 1500, by: 100) {
                // 1,500 keys in txns of 100: more than one batch of the initial copy.
                let ops = (i..<(i + 100)).map { "put p/\($0) v\($0)" }.joined(separator: "\n")
                let load = try Subprocess.run(etcdctl, ["--endpoints=\(source.clientAddress)", "txn"], stdin: "\n\(ops)\n\n\n", environment: environment, timeout: 20)
                #expect(load.exitCode == 0, "load: \(load.stderr)")
            }
            _ = ctl(source, ["put", "other", "not mirrored"])
            let mirror = try Subprocess(mirrorClient, ["--endpoints=\(source.clientAddress)", "make-mirror", "--prefix", "p/", "--dest-prefix", "q/",
                                                       destination.clientAddress], environment: environment)
            defer { _ = mirror.stop() }
            func destinationKeys() -> Int {
                ctl(destination, ["get", "q/", "--prefix", "--keys-only"]).stdout.split(separator: "\n").count
            }
            let deadline = Date().addingTimeInterval(30)
            while destinationKeys() < 1500 && Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
            #expect(destinationKeys() == 1500, "initial copy")
            // Later changes: a put, a delete, and a txn of both.
            _ = ctl(source, ["put", "p/new", "fresh"])
            _ = ctl(source, ["del", "p/0"])
            _ = try Subprocess.run(etcdctl, ["--endpoints=\(source.clientAddress)", "txn"], stdin: "\nput p/1 changed\ndel p/2\n\n\n", environment: environment, timeout: 20)
            let expected = ctl(source, ["get", "p/", "--prefix"]).stdout.replacingOccurrences(of: "p/", with: "q/")
            #expect(expected.split(separator: "\n").count == 2 * 1499, "source after the changes")
            var mirrored = ""
            while Date() < deadline.addingTimeInterval(15) {
                mirrored = ctl(destination, ["get", "q/", "--prefix"]).stdout
                if mirrored == expected { break }
                Thread.sleep(forTimeInterval: 0.2)
            }
            #expect(mirrored == expected, "destination differs from source: \(mirrored.count) vs \(expected.count) bytes")
            #expect(ctl(destination, ["get", "other"]).stdout.isEmpty, "keys outside the prefix stay behind")
            #expect(mirror.isRunning, "make-mirror keeps running: \(mirror.stderr)")
        }

        @Test(arguments: [Flavor.etcd, .setcd])
        func badArgumentsMatchEtcdctl(_ flavor: Flavor) throws {
            try clientDifferential(flavor) { s in
                s.ctl("make-mirror")
                s.ctl("make-mirror", "a", "b")
                s.ctl("make-mirror", "--dest-prefix", "x", "--no-dest-prefix", "127.0.0.1:1")
            }
        }
    }
}
