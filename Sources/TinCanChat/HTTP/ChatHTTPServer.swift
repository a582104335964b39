import HummingbirdCore
import Logging
import NIOCore
import NIOSSL
import Synchronization
import TinCanCore

/// The chat server's HTTP port (``ChatHTTPConfiguration``): IRC over WebSocket at `/socket`,
/// FILEHOST at `/upload` and `/files/<id>`, the chat page at `/` (``ChatWebPage``). ``ChatServer/run()`` runs it beside
/// the IRC listeners, on the chat loop (see ``ChatHTTPChannel`` for why).
final class ChatHTTPServer: Sendable {
    private let settings: ChatHTTPConfiguration
    private let host: String?
    private let serverName: String
    private let files: ChatFileHost?
    private let origins: ChatOriginPolicy
    private let tls: NIOSSLContext?
    private let logger: Logger
    /// The configured public URL, normalised; nil: each upload's link uses its request's `Host`.
    private let publicURL: String?
    private let boundPort = Mutex(0)
    /// The chat page at `/` and `/static/`.
    private let page: ChatWebPage

    /// - Parameters:
    ///   - store: where file records are kept; without one (no accounts) there are no uploads.
    ///   - authenticate: checks an uploader's name and password.
    init(
        configuration: ChatServerConfiguration, store: (any ChatStore)?, authenticate: @escaping ChatFileHost.Authenticate,
        tls: NIOSSLContext?, logger: Logger
    ) {
        let settings = configuration.http ?? ChatHTTPConfiguration(port: 0)
        let origins = ChatOriginPolicy(allowedOrigins: settings.allowedOrigins, secure: tls != nil)
        self.settings = settings
        self.host = configuration.host
        self.serverName = configuration.name
        self.files = store.map { ChatFileHost(settings: settings, store: $0, authenticate: authenticate, origins: origins, logger: logger) }
        self.origins = origins
        self.tls = tls
        self.logger = logger
        self.page = ChatWebPage.bundled
        self.publicURL = settings.publicURL.flatMap { ChatOrigin(url: $0, allowPath: true)?.text }
    }

    /// Where an upload's link points: the configured public URL, or the scheme and `Host` the
    /// request came with (the server's name and port when it has none usable).
    func baseURL(for request: Request) -> String {
        if let url = self.publicURL { return url }
        let scheme = self.tls == nil ? "http" : "https"
        if let host = request.head.authority, let (name, port) = ChatOrigin.hostAndPort(Substring(host), defaultPort: scheme == "https" ? 443 : 80),
            name.utf8.allSatisfy({ ChatWebPage.hostBytes.contains($0) })
        {
            return ChatOrigin(scheme: scheme, host: name, port: port).text
        }
        return "\(scheme)://\(self.serverName):\(self.boundPort.withLock { $0 })"
    }

    /// Listens on `loop` until cancelled or shut down gracefully, sweeping expired files meanwhile.
    /// `onRunning` gets the bound address (before any request is answered).
    func run(
        loop: any EventLoop,
        driver: EventLoopFuture<NIOLoopBound<ChatDriver>>,
        onRunning: @escaping @Sendable (SocketAddress) async -> Void
    ) async throws {
        try await self.files?.prepare()
        let endpoint = Endpoint(host: self.host, port: self.settings.port)
        guard let address = try await Resolver.resolve(endpoint, family: .any, transport: .tcp).first?.ipAddress else {
            throw TinCanError(operation: "chat listen on \(endpoint) (http)", cause: "no address")
        }
        let channel = ChatHTTPChannel(
            responder: { request, writer, channel in try await self.respond(request, writer: writer, channel: channel) },
            driver: driver, origins: self.origins, tls: self.tls,
            idleTimeout: .nanoseconds(self.settings.idleTimeout.nanoseconds)
        )
        // Hummingbird's own "Server started" line would come before the chat server's listening
        // lines, which say the same with what each port is for.
        var serverLogger = self.logger
        serverLogger.logLevel = max(serverLogger.logLevel, .notice)
        let server = Server(
            childChannelSetup: channel,
            configuration: ServerConfiguration(address: .hostname(address, port: self.settings.port)),
            onServerRunning: { listener in
                guard let bound = listener.localAddress else { return }
                self.boundPort.withLock { $0 = bound.port ?? self.settings.port }
                await onRunning(bound)
            },
            eventLoopGroup: loop,
            logger: serverLogger
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            if let files = self.files {
                let interval = Duration.nanoseconds(self.settings.sweepInterval.nanoseconds)
                group.addTask {
                    while true {
                        do {
                            try await files.sweep(now: files.now())
                        } catch {
                            self.logger.error("the sweep for expired files failed", metadata: ["error": "\(error)"])
                        }
                        try await Task.sleep(for: interval)
                    }
                }
            }
            // The server returns when shut down; the sweep only ends by cancellation.
            _ = try await group.next()
            group.cancelAll()
        }
    }

    // MARK: requests

    private func respond(_ request: Request, writer: consuming ResponseWriter, channel: any Channel) async throws {
        var writer = writer
        var response: Response
        do {
            response = try await self.route(request, writer: &writer, channel: channel)
        } catch {
            self.logger.error("http request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            response = ChatFileHost.text(.internalServerError, "The server could not do that; its log says why\n")
        }
        if request.method == .head { response = response.createHeadResponse() }
        try await writer.write(response: response.head, body: response.body)
    }

    private func route(_ request: Request, writer: inout ResponseWriter, channel: any Channel) async throws -> Response {
        let path = request.uri.path
        switch (path, request.method) {
        case ("/", .get), ("/", .head):
            return self.page.response(path: path, request: request) ?? ChatFileHost.text(
                .ok,
                "tincan chat. Connect an IRC client to the IRC port, or a WebSocket client (IRCv3 WebSocket) to /socket."
                    + (self.files == nil ? "" : " Upload files with FILEHOST at /upload.") + "\n"
            )
        case (_, .get) where path.hasPrefix("/static/"), (_, .head) where path.hasPrefix("/static/"):
            return self.page.response(path: path, request: request) ?? ChatFileHost.text(.notFound, "Not found\n")
        case ("/socket", _):
            // A WebSocket upgrade never gets here (``ChatHTTPChannel``): only plain requests.
            return ChatFileHost.text(.badRequest, "IRC over WebSocket: connect with a WebSocket (text.ircv3.net or binary.ircv3.net)\n")
        case ("/upload", .options) where self.files != nil:
            return self.files!.options(request)
        case ("/upload", .post) where self.files != nil:
            let address = ChatConnectionHandler.hostText(channel.remoteAddress?.ipAddress)
            return try await self.files!.upload(request, address: address, publicURL: self.baseURL(for: request), writer: &writer)
        case (_, .get) where path.hasPrefix("/files/") && self.files != nil, (_, .head) where path.hasPrefix("/files/") && self.files != nil:
            return try await self.files!.download(request, id: String(path.dropFirst(7)))
        default:
            return ChatFileHost.text(.notFound, "Not found\n")
        }
    }
}
