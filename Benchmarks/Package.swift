// swift-tools-version:6.1
// LiteProof's benchmarks: a package of its own, so the main package's `swift build` / `swift test`
// never build package-benchmark (ordo-one/benchmark, formerly package-benchmark). Run from this
// folder: `swift package benchmark` (see README.md).
import PackageDescription

let suites = ["RestoreBenchmarks", "VerifyBenchmarks", "DigestBenchmarks"]

let package = Package(
    name: "LiteProofBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "LiteProof", path: ".."),
        // MallocInterposer only: the default traits also pull in swift-runtime-interposer, which the
        // package mirror here lacks, and resolution fails without this list.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Finding or making the real Litestream replicas the suites measure.
        .target(
            name: "BenchSupport",
            dependencies: [
                .product(name: "LiteProof", package: "LiteProof"),
                .product(name: "Benchmark", package: "benchmark"),
            ]),
    ] + suites.map { suite in
        .executableTarget(
            name: suite,
            dependencies: [
                "BenchSupport",
                .product(name: "LiteProof", package: "LiteProof"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/\(suite)",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")])
    },
    swiftLanguageModes: [.v5]
)
