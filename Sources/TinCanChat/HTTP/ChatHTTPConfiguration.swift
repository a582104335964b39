/// The chat server's HTTP port: FILEHOST uploads and downloads, IRC over WebSocket at
/// `/socket`, and (later) the chat page at `/`. HTTPS when the server has ``ChatServerConfiguration/tls``.
public struct ChatHTTPConfiguration: Sendable, Hashable {
    /// TCP port; 0 for a kernel-chosen one. `tincan serve` uses 8080.
    public var port: Int

    public init(port: Int) {
        self.port = port
    }
}
