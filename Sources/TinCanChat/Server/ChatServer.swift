#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization
import TinCanCore
import TinCanIRC

/// The chat server: IRC over TCP (RFC 1459/2812 as practised today, with IRCv3 capabilities), a
/// lobby every client joins, private messages, presence. A swift-service-lifecycle `Service`.
///
/// Every connection and the shared state live on one event loop, as in ngircd: no locks, and a
/// message fanned out to a thousand clients is written once and noted a thousand times; each
/// client gets its slices in one write once the loop has read everything that was ready. The
/// rules are a core that decides (bytes for each client, closes, pauses) and a driver and
/// connection handlers that do, after each of the core's calls has returned.
public final class ChatServer: Service, Sendable {
    /// The version in RPL_YOURHOST and RPL_MYINFO.
    public static let version = "tincan-chat-0.1"
    /// Unsent bytes past which a client counts as backed up (NIO's write-buffer high-water mark;
    /// the low one is half): small, so that a burst fanned out to many clients who cannot keep up
    /// pauses input long before it costs much memory.
    static let backlogMark = 8 * 1024

    /// Read buffers start at 512 bytes (a whole IRC line without tags) and grow for clients that
    /// send more: each connection keeps its read buffer, and NIO's default of 2 KiB would be a
    /// third of an idle client's memory.
    static let receiveBuffers = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 64 * 1024)

    /// How often old messages are pruned from the store (``ChatAccountSettings/keepMessages``,
    /// ``ChatAccountSettings/historyPerChannel``).
    static let pruneInterval = Duration.seconds(3600)

    /// New connections accepted per event-loop turn (see `bind`).
    static let acceptsPerTurn: UInt = 4

    private let configuration: ChatServerConfiguration
    private let loop: any EventLoop
    private let logger: Logger
    private let store: (any ChatStore)?
    /// The store with the hasher and one login throttle, shared by SASL, NickServ and the HTTP
    /// port's uploads: failures anywhere slow the next attempt everywhere.
    private let accounts: ChatAccounts?
    private let onServerRunning: @Sendable (Addresses) async -> Void
    /// A service runs once: its listeners and clients belong to that run.
    private let hasRun = Mutex(false)

    /// - Parameters:
    ///   - group: the server takes one event loop of it for all its connections.
    ///   - onServerRunning: called once listening, with the bound addresses (port 0 in tests).
    public convenience init(
        configuration: ChatServerConfiguration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger,
        onServerRunning: @escaping @Sendable (Addresses) async -> Void = { _ in }
    ) {
        self.init(configuration: configuration, store: nil, group: group, logger: logger, onServerRunning: onServerRunning)
    }

    /// A server with accounts, offline messages and history in `store` (``ChatStore``), its
    /// passwords hashed by `hasher` (tests and benchmarks pass ``ChatPasswordHasher/fast``).
    package init(
        configuration: ChatServerConfiguration,
        store: (any ChatStore)?,
        hasher: ChatPasswordHasher = ChatPasswordHasher(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger,
        onServerRunning: @escaping @Sendable (Addresses) async -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.store = store
        self.accounts = store.map {
            ChatAccounts(store: $0, hasher: hasher, settings: configuration.accounts, nickLength: configuration.limits.nickLength)
        }
        self.loop = group.next()
        self.logger = logger
        self.onServerRunning = onServerRunning
    }

    /// Where the server listens.
    public struct Addresses: Sendable {
        public var plain: SocketAddress
        public var tls: SocketAddress?
        /// The HTTP port (``ChatServerConfiguration/http``), when it is on.
        public var http: SocketAddress?
    }

    /// Listens and serves until cancelled or shut down gracefully, then tells every client why
    /// and closes it. Throws when the configuration is invalid, a port cannot be bound, or the
    /// server has run before.
    public func run() async throws {
        let first = self.hasRun.withLock { hasRun in
            defer { hasRun = true }
            return !hasRun
        }
        guard first else { throw TinCanError(operation: "chat server", cause: "it has already run; a server runs once") }
        try self.configuration.validate()
        // The TLS files are read first, so that a bad one stops the server before it listens.
        let tls = try self.configuration.tls.map(Self.makeTLSContext)
        let (logger, loop, store, accounts) = (self.logger, self.loop, self.store, self.accounts)
        // The HTTP port is bound first: the core's ISUPPORT names its URL, which may name the
        // port the kernel chose. Its WebSockets wait for the driver made after that.
        let driverPromise = loop.makePromise(of: NIOLoopBound<ChatDriver>.self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            let driver: NIOLoopBound<ChatDriver>
            let listener: any Channel
            let secure: (any Channel)?
            var addresses: Addresses
            var configuration = self.configuration
            do {
                var http: SocketAddress?
                if configuration.http != nil {
                    let server = ChatHTTPServer(
                        configuration: configuration, store: store, authenticate: self.authenticate(), tls: tls, logger: logger
                    )
                    let address = try await self.startHTTP(server, in: &group, driver: driverPromise.futureResult)
                    http = address
                    configuration.http?.boundPort = address.port
                }
                driver = try await loop.submit { [configuration] in
                    ChatDriver.make(
                        core: ChatCore(configuration: configuration, logger: logger, usesStore: store != nil), loop: loop, accounts: accounts
                    )
                }.get()
                driverPromise.succeed(driver)
                let bound = try await self.bindIRC(tls: tls, driver: driver)
                (listener, secure) = (bound.listener, bound.secure)
                addresses = bound.addresses
                addresses.http = http
            } catch {
                driverPromise.fail(error)
                throw error
            }
            self.logger.info("chat listening on \(addresses.plain.endpointDescription) (irc)")
            if let address = addresses.tls { self.logger.info("chat listening on \(address.endpointDescription) (irc over tls)") }
            if let address = addresses.http {
                self.logger.info("chat listening on \(address.endpointDescription) (\(tls == nil ? "http" : "https"): websocket /socket, files)")
            }
            let liveness = loop.scheduleRepeatedTask(
                initialDelay: .seconds(1), delay: Self.livenessTick(self.configuration)
            ) { _ in driver.value.checkLiveness() }
            // What is kept is bounded by age and per channel: pruned at start and every hour.
            let pruning = store.map { store in
                let accounts = configuration.accounts
                return Task {
                    while !Task.isCancelled {
                        let now = Int64(ChatClock().wallMilliseconds())
                        do {
                            let removed = try await store.prune(before: now - accounts.keepMessages.nanoseconds / 1_000_000, perChannel: accounts.historyPerChannel)
                            if removed > 0 { logger.info("chat store: pruned \(removed) old messages") }
                        } catch {
                            logger.error("chat store: pruning failed: \(error)")
                        }
                        try? await Task.sleep(for: Self.pruneInterval)
                    }
                }
            }
            defer { pruning?.cancel() }
            await self.onServerRunning(addresses)
            await withTaskCancellationOrGracefulShutdownHandler {
                try? await listener.closeFuture.get()
                try? await secure?.closeFuture.get()
            } onCancelOrGracefulShutdown: {
                listener.close(promise: nil)
                secure?.close(promise: nil)
            }
            listener.close(promise: nil)
            secure?.close(promise: nil)
            liveness.cancel()
            let (open, writer) = try await loop.submit {
                let connections = driver.value.connectionCount
                driver.value.shutDown(reason: "Server shutting down")
                return (connections, driver.value.writer)
            }.get()
            // Its WebSockets are closed now; the HTTP port stops (gracefully, when the server is).
            group.cancelAll()
            try? await group.waitForAll()
            await writer?.finish(within: .seconds(5))
            self.logger.info("chat stopped; closed \(open) connections")
        }
    }

    /// Runs the HTTP port in `group` and waits until it listens: its address and public URL.
    private func startHTTP(
        _ server: ChatHTTPServer,
        in group: inout ThrowingTaskGroup<Void, any Error>,
        driver: EventLoopFuture<NIOLoopBound<ChatDriver>>
    ) async throws -> SocketAddress {
        let (running, continuation) = AsyncStream<SocketAddress>.makeStream()
        let loop = self.loop
        group.addTask {
            defer { continuation.finish() }
            try await server.run(loop: loop, driver: driver) { address in continuation.yield(address) }
        }
        for await started in running { return started }
        // It stopped before it listened: why.
        let port = self.configuration.http?.port ?? 0
        do {
            _ = try await group.next()
        } catch let error as TinCanError {
            throw error
        } catch {
            throw TinCanError(operation: "chat listen on port \(port) (http)", underlying: error)
        }
        throw TinCanError(operation: "chat listen on port \(port) (http)", cause: "it stopped before listening")
    }

    /// The IRC listeners: plain, and TLS when configured.
    private func bindIRC(
        tls: NIOSSLContext?, driver: NIOLoopBound<ChatDriver>
    ) async throws -> (listener: any Channel, secure: (any Channel)?, addresses: Addresses) {
        let listener = try await self.bind(port: self.configuration.port, tls: nil, driver: driver)
        let secure: (any Channel)?
        do {
            secure = try await self.configuration.tlsPort.asyncMap { port in try await self.bind(port: port, tls: tls, driver: driver) }
        } catch {
            try? await listener.close()
            throw error
        }
        guard let plain = listener.localAddress else {
            listener.close(promise: nil)
            secure?.close(promise: nil)
            throw TinCanError(operation: "chat listen on port \(self.configuration.port)", cause: "the socket has no local address")
        }
        return (listener, secure, Addresses(plain: plain, tls: secure?.localAddress))
    }

    /// How FILEHOST checks an uploader's account name and password: as SASL PLAIN does, with the
    /// login throttle's delays.
    private func authenticate() -> ChatFileHost.Authenticate {
        guard let accounts = self.accounts else { return { _, _, _ in nil } }
        return { name, password, address in
            let folded = IRCCaseMapping.rfc1459.fold(name)
            guard case .success(let account) = try await accounts.login(name: name, folded: folded, password: password, address: address)
            else { return nil }
            return account.folded
        }
    }

    /// How often idle clients are checked: often enough for the ping settings, at most every 5 s.
    static func livenessTick(_ configuration: ChatServerConfiguration) -> TimeAmount {
        let shortest = min(configuration.pingInterval, configuration.pingTimeout)
        return max(.milliseconds(100), min(.seconds(5), .nanoseconds(shortest.nanoseconds / 2)))
    }

    static func makeTLSContext(_ files: ChatTLSFiles) throws -> NIOSSLContext {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(files.certificate).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: files.privateKey, format: .pem)
            let configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw TinCanError(operation: "chat tls with \(files.certificate) and \(files.privateKey)", cause: "\(error)")
        }
    }

    private func bind(port: Int, tls: NIOSSLContext?, driver: NIOLoopBound<ChatDriver>) async throws -> any Channel {
        let endpoint = Endpoint(host: self.configuration.host, port: port)
        guard let address = try await Resolver.resolve(endpoint, family: .any, transport: .tcp).first else {
            throw TinCanError(operation: "chat listen on \(endpoint)", cause: "no address")
        }
        let high = Self.backlogMark
        do {
            return try await ServerBootstrap(group: self.loop, childGroup: self.loop)
                .serverChannelOption(.backlog, value: 1024)
                // Accepting is paced: at most this many new connections a loop turn, between
                // everyone else's reads and writes, so that a reconnect storm queues in the
                // kernel's backlog instead of holding up those already in (SwiftNIO's default,
                // named here because the storm benchmark measures it).
                .serverChannelOption(.maxMessagesPerRead, value: Self.acceptsPerTurn)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .childChannelOption(.writeBufferWaterMark, value: .init(low: high / 2, high: high))
                .childChannelOption(.recvAllocator, value: Self.receiveBuffers)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        if let tls { try sync.addHandler(NIOSSLServerHandler(context: tls)) }
                        try sync.addHandler(ByteToMessageHandler(IRCLineDecoder(requireUTF8: true)))
                        try sync.addHandler(ChatConnectionHandler(driver: driver.value))
                    }
                }
                .bind(to: address)
                .get()
        } catch {
            throw TinCanError(operation: "chat listen on \(endpoint)\(tls == nil ? "" : " (tls)")", underlying: error)
        }
    }
}
