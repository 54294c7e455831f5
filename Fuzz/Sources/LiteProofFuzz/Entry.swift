// libFuzzer entry points. One binary holds every target; LITEPROOF_FUZZ_TARGET picks one (see
// Fuzz/run.sh). Built only with LITEPROOF_FUZZ=1 and `--sanitize fuzzer`: libFuzzer supplies `main`.

import Foundation

/// One parser of outside bytes under fuzzing. `run` must return for every input: a thrown error
/// is the expected answer to bad bytes; a trap, a sanitizer report, a hang (libFuzzer's
/// `-timeout`) or a blow-up (`-rss_limit_mb`, `-malloc_limit_mb`) is a bug.
struct FuzzTarget: Sendable {
    let name: String
    let summary: String
    let run: @Sendable (UnsafeRawBufferPointer) -> Void
}

/// Every target, each defined in its own file under Targets/ (keep the bodies thin: they call the
/// library's entry point for those bytes and nothing else).
let allTargets: [FuzzTarget] = [
    ltxTarget, walTarget, walSegmentTarget, lz4Target, lz4BlocksTarget, snapshotTarget, databaseHeaderTarget,
    layoutTarget, tarTarget, tarZstdTarget, manifestTarget, digestTarget, logsTarget, fetchManifestTarget, s3ListingTarget, s3ErrorTarget,
    gcsListingTarget,
]

nonisolated(unsafe) private var selected: FuzzTarget?

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> CInt {
    let environment = ProcessInfo.processInfo.environment
    Scratch.setUp()
    if let corpusRoot = environment["LITEPROOF_FUZZ_MAKE_SEEDS"] {
        Seeds.make(into: corpusRoot)
        Scratch.tearDown()
        exit(0)
    }
    let name = environment["LITEPROOF_FUZZ_TARGET"] ?? ""
    guard let target = allTargets.first(where: { $0.name == name }) else {
        var text = "LITEPROOF_FUZZ_TARGET=\(name) names no target; the targets are:\n"
        for t in allTargets { text += "  \(t.name.padding(toLength: 14, withPad: " ", startingAt: 0)) \(t.summary)\n" }
        FileHandle.standardError.write(Data(text.utf8))
        exit(2)
    }
    selected = target
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: size == 0 ? nil : data, count: size)
    selected!.run(bytes)
    return 0
}
