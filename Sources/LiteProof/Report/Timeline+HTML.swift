import Foundation

extension Timeline {
    /// One self-contained HTML page (inline CSS and SVG; no script, no external resource): the
    /// summary, a picture of the timeline (a lane per generation or level, files as bars along
    /// the time axis, snapshots as diamonds, commits as ticks, gaps and damage in red), a legend,
    /// and tables of the gaps, damaged files, stretches and points.
    public func renderHTML() -> String {
        var h = HTMLPage()
        h.title = "LiteProof timeline — \(replica)"
        h.out += """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(esc(h.title))</title>
            <style>\(Self.css)</style>
            </head>
            <body>

            """
        let s = summary
        h.out += """
            <header>
            <div class="brand">LiteProof · timeline</div>
            <h1>\(esc(replica))</h1>
            <div class="sub">\(format.replicaName) · \(lanes.count) \(format.laneUnit)\(lanes.count == 1 ? "" : "s") · \(lanes.reduce(0) { $0 + $1.files.count }) files · times: \(esc(timeSource))</div>
            </header>
            <main>

            """
        // Summary cards.
        h.out += "<section class=\"cards\">\n"
        h.out += card("history", s.clean ? "clean" : "broken", cls: s.clean ? "good" : "bad", sub: s.clean ? "intact" : "see red marks")
        h.out += card("points", "\(s.points)", sub: "\(s.restorablePoints) restore")
        h.out += card("gaps", "\(s.gaps)", cls: s.gaps > 0 ? "bad" : nil, sub: s.gaps > 0 ? "files missing" : "none")
        h.out += card("damaged", "\(s.damaged)", cls: s.damaged > 0 ? "bad" : nil, sub: s.damaged > 0 ? "files" : "none")
        func pointCard(_ key: String, _ r: PointRef?, cls: String, none: String) -> String {
            guard let r else { return card(key, "none", cls: cls, sub: none) }
            // 0.3: index:offset large, the generation below; 0.5: the TXID.
            let text = r.position.description
            if let gen = r.position.generation {
                return card(
                    key, String(text.dropFirst(gen.count + 1)), cls: cls, sub: r.time ?? "no time", sub2: "generation \(gen.prefix(8))…",
                    title: text)
            }
            return card(key, short(r.position), cls: cls, sub: r.time ?? "no time", title: text)
        }
        h.out += pointCard("last clean restore", s.lastClean, cls: s.lastClean == nil ? "bad wide" : "good wide", none: "no point restores")
        h.out += pointCard("first restorable", s.firstRestorable, cls: "wide", none: "no plan exists")
        h.out += pointCard("last restorable", s.lastRestorable, cls: "wide", none: "no plan exists")
        h.out += "</section>\n"
        if let b = s.firstBroken {
            let reason = points.first { $0.position == b.position }?.reason ?? ""
            h.out += "<p class=\"alert\"><b>History breaks at \(esc(b.position.description))</b> (\(esc(b.time ?? "no time"))): \(esc(reason))</p>\n"
        }
        if let e = s.latestError {
            h.out += "<p class=\"alert\"><b>Litestream's default restore fails:</b> \(esc(e))</p>\n"
        }

        h.out += "<section class=\"panel\">\n<h2>Timeline</h2>\n"
        h.out += TimelinePicture(timeline: self).svg()
        h.out += legend()
        h.out += "</section>\n"

        if !gaps.isEmpty {
            h.out +=
                "<section class=\"panel\">\n<h2>Gaps</h2>\n<table>\n<thead><tr><th>lane</th><th>missing</th><th>between</th><th>time</th><th>what it means</th></tr></thead>\n<tbody>\n"
            for g in gaps {
                let between = [g.after.map(fileName), g.before.map(fileName)].map { esc($0 ?? "—") }.joined(separator: "<br>→ ")
                let time = [g.startTime, g.endTime].map { esc($0 ?? "?") }.joined(separator: "<br>→ ")
                let missing = g.from == g.to ? esc(short(g.from)) : "\(esc(short(g.from)))<br>… \(esc(short(g.to)))"
                h.out +=
                    "<tr class=\"bad\"><td>\(esc(short(g.lane)))</td><td class=\"mono\">\(missing)</td><td class=\"mono\">\(between)</td><td class=\"mono\">\(time)</td><td>\(esc(g.description))</td></tr>\n"
            }
            h.out += "</tbody>\n</table>\n</section>\n"
        }
        if !damaged.isEmpty {
            h.out +=
                "<section class=\"panel\">\n<h2>Damaged files</h2>\n<table>\n<thead><tr><th>file</th><th>findings</th><th>points in it</th><th>unrestorable because of it</th><th>first finding</th></tr></thead>\n<tbody>\n"
            for d in damaged {
                h.out +=
                    "<tr class=\"bad\"><td class=\"mono\" title=\"\(esc(d.file))\">\(esc(fileName(d.file)))</td><td class=\"mono\">\(esc(d.codes.joined(separator: ", ")))</td><td>\(d.points)</td><td>\(d.unrestorablePoints)</td><td>\(esc(d.findings.first?.message ?? ""))</td></tr>\n"
            }
            h.out += "</tbody>\n</table>\n</section>\n"
        }

        h.out +=
            "<section class=\"panel\">\n<h2>Stretches</h2>\n<table>\n<thead><tr><th>lane</th><th>from</th><th>to</th><th>points</th><th>time</th><th>restores</th></tr></thead>\n<tbody>\n"
        for st in stretches {
            let time = [st.first.time, st.last.time].map { $0 ?? "?" }.joined(separator: " → ")
            h.out +=
                "<tr\(st.restorable ? "" : " class=\"bad\"")><td>\(esc(short(st.lane)))</td><td class=\"mono\">\(esc(short(st.first.position)))</td><td class=\"mono\">\(esc(short(st.last.position)))</td><td>\(st.count)</td><td class=\"mono\">\(esc(time))</td><td>\(st.restorable ? "<span class=\"tag ok\">restorable</span>" : "<span class=\"tag no\">no</span> \(esc(st.reason ?? ""))")</td></tr>\n"
        }
        h.out += "</tbody>\n</table>\n</section>\n"

        h.out +=
            "<section class=\"panel\">\n<h2>Points <span class=\"count\">\(points.count)</span></h2>\n<div class=\"scroll\">\n<table>\n<thead><tr><th>#</th><th>position</th><th>kind</th><th>time</th><th>file</th><th>restores</th><th>notes</th></tr></thead>\n<tbody>\n"
        // A huge replica: the first and last rows, and every unrestorable point (--json has all).
        let rowLimit = 4000
        let shown: [Int] =
            points.count <= rowLimit
            ? Array(points.indices)
            : points.indices.filter { $0 < rowLimit / 2 || $0 >= points.count - rowLimit / 2 || !points[$0].restorable }
        var previous = -1
        for n in shown {
            let p = points[n]
            if n != previous + 1 {
                h.out +=
                    "<tr><td colspan=\"7\" class=\"note\">… \(n - previous - 1) restorable points left out here (<code>liteproof timeline --json</code> lists every one) …</td></tr>\n"
            }
            previous = n
            var tag = p.restorable ? "<span class=\"tag ok\">yes</span>" : "<span class=\"tag no\">no</span>"
            if p.coarse == true { tag += " <span class=\"tag coarse\">coarse</span>" }
            let notes = [p.reason, p.note].compactMap { $0 }.joined(separator: " · ")
            var pos = p.position.description
            if let from = p.fromTXID, let t = p.txid, from < t { pos = "\(Position.ltx(txid: from))–\(p.position)" }
            h.out +=
                "<tr\(p.restorable ? "" : " class=\"bad\"")><td>\(n + 1)</td><td class=\"mono\">\(esc(pos))</td><td>\(p.kind.rawValue)</td><td class=\"mono\">\(esc(p.time ?? "—"))</td><td class=\"mono\" title=\"\(esc(p.file))\">\(esc(fileName(p.file)))</td><td>\(tag)</td><td class=\"note\">\(esc(notes))</td></tr>\n"
        }
        h.out += "</tbody>\n</table>\n</div>\n</section>\n"
        h.out +=
            "<footer>Made by <b>liteproof timeline</b> from the replica's files alone. A point restores when Litestream's restore plan to it exists and reads no damaged file; check one with <code>liteproof restore REPLICA -o out.db</code> and the point's target.</footer>\n"
        h.out += "</main>\n</body>\n</html>\n"
        return h.out
    }

    func card(_ key: String, _ value: String, cls: String? = nil, sub: String, sub2: String? = nil, title: String? = nil) -> String {
        "<div class=\"card\(cls.map { " " + $0 } ?? "")\"\(title.map { " title=\"\(esc($0))\"" } ?? "")><div class=\"k\">\(esc(key))</div><div class=\"v\">\(esc(value))</div><div class=\"s\">\(esc(sub))\(sub2.map { "<br>" + esc($0) } ?? "")</div></div>\n"
    }

    func legend() -> String {
        func item(_ svg: String, _ label: String) -> String {
            "<span class=\"li\"><svg width=\"34\" height=\"16\" viewBox=\"0 0 34 16\" aria-hidden=\"true\">\(svg)</svg>\(esc(label))</span>"
        }
        var items = [
            item("<rect x=\"2\" y=\"3\" width=\"30\" height=\"10\" rx=\"2\" fill=\"\(TimelinePicture.blue)\"/>", format.incrementalFile)
        ]
        switch format {
        case .v03: break
        case .ltx:
            items.append(item("<rect x=\"2\" y=\"3\" width=\"30\" height=\"10\" rx=\"2\" fill=\"\(TimelinePicture.teal)\"/>", "compacted file (L1–L8)"))
        }
        items += [
            item("<path d=\"M17 1 L24 8 L17 15 L10 8 Z\" fill=\"\(TimelinePicture.purple)\"/>", "snapshot"),
            item(
                "<line x1=\"10\" y1=\"3\" x2=\"10\" y2=\"13\" stroke=\"\(TimelinePicture.ink)\" stroke-width=\"1.5\"/><line x1=\"17\" y1=\"3\" x2=\"17\" y2=\"13\" stroke=\"\(TimelinePicture.ink)\" stroke-width=\"1.5\"/><line x1=\"24\" y1=\"3\" x2=\"24\" y2=\"13\" stroke=\"\(TimelinePicture.red)\" stroke-width=\"1.5\"/>",
                format.pointLegend),
            item(
                "<rect x=\"2\" y=\"3\" width=\"30\" height=\"10\" rx=\"2\" fill=\"\(TimelinePicture.red)\" stroke=\"\(TimelinePicture.darkRed)\"/>",
                "damaged file"),
            item(
                "<rect x=\"2\" y=\"3\" width=\"30\" height=\"10\" rx=\"2\" fill=\"\(TimelinePicture.grey)\" stroke=\"\(TimelinePicture.red)\" stroke-dasharray=\"3 2\"/>",
                "sound file, points unrestorable"),
            item(
                "<rect x=\"2\" y=\"1\" width=\"30\" height=\"14\" fill=\"url(#lp-hatch)\" stroke=\"\(TimelinePicture.red)\" stroke-dasharray=\"3 2\"/>",
                "gap (missing files)"),
            item("<rect x=\"2\" y=\"5\" width=\"30\" height=\"6\" rx=\"3\" fill=\"\(TimelinePicture.green)\"/>", "restorable stretch"),
            item("<rect x=\"2\" y=\"5\" width=\"30\" height=\"6\" rx=\"3\" fill=\"\(TimelinePicture.red)\"/>", "unrestorable stretch"),
            item("<rect x=\"2\" y=\"5\" width=\"30\" height=\"6\" rx=\"3\" fill=\"\(TimelinePicture.early)\"/>", "before the first restorable point"),
        ]
        switch format {
        case .v03: break
        case .ltx:
            items.append(item("<rect x=\"2\" y=\"5\" width=\"30\" height=\"6\" rx=\"3\" fill=\"\(TimelinePicture.amber)\"/>", "coarse range (L0 expired)"))
        }
        return "<div class=\"legend\">" + items.joined() + "</div>\n"
    }
}

/// Collects the page as it is written.
fileprivate struct HTMLPage {
    var title = ""
    var out = ""
}
