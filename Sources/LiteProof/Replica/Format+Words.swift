import Foundation

/// The words reports use for each format, chosen by exhaustive switches in one place (a third
/// format does not compile until each has its words).
extension Replica.Format {
    /// The Litestream version, as text names it ("0.3", "0.5").
    public var version: String {
        switch self {
        case .v03: return "0.3"
        case .ltx: return "0.5"
        }
    }

    /// What one step of history is called: a 0.3 commit, a 0.5 TXID.
    public var pointUnit: String {
        switch self {
        case .v03: return "commit"
        case .ltx: return "TXID"
        }
    }

    /// What a lane of a timeline is: a 0.3 generation, a 0.5 level.
    var laneUnit: String {
        switch self {
        case .v03: return "generation"
        case .ltx: return "level"
        }
    }

    /// The replica, as a timeline's heading names it.
    var replicaName: String {
        switch self {
        case .v03: return "Litestream 0.3 replica"
        case .ltx: return "Litestream 0.5 replica (LTX)"
        }
    }

    /// The smallest file of history, as a legend names it.
    var incrementalFile: String {
        switch self {
        case .v03: return "WAL segment"
        case .ltx: return "L0 file"
        }
    }

    /// A point on a timeline, as a legend names it.
    var pointLegend: String {
        switch self {
        case .v03: return "commit (red: unrestorable)"
        case .ltx: return "TXID point (red: unrestorable)"
        }
    }

    /// Where a time axis gets its times.
    var timeAxisSource: String {
        switch self {
        case .v03: return "0.3 files carry no times: file modification times"
        case .ltx: return "LTX header timestamps"
        }
    }
}
