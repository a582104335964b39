import Logging
import NIOCore
import NIOPosix
import NIOSSL
import TinCanCore
import TinCanIRC
import TinCanRelay

/// A client's connection to an IRC server: TCP (or TLS), lines in as ``IRCMessage``, lines out.
///
/// Lines the server sends may carry up to 8,191 bytes of tags (IRCv3 message-tags) before a
/// body of 512; a longer or malformed line is skipped, not fatal.
public struct ChatClientConnection: Sendable {
    public typealias Channel = NIOAsyncChannel<IRCInboundLine, ByteBuffer>

    public let channel: Channel
    /// The address it connected to.
    public let address: SocketAddress

    /// Server lines' limits: the body as servers send it, and tags as IRCv3 allows.
    public static let maxLineBytes = 4096
    public static let maxTagBytes = 8191

    /// Connects to `endpoint`, trying each resolved address, within `timeout` per address.
    ///
    /// - Parameters:
    ///   - tls: the TLS configuration, or nil for plain TCP. The server's name is checked against
    ///     `endpoint.host` unless the configuration says otherwise.
    /// - Throws: ``TinCanError`` (`connect to chat.example:6697: connection refused`).
    public static func connect(
        to endpoint: Endpoint,
        tls: TLSConfiguration? = nil,
        timeout: TimeAmount = .seconds(15),
        // Quiet unless the caller passes a logger: a failure is thrown, and said once by the caller.
        logger: Logger = Logger(label: "tincan.chat.client") { _ in SwiftLogNoOpLogHandler() }
    ) async throws -> ChatClientConnection {
        let context = try tls.map { try NIOSSLContext(configuration: $0) }
        let serverName = endpoint.host.flatMap { host in host.contains(":") || host.allSatisfy({ $0.isNumber || $0 == "." }) ? nil : host }
        let (channel, address) = try await TCPDialer.connect(
            to: endpoint, settings: SocketSettings(wait: timeout), logger: logger
        ) { channel in
            channel.eventLoop.makeCompletedFuture {
                if let context {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverName))
                }
                try channel.pipeline.syncOperations.addHandler(
                    ByteToMessageHandler(IRCLineDecoder(maxLineBytes: Self.maxLineBytes, maxTagBytes: Self.maxTagBytes))
                )
                return try Channel(wrappingChannelSynchronously: channel)
            }
        }
        return ChatClientConnection(channel: channel, address: address)
    }
}

extension IRCMessage {
    /// The message as it goes on the wire, CR LF included.
    public var wireBytes: ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeIRCMessage(self)
        return buffer
    }
}
