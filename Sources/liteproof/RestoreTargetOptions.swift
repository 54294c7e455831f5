import ArgumentParser
import Foundation
import LiteProof

/// The restore target options, converted once into a ``RestoreTarget``.
struct RestoreTargetOptions: ParsableArguments {
    @Option(help: "0.3: restore up to this WAL index (hex).")
    var index: WALIndexArgument?

    @Option(help: "0.3, with --index: apply that index's WAL only up to this byte offset (whole commits).")
    var offset: Int64?

    @Option(help: "0.5: restore up to this TXID (hex, as in file names).")
    var txid: TXIDArgument?

    @Option(help: "Restore the state as of this time (ISO 8601).")
    var timestamp: TimeArgument?

    func validate() throws {
        if offset != nil && index == nil { throw ValidationError("--offset goes with --index") }
        if txid != nil && index != nil { throw ValidationError("--txid is for 0.5 replicas; --generation/--index are for 0.3") }
        if txid != nil && timestamp != nil { throw ValidationError("give --txid or --timestamp, not both") }
        if index != nil && timestamp != nil { throw ValidationError("give --index or --timestamp, not both") }
    }

    /// What the options name (after ``validate()``), in `generation` (0.3, `--generation`).
    func target(generation: String?) -> RestoreTarget {
        if let txid { return .txid(txid.value) }
        if let index { return .walIndex(index.value, offset: offset, generation: generation) }
        if let timestamp { return .time(timestamp.seconds, generation: generation) }
        return .latest(generation: generation)
    }
}

/// A 0.3 WAL index in hex, as in file names (`0000000a`).
struct WALIndexArgument: ExpressibleByArgument {
    var value: UInt32

    init?(argument: String) {
        guard let v = UInt32(argument, radix: 16) else { return nil }
        value = v
    }
}

/// A 0.5 TXID in hex, as in file names (`000000000000002a`).
struct TXIDArgument: ExpressibleByArgument {
    var value: UInt64

    init?(argument: String) {
        guard let v = UInt64(argument, radix: 16) else { return nil }
        value = v
    }
}

/// A time in ISO 8601, with or without fractional seconds (`2026-11-27T10:00:00Z`).
struct TimeArgument: ExpressibleByArgument {
    /// Seconds since the epoch.
    var seconds: Double

    init?(argument: String) {
        guard let s = parseTime(argument) else { return nil }
        seconds = s
    }
}

extension RestoreOptions.IntegrityCheck: ExpressibleByArgument {}

/// ISO 8601 with or without fractional seconds.
func parseTime(_ s: String) -> Double? {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    if let d = f.date(from: s) { return d.timeIntervalSince1970 }
    f.formatOptions = [.withInternetDateTime]
    return f.date(from: s)?.timeIntervalSince1970
}
