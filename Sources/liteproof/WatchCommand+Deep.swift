import ArgumentParser
import Foundation
import LiteProof

/// `watch`'s live databases, deep checks, canary round trips and `--on-change`.
struct WatchDeepOptions: ParsableArguments {
    @Option(
        name: .customLong("db"),
        help: ArgumentHelp(
            "The live database of a replica, repeatable: the first --db goes with the first replica, the second with the second, … (read-only, except for --canary-every).",
            valueName: "path"))
    var databases: [String] = []

    @Option(
        name: .customLong("restore-every"),
        help: ArgumentHelp(
            "Seconds between deep checks (default 3600; 0: never): a trial restore of the latest position with SQLite's quick_check, and with --db a compare with the live database (identical, lagging, ahead or differs).",
            valueName: "seconds"))
    var restoreEvery: Double = 3600

    @Option(
        name: .customLong("canary-every"),
        help: ArgumentHelp(
            "Seconds between canary rows written to each --db database (the only write LiteProof makes to it), each looked for in the replica to measure the round trip; one not there within --max-lag (300 s without it) is canary.late. Only the newest \(Watcher.canariesKept) of the watcher's canaries are kept.",
            valueName: "seconds"))
    var canaryEvery: Double?

    @Option(
        name: .customLong("on-change"),
        help: ArgumentHelp(
            "On each change of a replica's health, run this command with /bin/sh -c, with LITEPROOF_DATABASE, LITEPROOF_FROM (start at the first round), LITEPROOF_TO and LITEPROOF_REASON in its environment (its output goes to stderr).",
            valueName: "command"))
    var onChange: String?

    @Option(name: .customLong("on-change-timeout"), help: ArgumentHelp("Seconds before an --on-change command is killed (default 30).", valueName: "seconds"))
    var onChangeTimeout: Double = 30

    /// Checks what needs the replica count.
    func validate(replicas: Int) throws {
        if databases.count > replicas {
            throw ValidationError("\(databases.count) --db options for \(replicas) replica(s): each --db pairs with the replica in the same place")
        }
        if !(restoreEvery >= 0) { throw ValidationError("--restore-every must be 0 (never) or more seconds") }
        if let canaryEvery, !(canaryEvery > 0) { throw ValidationError("--canary-every must be more than 0 seconds") }
        if !(onChangeTimeout > 0) { throw ValidationError("--on-change-timeout must be more than 0 seconds") }
    }

    /// The live database paired with the `i`-th replica, if any.
    func live(_ i: Int) -> String? { i < databases.count ? databases[i] : nil }

    /// Sets a watcher's deep-check and canary schedule.
    func configure(_ w: Watcher) {
        w.restoreEvery = restoreEvery
        w.canaryEvery = w.live == nil ? nil : canaryEvery
    }

    /// --canary-every with no live database at all (from --db or --config) is a usage error.
    func requireLive(_ watchers: [Watcher]) throws {
        if canaryEvery != nil, watchers.allSatisfy({ $0.live == nil }) {
            throw LiteProofError(.usage, "--canary-every writes canaries to the live database: pass --db PATH (or --config FILE)")
        }
    }

    /// The deep check and canary of a round, for the --verbose status line ("" when neither).
    static func status(_ r: WatchRound) -> String {
        var s = ""
        if let d = r.deepCheck { s += String(format: "; deep check %.2f s: %@", d.seconds, d.detail) }
        if let t = r.canaryRoundTripSeconds { s += String(format: "; canary round trip %.2f s", t) }
        if let n = r.backoffIntervals { s += "; next round in \(n) intervals" }
        return s
    }

    /// Runs the --on-change command for a change of health; a warning when it failed.
    func changed(database: String, from: Outcome?, to: Outcome, reason: String) -> String? {
        guard let onChange else { return nil }
        return ChangeHook.run(
            onChange, environment: ChangeHook.environment(database: database, from: from, to: to, reason: reason), timeout: onChangeTimeout,
            stop: StopSignal.install())
    }
}
