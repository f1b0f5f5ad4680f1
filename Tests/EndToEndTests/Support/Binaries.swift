import Foundation

/// Where the executables the end-to-end tests drive live.
///
/// - `setcd`: `$SETCD_BIN`, else the `setcd` executable in the `.build/<config>/` directory that holds the
///   running test bundle (SwiftPM builds it first because the test target depends on it).
/// - `etcd` / `etcdctl` (the oracle and the client, Debian's etcd-server / etcd-client 3.4):
///   `$ETCD_BIN` / `$ETCDCTL_BIN`, else `/usr/bin/etcd` / `/usr/bin/etcdctl`, else the `PATH`.
enum Binaries {
    struct Missing: Error, CustomStringConvertible {
        let description: String
    }

    static func setcd() throws -> String { try built("setcd", env: "SETCD_BIN") }

    /// `setcdctl`: `$SETCDCTL_BIN`, else next to the test bundle, as `setcd`.
    static func setcdctl() throws -> String { try built("setcdctl", env: "SETCDCTL_BIN") }

    static func setcdBench() throws -> String { try built("setcd-bench", env: "SETCD_BENCH_BIN") }

    static func setcdSim() throws -> String { try built("setcd-sim", env: "SETCD_SIM_BIN") }

    /// An executable of this package: `$<env>`, else the one SwiftPM built next to the test bundle.
    private static func built(_ name: String, env: String) throws -> String {
        if let path = ProcessInfo.processInfo.environment[env], !path.isEmpty {
            guard isExecutableFile(path) else {
                throw Missing(description: "\(env)=\(path) is not an executable file")
            }
            return path
        }
        var starts = [CommandLine.arguments.first ?? "", Bundle.main.bundlePath, Bundle.main.executablePath ?? ""]
        for bundle in Bundle.allBundles { starts.append(bundle.bundlePath) }
        var tried: [String] = []
        for start in starts where !start.isEmpty {
            // Walk up from the bundle, but not beyond the `.build` directory (a stray `setcd` elsewhere is not ours).
            var dir = URL(fileURLWithPath: start).standardizedFileURL.resolvingSymlinksInPath()
            let insideBuild = dir.pathComponents.contains(".build")
            while dir.path != "/" && dir.lastPathComponent != ".build" {
                let candidate = dir.appendingPathComponent(name).path
                tried.append(candidate)
                if isExecutableFile(candidate) { return candidate }
                if !insideBuild { break }
                dir.deleteLastPathComponent()
            }
        }
        throw Missing(description: """
            cannot find the \(name) binary: set \(env), or run through `swift test` in the setcd package so \
            that .build/<config>/\(name) exists next to the test bundle (looked at: \(tried.prefix(8).joined(separator: ", ")))
            """)
    }

    static func etcd() throws -> String {
        try find(env: "ETCD_BIN", name: "etcd", package: "etcd-server")
    }

    static func etcdctl() throws -> String {
        try find(env: "ETCDCTL_BIN", name: "etcdctl", package: "etcd-client")
    }

    static func optional(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in ["/usr/bin", "/bin"] + path.split(separator: ":").map(String.init) {
            let candidate = dir + "/" + name
            if isExecutableFile(candidate) { return candidate }
        }
        return nil
    }

    private static func find(env: String, name: String, package: String) throws -> String {
        if let path = ProcessInfo.processInfo.environment[env], !path.isEmpty {
            guard isExecutableFile(path) else { throw Missing(description: "\(env)=\(path) is not an executable file") }
            return path
        }
        if let path = optional(name) { return path }
        throw Missing(description: "\(name) not found: install it with `apt-get install -y \(package)` or set \(env)")
    }

    static func isExecutableFile(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            return false
        }
        return FileManager.default.isExecutableFile(atPath: path)
    }
}
