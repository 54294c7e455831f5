import Foundation
import LiteProof

/// Where a configured replica is, in the terms LiteProof's readers take: a folder, or an
/// `s3://` URL (Litestream's URL grammar) with the configuration's credentials beside it.
public enum ConfiguredReplica: Sendable, Equatable {
    /// A file replica's folder, absolute.
    case file(String)
    /// An S3 replica: `url` carries the bucket, path, endpoint, region and addressing style;
    /// `credentials` are the configuration's `access-key-id` / `secret-access-key` (nil: the
    /// environment's and the AWS files', as for a URL on the command line).
    case s3(url: String, credentials: ConfiguredCredentials?)
    /// A Google Cloud Storage replica: `gs://BUCKET/PATH` (credentials as Google's tools take
    /// them, from the environment: Litestream's configuration has no fields for them).
    case gcs(url: String)
    /// A replica given by its URL alone (`webdav://`, `webdavs://`, `sftp://`), read as the same
    /// URL on the command line is.
    case url(String)
}

/// Keys from a configuration file: used to sign requests, never printed.
public struct ConfiguredCredentials: Sendable, Equatable, CustomStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String

    public init(accessKeyID: String, secretAccessKey: String) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
    }

    public var description: String { "credentials from the configuration (not shown)" }

    /// `environment` with these keys as `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (and no
    /// session token or anonymous switch): a key in Litestream's file wins over the
    /// environment's, as it does in Litestream.
    public func applied(to environment: [String: String]) -> [String: String] {
        var env = environment
        env["AWS_ACCESS_KEY_ID"] = accessKeyID
        env["AWS_SECRET_ACCESS_KEY"] = secretAccessKey
        env["AWS_SESSION_TOKEN"] = nil
        env["AWS_NO_SIGN_REQUEST"] = nil
        return env
    }
}

extension LitestreamConfig.Replica {
    /// The back ends LiteProof reads.
    public static let readableKinds = ["file", "s3", "gs", "sftp", "webdav"]
    /// Litestream's other back ends, refused by name until LiteProof reads them.
    public static let otherKinds = ["abs", "nats", "oss"]

    /// Where this replica of `database` is, as Litestream resolves the same fields (0.5's
    /// `NewReplicaFromConfig`): `url:` or `path:` (not both) for a file replica; `url:`, or
    /// `bucket:` + `path:`, with `region:`, `endpoint:`, `force-path-style:` and `skip-verify:`
    /// for S3 (a field wins over the same setting in the URL). Another back end is a usage error
    /// naming the database and the replica.
    public func resolve(database: String) throws -> ConfiguredReplica {
        func refuse(_ why: String) -> LiteProofError {
            LiteProofError(.usage, "the replica \(self) of \(database)\(file.isEmpty ? "" : " in " + file): \(why)")
        }
        switch kind {
        case "file":
            if url != nil && path != nil { throw refuse("url: and path: are both set (Litestream refuses that too)") }
            var folder = path
            if let url {
                guard url.lowercased().hasPrefix("file://") else { throw refuse("a file replica's url: must be file://…") }
                folder = URL(string: url).map(\.path) ?? String(url.dropFirst("file://".count))
            }
            guard let folder, !folder.isEmpty else { throw refuse("a file replica needs path: (the replica's folder)") }
            return .file(try LitestreamConfig.expandPath(folder))
        case "s3":
            if url != nil && path != nil { throw refuse("url: and path: are both set (Litestream refuses that too)") }
            if url != nil && bucket != nil { throw refuse("url: and bucket: are both set (Litestream refuses that too)") }
            var base: String
            var query: [String] = []
            if let url {
                guard url.lowercased().hasPrefix("s3://") else { throw refuse("type s3 with a url: that is not s3://…") }
                if let q = url.firstIndex(of: "?") {
                    base = String(url[..<q])
                    query = url[url.index(after: q)...].split(separator: "&").map(String.init)
                } else {
                    base = url
                }
            } else {
                guard let bucket else { throw refuse("an s3 replica needs bucket: (or url:)") }
                let key = (path ?? "").addingPercentEncoding(withAllowedCharacters: Self.pathCharacters) ?? ""
                base = "s3://\(bucket)/\(key)"
            }
            // Fields first: Litestream's fields win over the URL's parameters, and the URL
            // reader takes the first value of each parameter.
            var fields: [String] = []
            if let endpoint { fields.append("endpoint=" + Self.escape(endpoint)) }
            if let region { fields.append("region=" + Self.escape(region)) }
            if let forcePathStyle { fields.append("forcePathStyle=\(forcePathStyle)") }
            if skipVerify { fields.append("skipVerify=true") }
            let all = fields + query
            let resolved = all.isEmpty ? base : base + "?" + all.joined(separator: "&")
            var credentials: ConfiguredCredentials?
            switch (accessKeyID, secretAccessKey) {
            case (let id?, let secret?): credentials = ConfiguredCredentials(accessKeyID: id, secretAccessKey: secret)
            case (nil, nil): credentials = nil
            case (.some, nil): throw refuse("access-key-id: is set but secret-access-key: is not")
            case (nil, .some): throw refuse("secret-access-key: is set but access-key-id: is not")
            }
            return .s3(url: resolved, credentials: credentials)
        case "gs", "gcs":
            if url != nil && (path != nil || bucket != nil) { throw refuse("url: and bucket:/path: are both set (Litestream refuses that too)") }
            if let url {
                let lower = url.lowercased()
                guard lower.hasPrefix("gs://") || lower.hasPrefix("gcs://") else { throw refuse("type \(kind) with a url: that is not gs://…") }
                return .gcs(url: url)
            }
            guard let bucket else { throw refuse("a gs replica needs bucket: (or url:)") }
            let key = (path ?? "").addingPercentEncoding(withAllowedCharacters: Self.pathCharacters) ?? ""
            return .gcs(url: "gs://\(bucket)/\(key)")
        case "sftp", "webdav":
            guard let url else {
                throw refuse(
                    "a \(kind) replica is read from its url: (e.g. \(kind == "sftp" ? "sftp://USER@HOST:PORT/PATH?key-path=FILE" : "webdav://USER:PASSWORD@HOST/PATH")); give it that way"
                )
            }
            return .url(url)
        case let other where Self.otherKinds.contains(other):
            throw refuse(
                "the replica type \(other), which LiteProof does not read yet (it reads \(Self.readableKinds.joined(separator: ", ")) replicas); copy it to a folder (e.g. with rclone) and verify that"
            )
        case let other:
            throw refuse("unknown replica type \"\(other)\" (Litestream's are file, s3, gs, abs, sftp, webdav, nats, oss)")
        }
    }

    private static let pathCharacters: CharacterSet = {
        var c = CharacterSet.urlPathAllowed
        c.remove(charactersIn: "?#%")
        return c
    }()

    /// A query value, %-escaped where the URL reader would split or unescape it.
    private static func escape(_ value: String) -> String {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+#%")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }
}
