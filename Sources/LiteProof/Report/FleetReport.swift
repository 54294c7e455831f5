import Foundation

/// The merged JSON Lines of one or more `verify --all --json` runs (`liteproof report`): the
/// shards of a fleet, concatenated or in separate files.
public struct FleetReport: Sendable {
    /// Every database line, sorted by name (the first one kept when a name repeats).
    public var entries: [FleetEntry] = []
    /// Every summary line, in input order.
    public var summaries: [FleetSummary] = []
    /// Why the inputs do not add up to one whole check (a shard missing, a run that did not
    /// finish, a database twice); each makes the exit code 2.
    public var problems: [String] = []

    public init() {}

    /// 2 if any database could not be read or the inputs are incomplete, else 1 if any is damaged, else 0.
    public var exitCode: Int32 { problems.isEmpty ? VerdictCounts(entries).worst.exitCode : 2 }

    /// Reads JSON Lines inputs, each named for messages. Throws (`.usage`) at the first line that
    /// is not a database or summary object of `verify --all --json`, naming the input and line.
    public static func read(_ inputs: [(name: String, text: String)]) throws -> FleetReport {
        var report = FleetReport()
        var seen: [String: String] = [:]
        for (name, text) in inputs {
            var lineNumber = 0
            var databasesSinceSummary = 0
            var summaries = 0
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                lineNumber += 1
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty { continue }
                let place = "\(name):\(lineNumber)"
                switch try decode(Substring(trimmed), at: place) {
                case .database(let e):
                    databasesSinceSummary += 1
                    if let first = seen[e.database] {
                        report.problems.append("\(place): database \(e.database) was already reported at \(first)")
                        continue
                    }
                    seen[e.database] = place
                    report.entries.append(e)
                case .summary(let s):
                    if s.databases != databasesSinceSummary {
                        report.problems.append(
                            "\(place): the summary counts \(s.databases) databases but \(databasesSinceSummary) lines precede it (a truncated or edited output?)"
                        )
                    }
                    databasesSinceSummary = 0
                    summaries += 1
                    report.summaries.append(s)
                }
            }
            if summaries == 0 || databasesSinceSummary > 0 {
                report.problems.append("\(name): no summary line after the last database: the check that wrote it did not finish")
            }
        }
        report.entries.sort { $0.database < $1.database }
        report.problems += shardProblems(report.summaries)
        return report
    }

    enum Line {
        case database(FleetEntry)
        case summary(FleetSummary)
    }

    static func decode(_ line: Substring, at place: String) throws -> Line {
        let data = Data(line.utf8)
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw LiteProofError(.usage, "\(place): not JSON (\(preview(line))); expected the JSON Lines of `liteproof verify --all --json`")
        }
        guard let dict = object as? [String: Any] else {
            throw LiteProofError(.usage, "\(place): not a JSON object (\(preview(line))); expected one object per line")
        }
        let type = dict["type"] as? String
        do {
            switch type {
            case "database": return .database(try JSONDecoder().decode(FleetEntry.self, from: data))
            case "summary": return .summary(try JSONDecoder().decode(FleetSummary.self, from: data))
            default:
                throw LiteProofError(
                    .usage, "\(place): \"type\" is \(type.map { "\"\($0)\"" } ?? "missing"); expected \"database\" or \"summary\" (\(preview(line)))")
            }
        } catch let e as LiteProofError {
            throw e
        } catch let DecodingError.keyNotFound(key, _) {
            throw LiteProofError(.usage, "\(place): a \(type!) line without \"\(key.stringValue)\" (\(preview(line)))")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw LiteProofError(.usage, "\(place): \"\(path)\" has the wrong type in a \(type!) line (\(preview(line)))")
        } catch let DecodingError.dataCorrupted(context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw LiteProofError(.usage, "\(place): \"\(path)\" has an unknown value in a \(type!) line (\(preview(line)))")
        } catch {
            throw LiteProofError(.usage, "\(place): cannot read the \(type!) line: \(error)")
        }
    }

    static func preview(_ line: Substring) -> String {
        line.count <= 60 ? String(line) : String(line.prefix(57)) + "…"
    }

    /// Shards that are missing or of different splits.
    static func shardProblems(_ summaries: [FleetSummary]) -> [String] {
        let shards = summaries.compactMap { s in s.shard.flatMap { try? FleetShard(parsing: $0) } }
        if shards.isEmpty || shards.count < summaries.count { return [] }
        let counts = Set(shards.map(\.count))
        guard counts.count == 1, let n = counts.first else {
            return ["the inputs are shards of different splits (\(shards.map(\.description).joined(separator: ", ")))"]
        }
        let have = Set(shards.map(\.index))
        let missing = (0..<n).filter { !have.contains($0) }
        if missing.isEmpty { return [] }
        let list = missing.prefix(10).map { "\($0)/\(n)" }.joined(separator: ", ") + (missing.count > 10 ? ", …" : "")
        return ["\(missing.count) of \(n) shards missing: \(list)"]
    }
}
