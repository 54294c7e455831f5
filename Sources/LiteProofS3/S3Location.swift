import Foundation
import LiteProof

/// Where a replica lives in object storage, from a URL as Litestream writes it:
/// `s3://BUCKET/PATH?endpoint=URL&region=R&forcePathStyle=true`.
public struct S3Location: Sendable, Equatable {
    public var bucket: String
    /// Key prefix of the replica, without leading or trailing `/` ("" for the bucket root).
    public var prefix: String
    /// `endpoint=` from the URL (an S3-compatible server), when given.
    public var endpoint: String?
    /// `region=` from the URL, when given.
    public var region: String?
    /// `forcePathStyle=true` (`http://host/bucket/key` instead of `http://bucket.host/key`).
    public var forcePathStyle: Bool?

    public init(bucket: String, prefix: String, endpoint: String? = nil, region: String? = nil, forcePathStyle: Bool? = nil) {
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint = endpoint
        self.region = region
        self.forcePathStyle = forcePathStyle
    }

    /// True for the URLs this module reads (`s3://…`).
    public static func isS3URL(_ s: String) -> Bool { s.lowercased().hasPrefix("s3://") }

    /// Parses `s3://BUCKET/PATH?…`. Unknown query parameters are refused, so a typo is not ignored.
    public init(url: String) throws {
        guard Self.isS3URL(url) else { throw LiteProofError(.usage, "not an s3:// URL: \(url)") }
        var rest = String(url.dropFirst("s3://".count))
        var query = ""
        if let q = rest.firstIndex(of: "?") {
            query = String(rest[rest.index(after: q)...])
            rest = String(rest[..<q])
        }
        let parts = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let bucket = parts.first.map(String.init) ?? ""
        guard !bucket.isEmpty else { throw LiteProofError(.usage, "no bucket in \(url) (expected s3://BUCKET/PATH)") }
        var prefix = parts.count > 1 ? String(parts[1]) : ""
        while prefix.hasSuffix("/") { prefix.removeLast() }
        while prefix.hasPrefix("/") { prefix.removeFirst() }
        self.init(bucket: bucket, prefix: prefix.removingPercentEncoding ?? prefix)
        for item in query.split(separator: "&") where !item.isEmpty {
            let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(kv[0])
            let value = kv.count > 1 ? (String(kv[1]).removingPercentEncoding ?? String(kv[1])) : ""
            switch key {
            case "endpoint":
                endpoint = value
            case "region":
                region = value
            case "forcePathStyle", "force-path-style":
                guard let b = Bool(value.lowercased()) else {
                    throw LiteProofError(.usage, "\(key)=\(value) in \(url): expected true or false")
                }
                forcePathStyle = b
            default:
                throw LiteProofError(.usage, "unknown parameter \(key) in \(url) (known: endpoint, region, forcePathStyle)")
            }
        }
    }

    /// `s3://bucket/prefix`, for reports (without the query).
    public var display: String { "s3://\(bucket)" + (prefix.isEmpty ? "" : "/\(prefix)") }
}

/// Everything a request needs besides the key: the endpoint, the addressing style, the region
/// and the credentials, resolved from the URL, the environment and the AWS configuration files
/// the way AWS tools resolve them.
public struct S3Config: Sendable {
    public var location: S3Location
    /// Scheme + host + optional port, e.g. `https://s3.us-east-1.amazonaws.com`.
    public var endpoint: URL
    public var pathStyle: Bool
    public var region: String
    /// nil: anonymous (unsigned) requests, for public buckets.
    public var credentials: S3Credentials?

    public init(location: S3Location, endpoint: URL, pathStyle: Bool, region: String, credentials: S3Credentials?) {
        self.location = location
        self.endpoint = endpoint
        self.pathStyle = pathStyle
        self.region = region
        self.credentials = credentials
    }

    /// Resolves `location` with `environment` (defaults to the process's) and the files
    /// `~/.aws/credentials` and `~/.aws/config` (or `AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`).
    ///
    /// Credentials: `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`), else the
    /// profile `AWS_PROFILE` (or `default`) from the credentials file, then the config file; none:
    /// anonymous. `AWS_NO_SIGN_REQUEST=true` forces anonymous access.
    /// Region: the URL's `region=`, `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`,
    /// else `us-east-1`. Endpoint: the URL's `endpoint=`, `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`,
    /// the profile's `endpoint_url`, else AWS (`https://s3.REGION.amazonaws.com`, virtual-hosted).
    public static func resolve(_ location: S3Location, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> S3Config {
        let env = environment.filter { !$0.value.isEmpty }
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

        let region = location.region ?? env["AWS_REGION"] ?? env["AWS_DEFAULT_REGION"] ?? profileValue("region") ?? "us-east-1"
        let custom = location.endpoint ?? env["AWS_ENDPOINT_URL_S3"] ?? env["AWS_ENDPOINT_URL"] ?? profileValue("endpoint_url")
        let endpoint: URL
        if let custom {
            // Litestream accepts a bare host ("minio:9000") and means https.
            let text = custom.contains("://") ? custom : "https://" + custom
            guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", url.host != nil
            else {
                throw LiteProofError(.usage, "cannot read the endpoint \(custom) (expected e.g. http://127.0.0.1:9000 or https://s3.example.com)")
            }
            endpoint = url
        } else {
            endpoint = URL(string: "https://s3.\(region).amazonaws.com")!
        }
        // Path style for custom endpoints unless told otherwise (as Litestream does); virtual-hosted
        // for AWS, except bucket names that cannot be a host name (dots break TLS).
        let pathStyle = location.forcePathStyle ?? (custom != nil || location.bucket.contains("."))
        return S3Config(location: location, endpoint: endpoint, pathStyle: pathStyle, region: region, credentials: credentials)
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
