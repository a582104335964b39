import Logging
import NIOCore
import NIOPosix

/// Opens TCP connections to an endpoint, trying each resolved address in turn.
///
/// Shared by the relay (`tincan connect`), the chat client and the `TinCan` library, which differ only
/// in the channel options they set (`configure`) and in what they build on the connected channel.
public enum TCPDialer {
    /// Connects to `endpoint`, trying each of its addresses in the order the resolver gives.
    ///
    /// - Parameters:
    ///   - endpoint: where to connect.
    ///   - family: which address families to try.
    ///   - timeout: connect timeout, per address tried; nil for NIO's default, 10 seconds per address
    ///     (`ClientBootstrap`'s; not the system's limit, which is minutes).
    ///   - group: the event loops to use.
    ///   - configure: sets the bootstrap's channel options.
    ///   - initializer: configures the connected channel and returns what the caller wants of it.
    /// - Returns: what `initializer` returned, and the address that accepted the connection.
    /// - Throws: ``TinCanError`` such as `connect to 127.0.0.1:9: connection refused`, with the
    ///   failure of the last address tried (its ``TinCanError/kind`` says refused, timed out...).
    public static func connect<Output: Sendable>(
        to endpoint: Endpoint,
        family: AddressFamily = .any,
        timeout: TimeAmount?,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger,
        configure: (ClientBootstrap) -> ClientBootstrap = { $0 },
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Output>
    ) async throws -> (Output, SocketAddress) {
        let addresses = try await Resolver.resolve(endpoint, family: family, transport: .tcp)
        var lastError: TinCanError?
        for address in addresses {
            var bootstrap = configure(ClientBootstrap(group: group))
            if let timeout {
                bootstrap = bootstrap.connectTimeout(timeout)
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
