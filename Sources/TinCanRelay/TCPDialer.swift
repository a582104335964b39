import Logging
import NIOCore
import NIOPosix
import TinCanCore

/// Opens TCP connections to a command-line endpoint, trying each resolved address in turn.
public enum TCPDialer {
    /// Connects to `endpoint`, trying each of its addresses in the order the resolver gives.
    ///
    /// - Parameters:
    ///   - endpoint: where to connect.
    ///   - settings: family and connect timeout (`wait`, per address tried).
    ///   - group: the event loops to use.
    ///   - initializer: configures the connected channel and returns what the caller wants of it.
    /// - Throws: ``TinCanError`` such as `connect to 127.0.0.1:9: connection refused`.
    public static func connect<Output: Sendable>(
        to endpoint: Endpoint,
        settings: SocketSettings,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Output>
    ) async throws -> (Output, SocketAddress) {
        let addresses = try await Resolver.resolve(endpoint, family: settings.family, transport: .tcp)
        var lastError: TinCanError?
        for address in addresses {
            var bootstrap = ClientBootstrap(group: group)
                .channelOption(.allowRemoteHalfClosure, value: true)
                .channelOption(.recvAllocator, value: RelayTuning.receiveAllocator)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            if let wait = settings.wait {
                bootstrap = bootstrap.connectTimeout(wait)
            }
            do {
                logger.debug("connecting to \(address.endpointDescription)")
                let output = try await bootstrap.connect(to: address, channelInitializer: initializer)
                return (output, address)
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                var operation = "connect to \(endpoint)"
                if endpoint.host != address.ipAddress { operation += " (\(address.endpointDescription))" }
                let failure = TinCanError(operation: operation, underlying: error)
                logger.info("\(failure)")
                lastError = failure
            }
        }
        throw lastError ?? TinCanError(operation: "connect to \(endpoint)", cause: "no address to connect to")
    }
}
