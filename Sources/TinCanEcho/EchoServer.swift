import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import TinCanCore

/// Settings of an ``EchoServer``.
public struct EchoConfiguration: Sendable {
    /// Address to bind; nil binds every address (IPv6 and IPv4). Default nil.
    public var host: String?
    /// TCP port; nil for no TCP echo, 0 for a kernel-chosen port. Default 7 (RFC 862).
    public var tcpPort: Int?
    /// UDP port; nil for no UDP echo, 0 for a kernel-chosen port. Default 7 (RFC 862).
    public var udpPort: Int?
    /// How replies are changed. Default ``EchoTransform/none``.
    public var transform: EchoTransform
    /// Most TCP connections at once; a connection over the limit is closed as soon as it is accepted.
    /// Default 10,000.
    public var maxConnections: Int
    /// `listen(2)` backlog. Default 1024.
    public var backlog: Int32
    /// Most datagrams read with one `recvmmsg` on a wake-up of the UDP socket; their replies are sent
    /// together with one `sendmmsg`. The receive buffer is 64 KiB per datagram of the batch (1 MiB
    /// at the default), so that every datagram arrives whole. Default 16.
    public var datagramBatch: Int

    public static let defaultPort = 7
    /// The largest ``datagramBatch``: 256, a 16 MiB receive buffer.
    public static let maxDatagramBatch = 256
    public static let defaultMaxConnections = 10_000

    public init(
        host: String? = nil,
        tcpPort: Int? = EchoConfiguration.defaultPort,
        udpPort: Int? = EchoConfiguration.defaultPort,
        transform: EchoTransform = .none,
        maxConnections: Int = EchoConfiguration.defaultMaxConnections,
        backlog: Int32 = 1024,
        datagramBatch: Int = 16
    ) {
        self.host = host
        self.tcpPort = tcpPort
        self.udpPort = udpPort
        self.transform = transform
        self.maxConnections = maxConnections
        self.backlog = backlog
        self.datagramBatch = datagramBatch
    }

    /// Checks the configuration against the echo server's rules.
    ///
    /// - Throws: ``ConfigurationError`` when a port is outside 0...65535, `maxConnections` or
    ///   `datagramBatch` is below 1, or `backlog` is negative.
    public func validate() throws {
        try ConfigurationError.checkPort(self.tcpPort, "tcpPort")
        try ConfigurationError.checkPort(self.udpPort, "udpPort")
        try ConfigurationError.checkAtLeast(self.maxConnections, 1, "maxConnections")
        try ConfigurationError.checkAtLeast(self.backlog, 0, "backlog")
        try ConfigurationError.checkAtLeast(self.datagramBatch, 1, "datagramBatch")
        if self.datagramBatch > Self.maxDatagramBatch {
            throw ConfigurationError(
                setting: "datagramBatch", problem: "must be at most \(Self.maxDatagramBatch)"
            )
        }
    }
}

/// TCP and UDP echo servers (RFC 862) as one service.
///
/// Each client is served on its own; one that disconnects, resets or floods does not disturb the
/// others. On graceful shutdown the server stops accepting and closes its connections.
public final class EchoServer: Service, Sendable {
    /// Where the server ended up listening (useful with port 0).
    public struct Addresses: Sendable {
        public var tcp: SocketAddress?
        public var udp: SocketAddress?
    }

    private let configuration: EchoConfiguration
    private let group: any EventLoopGroup
    private let logger: Logger
    private let onServerRunning: @Sendable (Addresses) async -> Void
    private let connections = Mutex<[ObjectIdentifier: any Channel]>([:])

    /// - Parameters:
    ///   - onServerRunning: called once both sockets are bound, with their addresses.
    public init(
        configuration: EchoConfiguration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger,
        onServerRunning: @escaping @Sendable (Addresses) async -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
        self.onServerRunning = onServerRunning
    }

    /// The number of TCP connections open now.
    public var connectionCount: Int { self.connections.withLock { $0.count } }

    /// Binds, serves until cancelled or shut down gracefully, then closes every connection.
    ///
    /// - Throws: ``ConfigurationError`` when the configuration does not validate; ``TinCanError``
    ///   when binding fails.
    public func run() async throws {
        try self.configuration.validate()
        let tcp = try await self.configuration.tcpPort.asyncMap { try await self.bindTCP(port: $0) }
        let udp: (any Channel)?
        do {
            udp = try await self.configuration.udpPort.asyncMap { try await self.bindUDP(port: $0) }
        } catch {
            try? await tcp?.close()
            throw error
        }
        let addresses = Addresses(tcp: tcp?.localAddress, udp: udp?.localAddress)
        if let address = addresses.tcp { self.logger.info("echo listening on \(address.endpointDescription) (tcp)") }
        if let address = addresses.udp { self.logger.info("echo listening on \(address.endpointDescription) (udp)") }
        await self.onServerRunning(addresses)

        await withTaskCancellationOrGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                for channel in [tcp, udp].compactMap({ $0 }) {
                    group.addTask { try? await channel.closeFuture.get() }
                }
            }
        } onCancelOrGracefulShutdown: {
            tcp?.close(promise: nil)
            udp?.close(promise: nil)
        }
        let open = self.connections.withLock { Array($0.values) }
        for channel in open { channel.close(promise: nil) }
        // Return only once every connection is closed, so nothing outlives the service.
        for channel in open { try? await channel.closeFuture.get() }
        self.logger.info("echo stopped; closed \(open.count) connections")
    }

    private func endpoint(port: Int) -> Endpoint { Endpoint(host: self.configuration.host, port: port) }

    private func bindTCP(port: Int) async throws -> any Channel {
        let transform = self.configuration.transform
        let limit = self.configuration.maxConnections
        let logger = self.logger
        let address = try await Resolver.resolve(self.endpoint(port: port), family: .any, transport: .tcp)[0]
        do {
            return try await ServerBootstrap(group: self.group)
                .serverChannelOption(.backlog, value: self.configuration.backlog)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { [self] channel in
                    let id = ObjectIdentifier(channel)
                    let admitted = self.connections.withLock { connections in
                        guard connections.count < limit else { return false }
                        connections[id] = channel
                        return true
                    }
                    guard admitted else {
                        logger.warning(
                            "refused \(channel.remoteAddress?.endpointDescription ?? "?"): \(limit) connections open",
                            metadata: .setting("maxConnections")
                        )
                        return channel.close()
                    }
                    channel.closeFuture.whenComplete { _ in
                        _ = self.connections.withLock { $0.removeValue(forKey: id) }
                    }
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(TCPEchoHandler(transform: transform))
                    }
                }
                .bind(to: address)
                .get()
        } catch {
            throw TinCanError(operation: "echo listen on \(self.endpoint(port: port)) (tcp)", underlying: error)
        }
    }

    /// The receive buffer's room for one datagram: the largest UDP payload (65,507 bytes over IPv4,
    /// 65,527 over IPv6) fits.
    static let datagramSlot = 65536

    private func bindUDP(port: Int) async throws -> any Channel {
        let transform = self.configuration.transform
        let address = try await Resolver.resolve(self.endpoint(port: port), family: .any, transport: .udp)[0]
        do {
            return try await DatagramBootstrap(group: self.group)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                // One wake-up reads up to `datagramBatch` datagrams with one recvmmsg (vector reads), and
                // their replies go out together at the end of the read with one sendmmsg. Reading
                // datagrams one recvmsg at a time cost 1.5x as much per datagram (docs/benchmarks.md).
                .channelOption(.maxMessagesPerRead, value: 1)
                .channelOption(.datagramVectorReadMessageCount, value: self.configuration.datagramBatch)
                // Each datagram of a batch gets a 64 KiB slot of one receive buffer, so that datagrams
                // of any size arrive whole (NIO's default 2 KiB would truncate them). The buffer is
                // used again once the batch's replies are sent.
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: Self.datagramSlot * self.configuration.datagramBatch))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(UDPEchoHandler(transform: transform))
                    }
                }
                .bind(to: address)
                .get()
        } catch {
            throw TinCanError(operation: "echo listen on \(self.endpoint(port: port)) (udp)", underlying: error)
        }
    }
}
