import Foundation

// The page's style sheet and the text helpers the page and the picture share.

extension Timeline {
    static let css = """
        :root{--ink:#1f2933;--muted:#6b7785;--line:#e4e7eb;--bg:#f5f6f8;--red:#d62728;--green:#2b8a3e}
        *{box-sizing:border-box}
        body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
        header{background:#1f2933;color:#fff;padding:16px 28px 14px}
        header .brand{font-size:11px;letter-spacing:.12em;text-transform:uppercase;color:#9aa5b1}
        header h1{margin:2px 0 4px;font-size:19px;font-weight:600;word-break:break-all}
        header .sub{color:#cbd2d9;font-size:12.5px}
        main{padding:18px 28px 28px;max-width:1600px}
        h2{font-size:15px;margin:0 0 10px}
        h2 .count{font-weight:400;color:var(--muted);font-size:13px}
        .cards{display:flex;flex-wrap:wrap;gap:10px}
        .card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:9px 14px;min-width:104px;flex:1 1 104px}
        .card.wide{flex:3 1 270px}
        .card .k{font-size:10.5px;letter-spacing:.06em;text-transform:uppercase;color:var(--muted);white-space:nowrap}
        .card .v{font:600 16px/1.35 ui-monospace,"DejaVu Sans Mono",monospace;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
        .card .s{font-size:11.5px;color:var(--muted)}
        .card.good{border-color:#b2dfbb;background:#f1fbf3}.card.good .v{color:var(--green)}
        .card.bad{border-color:#f3b1b1;background:#fff4f4}.card.bad .v{color:var(--red)}
        .alert{background:#fff4f4;border:1px solid #f3b1b1;border-left:4px solid var(--red);border-radius:6px;padding:8px 12px;margin:12px 0 0;font-size:13px}
        .panel{background:#fff;border:1px solid var(--line);border-radius:8px;padding:14px 16px;margin-top:14px}
        svg.timeline{display:block;width:100%;height:auto}
        .legend{display:flex;flex-wrap:wrap;gap:6px 18px;margin-top:10px;font-size:12px;color:#3e4c59}
        .legend .li{display:inline-flex;align-items:center;gap:4px}
        table{border-collapse:collapse;width:100%;font-size:12.5px}
        th{position:sticky;top:0;background:#f0f2f5;text-align:left;font-weight:600;color:#3e4c59;z-index:1}
        td,th{padding:4px 8px;border-bottom:1px solid #eef0f3;vertical-align:top}
        tr.bad td{background:#fff6f6}
        .mono{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px;white-space:nowrap}
        td.note{color:#52606d}
        .tag{display:inline-block;padding:0 7px;border-radius:9px;font-size:11px;font-weight:600}
        .tag.ok{background:#e3f7e8;color:#1e6b34}.tag.no{background:#ffe1e1;color:#a61b1b}.tag.coarse{background:#fff1c2;color:#8a6200}
        .scroll{max-height:520px;overflow:auto;border:1px solid #eef0f3;border-radius:6px}
        footer{margin-top:16px;font-size:12px;color:var(--muted)}
        code{background:#eef0f3;padding:0 4px;border-radius:3px}
        """
}

/// Escapes text for HTML and SVG.
func esc(_ s: String) -> String {
    var o = ""
    o.reserveCapacity(s.count)
    for c in s {
        switch c {
        case "&": o += "&amp;"
        case "<": o += "&lt;"
        case ">": o += "&gt;"
        case "\"": o += "&quot;"
        default: o.append(c)
        }
    }
    return o
}

/// The last path component.
func fileName(_ path: String) -> String { path.split(separator: "/").last.map(String.init) ?? path }

/// Positions made shorter for display: a 0.3 generation id to its first 8 digits, 0.5 TXIDs
/// without leading zeros.
func short(_ position: Position) -> String {
    switch position {
    case .v03(let generation, _, _): return generation.prefix(8) + "…" + position.description.dropFirst(generation.count)
    case .ltx(let txid): return "0x" + String(txid, radix: 16)
    }
}

/// A lane name or a gap bound made shorter for display (positions as ``short(_:)-(Position)``;
/// a gap's `generation/index:end` as a 0.3 position).
func short(_ text: String) -> String {
    if text.hasPrefix("generation "), text.count == 27 { return "gen " + text.dropFirst(11).prefix(8) + "…" }
    if let position = Position(text) { return short(position) }
    if let slash = text.firstIndex(of: "/"), text.distance(from: text.startIndex, to: slash) == 16 {
        return text.prefix(8) + "…" + text[slash...]
    }
    return text
}
