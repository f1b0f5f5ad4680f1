// swift-tools-version:6.1
import PackageDescription

/// setcd: an etcd-compatible MVCC key-value store on LMDB. Module layering follows DESIGN.md §3:
/// system shims → LMDB / WAL → MVCC → EtcdProto → Server / Client → executables.
let package = Package(
    name: "setcd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "setcd", targets: ["setcd"]),
        .executable(name: "setcdctl", targets: ["setcdctl"]),
        .executable(name: "setcd-bench", targets: ["setcd-bench"]),
        .executable(name: "setcd-chaos", targets: ["setcd-chaos"]),
        .executable(name: "setcd-sim", targets: ["setcd-sim"]),
        .executable(name: "setcd-fuzz", targets: ["setcd-fuzz"]),
        .library(name: "MVCC", targets: ["MVCC"]),
        .library(name: "SetcdClient", targets: ["Client"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        .systemLibrary(name: "CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "LMDB", dependencies: ["CLMDB"]),
        // Raft imports only the Swift standard library (DESIGN.md §3, §5).
        .target(name: "Raft"),
        .target(name: "WAL", dependencies: ["CZlib"]),
        .target(name: "MVCC", dependencies: ["LMDB"]),
        // etcd's v2 key tree (the v2 keys API): standard library only.
        .target(name: "V2Store"),
        // The linearizability checker and watch validators for recorded histories: standard library only.
        .target(name: "Checker"),
        .target(
            name: "EtcdProto",
            dependencies: [
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
            ]
        ),
        .target(
            name: "Server",
            dependencies: [
                "LMDB", "WAL", "Raft", "MVCC", "EtcdProto", "V2Store",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The async client for the etcd v3 API (setcd and etcd alike): EtcdProto and gRPC only.
        .target(
            name: "Client",
            dependencies: [
                "EtcdProto",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
            ]
        ),
        // setcd-bench's workloads (over the client; `mvcc put` on the storage engine alone), reports
        // (etcd's benchmark format), disk check and check-perf.
        .target(
            name: "BenchCore",
            dependencies: [
                "Client", "EtcdProto", "MVCC", .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "GRPCCore", package: "grpc-swift-2"), .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"), .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .executableTarget(
            name: "setcd-bench",
            dependencies: [
                "BenchCore", "Client", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Chaos runs against real setcd processes: member processes, fault-injecting peer proxies, the
        // recorded history and the checks (Checker).
        .target(
            name: "Chaos",
            dependencies: [
                "Checker", "Client", "EtcdProto",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "setcd-chaos",
            dependencies: ["Chaos", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // The whole-cluster deterministic simulation: the server's own node loop, WAL, applier and MVCC on
        // LMDB, on a simulated network and disk, checked as the chaos runs are.
        .target(
            name: "Simulation",
            dependencies: [
                "Chaos", "Checker", "EtcdProto", "MVCC", "Raft", "Server", "WAL",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "setcd-sim",
            dependencies: ["Simulation", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // libFuzzer targets for the decoders (Server's FuzzTarget); built normally, it replays inputs.
        .executableTarget(name: "setcd-fuzz", dependencies: ["Server"]),
        // etcdctl's output formats (simple, json, fields, table), byte for byte.
        .target(name: "EtcdCtl", dependencies: ["EtcdProto", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .executableTarget(
            name: "setcd",
            dependencies: ["Server", .product(name: "Logging", package: "swift-log")]
        ),
        // etcdctl for setcd: the client for the v3 API; BenchCore for `check`'s load and the progress bar;
        // the server module only for `snapshot restore`.
        .executableTarget(
            name: "setcdctl",
            dependencies: [
                "BenchCore", "Client", "EtcdCtl", "EtcdProto", "Server",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
            ]
        ),
        .testTarget(name: "LMDBTests", dependencies: ["LMDB"]),
        .testTarget(name: "WALTests", dependencies: ["WAL"]),
        .testTarget(name: "RaftTests", dependencies: ["Raft"]),
        .testTarget(name: "CheckerTests", dependencies: ["Checker", "Raft"]),
        .testTarget(name: "SimulationTests", dependencies: ["Simulation", "WAL"]),
        .testTarget(name: "V2StoreTests", dependencies: ["V2Store"]),
        .testTarget(name: "BenchCoreTests", dependencies: ["BenchCore"]),
        .testTarget(name: "MVCCTests", dependencies: ["MVCC", "LMDB"]),
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "Server", "EtcdProto", "Raft", "WAL",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "EtcdCtlTests", dependencies: ["EtcdCtl", "EtcdProto", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .testTarget(name: "EndToEndTests", dependencies: ["setcd", "setcdctl", "setcd-bench", "setcd-sim", "setcd-fuzz", "Chaos", "Checker", "Client", "EtcdProto", "Server", "Raft",
                                                            .product(name: "NIOCore", package: "swift-nio")]),
    ]
)
