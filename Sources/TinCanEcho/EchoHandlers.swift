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
/// then one `sendmmsg`).
///
/// Reading stops while replies cannot be sent: while the channel is not writable, and while
/// ``maxUnsentBatches`` batches are still unsent. The second limit is what bounds memory: a reply
/// is a slice of its batch's receive buffer (1 MiB at the default batch) and keeps all of it, while
/// NIO's writability counts only the replies' bytes (nothing at all for empty datagrams).
final class UDPEchoHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    /// Batches whose replies may wait unsent before reading stops: 4 receive buffers.
    static let maxUnsentBatches = 4

    private let transform: EchoTransform
    /// The batch's last reply, written at the end of the batch with a promise that tells when the
    /// whole batch is sent (writes complete in order).
    private var last: NIOAny?
    private var unsentBatches = 0

    init(transform: EchoTransform) {
        self.transform = transform
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if let previous = self.last { context.write(previous, promise: nil) }
        // Back to where it came from: the same envelope (no ECN or packet info was asked for), and
        // unopened when nothing changes in it (opening and boxing it again cost 8% of the datagrams).
        guard case .upper = self.transform else {
            self.last = data
            return
        }
        var envelope = Self.unwrapInboundIn(data)
        self.transform.apply(&envelope.data)
        self.last = Self.wrapOutboundOut(envelope)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard let last = self.last else {
            context.flush()
            return
        }
        self.last = nil
        self.unsentBatches += 1
        let sent = context.eventLoop.makePromise(of: Void.self)
        sent.futureResult.assumeIsolated().whenComplete { [self] _ in
            self.unsentBatches -= 1
            self.updateReading(context: context)
        }
        context.writeAndFlush(last, promise: sent)
        self.updateReading(context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.updateReading(context: context)
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP errors from one peer (port unreachable) must not stop the server; nothing to do.
    }

    /// Whether the handler lets the channel read (its `autoRead`); for tests, since an embedded
    /// channel keeps no `autoRead`.
    private(set) var reading = true

    private func updateReading(context: ChannelHandlerContext) {
        let read = context.channel.isWritable && self.unsentBatches < Self.maxUnsentBatches
        guard read != self.reading else { return }
        self.reading = read
        try? context.channel.syncOptions?.setOption(.autoRead, value: read)
    }
}

@available(*, unavailable)
extension UDPEchoHandler: Sendable {}
