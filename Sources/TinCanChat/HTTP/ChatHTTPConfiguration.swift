import NIOCore
import TinCanCore

/// The chat server's HTTP port: FILEHOST uploads and downloads, IRC over WebSocket at
/// `/socket`, and (later) the chat page at `/`. HTTPS when the server has ``ChatServerConfiguration/tls``
/// (the same certificate as the IRC TLS port).
///
/// Uploads need accounts, so they are on only when the server has a store; the WebSocket works
/// either way.
public struct ChatHTTPConfiguration: Sendable, Hashable {
    /// TCP port; 0 for a kernel-chosen one. `tincan serve` uses 8080.
    public var port: Int
    /// The URL clients are told to use: the `soju.im/FILEHOST` ISUPPORT token is this with
    /// `/upload`, and uploads are answered with `Location: <publicURL>/files/<id>`. An `http` or
    /// `https` URL without query or fragment; a trailing `/` is ignored. Default nil: the address
    /// each client reached the server at (an IRC client is told `http(s)://<the IRC socket's local
    /// address>:<HTTP port>`, an upload's link uses its `Host`), which works on one machine and on
    /// a LAN; set it where clients come through a proxy or NAT, or should see a name.
    public var publicURL: String?
    /// The port the HTTP listener was bound to (the server sets it; `port` may be 0).
    var boundPort: Int?
    /// Where uploaded files are kept, created if missing. Default `./tincan-data/files`.
    public var filesDirectory: String
    /// The largest upload; a larger one is answered 413 with `Upload-Limit`. Default 25 MiB.
    public var maxUploadBytes: Int64
    /// Bytes one account may keep in files that have not expired; an upload past it is answered
    /// 413. Default 500 MiB.
    public var quotaBytes: Int64
    /// How long an uploaded file is served; then a sweep deletes it (record and bytes). Default 30 days.
    public var fileLifetime: TimeAmount
    /// How often the sweep for expired files runs. Default 1 hour.
    public var sweepInterval: TimeAmount
    /// Web origins (`https://chat.example.org`, as browsers send `Origin`) allowed to open the
    /// WebSocket and to upload from a page, besides the server's own (an `Origin` whose host and
    /// port are the request's `Host`); `*` allows any. A browser's request from another origin is
    /// refused with 403. Requests without `Origin` (not from a browser page) are not restricted.
    /// Default none.
    public var allowedOrigins: [String]
    /// An HTTP connection (not a WebSocket) with no request under way for this long is closed, so
    /// that idle keep-alive connections do not pile up. Default 60 s.
    public var idleTimeout: TimeAmount

    public init(
        port: Int,
        publicURL: String? = nil,
        filesDirectory: String = "./tincan-data/files",
        maxUploadBytes: Int64 = 25 << 20,
        quotaBytes: Int64 = 500 << 20,
        fileLifetime: TimeAmount = .hours(24 * 30),
        sweepInterval: TimeAmount = .hours(1),
        allowedOrigins: [String] = [],
        idleTimeout: TimeAmount = .seconds(60)
    ) {
        self.port = port
        self.publicURL = publicURL
        self.filesDirectory = filesDirectory
        self.maxUploadBytes = maxUploadBytes
        self.quotaBytes = quotaBytes
        self.fileLifetime = fileLifetime
        self.sweepInterval = sweepInterval
        self.allowedOrigins = allowedOrigins
        self.idleTimeout = idleTimeout
    }
}

extension ChatHTTPConfiguration {
    /// Checks the settings; ``ChatServerConfiguration/validate()`` calls it with the prefix `http.`.
    func validate() throws {
        try ConfigurationError.checkPort(self.port, "http.port")
        if let url = self.publicURL, ChatOrigin(url: url, allowPath: true) == nil {
            throw ConfigurationError(
                setting: "http.publicURL", problem: "must be an http or https URL without query or fragment, not '\(url)'"
            )
        }
        guard !self.filesDirectory.isEmpty else {
            throw ConfigurationError(setting: "http.filesDirectory", problem: "must name a directory")
        }
        try ConfigurationError.checkAtLeast(self.maxUploadBytes, 1, "http.maxUploadBytes")
        try ConfigurationError.checkAtLeast(self.quotaBytes, 1, "http.quotaBytes")
        try ConfigurationError.checkDuration(self.fileLifetime, "http.fileLifetime")
        try ConfigurationError.checkDuration(self.sweepInterval, "http.sweepInterval")
        try ConfigurationError.checkDuration(self.idleTimeout, "http.idleTimeout")
        for origin in self.allowedOrigins where origin != "*" && ChatOrigin(url: origin, allowPath: false) == nil {
            throw ConfigurationError(
                setting: "http.allowedOrigins", problem: "must be origins such as https://chat.example.org (or *), not '\(origin)'"
            )
        }
    }
}
