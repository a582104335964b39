import NIOCore

/// How an echo server changes what it sends back.
public enum EchoTransform: Sendable {
    /// Byte for byte.
    case none
    /// ASCII letters in upper case, everything else unchanged (the classic first socket program).
    case upper

    @inlinable
    func apply(_ buffer: inout ByteBuffer) {
        guard case .upper = self else { return }
        buffer.withUnsafeMutableReadableBytes { bytes in
            for index in bytes.indices {
                let byte = bytes[index]
                if byte &- 0x61 < 26 { bytes[index] = byte &- 0x20 }
            }
        }
    }
}

/// Echoes a TCP stream. Reading stops (`autoRead` off) while the peer is not reading our replies
/// (the channel is not writable), so a client that only sends cannot grow the server's memory.
/// When the client half-closes, the replies already queued are flushed and the connection is closed.
final class TCPEchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let transform: EchoTransform

    init(transform: EchoTransform) {
        self.transform = transform
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = Self.unwrapInboundIn(data)
        self.transform.apply(&buffer)
        context.write(Self.wrapOutboundOut(buffer), promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // Toggling autoRead costs nothing per message, unlike intercepting every read().
        try? context.channel.syncOptions?.setOption(.autoRead, value: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            // Writes complete in order: once this empty one is flushed, every reply has been sent.
            let flushed = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(Self.wrapOutboundOut(ByteBuffer()), promise: flushed)
            let channel = context.channel
            flushed.futureResult.whenComplete { _ in channel.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A reset or a bad peer ends only this connection.
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension TCPEchoHandler: Sendable {}

/// Echoes each datagram to its sender. Replies are flushed once per read batch (one `recvmmsg`,
/// then one `sendmmsg`), and reading stops while the replies cannot be sent.
final class UDPEchoHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let transform: EchoTransform

    init(transform: EchoTransform) {
        self.transform = transform
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Back to where it came from: the same envelope (no ECN or packet info was asked for), and
        // unopened when nothing changes in it (opening and boxing it again cost 8% of the datagrams).
        guard case .upper = self.transform else {
            context.write(data, promise: nil)
            return
        }
        var envelope = Self.unwrapInboundIn(data)
        self.transform.apply(&envelope.data)
        context.write(Self.wrapOutboundOut(envelope), promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // Replies queue while the socket's send buffer is full; stop reading until they drain, so
        // that a flood of datagrams cannot grow the queue.
        try? context.channel.syncOptions?.setOption(.autoRead, value: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP errors from one peer (port unreachable) must not stop the server; nothing to do.
    }
}

@available(*, unavailable)
extension UDPEchoHandler: Sendable {}
