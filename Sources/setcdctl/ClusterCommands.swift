import ArgumentParser
import Client
import EtcdCtl
import EtcdProto
import Foundation

/// `lease grant|revoke|timetolive|list|keep-alive`, as etcdctl's.
struct LeaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lease", abstract: "Lease related commands",
        subcommands: [Grant.self, Revoke.self, TimeToLive.self, List.self, KeepAlive.self])

    struct Grant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Creates leases")
        @OptionGroup var global: GlobalOptions
        @Argument var args: [String] = []

        func run() async throws {
            await runReportingErrors {
                guard args.count == 1 else { throw CtlError(code: ExitCode.badArgs, message: "lease grant command needs TTL argument") }
                guard let ttl = Int64(args[0]) else {
                    throw CtlError(code: ExitCode.badArgs, message: "bad TTL (strconv.ParseInt: parsing \(goQuote(args[0])): invalid syntax)")
                }
                do {
                    let response = try await global.withClient { try await $0.grantLease(ttl: ttl) }
                    try emit(global.printer().leaseGrant(response))
                } catch let error as PrinterError {
                    throw error
                } catch {
                    throw CtlError(code: ExitCode.error, message: "failed to grant lease (\(describe(error)))")
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revokes leases")
        @OptionGroup var global: GlobalOptions
        @Argument var args: [String] = []

        func run() async throws {
            await runReportingErrors {
                guard args.count == 1 else { throw CtlError(code: ExitCode.badArgs, message: "lease revoke command needs 1 argument") }
                let id = try leaseID(args[0])
                do {
                    let response = try await global.withClient { try await $0.revokeLease(id) }
                    try emit(global.printer().leaseRevoke(id: id, response))
                } catch let error as PrinterError {
                    throw error
                } catch {
                    throw CtlError(code: ExitCode.error, message: "failed to revoke lease (\(describe(error)))")
                }
            }
        }
    }

    struct TimeToLive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "timetolive", abstract: "Get lease information")
        @OptionGroup var global: GlobalOptions
        @Argument var args: [String] = []
        @Flag(help: "Get keys attached to this lease") var keys = false

        func run() async throws {
            await runReportingErrors {
                guard args.count == 1 else { throw CtlError(code: ExitCode.badArgs, message: "lease timetolive command needs lease ID as argument") }
                let id = try leaseID(args[0])
                let response = try await badConnection { try await global.withClient { try await $0.timeToLive(id, keys: keys) } }
                try emit(global.printer().leaseTimeToLive(response, keys: keys))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List all active leases")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            await runReportingErrors {
                let response = try await badConnection { try await global.withClient { try await $0.listLeases() } }
                try emit(global.printer().leaseList(response))
            }
        }
    }

    struct KeepAlive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "keep-alive", abstract: "Keeps leases alive (renew)")
        @OptionGroup var global: GlobalOptions
        @Argument var args: [String] = []
        @Flag(help: "Resets the keep-alive time to its original value and exits immediately") var once = false

        func run() async throws {
            await runReportingErrors {
                guard args.count == 1 else { throw CtlError(code: ExitCode.badArgs, message: "lease keep-alive command needs lease ID as argument") }
                let id = try leaseID(args[0])
                let printer = try global.printer()
                try await global.withClient { client in
                    while true {
                        let response = try await badConnection { try await client.keepAliveOnce(id) }
                        guard response.ttl > 0 else {
                            if once { throw CtlError(code: ExitCode.badConnection, message: "etcdserver: requested lease not found") }
                            emit(printer.leaseKeepAliveEnded(id: id))
                            return
                        }
                        try emit(printer.leaseKeepAlive(response))
                        if once { return }
                        try await Task.sleep(for: .milliseconds(max(response.ttl * 1000 / 3, 500)))
                    }
                }
            }
        }
    }
}

/// `member add|remove|update|list|promote`, as etcdctl's.
struct MemberCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "member", abstract: "Membership related commands",
        subcommands: [Add.self, Remove.self, Update.self, List.self, Promote.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Adds a member into the cluster")
        @OptionGroup var global: GlobalOptions
        @Argument var args: [String] = []
        @Option(name: .customLong("peer-urls"), help: "comma separated peer URLs for the new member.") var peerURLs = ""
        @Flag(help: "indicates if the new member is raft learner") var learner = false

        func run() async throws {
            await runReportingErrors {
                guard let name = args.first else { throw CtlError(code: ExitCode.badArgs, message: "member name not provided") }
                if args.count > 1 {
                    let hints = args.filter { $0.lowercased().hasPrefix("http") }.map { ", did you mean --peer-urls=\($0)" }
                    throw CtlError(code: ExitCode.badArgs, message: "too many arguments" + hints.joined())
                }
                guard !peerURLs.isEmpty else { throw CtlError(code: ExitCode.badArgs, message: "member peer urls not provided") }
                let urls = peerURLs.split(separator: ",", omittingEmptySubsequences: false).map { String($0) }
                let response = try await global.withClient { try await $0.memberAdd(peerURLs: urls, isLearner: learner) }
                try emit(global.printer().memberAdd(response, newMemberName: name, peerURLs: peerURLs))
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Removes a member from the cluster")
        @OptionGroup var global: GlobalOptions
        @Argument var args: [String] = []

        func run() async throws {
            await runReportingErrors {
                let id = try memberID(args)
                let response = try await global.withClient { try await $0.memberRemove(id) }
                try emit(global.printer().memberRemove(id: id, response))
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Updates a member in the cluster")
        @OptionGroup var global: GlobalOptions
        @Argument var args: [String] = []
        @Option(name: .customLong("peer-urls"), help: "comma separated peer URLs for the updated member.") var peerURLs = ""

        func run() async throws {
            await runReportingErrors {
                let id = try memberID(args)
                guard !peerURLs.isEmpty else { throw CtlError(code: ExitCode.badArgs, message: "member peer urls not provided") }
                let urls = peerURLs.split(separator: ",", omittingEmptySubsequences: false).map { String($0) }
                let response = try await global.withClient { try await $0.memberUpdate(id, peerURLs: urls) }
                try emit(global.printer().memberUpdate(id: id, response))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lists all members in the cluster")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            await runReportingErrors {
                let response = try await global.withClient { try await $0.memberList() }
                try emit(global.printer().memberList(response))
            }
        }
    }

    struct Promote: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Promotes a non-voting member in the cluster")
        @OptionGroup var global: GlobalOptions
        @Argument var args: [String] = []

        func run() async throws {
            await runReportingErrors {
                let id = try memberID(args)
                let response = try await global.withClient { try await $0.memberPromote(id) }
                try emit(global.printer().memberPromote(id: id, response))
            }
        }
    }
}

/// `alarm list|disarm`, as etcdctl's.
struct AlarmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alarm", abstract: "Alarm related commands", subcommands: [List.self, Disarm.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lists all alarms")
        @OptionGroup var global: GlobalOptions
        @Argument var args: [String] = []

        func run() async throws {
            await runReportingErrors {
                guard args.isEmpty else { throw CtlError(code: ExitCode.badArgs, message: "alarm list command accepts no arguments") }
                var request = Etcdserverpb_AlarmRequest()
                request.action = .get
                let response = try await global.withClient { try await $0.alarm(request) }
                try emit(global.printer().alarm(response))
            }
        }
    }

    struct Disarm: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disarms all alarms")
        @OptionGroup var global: GlobalOptions
        @Argument var args: [String] = []

        func run() async throws {
            await runReportingErrors {
                guard args.isEmpty else { throw CtlError(code: ExitCode.badArgs, message: "alarm disarm command accepts no arguments") }
                // As clientv3's AlarmDisarm with no member: list the alarms, then clear each.
                let response = try await global.withClient { client in
                    var list = Etcdserverpb_AlarmRequest()
                    list.action = .get
                    var cleared = Etcdserverpb_AlarmResponse()
                    for alarm in try await client.alarm(list).alarms {
                        var request = Etcdserverpb_AlarmRequest()
                        request.action = .deactivate
                        request.memberID = alarm.memberID
                        request.alarm = alarm.alarm
                        let answer = try await client.alarm(request)
                        cleared.header = answer.header
                        cleared.alarms += answer.alarms
                    }
                    return cleared
                }
                try emit(global.printer().alarm(response))
            }
        }
    }
}

/// `compaction [options] <revision>`, as etcdctl's.
struct CompactionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "compaction", abstract: "Compacts the event history in etcd")
    @OptionGroup var global: GlobalOptions
    @Argument var args: [String] = []
    @Flag(help: "'true' to wait for compaction to physically remove all old revisions") var physical = false

    func run() async throws {
        await runReportingErrors {
            guard args.count == 1 else { throw CtlError(code: ExitCode.badArgs, message: "compaction command needs 1 argument") }
            guard let revision = Int64(args[0]) else {
                throw CtlError(code: ExitCode.error, message: "strconv.ParseInt: parsing \(goQuote(args[0])): invalid syntax")
            }
            _ = try await global.withClient { try await $0.compact(revision: revision, physical: physical) }
            emit(CommandText.compacted(revision: revision))
        }
    }
}

/// A lease id in hex, as etcdctl reads it.
func leaseID(_ text: String) throws -> Int64 {
    guard let id = Int64(text, radix: 16) else {
        throw CtlError(code: ExitCode.badArgs, message: "bad lease ID arg (strconv.ParseInt: parsing \(goQuote(text)): invalid syntax), expecting ID in Hex")
    }
    return id
}

/// The member id argument in hex, as etcdctl reads it.
func memberID(_ args: [String]) throws -> UInt64 {
    guard let text = args.first else { throw CtlError(code: ExitCode.badArgs, message: "member ID is not provided") }
    guard let id = UInt64(text, radix: 16) else {
        throw CtlError(code: ExitCode.badArgs, message: "bad member ID arg (strconv.ParseUint: parsing \(goQuote(text)): invalid syntax), expecting ID in Hex")
    }
    return id
}

/// Runs `body`; a failure exits with etcdctl's `ExitBadConnection` (as its lease listing commands do).
func badConnection<Result>(_ body: () async throws -> Result) async throws -> Result {
    do {
        return try await body()
    } catch let error as CtlError {
        throw error
    } catch {
        throw CtlError(code: ExitCode.badConnection, message: describe(error))
    }
}
