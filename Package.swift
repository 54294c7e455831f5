// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "LiteProof",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "LiteProof", targets: ["LiteProof"]),
        .executable(name: "liteproof", targets: ["liteproof"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
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
        .target(name: "CPlatform"),
        .target(
            name: "LiteProof",
            dependencies: ["CSQLite", "CLZ4", "CZstd", "CPlatform"],
            swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]),
        .executableTarget(
            name: "liteproof",
            dependencies: [
                "LiteProof",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .testTarget(
            name: "LiteProofTests",
            dependencies: ["LiteProof", "CSQLite"]),
    ],
    swiftLanguageModes: [.v5]
)
