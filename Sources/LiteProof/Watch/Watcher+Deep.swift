import Foundation

/// Deep checks, canary round trips, back-off and the trust in the latest position's time: the
/// parts of a round that go beyond the files read.
extension Watcher {
    /// The label of the canaries the watcher writes; it prunes only canaries with this label.
    public static let canaryLabel = "liteproof watch"
    /// How many of its own canaries the watcher leaves in the live database.
    public static let canariesKept = 10
    /// Seconds a canary may take to reach the replica without ``maxLag``.
    public static let defaultCanaryAllowance = 300.0

    /// Whether this replica's round is due at this interval: false while it backs off after
    /// unreadable rounds (see ``WatchRound/backoffIntervals``).
    public func isDue() -> Bool {
        guard schedule.skip > 0 else { return true }
        schedule.skip -= 1
        return false
    }

    /// After an unreadable round, waits 2 intervals, then 4 (never more); a readable round ends it.
    func backOff(_ r: inout WatchRound) {
        guard r.verdict == .unreadable else {
            schedule.unreadableInARow = 0
            schedule.skip = 0
            return
        }
        schedule.unreadableInARow += 1
        let n = min(1 << min(schedule.unreadableInARow, 2), 4)
        schedule.skip = n - 1
        r.backoffIntervals = n
    }

    /// A latest position whose time comes from 0.3 file times that look lost (the planner's
    /// `time.untrusted`), or that has no time, has no freshness: the round says so once, and
    /// never claims it fresh.
    func judgeTime(_ r: inout WatchRound, plan: RestorePlan?, warnings: inout [String]) {
        guard let plan else { return }
        let guessed = r.latestTime == nil || plan.warnings.contains { $0.code == .timeUntrusted }
        r.latestTimeTrusted = !guessed
        guard guessed else {
            schedule.timeGuessWarned = false
            return
        }
        r.freshnessSeconds = nil
        if !schedule.timeGuessWarned {
            schedule.timeGuessWarned = true
            warnings.append(
                "the latest position's time comes from file times that look lost (missing or all equal): its freshness is not judged"
                    + (maxLag != nil ? " and --max-lag cannot be met (health undecided)" : ""))
        }
    }

    /// The round's deep check and canary work, when due, on a sound round: a deep check's trial
    /// restore also looks for the pending canary; without one, the canary is looked for in the
    /// files new since it was written (see ``lookForCanary(_:replica:plan:now:)``), each time the
    /// latest position moves. Then the findings of a failed deep check are carried, a late canary
    /// is named, and a new canary is written when one is due.
    func deepChecks(_ r: inout WatchRound, replica: Replica, plan: RestorePlan?, started: Date) {
        let now = started.timeIntervalSince1970
        if r.verdict == .ok, let plan {
            let every = restoreEvery ?? 0
            let deepDue =
                every > 0
                && (schedule.lastDeepAt.map { now - $0 >= every } ?? true
                    || (!schedule.carried.isEmpty && schedule.lastDeep?.position != plan.position))
            let look = schedule.canary != nil && schedule.lookedAt != plan.position
            if deepDue {
                restoreAndCheck(&r, replica: replica, plan: plan, now: now)
            } else if look {
                lookForCanary(&r, replica: replica, plan: plan, now: now)
            }
        }
        if let c = schedule.canary {
            r.canary = CanaryTrip(token: c.token, writtenAt: c.createdAt, seen: false, ageSeconds: max(0, now - c.createdAt))
            let allowed = maxLag ?? Self.defaultCanaryAllowance
            if now - c.createdAt > allowed {
                r.findings.append(
                    .warning(
                        .canaryLate, file: "",
                        String(
                            format: "canary %@ written to %@ %.0f s ago is not in the replica (allowed: %.0f s): writes are not reaching it",
                            c.token, live ?? "?", now - c.createdAt, allowed)))
            }
        }
        if !schedule.carried.isEmpty {
            r.findings += schedule.carried
            r.verdict = VerifyReport.verdict(findings: r.findings, storageFailures: r.storageFailures, undecided: r.undecided, latest: r.latest)
        }
        writeCanaryIfDue(&r, now: now)
    }

    /// The deep check: restores `plan` into a scratch folder (removed after), runs SQLite's
    /// `quick_check` and the compare with the live database, and looks for the pending canary in
    /// the restored state.
    private func restoreAndCheck(_ r: inout WatchRound, replica: Replica, plan: RestorePlan, now: Double) {
        do {
            let scratch = try ScratchSpace.makeFolder(prefix: "liteproof-watch")
            defer { ScratchSpace.release(scratch) }
            let t = Date()
            let path = try Restorer(replica: replica).restoreToScratch(plan, in: scratch)
            let problems = try SQLiteDatabase(path: path, mode: .written).integrityCheck(full: false)
            let seconds = Date().timeIntervalSince(t)
            var d = DeepCheck(
                position: plan.position, seconds: seconds, check: problems.isEmpty ? "ok" : problems.prefix(5).joined(separator: "; "),
                detail: problems.isEmpty ? "restored and quick_check ok" : "restored; quick_check fails")
            compareWithLive(&d, replica: replica, plan: plan, restored: path, warnings: &r.warnings)
            r.deepCheck = d
            r.restoreCheckSeconds = seconds
            schedule.lastDeepAt = now
            schedule.lastDeep = d
            schedule.carried = []
            if d.check != "ok" {
                schedule.carried.append(
                    .error(
                        .restoreIntegrity, file: "",
                        "the latest position \(plan.position) restores, but SQLite's quick_check of the result fails: \(d.check)"))
            }
            if d.compare == .differs { schedule.carried.append(.error(.compareDiffers, file: "", d.detail)) }
            if let c = schedule.canary {
                schedule.lookedAt = plan.position
                do {
                    if try Canary.all(in: try FilePageSource(path: path))?.contains(where: { $0.token == c.token }) == true {
                        canarySeen(&r, c, now: now)
                    }
                } catch {
                    r.warnings.append("cannot look for the canary in the restored replica: \(LiteProofError(wrapping: error).message)")
                }
            }
        } catch {
            let e = LiteProofError(wrapping: error)
            if e.isStorage {
                r.storageFailures.append(FailureReport(e))
            } else {
                schedule.lastDeepAt = now
                schedule.carried = [e.finding ?? .error(.restoreIntegrity, file: "", "the trial restore of \(plan.position) failed: \(e.message)")]
            }
            r.verdict = VerifyReport.verdict(findings: r.findings, storageFailures: r.storageFailures, undecided: r.undecided, latest: r.latest)
        }
    }

    /// The compare of the restored state with ``live``, when it is on this machine (read-only;
    /// a live database that cannot be read is a warning: it says nothing about the replica).
    private func compareWithLive(_ d: inout DeepCheck, replica: Replica, plan: RestorePlan, restored: String, warnings: inout [String]) {
        guard let live else { return }
        guard FS.exists(live) else {
            warnings.append("the live database \(live) is not on this machine: the deep check does not compare")
            return
        }
        do {
            let c = try Comparer(replica: replica).compare(live: live, restored: restored, plan: plan)
            d.compare = c.verdict
            switch c.verdict {
            case .identical: d.detail += "; the live database equals the replica"
            case .lagging:
                d.commitsBehind = c.lag?.commitsBehind
                d.detail += "; the replica is \(c.lag?.commitsBehind ?? 0) commit(s) behind the live database"
            case .ahead:
                d.commitsAhead = c.ahead?.commitsAhead
                d.detail += "; the replica holds the live state and \(c.ahead?.commitsAhead ?? 0) later commit(s)"
            case .laggingUnproven: d.detail += "; the live database moved on past what its WAL remembers (lagging-unproven)"
            case .differs:
                d.detail = "the latest position \(plan.position) matches no state of the live database \(live): \(c.differingPageCount) page(s) differ"
            }
        } catch {
            warnings.append("cannot compare with the live database \(live): \(LiteProofError(wrapping: error).message)")
        }
    }

    /// Writes a canary to ``live`` when one is due and none is pending (pruning the watcher's old
    /// ones in the same transaction); a write that fails is a warning.
    private func writeCanaryIfDue(_ r: inout WatchRound, now: Double) {
        guard let live, let every = canaryEvery, every > 0, schedule.canary == nil, r.verdict != .unreadable else { return }
        if let last = schedule.lastCanaryAt, now - last < every { return }
        do {
            let c = try Canary.write(to: live, label: Self.canaryLabel, keeping: Self.canariesKept)
            schedule.canary = c
            schedule.lastCanaryAt = c.createdAt
            schedule.lookedAt = nil
            schedule.knownAtCanary = Set(state.files.keys)
            if r.canary == nil { r.canary = CanaryTrip(token: c.token, writtenAt: c.createdAt, seen: false, ageSeconds: 0) }
        } catch {
            r.warnings.append("cannot write a canary to \(live): \(LiteProofError(wrapping: error).message)")
        }
    }
}
