import ArgumentParser
import TinCanChat

/// The chat server's HTTP port (`tincan chat serve --http-port`): IRC over WebSocket at
/// `/socket` and FILEHOST uploads.
struct ChatHTTPOptions: ParsableArguments {
    @Option(name: .customLong("http-port"), help: "Also serve HTTP on PORT: IRC over WebSocket at /socket, file uploads (FILEHOST).")
    var port: Int?

    @Option(
        name: .customLong("public-url"),
        help: ArgumentHelp("The HTTP port's URL as clients reach it (default: http(s)://NAME:PORT, with --name).", valueName: "URL")
    )
    var publicURL: String?

    @Option(name: .customLong("files"), help: ArgumentHelp("Where uploaded files are kept (created if missing).", valueName: "DIR"))
    var filesDirectory = ChatHTTPConfiguration(port: 0).filesDirectory

    @Option(name: .customLong("max-upload"), help: ArgumentHelp("The largest upload (K, M, G).", valueName: "SIZE"))
    var maxUpload = "25M"

    @Option(
        name: .customLong("allow-origin"),
        help: ArgumentHelp("A web page's origin (https://chat.example.org) that may use the WebSocket and uploads besides the server's own; * for any; repeatable.", valueName: "ORIGIN")
    )
    var allowedOrigins: [String] = []

    /// Whether an option other than --http-port was given, which needs it.
    var needsPort: Bool {
        self.publicURL != nil || self.filesDirectory != ChatHTTPConfiguration(port: 0).filesDirectory || self.maxUpload != "25M"
            || !self.allowedOrigins.isEmpty
    }

    /// The HTTP settings, or nil without --http-port.
    func configuration() throws -> ChatHTTPConfiguration? {
        guard let port = self.port else {
            if self.needsPort { throw ValidationError("--public-url, --files, --max-upload and --allow-origin need --http-port") }
            return nil
        }
        return ChatHTTPConfiguration(
            port: port, publicURL: self.publicURL, filesDirectory: self.filesDirectory,
            maxUploadBytes: Int64(try parseSize(self.maxUpload, "--max-upload")), allowedOrigins: self.allowedOrigins
        )
    }

    /// The option for a setting of `ChatHTTPConfiguration` (`http.port`, ...).
    static func optionName(_ setting: String) -> String? {
        switch setting {
        case "http.port": "--http-port"
        case "http.publicURL": "--public-url"
        case "http.filesDirectory": "--files"
        case "http.maxUploadBytes": "--max-upload"
        case "http.allowedOrigins": "--allow-origin"
        default: nil
        }
    }
}
