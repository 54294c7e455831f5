import Foundation
import LiteProof

/// Everything a GCS replica read needs: where (bucket, prefix), which endpoint, which
/// credentials. Resolved as Google's libraries resolve it (``resolve(_:environment:)``).
public struct GCSConfig: Sendable {
    public var location: GCSLocation
    /// The JSON API's root: `https://storage.googleapis.com`, or the emulator's.
    public var endpoint: URL
    /// nil: anonymous requests (an emulator, a public bucket).
    public var credentials: GCSCredentials?
    /// `STORAGE_EMULATOR_HOST` named the endpoint.
    public var emulator: Bool
    /// What the resolution says besides its settings, one sentence each (for stderr).
    public var notes: [String]

    public init(location: GCSLocation, endpoint: URL, credentials: GCSCredentials?, emulator: Bool = false, notes: [String] = []) {
        self.location = location
        self.endpoint = endpoint
        self.credentials = credentials
        self.emulator = emulator
        self.notes = notes
    }

    public static let defaultEndpoint = URL(string: "https://storage.googleapis.com")!

    /// As Google's libraries do: `STORAGE_EMULATOR_HOST` (`host:port`, or a URL) sends every
    /// request there, anonymously, over http unless the URL says otherwise; else
    /// `GOOGLE_APPLICATION_CREDENTIALS` names a credentials file; else gcloud's application
    /// default credentials (`~/.config/gcloud/application_default_credentials.json`, or under
    /// `CLOUDSDK_CONFIG`) when there are some; else anonymous (public buckets).
    public static func resolve(_ location: GCSLocation, environment: [String: String]) throws -> GCSConfig {
        if let host = environment["STORAGE_EMULATOR_HOST"], !host.isEmpty {
            let text = host.contains("://") ? host : "http://" + host
            guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", url.host != nil else {
                throw LiteProofError(.usage, "STORAGE_EMULATOR_HOST=\(host): expected HOST:PORT or an http(s) URL")
            }
            // The JSON API's paths are absolute: a path in the variable is not kept.
            var root = URLComponents()
            root.scheme = scheme
            root.host = url.host
            root.port = url.port
            return GCSConfig(location: location, endpoint: root.url!, credentials: nil, emulator: true)
        }
        if let path = environment["GOOGLE_APPLICATION_CREDENTIALS"], !path.isEmpty {
            let credentials = try GCSCredentials.load(path: path, source: "GOOGLE_APPLICATION_CREDENTIALS")
            return GCSConfig(location: location, endpoint: defaultEndpoint, credentials: credentials)
        }
        let gcloud =
            environment["CLOUDSDK_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
            ?? environment["HOME"].map { $0 + "/.config/gcloud" }
        if let gcloud, FS.exists(gcloud + "/application_default_credentials.json") {
            let credentials = try GCSCredentials.load(
                path: gcloud + "/application_default_credentials.json", source: "gcloud's application default credentials")
            return GCSConfig(location: location, endpoint: defaultEndpoint, credentials: credentials)
        }
        return GCSConfig(
            location: location, endpoint: defaultEndpoint, credentials: nil,
            notes: [
                "no Google credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's application default credentials): reading \(location.display) anonymously, which works for public buckets only"
            ])
    }
}
