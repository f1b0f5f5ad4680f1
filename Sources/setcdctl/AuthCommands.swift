import ArgumentParser
import Client
import EtcdCtl
import EtcdProto
import Foundation
import GRPCCore
import Synchronization

/// `auth enable|disable`, as etcdctl's (auth_command.go). Both print plain text whatever `-w` says.
struct AuthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auth", abstract: "Enable or disable authentication", subcommands: [Enable.self, Disable.self])

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "enable", abstract: "Enables authentication")
        @OptionGroup var global: GlobalOptions
        @Argument var args: [String] = []

        func run() async throws {
            await runReportingErrors {
                guard args.isEmpty else {
                    throw CtlError(code: ExitCode.badArgs, message: "auth enable command does not accept any arguments")
                }
                _ = try global.format
                try await global.withClient { client in
                    // etcdctl's loop: a root user without the root role gets the role (created first), then
                    // enabling is tried again; the first other failure ends it.
                    while true {
                        do {
                            _ = try await client.authEnable()
                            return
                        } catch let error as RPCError where error.message == Self.rootRoleMissing {
                            _ = try await client.roleAdd("root")
                            _ = try await client.userGrantRole("root", role: "root")
                        }
                    }
                }
                emit("Authentication Enabled\n")
            }
        }

        /// etcd's ErrRootRoleNotExist.
        static let rootRoleMissing = "etcdserver: root user does not have root role"
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "disable", abstract: "Disables authentication")
        @OptionGroup var global: GlobalOptions
        @Argument var args: [String] = []

        func run() async throws {
            await runReportingErrors {
                guard args.isEmpty else {
                    throw CtlError(code: ExitCode.badArgs, message: "auth disable command does not accept any arguments")
                }
                _ = try global.format
                _ = try await global.withClient { try await $0.authDisable() }
                emit("Authentication Disabled\n")
            }
        }
    }
}

/// `user add|delete|get|list|passwd|grant-role|revoke-role`, as etcdctl's (user_command.go).
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "User related commands",
        subcommands: [Add.self, Delete.self, Get.self, List.self, Passwd.self, GrantRole.self, RevokeRole.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Adds a new user")
        @OptionGroup var global: GlobalOptions
        /// The user and cobra's `--interactive[=<bool>]` (see `CobraInteractive`).
        @Argument(parsing: .allUnrecognized, help: "<user name or user:password> [--interactive=false]")
        var words: [String] = []
        @Option(name: .customLong("new-user-password"), help: "Supply password from the command line flag")
        var newUserPassword = ""
        @Flag(name: .customLong("no-password"), help: "Create a user without password (CN based auth only)")
        var noPassword = false

        func run() async throws {
            await runReportingErrors {
                let (interactive, args) = try CobraInteractive.parse(words)
                guard args.count == 1 else {
                    throw CtlError(code: ExitCode.badArgs, message: "user add command requires user name as its argument")
                }
                // The password is read before the client is made (so before a `--user` prompt), as etcdctl does.
                var user = args[0]
                var password = ""
                if noPassword {
                    // The name is taken verbatim, colon and all.
                } else if !newUserPassword.isEmpty {
                    password = newUserPassword
                } else if let parts = splitAtFirstColon(args[0]) {
                    guard !parts.name.isEmpty else {
                        throw CtlError(code: ExitCode.badArgs, message: "empty user name is not allowed")
                    }
                    user = parts.name
                    password = parts.password
                } else if interactive {
                    password = try readPasswordInteractive(args[0])
                } else {
                    password = scanWord()
                }
                let printer = try global.printer()
                let response = try await global.withClient {
                    try await $0.userAdd(user, password: password, noPassword: noPassword)
                }
                try emit(printer.userAdd(user, response))
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete", abstract: "Deletes a user")
        @OptionGroup var global: GlobalOptions
        @Argument var args: [String] = []

        func run() async throws {
            await runReportingErrors {
                guard args.count == 1 else {
                    throw CtlError(code: ExitCode.badArgs, message: "user delete command requires user name as its argument")
                }
                let printer = try global.printer()
                let response = try await global.withClient { try await $0.userDelete(args[0]) }
                try emit(printer.userDelete(args[0], response))
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "get", abstract: "Gets detailed information of a user")
        @OptionGroup var global: GlobalOptions
        @Argument var args: [String] = []
        @Flag(help: "Show permissions of roles granted to the user") var detail = false

        func run() async throws {
            await runReportingErrors {
                guard args.count == 1 else {
                    throw CtlError(code: ExitCode.badArgs, message: "user get command requires user name as its argument")
                }
                let name = args[0]
                let printer = try global.printer()
                try await global.withClient { client in
                    let response = try await client.userGet(name)
                    guard detail else {
                        try emit(printer.userGet(name, response))
                        return
                    }
                    // As etcdctl: the header first, then each role as `role get` shows it (a failure to get
                    // one ends the command after what was printed so far).
                    emit("User: \(name)\n")
                    for role in response.roles {
                        emit("\n")
                        let roleResponse = try await client.roleGet(role)
                        try emit(printer.roleGet(role, roleResponse))
                    }
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Lists all users")
        @OptionGroup var global: GlobalOptions
        @Argument var args: [String] = []

        func run() async throws {
            await runReportingErrors {
                guard args.isEmpty else {
                    throw CtlError(code: ExitCode.badArgs, message: "user list command requires no arguments")
                }
                let printer = try global.printer()
                let response = try await global.withClient { try await $0.userList() }
                try emit(printer.userList(response))
            }
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "passwd", abstract: "Changes password of user")
        @OptionGroup var global: GlobalOptions
        /// The user and cobra's `--interactive[=<bool>]` (see `CobraInteractive`).
        @Argument(parsing: .allUnrecognized, help: "<user name> [--interactive=false]")
        var words: [String] = []

        func run() async throws {
            await runReportingErrors {
                let (interactive, args) = try CobraInteractive.parse(words)
                guard args.count == 1 else {
                    throw CtlError(code: ExitCode.badArgs, message: "user passwd command requires user name as its argument")
                }
                let password = try interactive ? readPasswordInteractive(args[0]) : scanWord()
                let printer = try global.printer()
                let response = try await global.withClient { try await $0.userChangePassword(args[0], password: password) }
                try emit(printer.userChangePassword(response))
            }
        }
    }

    struct GrantRole: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "grant-role", abstract: "Grants a role to a user")
        @OptionGroup var global: GlobalOptions
        @Argument var args: [String] = []

        func run() async throws {
            await runReportingErrors {
                guard args.count == 2 else {
                    throw CtlError(code: ExitCode.badArgs, message: "user grant command requires user name and role name as its argument")
                }
                let printer = try global.printer()
                let response = try await global.withClient { try await $0.userGrantRole(args[0], role: args[1]) }
                try emit(printer.userGrantRole(args[0], role: args[1], response))
            }
        }
    }

    struct RevokeRole: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "revoke-role", abstract: "Revokes a role from a user")
        @OptionGroup var global: GlobalOptions
        @Argument var args: [String] = []

        func run() async throws {
            await runReportingErrors {
                guard args.count == 2 else {
                    throw CtlError(code: ExitCode.badArgs, message: "user revoke-role requires user name and role name as its argument")
                }
                let printer = try global.printer()
                let response = try await global.withClient { try await $0.userRevokeRole(args[0], role: args[1]) }
                try emit(printer.userRevokeRole(args[0], role: args[1], response))
            }
        }
    }
}

/// `role add|delete|get|list|grant-permission|revoke-permission`, as etcdctl's (role_command.go).
struct RoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "role", abstract: "Role related commands",
        subcommands: [Add.self, Delete.self, Get.self, List.self, GrantPermission.self, RevokePermission.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Adds a new role")
        @OptionGroup var global: GlobalOptions
        @Argument var args: [String] = []

        func run() async throws {
            await runReportingErrors {
                guard args.count == 1 else {
                    throw CtlError(code: ExitCode.badArgs, message: "role add command requires role name as its argument")
                }
                let printer = try global.printer()
                let response = try await global.withClient { try await $0.roleAdd(args[0]) }
                try emit(printer.roleAdd(args[0], response))
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete", abstract: "Deletes a role")
        @OptionGroup var global: GlobalOptions
        @Argument var args: [String] = []

        func run() async throws {
            await runReportingErrors {
                guard args.count == 1 else {
                    throw CtlError(code: ExitCode.badArgs, message: "role delete command requires role name as its argument")
                }
                let printer = try global.printer()
                let response = try await global.withClient { try await $0.roleDelete(args[0]) }
                try emit(printer.roleDelete(args[0], response))
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "get", abstract: "Gets detailed information of a role")
        @OptionGroup var global: GlobalOptions
        @Argument var args: [String] = []

        func run() async throws {
            await runReportingErrors {
                guard args.count == 1 else {
                    throw CtlError(code: ExitCode.badArgs, message: "role get command requires role name as its argument")
                }
                let printer = try global.printer()
                let response = try await global.withClient { try await $0.roleGet(args[0]) }
                try emit(printer.roleGet(args[0], response))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Lists all roles")
        @OptionGroup var global: GlobalOptions
        @Argument var args: [String] = []

        func run() async throws {
            await runReportingErrors {
                guard args.isEmpty else {
                    throw CtlError(code: ExitCode.badArgs, message: "role list command requires no arguments")
                }
                let printer = try global.printer()
                let response = try await global.withClient { try await $0.roleList() }
                try emit(printer.roleList(response))
            }
        }
    }

    struct GrantPermission: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "grant-permission", abstract: "Grants a key to a role")
        @OptionGroup var global: GlobalOptions
        @Argument var args: [String] = []
        @Flag(help: "grant a prefix permission") var prefix = false
        @Flag(name: .customLong("from-key"), help: "grant a permission of keys that are greater than or equal to the given key using byte compare")
        var fromKey = false

        func run() async throws {
            await runReportingErrors {
                guard args.count >= 3 else {
                    throw CtlError(code: ExitCode.badArgs,
                                   message: "role grant command requires role name, permission type, and key [endkey] as its argument")
                }
                let type = try permissionType(args[1])
                let (key, rangeEnd) = try permissionRange(args[2...], prefix: prefix, fromKey: fromKey)
                let printer = try global.printer()
                let response = try await global.withClient {
                    try await $0.roleGrantPermission(args[0], type: type, key: key, rangeEnd: rangeEnd)
                }
                try emit(printer.roleGrantPermission(args[0], response))
            }
        }
    }

    struct RevokePermission: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "revoke-permission", abstract: "Revokes a key from a role")
        @OptionGroup var global: GlobalOptions
        @Argument var args: [String] = []
        @Flag(help: "revoke a prefix permission") var prefix = false
        @Flag(name: .customLong("from-key"), help: "revoke a permission of keys that are greater than or equal to the given key using byte compare")
        var fromKey = false

        func run() async throws {
            await runReportingErrors {
                guard args.count >= 2 else {
                    throw CtlError(code: ExitCode.badArgs,
                                   message: "role revoke-permission command requires role name and key [endkey] as its argument")
                }
                let (key, rangeEnd) = try permissionRange(args[1...], prefix: prefix, fromKey: fromKey)
                let printer = try global.printer()
                let response = try await global.withClient {
                    try await $0.roleRevokePermission(args[0], key: key, rangeEnd: rangeEnd)
                }
                // etcdctl prints the key as typed (so "" rather than the "\0" sent) and the range end as sent.
                try emit(printer.roleRevokePermission(
                    args[0], key: args[1], rangeEnd: String(decoding: rangeEnd, as: UTF8.self), response))
            }
        }
    }
}

// MARK: - etcdctl's argument rules

/// clientv3's `StrToPermissionType`: read, write or readwrite, in any case.
func permissionType(_ text: String) throws -> Authpb_Permission.TypeEnum {
    switch text.uppercased() {
    case "READ": return .read
    case "WRITE": return .write
    case "READWRITE": return .readwrite
    default: throw CtlError(code: ExitCode.badArgs, message: "invalid permission type: \(text)")
    }
}

/// etcdctl's `permRange`: the key and range end of a permission from `<key> [endkey]` and the flags. An
/// empty key is "\0" (every key with `--prefix` or `--from-key`, range end "\0"; else an endkey is
/// ignored); `--prefix` ends at the prefix's end, `--from-key` at "\0" (open ended).
func permissionRange(_ args: ArraySlice<String>, prefix: Bool, fromKey: Bool) throws -> (key: [UInt8], rangeEnd: [UInt8]) {
    let exclusive = CtlError(code: ExitCode.badArgs, message: "--from-key and --prefix flags are mutually exclusive")
    let key = Array(args[args.startIndex].utf8)
    if key.isEmpty {
        if prefix && fromKey { throw exclusive }
        return ([0], prefix || fromKey ? [0] : [])
    }
    if args.count == 1 {
        if prefix {
            if fromKey { throw exclusive }
            return (key, KeyRanges.prefixEnd(of: key))
        }
        return (key, fromKey ? [0] : [])
    }
    if prefix { throw CtlError(code: ExitCode.badArgs, message: "unexpected endkey argument with --prefix flag") }
    if fromKey { throw CtlError(code: ExitCode.badArgs, message: "unexpected endkey argument with --from-key flag") }
    return (key, Array(args[args.startIndex + 1].utf8))
}

/// `name:password` split at the first colon (nil without one).
func splitAtFirstColon(_ text: String) -> (name: String, password: String)? {
    let bytes = Array(text.utf8)
    guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return nil }
    return (String(decoding: bytes[..<colon], as: UTF8.self), String(decoding: bytes[(colon + 1)...], as: UTF8.self))
}

/// cobra's boolean `--interactive` flag (default true), which ArgumentParser has no form for: bare, it
/// means true and takes no value (`--interactive alice` names the user alice); `--interactive=<v>` takes
/// Go's `strconv.ParseBool` spellings. The command's words come unparsed (`.allUnrecognized`), so this
/// also rejects other unknown flags, as cobra does; words after `--` are all positional.
enum CobraInteractive {
    static func parse(_ words: [String]) throws -> (interactive: Bool, positional: [String]) {
        var interactive = true
        var positional: [String] = []
        var terminated = false
        for word in words {
            if terminated || word == "-" || !word.hasPrefix("-") {
                positional.append(word)
            } else if word == "--" {
                terminated = true
            } else if word == "--interactive" {
                interactive = true
            } else if word.hasPrefix("--interactive=") {
                let value = String(word.dropFirst("--interactive=".count))
                guard let parsed = parseGoBool(value) else {
                    throw CtlError(code: ExitCode.error, message: "invalid argument \(goQuote(value)) for \"--interactive\" flag: "
                        + "strconv.ParseBool: parsing \(goQuote(value)): invalid syntax")
                }
                interactive = parsed
            } else if word.hasPrefix("--") {
                let name = word.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
                throw CtlError(code: ExitCode.error, message: "unknown flag: \(name)")
            } else {
                let letter = word.dropFirst().prefix(1)
                throw CtlError(code: ExitCode.error, message: "unknown shorthand flag: '\(letter)' in \(word)")
            }
        }
        return (interactive, positional)
    }
}

/// Go's `strconv.ParseBool` (nil: not a boolean).
func parseGoBool(_ text: String) -> Bool? {
    switch text {
    case "1", "t", "T", "TRUE", "true", "True": return true
    case "0", "f", "F", "FALSE", "false", "False": return false
    default: return nil
    }
}

// MARK: - Passwords from standard input

/// etcdctl's `readPasswordInteractive`: the password twice, with its prompts; empty or different
/// answers are refused.
func readPasswordInteractive(_ name: String) throws -> String {
    let password = askPassword("Password of \(name): ")
    guard !password.isEmpty else { throw CtlError(code: ExitCode.badArgs, message: "empty password") }
    let again = askPassword("Type password of \(name) again for confirmation: ")
    guard password == again else { throw CtlError(code: ExitCode.badArgs, message: "given passwords are different") }
    return password
}

/// speakeasy's `Ask`, which etcdctl prompts with: the prompt on stdout, one line of stdin (read with the
/// terminal's echo off when stdin is a terminal), whitespace trimmed, then a newline on stdout.
/// End of input gives what was read so far ("" at once).
func askPassword(_ prompt: String) -> String {
    emit(prompt)
    let line = withTerminalEchoOff { () -> [UInt8] in
        var bytes: [UInt8] = []
        while let byte = readStdinByte(), byte != UInt8(ascii: "\n") { bytes.append(byte) }
        return bytes
    }
    emit("\n")
    return String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

/// The answer to the global `--user` prompt ("Password: "), asked at most once per process (commands
/// that connect to each endpoint in turn make several client configurations).
private let loginPasswordAnswer = Mutex<String?>(nil)

/// The password for `--user <name>` given without one (and without `--password`): asked on the terminal
/// as etcdctl asks it.
func loginPassword() -> String {
    loginPasswordAnswer.withLock { answer in
        if let known = answer { return known }
        let asked = askPassword("Password: ")
        answer = asked
        return asked
    }
}

/// Go's `fmt.Scanf("%s", &password)` on stdin (`--interactive=false`): blanks skipped, then one
/// whitespace-delimited word; a newline before any word, or the end of input, gives "".
func scanWord() -> String {
    func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || (0x09...0x0D).contains(byte) }
    var word: [UInt8] = []
    while let byte = readStdinByte() {
        if byte == UInt8(ascii: "\n") { return "" }
        if !isSpace(byte) {
            word.append(byte)
            break
        }
    }
    guard !word.isEmpty else { return "" }
    while let byte = readStdinByte(), !isSpace(byte) { word.append(byte) }
    return String(decoding: word, as: UTF8.self)
}

/// One byte of standard input, unbuffered as Go reads it (what follows stays for the next reader); nil
/// at the end of input or on an error.
private func readStdinByte() -> UInt8? {
    var byte: UInt8 = 0
    while true {
        let count = read(0, &byte, 1)
        if count == 1 { return byte }
        if count < 0 && errno == EINTR { continue }
        return nil
    }
}

/// Runs `body` with the terminal's echo off when stdin is a terminal (speakeasy runs `stty -echo`), and
/// restores the terminal's settings afterwards.
private func withTerminalEchoOff<T>(_ body: () -> T) -> T {
    var saved = termios()
    guard isatty(0) == 1, tcgetattr(0, &saved) == 0 else { return body() }
    var quiet = saved
    quiet.c_lflag &= ~tcflag_t(ECHO)
    _ = tcsetattr(0, TCSANOW, &quiet)
    defer { _ = tcsetattr(0, TCSANOW, &saved) }
    return body()
}
