import Logging
import NIOCore
import NIOPosix
import TinCanCore

extension TCPDialer {
    /// Connects with the relay's settings (family, `wait` as the connect timeout) and its channel
    /// options: remote half-closure allowed, the bulk receive allocator, `TCP_NODELAY`.
    ///
    /// - Throws: ``TinCanError`` such as `connect to 127.0.0.1:9: connection refused`.
    public static func connect<Output: Sendable>(
        to endpoint: Endpoint,
        settings: SocketSettings,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Output>
    ) async throws -> (Output, SocketAddress) {
        try await Self.connect(
            to: endpoint, family: settings.family, timeout: settings.wait, group: group, logger: logger,
            configure: { bootstrap in
                bootstrap
                    .channelOption(.allowRemoteHalfClosure, value: true)
                    .channelOption(.recvAllocator, value: RelayTuning.receiveAllocator)
                    .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            },
            initializer: initializer
        )
    }
}
