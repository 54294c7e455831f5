import ArgumentParser
import Foundation
import LiteProof

struct TimelineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timeline",
        abstract: "List every restorable point of a replica in order, with its time, and what breaks the history.",
        discussion: """
            Forensics: which states of the database can be restored, from when, and what is the \
            last point that restores cleanly.

            0.3: one lane per generation (with its time bounds); points are its snapshots and \
            every commit frame of every WAL index (GENERATION/INDEX:OFFSET, the offset just after \
            the commit frame: pass them to `restore --generation --index --offset`). 0.3 files \
            carry no times: a point's time is the modification time of the file that holds it.
            0.5: one lane per level; a point per TXID a restore can stop at (`restore --txid`): L0 \
            files give single TXIDs, compacted files whose L0 files expired give coarse ranges \
            (restorable only at their end), level 9 gives snapshots. Times are LTX header timestamps.

            Every file is read in full (as `verify` does). A point restores when Litestream's \
            restore plan to it exists and reads no file with an error finding; gaps (a missing \
            WAL index, a hole in WAL offsets, TXIDs in no file) and damaged files are listed with \
            the points they cost.

            Text shows one line per file; --commits adds one line per point. --json prints one \
            object: points [{position, kind, time, file, restorable, reason?, target, …}], lanes, \
            gaps, damaged, summary (firstRestorable, lastRestorable, lastClean — the last point \
            that restores cleanly —, firstBroken, newest). --html FILE also writes a \
            self-contained page with a picture of the timeline.

            Exit codes: 0 the history is clean; 1 gaps, damaged files or points that do not \
            restore after the first one that does; 2 could not run.
            """)

    @OptionGroup var options: ReplicaOptions

    @Flag(help: "One line per commit (0.3) or TXID point (0.5) in the text output.")
    var commits = false

    @Option(help: ArgumentHelp("Also write the timeline as a self-contained HTML page to this file.", valueName: "file"))
    var html: String?

    @Flag(help: "Replace an existing --html file.")
    var force = false

    func run() throws {
        let timeline: Timeline
        do {
            if let html { try FS.checkOutput(html, force: force) }
            let replica = try options.open()
            timeline = try Timeline.build(replica, progress: options.progressHandler())
            if let html {
                try FS.writeOutput(Array(timeline.renderHTML().utf8), to: html, force: force)
            }
        } catch {
            throw fail(error, json: options.json)
        }
        print(options.json ? JSONOutput.encode(timeline) : timeline.renderText(commits: commits))
        if let html, !options.json, !options.quiet {
            FileHandle.standardError.write(Data("timeline picture written to \(html)\n".utf8))
        }
        if !timeline.summary.clean { throw ExitCode(1) }
    }
}
