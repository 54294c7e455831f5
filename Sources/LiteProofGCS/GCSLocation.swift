import Foundation
import LiteProof

/// Where a replica lives in Google Cloud Storage, from a replica URL as Litestream names it:
/// `gs://BUCKET/PATH` (0.5) or `gcs://BUCKET/PATH` (0.3). The path is cleaned as Litestream
/// cleans it (`a//b`, `./a`, `a/../b`); a GCS URL takes no query parameters.
public struct GCSLocation: Sendable, Equatable {
    /// `gs` or `gcs`, as written.
    public var scheme: String
    public var bucket: String
    /// Object-name prefix of the replica, without leading or trailing `/` ("" for the bucket root).
    public var prefix: String

    public init(scheme: String = "gs", bucket: String, prefix: String) {
        self.scheme = scheme
        self.bucket = bucket
        self.prefix = prefix
    }

    /// The replica's name in reports: `gs://BUCKET/PATH`.
    public var display: String { "\(scheme)://\(bucket)" + (prefix.isEmpty ? "" : "/\(prefix)") }

    /// True for the URLs this module reads (`gs://…`, `gcs://…`).
    public static func isGCSURL(_ s: String) -> Bool {
        let lower = s.lowercased()
        return lower.hasPrefix("gs://") || lower.hasPrefix("gcs://")
    }

    /// Parses `gs://BUCKET/PATH` or `gcs://BUCKET/PATH`.
    public init(url: String) throws {
        guard Self.isGCSURL(url), let colon = url.firstIndex(of: ":") else {
            throw LiteProofError(.usage, "not a gs:// or gcs:// URL: \(url)")
        }
        scheme = url[..<colon].lowercased()
        var rest = String(url[url.index(colon, offsetBy: 3)...])
        if let hash = rest.firstIndex(of: "#") { rest = String(rest[..<hash]) }
        if let q = rest.firstIndex(of: "?") {
            let query = rest[rest.index(after: q)...]
            if !query.isEmpty {
                let names = query.split(separator: "&").map { $0.split(separator: "=", maxSplits: 1).first.map(String.init) ?? "" }
                throw LiteProofError(
                    .usage,
                    "unknown parameter \(names.first ?? String(query)) in \(url) (Litestream's GCS URLs take no parameters: credentials come from GOOGLE_APPLICATION_CREDENTIALS, an emulator from STORAGE_EMULATOR_HOST)"
                )
            }
            rest = String(rest[..<q])
        }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        bucket = String(rest[..<slash])
        guard !bucket.isEmpty else { throw LiteProofError(.usage, "\(url) names no bucket (expected \(scheme)://BUCKET/PATH)") }
        // GCS bucket names: lower-case letters, digits, `-`, `_` and `.`, 3 to 222 characters.
        guard bucket.count <= 222, bucket.unicodeScalars.allSatisfy({ "abcdefghijklmnopqrstuvwxyz0123456789-_.".unicodeScalars.contains($0) })
        else {
            throw LiteProofError(.usage, "\(bucket) in \(url) is not a GCS bucket name (lower-case letters, digits, -, _ and .)")
        }
        guard let path = String(rest[slash...]).removingPercentEncoding else {
            throw LiteProofError(.usage, "cannot read the path of \(url) (a malformed %-escape)")
        }
        prefix = Self.cleanPath(path)
    }

    /// Go's `path.Clean` without the leading `/`, as Litestream cleans a replica path: empty and
    /// `.` segments dropped, `..` removes the segment before it (none above the root).
    static func cleanPath(_ path: String) -> String {
        var out: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch segment {
            case ".": continue
            case "..": _ = out.popLast()
            default: out.append(segment)
            }
        }
        return out.joined(separator: "/")
    }
}
