import Foundation
import LiteProof

/// Where a replica lives in object storage, from a replica URL as Litestream's command line reads
/// it (``S3URLGrammar``): `s3://BUCKET/PATH?endpoint=…&region=…&forcePathStyle=…`, host-style
/// buckets (`s3://bucket.localhost:9000/PATH`, `s3://bucket.s3.REGION.amazonaws.com/PATH`,
/// DigitalOcean Spaces, Backblaze B2, Filebase, Scaleway) and access point ARNs
/// (`s3://arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME/PATH`).
public struct S3Location: Sendable, Equatable {
    /// The bucket, or an access point ARN (``isAccessPoint``).
    public var bucket: String
    /// Key prefix of the replica, without leading or trailing `/` ("" for the bucket root),
    /// cleaned as Litestream cleans it (`a//b`, `./a`, `a/../b`).
    public var prefix: String
    /// The endpoint the URL names (from `endpoint=` or the host), with its scheme: as written,
    /// else http for local hosts and https for the rest, as Litestream adds it.
    public var endpoint: String?
    /// The region the URL names (`region=`, the host, or the ARN).
    public var region: String?
    /// Path-style requests (`http://host/bucket/key`) rather than virtual-hosted ones, as
    /// Litestream resolves it; nil when the URL says nothing (AWS).
    public var forcePathStyle: Bool?
    /// `skipVerify=true`: Litestream does not verify the endpoint's TLS certificate.
    public var skipVerify: Bool
    /// Parameters read and not applied (write-side settings, spellings Litestream's command line
    /// ignores): one sentence each, for stderr.
    public var notes: [String]

    /// True when ``bucket`` is an S3 access point ARN.
    public var isAccessPoint: Bool { bucket.hasPrefix("arn:") }

    public init(
        bucket: String, prefix: String, endpoint: String? = nil, region: String? = nil, forcePathStyle: Bool? = nil, skipVerify: Bool = false,
        notes: [String] = []
    ) {
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint = endpoint
        self.region = region
        self.forcePathStyle = forcePathStyle
        self.skipVerify = skipVerify
        self.notes = notes
    }

    /// True for the URLs this module reads (`s3://…`).
    public static func isS3URL(_ s: String) -> Bool { s.lowercased().hasPrefix("s3://") }

    /// The query parameters Litestream's S3 replica URLs take; any other is refused by name, so
    /// a typo is not ignored.
    public static let knownParameters = [
        "endpoint", "region", "forcePathStyle", "force-path-style", "skipVerify", "skip-verify", "signPayload", "sign-payload",
        "requireContentMD5", "require-content-md5", "storageClass", "storage-class", "partSize", "part-size", "concurrency",
    ]

    /// Server-side encryption parameters of Litestream's S3 client (read from a URL by its
    /// library, not by its command line): refused by name with what they are.
    public static let encryptionParameters = [
        "sseCustomerAlgorithm", "sse-customer-algorithm", "sseCustomerKey", "sse-customer-key", "sseCustomerKeyMD5", "sse-customer-key-md5",
        "sseKmsKeyId", "sse-kms-key-id",
    ]

    /// Parses a replica URL the way Litestream's command line does (see the type's summary).
    public init(url: String) throws {
        guard Self.isS3URL(url) else { throw LiteProofError(.usage, "not an s3:// URL: \(url)") }
        var rest = String(url.dropFirst("s3://".count))
        var query = ""
        if let q = rest.firstIndex(of: "?") {
            query = String(rest[rest.index(after: q)...])
            rest = String(rest[..<q])
        }
        if let hash = query.firstIndex(of: "#") { query = String(query[..<hash]) }
        if let hash = rest.firstIndex(of: "#") { rest = String(rest[..<hash]) }

        // The query, first value of each key as Litestream reads them.
        var values: [String: String] = [:]
        for item in query.split(separator: "&") where !item.isEmpty {
            let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = S3URLGrammar.queryUnescape(kv[0]), let value = S3URLGrammar.queryUnescape(kv.count > 1 ? String(kv[1]) : "") else {
                throw LiteProofError(.usage, "cannot read the query parameter \(item) in \(url) (a malformed %-escape)")
            }
            if Self.encryptionParameters.contains(key) {
                throw LiteProofError(
                    .usage,
                    "\(key) in \(url): LiteProof does not read objects under server-side encryption with customer keys or KMS settings given in a URL (Litestream's command line ignores this parameter in a URL too; set it in its configuration file)"
                )
            }
            guard Self.knownParameters.contains(key) else {
                throw LiteProofError(
                    .usage, "unknown parameter \(key) in \(url) (Litestream's S3 URLs take: \(Self.knownParameters.joined(separator: ", ")))")
            }
            if values[key] == nil { values[key] = value }
        }
        func value(_ key: String) -> String? { values[key].flatMap { $0.isEmpty ? nil : $0 } }

        var host: S3URLGrammar.Host
        var path: String
        if rest.lowercased().hasPrefix("arn:") {
            let (arn, key) = try S3URLGrammar.splitAccessPoint(rest, url: url)
            host = S3URLGrammar.Host(bucket: arn, region: S3URLGrammar.arnRegion(arn))
            path = key
        } else {
            let slash = rest.firstIndex(of: "/") ?? rest.endIndex
            let authority = String(rest[..<slash])
            if authority.contains("@") {
                throw LiteProofError(
                    .usage, "\(url) has credentials in its host part, which Litestream does not read either: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
            }
            let rawPath = String(rest[slash...])
            guard let decoded = rawPath.removingPercentEncoding else {
                throw LiteProofError(.usage, "cannot read the path of \(url) (a malformed %-escape)")
            }
            host = S3URLGrammar.parseHost(authority)
            path = S3URLGrammar.cleanPath(decoded)
        }
        var notes: [String] = []
        var endpoint = host.endpoint
        var pathStyle = host.pathStyle
        if let e = value("endpoint") {
            endpoint = S3URLGrammar.withScheme(e)
            if values["forcePathStyle"] != "false" { pathStyle = true }
        }
        let region = value("region") ?? host.region.flatMap { $0.isEmpty ? nil : $0 }
        if let v = value("forcePathStyle") {
            pathStyle = v == "true"
            if v != "true" && v != "false" {
                notes.append("forcePathStyle=\(v) is read as false, as Litestream's command line reads every value but true")
            }
        }
        var skipVerify = false
        if let v = value("skipVerify") {
            skipVerify = v == "true"
            if v != "true" && v != "false" {
                notes.append("skipVerify=\(v) is read as false, as Litestream's command line reads every value but true")
            }
        }
        for key in ["force-path-style", "skip-verify"] where value(key) != nil {
            let camel = key == "force-path-style" ? "forcePathStyle" : "skipVerify"
            notes.append("\(key)= is ignored, as Litestream's command line ignores it (it reads only \(camel)=)")
        }
        for keys in [["partSize", "part-size"], ["concurrency"]] {
            if let key = keys.first(where: { value($0) != nil }), let v = value(key) {
                guard let n = Int64(v), n > 0 else {
                    throw LiteProofError(.usage, "invalid value for query parameter \(key) in \(url): \(v) (must be a positive integer)")
                }
            }
        }
        let writeSide = [
            "signPayload", "sign-payload", "requireContentMD5", "require-content-md5", "storageClass", "storage-class", "partSize", "part-size", "concurrency",
        ]
        for key in writeSide where value(key) != nil {
            notes.append("\(key)=\(value(key)!) is a setting of Litestream's uploads; a reader has no use for it and ignores it")
        }
        if let e = endpoint, S3URLGrammar.forcesPathStyle(e) { pathStyle = true }
        if host.bucket.hasPrefix("arn:") && endpoint != nil {
            throw LiteProofError(.usage, "\(url): an access point ARN with an endpoint= is not supported (the ARN names its own endpoint)")
        }
        guard !host.bucket.isEmpty else {
            throw LiteProofError(.usage, "no bucket in \(url) (expected s3://BUCKET/PATH, or s3://BUCKET.HOST:PORT/PATH)")
        }
        self.init(
            bucket: host.bucket, prefix: path, endpoint: endpoint, region: region, forcePathStyle: endpoint != nil || pathStyle ? pathStyle : nil,
            skipVerify: skipVerify, notes: notes)
    }

    /// `s3://bucket/prefix`, for reports (without the query).
    public var display: String { "s3://\(bucket)" + (prefix.isEmpty ? "" : "/\(prefix)") }
}

/// Everything a request needs besides the key: the endpoint, the addressing style, the region
/// and the credentials, resolved from the URL, the environment and the AWS configuration files
/// the way Litestream and the AWS tools resolve them.
public struct S3Config: Sendable {
    public var location: S3Location
    /// Scheme + host + optional port (+ optional base path), e.g. `https://s3.us-east-1.amazonaws.com`.
    public var endpoint: URL
    public var pathStyle: Bool
    /// Requests go to ``endpoint`` with neither the bucket in the host nor in the path: an
    /// access point's own host.
    public var accessPoint: Bool
    public var region: String
    /// nil: anonymous (unsigned) requests, for public buckets.
    public var credentials: S3Credentials?
    /// What the resolution says besides the settings (ignored parameters, `skipVerify`), one
    /// sentence each, for stderr.
    public var notes: [String]

    public init(
        location: S3Location, endpoint: URL, pathStyle: Bool, region: String, credentials: S3Credentials?, accessPoint: Bool = false,
        notes: [String] = []
    ) {
        self.location = location
        self.endpoint = endpoint
        self.pathStyle = pathStyle
        self.region = region
        self.credentials = credentials
        self.accessPoint = accessPoint
        self.notes = notes
    }

    /// Resolves `location` with `environment` (defaults to the process's) and the files
    /// `~/.aws/credentials` and `~/.aws/config` (or `AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`).
    ///
    /// Credentials: `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`), each
    /// falling back on Litestream's `LITESTREAM_ACCESS_KEY_ID` / `LITESTREAM_SECRET_ACCESS_KEY`,
    /// else the profile `AWS_PROFILE` (or `default`) from the credentials file, then the config
    /// file; none: anonymous. `AWS_NO_SIGN_REQUEST=true` forces anonymous access.
    /// Region: the URL's (`region=`, the host, an ARN); with an endpoint from the URL and no
    /// region, `us-east-1` as Litestream signs; else `AWS_REGION`, `AWS_DEFAULT_REGION`, the
    /// profile's `region`, else `us-east-1`. Endpoint: the URL's (`endpoint=` or the host),
    /// `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, the profile's `endpoint_url`, else AWS
    /// (`https://s3.REGION.amazonaws.com`, virtual-hosted), or an access point's own host.
    public static func resolve(_ location: S3Location, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> S3Config {
        var env = environment.filter { !$0.value.isEmpty }
        // Litestream copies these to their AWS names when those are not set.
        for (litestream, aws) in [("LITESTREAM_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"), ("LITESTREAM_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY")]
        where env[aws] == nil {
            env[aws] = env[litestream]
        }
        let home = env["HOME"] ?? NSHomeDirectory()
        let profileName = env["AWS_PROFILE"] ?? env["AWS_DEFAULT_PROFILE"] ?? "default"
        let credentialsFile = AWSConfigFile.read(env["AWS_SHARED_CREDENTIALS_FILE"] ?? home + "/.aws/credentials", isConfig: false)
        let configFile = AWSConfigFile.read(env["AWS_CONFIG_FILE"] ?? home + "/.aws/config", isConfig: true)
        let fromCredentials = credentialsFile[profileName] ?? [:]
        let fromConfig = configFile[profileName] ?? [:]
        if env["AWS_PROFILE"] != nil && credentialsFile[profileName] == nil && configFile[profileName] == nil {
            throw LiteProofError(.usage, "AWS_PROFILE=\(profileName): no such profile in ~/.aws/credentials or ~/.aws/config")
        }
        func profileValue(_ key: String) -> String? { fromCredentials[key] ?? fromConfig[key] }

        var credentials: S3Credentials?
        if env["AWS_NO_SIGN_REQUEST"]?.lowercased() == "true" {
            credentials = nil
        } else if let id = env["AWS_ACCESS_KEY_ID"], let secret = env["AWS_SECRET_ACCESS_KEY"] {
            credentials = S3Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: env["AWS_SESSION_TOKEN"])
        } else if let id = profileValue("aws_access_key_id"), let secret = profileValue("aws_secret_access_key") {
            credentials = S3Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: profileValue("aws_session_token"))
        } else if env["AWS_ACCESS_KEY_ID"] != nil {
            throw LiteProofError(.usage, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
        }

        let fallbackRegion = env["AWS_REGION"] ?? env["AWS_DEFAULT_REGION"] ?? profileValue("region") ?? "us-east-1"
        let region = location.region ?? (location.endpoint != nil ? "us-east-1" : fallbackRegion)
        let custom = location.endpoint ?? env["AWS_ENDPOINT_URL_S3"] ?? env["AWS_ENDPOINT_URL"] ?? profileValue("endpoint_url")
        var notes = location.notes
        let endpoint: URL
        var accessPoint = false
        if location.isAccessPoint {
            guard let text = S3URLGrammar.accessPointEndpoint(location.bucket), let url = URL(string: text) else {
                throw LiteProofError(.usage, "cannot read the access point ARN \(location.bucket) (expected arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME)")
            }
            endpoint = url
            accessPoint = true
        } else if let custom {
            let text = S3URLGrammar.withScheme(custom)
            guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", url.host != nil
            else {
                throw LiteProofError(.usage, "cannot read the endpoint \(custom) (expected e.g. http://127.0.0.1:9000 or https://s3.example.com)")
            }
            endpoint = url
        } else {
            endpoint = URL(string: "https://s3.\(region).amazonaws.com")!
        }
        if location.skipVerify {
            notes.append(
                endpoint.scheme?.lowercased() == "http"
                    ? "skipVerify=true has no effect: \(endpoint.absoluteString) is plain http, without TLS"
                    : "skipVerify=true: TLS certificates are not verified for \(endpoint.absoluteString)"
            )
        }
        // The URL's addressing when it names an endpoint (as Litestream resolves it); path style
        // for an endpoint from the environment unless the URL says otherwise; virtual-hosted for
        // AWS, except bucket names that cannot be a host name (dots break TLS), as AWS's SDKs do.
        let pathStyle: Bool
        if accessPoint {
            pathStyle = false
        } else if location.endpoint != nil {
            pathStyle = location.forcePathStyle ?? true
        } else {
            pathStyle = location.forcePathStyle ?? (custom != nil || location.bucket.contains("."))
        }
        return S3Config(
            location: location, endpoint: endpoint, pathStyle: pathStyle, region: region, credentials: credentials, accessPoint: accessPoint, notes: notes)
    }
}

/// The INI-style files of the AWS tools. In `config`, sections are `[profile NAME]` (and
/// `[default]`); in `credentials`, `[NAME]`.
enum AWSConfigFile {
    static func read(_ path: String, isConfig: Bool) -> [String: [String: String]] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        return parse(text, isConfig: isConfig)
    }

    static func parse(_ text: String, isConfig: Bool) -> [String: [String: String]] {
        var out: [String: [String: String]] = [:]
        var section: String?
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                var name = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                if isConfig && name.hasPrefix("profile ") {
                    name = String(name.dropFirst("profile ".count)).trimmingCharacters(in: .whitespaces)
                } else if isConfig && name != "default" {
                    section = nil  // [sso-session …], [services …]: not profiles
                    continue
                }
                section = name
                continue
            }
            guard let section, let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            out[section, default: [:]][key] = value
        }
        return out
    }
}
