import Foundation

extension Verifier {
    enum V03Unit {
        case snapshot(V03File)
        case index(generation: String, index: UInt32, segments: [V03File])
    }

    enum V03Outcome {
        case snapshot(V03Readers.SnapshotResult)
        case index(generation: String, V03Readers.IndexResult)
    }

    func verifyV03(_ layout: V03Layout) -> (findings: [Finding], files: Int, bytes: Int64) {
        let gens = layout.generations
        var units: [V03Unit] = []
        for g in gens {
            units += g.snapshots.map { .snapshot($0) }
            units += g.indexes.map { .index(generation: g.id, index: $0, segments: g.segments(of: $0)) }
        }
        let total = gens.reduce(Int64(0)) { $0 + $1.allFiles.reduce(0) { $0 + $1.size } }
        let meter = ProgressMeter(phase: "verify", total: total, handler: progress)
        let replica = self.replica
        let outcomes: [V03Outcome] = parallelMap(units) { unit in
            switch unit {
            case .snapshot(let f):
                let r = V03Readers.readSnapshot(replica, f)
                meter.add(f.size)
                return .snapshot(r)
            case .index(let g, let i, let segs):
                let r =
                    (try? V03Readers.readIndex(replica, index: i, segments: segs, expectedPageSize: nil))
                    ?? V03Readers.IndexResult(index: i)
                meter.add(segs.reduce(0) { $0 + $1.size })
                return .index(generation: g, r)
            }
        }
        var findings: [Finding] = []
        var snapshotPageSize: [String: Int] = [:]
        for o in outcomes {
            if case .snapshot(let r) = o {
                findings += r.findings
                if let h = r.header {
                    snapshotPageSize[generationOf(r.file.path)] = h.pageSize
                }
            }
        }
        for o in outcomes {
            if case .index(let g, let r) = o {
                findings += r.findings
                if let h = r.header, let ps = snapshotPageSize[g], ps != h.pageSize,
                    let first = gens.first(where: { $0.id == g })?.segments(of: r.index).first
                {
                    findings.append(
                        .error(
                            .walPageSize, file: first.path, offset: 8,
                            "WAL page size is \(h.pageSize); the generation's snapshot has \(ps)-byte pages"))
                }
            }
        }
        // Chain: every index from the oldest snapshot on must be present.
        for g in gens {
            let dir = "generations/\(g.id)"
            guard let firstSnap = g.snapshots.first else {
                findings.append(.error(.chainNoSnapshot, file: dir, "generation \(g.id) has no snapshot: none of its WAL can be restored"))
                continue
            }
            let present = Set(g.indexes)
            if let maxIndex = g.maxIndex, firstSnap.index < maxIndex {
                for i in firstSnap.index...maxIndex where !present.contains(i) {
                    findings.append(
                        .error(
                            .chainMissingIndex, file: dir + "/wal",
                            "WAL index \(i.hex(width: 8)) has no segments; restores past it are impossible (indexes \(firstSnap.index.hex(width: 8))…\(maxIndex.hex(width: 8)) expected)"
                        ))
                }
            }
        }
        let files = gens.reduce(0) { $0 + $1.allFiles.count }
        return (findings, files, total)
    }

    func generationOf(_ path: String) -> String {
        let parts = path.split(separator: "/")
        return parts.count > 1 ? String(parts[1]) : ""
    }
}
