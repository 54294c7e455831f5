// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "LiteProof",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "LiteProof", targets: ["LiteProof"]),
        .library(name: "LiteProofS3", targets: ["LiteProofS3"]),
        .library(name: "LiteProofGCS", targets: ["LiteProofGCS"]),
        .library(name: "LiteProofSFTP", targets: ["LiteProofSFTP"]),
        .library(name: "LiteProofWebDAV", targets: ["LiteProofWebDAV"]),
        .executable(name: "liteproof", targets: ["liteproof"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // SHA-256 for whole-database digests and evidence manifests: BoringSSL's, with the
        // processor's SHA extensions (several times faster than portable Swift).
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // The Prometheus text format for `--metrics` (used by the LiteProofMetrics target only).
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // Litestream's configuration file (YAML) for `--config` (used by LiteProofConfig only).
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        // The HTTP/1 server of `watch --listen` (used by the LiteProofServe target only).
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.2"),
        // The object stores' HTTP client (used by LiteProofObjectStore only): streamed bodies with
        // backpressure, TLS through swift-nio-ssl (per-endpoint verification, SSL_CERT_FILE).
        .package(url: "https://github.com/swift-server/async-http-client", exact: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", exact: "2.37.6"),
    ],
    targets: [
        .systemLibrary(
            name: "CSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(
            name: "CLZ4", pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(
            name: "CZstd", pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(
            name: "CSSH2", pkgConfig: "libssh2",
            providers: [.apt(["libssh2-1-dev"])]),
        .target(name: "CPlatform", dependencies: ["CSQLite"]),
        .target(
            name: "LiteProof",
            dependencies: [
                "CSQLite", "CLZ4", "CZstd", "CPlatform",
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .target(
            name: "LiteProofMetrics",
            dependencies: [
                "LiteProof",
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]),
        // What object stores answer: listings and error bodies (S3's ListObjectsV2 and error XML,
        // GCS's objects list, WebDAV's multistatus), parsed by a bounded scanner and checked by the
        // one listing reader. No networking, so the fuzz build need not compile the HTTP stack.
        .target(name: "LiteProofStoreAnswers", dependencies: ["LiteProof"]),
        // What every object-store back end shares: the HTTP transport under the transfer policy
        // (deadlines, speed floor, bounded bodies, no redirects, retries, endpoint health), the
        // storage that downloads objects as they are read, and `fetch`. Kept apart so the core
        // library needs no networking.
        .target(
            name: "LiteProofObjectStore",
            dependencies: [
                "LiteProof", "LiteProofStoreAnswers",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]),
        // `watch --listen`: /metrics and /healthz over HTTP/1 (SwiftNIO), kept apart so the core
        // library needs no networking.
        .target(
            name: "LiteProofServe",
            dependencies: [
                "LiteProof",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]),
        // Reading replicas straight from S3 and S3-compatible stores (ListObjectsV2, GetObject,
        // SigV4).
        .target(
            name: "LiteProofS3",
            dependencies: [
                "LiteProof", "LiteProofObjectStore", "LiteProofStoreAnswers",
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        // Reading replicas over SFTP (`sftp://`) through Debian's libssh2: SSH, host key checks and
        // the SFTP protocol are libssh2's; this target lists, reads and maps failures.
        .target(name: "LiteProofSFTP", dependencies: ["LiteProof", "CSSH2"]),
        // Litestream's own configuration file read as Litestream reads it (`--config`): databases,
        // their replicas and credentials, with its environment expansion.
        .target(
            name: "LiteProofConfig",
            dependencies: [
                "LiteProof",
                .product(name: "Yams", package: "Yams"),
            ]),
        // Reading replicas straight from Google Cloud Storage (the JSON API's objects list and
        // media downloads; service-account tokens signed RS256 with _CryptoExtras).
        .target(
            name: "LiteProofGCS",
            dependencies: [
                "LiteProof", "LiteProofObjectStore", "LiteProofStoreAnswers",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]),
        // Reading replicas straight from a WebDAV server (PROPFIND Depth: 1 and GETs, basic auth).
        .target(name: "LiteProofWebDAV", dependencies: ["LiteProof", "LiteProofObjectStore", "LiteProofStoreAnswers"]),
        .executableTarget(
            name: "liteproof",
            dependencies: [
                "LiteProof", "LiteProofConfig", "LiteProofMetrics", "LiteProofObjectStore", "LiteProofS3", "LiteProofGCS", "LiteProofSFTP",
                "LiteProofWebDAV", "LiteProofServe",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .testTarget(
            name: "LiteProofTests",
            dependencies: [
                "LiteProof", "LiteProofConfig", "LiteProofMetrics", "LiteProofObjectStore", "LiteProofS3", "LiteProofGCS", "LiteProofSFTP",
                "LiteProofWebDAV", "LiteProofStoreAnswers", "CSQLite", "CLZ4",
            ]),
    ],
    swiftLanguageModes: [.v6]
)

// libFuzzer targets (Fuzz/run.sh): added only when LITEPROOF_FUZZ=1, so `swift build` and
// `swift test` never see them.
if Context.environment["LITEPROOF_FUZZ"] == "1" {
    package.targets.append(
        .executableTarget(
            name: "LiteProofFuzz",
            dependencies: ["LiteProof", "LiteProofStoreAnswers", "CLZ4"],
            path: "Fuzz/Sources/LiteProofFuzz"))
}
