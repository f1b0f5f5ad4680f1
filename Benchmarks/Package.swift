// swift-tools-version:6.3
import PackageDescription

/// Micro-benchmarks of setcd's storage engine (ordo-one/benchmark). A package of its own so the main
/// build and CI do not compile the benchmark framework. Run from this folder:
///     swift package benchmark
let package = Package(
    name: "setcd-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "setcd", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "MVCCBenchmarks",
            dependencies: [
                .product(name: "MVCC", package: "setcd"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/MVCCBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
