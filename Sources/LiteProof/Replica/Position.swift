/// A point in a replica's history, with one text form and one parser.
///
/// - Litestream 0.3: `<generation>/<index, 8 hex>:<WAL offset, decimal>` (Litestream's own
///   notation), e.g. `0f1e2d3c4b5a6978/0000000a:20632`: the state after the commit frame that ends
///   at that WAL offset (offset 0: the snapshot of that index).
/// - Litestream 0.5: the TXID in 16 hex digits, as in LTX file names, e.g. `0000000000000007`.
///
/// Every report, JSON document and page prints a position through ``description`` and reads one
/// back through ``init(_:)``; JSON holds the same text.
public enum Position: Hashable, Sendable, Codable, LosslessStringConvertible {
    /// 0.3: the state after the commit that ends at WAL `offset` of `index` in `generation`.
    case v03(generation: String, index: UInt32, offset: Int64)
    /// 0.5: the state at this TXID.
    case ltx(txid: UInt64)

    public var description: String {
        switch self {
        case .v03(let generation, let index, let offset): return "\(generation)/\(index.hex(width: 8)):\(offset)"
        case .ltx(let txid): return txid.hex(width: 16)
        }
    }

    /// Parses the text form (and only it): 16 lower-case hex digits, or `generation/index:offset`
    /// with a 16-hex generation, an 8-hex index and a decimal offset.
    public init?(_ text: String) {
        if let slash = text.firstIndex(of: "/") {
            let generation = String(text[..<slash])
            let rest = text[text.index(after: slash)...].split(separator: ":", omittingEmptySubsequences: false)
            guard isHex(generation, count: 16), rest.count == 2, isHex(String(rest[0]), count: 8),
                let index = UInt32(rest[0], radix: 16), rest[1].allSatisfy(\.isASCII), let offset = Int64(rest[1]), offset >= 0
            else { return nil }
            self = .v03(generation: generation, index: index, offset: offset)
        } else {
            guard isHex(text, count: 16), let txid = UInt64(text, radix: 16) else { return nil }
            self = .ltx(txid: txid)
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let p = Position(text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a replica position: \(text)")
        }
        self = p
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    /// 0.3: the generation; nil for 0.5.
    public var generation: String? {
        if case .v03(let g, _, _) = self { return g }
        return nil
    }

    /// 0.5: the TXID; nil for 0.3.
    public var txid: UInt64? {
        if case .ltx(let t) = self { return t }
        return nil
    }

    /// The Litestream version whose notation the position uses.
    public var format: Replica.Format {
        switch self {
        case .v03: return .v03
        case .ltx: return .ltx
        }
    }

    /// What to pass to `restore` to get back to this position.
    public var target: RestoreTarget {
        switch self {
        case .v03(let g, let i, let o): return .walIndex(i, offset: o, generation: g)
        case .ltx(let t): return .txid(t)
        }
    }

    /// 0.3 gaps: the end of a WAL index whose length is unknown (`generation/index:end`).
    public static func endOfIndex(generation: String, index: UInt32) -> String {
        "\(generation)/\(index.hex(width: 8)):end"
    }
}
