import Foundation

extension Verifier {
    func verifyLTX(_ layout: LTXLayout, latestPlan: LatestPlan) -> FileChecks {
        let refs = layout.files
        let total = refs.reduce(Int64(0)) { $0 + $1.size }
        let meter = ProgressMeter(phase: "verify", total: total, handler: progress)
        let replica = self.replica
        let decoded: [(LTXFileRef, LTXSummary?, Finding?, LiteProofError?)] = parallelMap(refs) { ref in
            defer { meter.add(ref.size) }
            let c = Self.check(ref, in: replica)
            return (ref, c.summary, c.finding, c.failure)
        }
        let results = decoded.map { ($0.0, $0.1, $0.2) }
        var findings: [Finding] = []
        var pageSizes: [Int: Int] = [:]
        // The file the latest restore ends with (Litestream's restore keeps that file's trailer).
        let latestLast = latestPlan.plan?.files.last
        for (ref, summary, finding) in results {
            if let finding { findings.append(finding) }
            guard let h = summary?.header else { continue }
            pageSizes[h.pageSize, default: 0] += 1
            findings += Self.headerFindings(ref, header: h, endsLatest: ref.path == latestLast)
        }
        if pageSizes.count > 1, let common = pageSizes.max(by: { $0.value < $1.value })?.key {
            for (ref, summary, _) in results {
                if let h = summary?.header, h.pageSize != common {
                    findings.append(.error(.ltxPageSize, file: ref.path, offset: 8, "page size is \(h.pageSize); the replica's other files have \(common)"))
                }
            }
        }
        findings += Self.overlaps(layout)
        return FileChecks(findings: findings, storageFailures: decoded.compactMap(\.3), files: refs.count, bytes: total)
    }

    /// Reads and decodes one LTX file (every page, the page index, the trailer and the file
    /// checksum): the one per-file check of 0.5 files, for `verify` and `watch`. Damage is a
    /// finding; a file the store could not produce is a storage failure.
    static func check(_ ref: LTXFileRef, in replica: Replica) -> (summary: LTXSummary?, finding: Finding?, failure: LiteProofError?) {
        do {
            return (try LTX.decode(try replica.open(ref.path), name: ref.path), nil, nil)
        } catch let e as FormatError {
            return (nil, e.located(in: ref.path).finding, nil)
        } catch {
            let e = LiteProofError(wrapping: error)
            if let finding = e.finding, e.kind == .damaged { return (nil, finding, nil) }
            return (nil, nil, e.isStorage ? e : .storage(.local, e.message, path: ref.path))
        }
    }

    /// What one decoded file's header says about it alone: its name, its level, and whether
    /// Litestream can end a restore with it (`endsLatest`: the latest restore ends with it).
    static func headerFindings(_ ref: LTXFileRef, header h: LTXHeader, endsLatest: Bool) -> [Finding] {
        var findings: [Finding] = []
        if h.hasChecksums { findings.append(Self.checksumsIncompatible(ref, header: h, endsLatest: endsLatest)) }
        if h.minTXID != ref.minTXID || h.maxTXID != ref.maxTXID {
            findings.append(
                .error(
                    .ltxNameMismatch, file: ref.path, offset: 16,
                    "header TXIDs are \(h.minTXID.hex(width: 16))-\(h.maxTXID.hex(width: 16)); the file name says \(ref.minTXID.hex(width: 16))-\(ref.maxTXID.hex(width: 16))"
                ))
        }
        if ref.level == LTXLayout.snapshotLevel && !h.isSnapshot {
            findings.append(.error(.ltxHeader, file: ref.path, offset: 16, "a level-9 file must be a snapshot (min TXID 1); found min TXID \(h.minTXID)"))
        }
        return findings
    }

    /// Files of one level should not overlap: a warning for each that does. Reads no file.
    static func overlaps(_ layout: LTXLayout) -> [Finding] {
        var findings: [Finding] = []
        for level in layout.levels where level != LTXLayout.snapshotLevel {
            let files = layout.files.filter { $0.level == level }
            for (a, b) in zip(files, files.dropFirst()) where b.minTXID <= a.maxTXID {
                findings.append(
                    .warning(
                        .chainOverlap, file: b.path,
                        "TXIDs \(b.minTXID.hex(width: 16))-\(b.maxTXID.hex(width: 16)) overlap \(a.path) on level \(level)"))
            }
        }
        return findings
    }

    /// A file whose header declares database checksums (no flag 0x2, as `ltx encode-db` writes):
    /// LiteProof reads it, but Litestream 0.5.17 (ltx 0.5.2) cannot end a restore with it: its
    /// restore compacts the plan into one file with flag 0x2 and copies the last file's post-apply
    /// checksum into it, which the encoder refuses. An error when the latest restore ends with the
    /// file (`litestream restore` of the latest position fails), else a warning (only restores to
    /// the file's last TXID fail).
    static func checksumsIncompatible(_ ref: LTXFileRef, header h: LTXHeader, endsLatest: Bool) -> Finding {
        let what =
            "the header declares database checksums (flags 0x\(h.flags.hex(width: 8)): no flag 0x2, which every file Litestream 0.5 writes has); LiteProof reads it, but Litestream 0.5.17 refuses to end a restore with it (\"validate trailer: post-apply checksum not allowed\")"
        if endsLatest {
            return .error(
                .ltxLitestreamIncompatible, file: ref.path, offset: 4,
                "\(what): the latest restore ends with it, so `litestream restore` of the latest position fails")
        }
        return .warning(
            .ltxLitestreamIncompatible, file: ref.path, offset: 4,
            "\(what): a Litestream restore to TXID \(h.maxTXID.hex(width: 16)) fails; the latest restore does not end with this file")
    }
}
