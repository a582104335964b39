import NIOCore
import NIOEmbedded
import Testing
import TinCanCore

@testable import TinCanEcho

/// The echo handlers on an in-memory channel: what each read produces, when it is flushed, and how
/// the connection ends. No sockets, no real time.
@Suite struct TCPEchoHandlerTests {
    func makeChannel(_ transform: EchoTransform = .none) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(TCPEchoHandler(transform: transform))
        channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 7), promise: nil)
        #expect(channel.isActive)
        return channel
    }

    @Test("echoes each read byte for byte, or ASCII letters in upper case with --upper", arguments: [
        (EchoTransform.none, "Hello, wörld! [az]\n", "Hello, wörld! [az]\n"),
        (EchoTransform.upper, "Hello, wörld! [az]\n", "HELLO, WöRLD! [AZ]\n"),
        (EchoTransform.upper, "`{@", "`{@"),
    ])
    func echo(transform: EchoTransform, sent: String, expected: String) throws {
        let channel = try self.makeChannel(transform)
        defer { _ = try? channel.finish() }
        try channel.writeInbound(ByteBuffer(string: sent))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: expected))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
    }

    @Test("replies wait for the end of the read batch, then go out in one flush")
    func flushOncePerBatch() throws {
        let channel = try self.makeChannel()
        defer { _ = try? channel.finish() }
        channel.pipeline.syncOperations.fireChannelRead(NIOAny(ByteBuffer(string: "one ")))
        channel.pipeline.syncOperations.fireChannelRead(NIOAny(ByteBuffer(string: "two")))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        channel.pipeline.syncOperations.fireChannelReadComplete()
        #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "one "))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "two"))
    }

    @Test("the client's half-close: replies already queued are sent, then the connection closes")
    func halfClose() throws {
        let channel = try self.makeChannel()
        channel.pipeline.syncOperations.fireChannelRead(NIOAny(ByteBuffer(string: "last words")))
        #expect(channel.isActive)
        channel.pipeline.syncOperations.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        channel.embeddedEventLoop.run()
        #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "last words"))
        #expect(!channel.isActive)
    }

    @Test("reading stops while the peer does not read the replies, and resumes when it does")
    func backpressure() throws {
        let channel = try self.makeChannel()
        defer { _ = try? channel.finish() }
        func autoRead() -> Bool? {
            channel.options.last { $0.option is ChannelOptions.Types.AutoReadOption }?.value as? Bool
        }
        #expect(autoRead() == nil)
        channel.isWritable = false
        channel.pipeline.syncOperations.fireChannelWritabilityChanged()
        #expect(autoRead() == false)
        channel.isWritable = true
        channel.pipeline.syncOperations.fireChannelWritabilityChanged()
        #expect(autoRead() == true)
    }

    @Test("an error (a reset) closes only this connection")
    func errorCloses() throws {
        let channel = try self.makeChannel()
        channel.pipeline.syncOperations.fireErrorCaught(IOError(errnoCode: 104, reason: "read"))
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive)
    }
}

@Suite struct UDPEchoHandlerTests {
    func makeChannel(_ transform: EchoTransform = .none) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(UDPEchoHandler(transform: transform))
        return channel
    }

    @Test("each datagram goes back whole to its own sender", arguments: [EchoTransform.none, .upper])
    func echo(transform: EchoTransform) throws {
        let channel = try self.makeChannel(transform)
        defer { _ = try? channel.finish() }
        let first = try SocketAddress(ipAddress: "127.0.0.1", port: 5001)
        let second = try SocketAddress(ipAddress: "::1", port: 5002)
        channel.pipeline.syncOperations.fireChannelRead(NIOAny(AddressedEnvelope(remoteAddress: first, data: ByteBuffer(string: "one"))))
        channel.pipeline.syncOperations.fireChannelRead(NIOAny(AddressedEnvelope(remoteAddress: second, data: ByteBuffer(string: "two"))))
        #expect(try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) == nil, "flushed before the batch ended")
        channel.pipeline.syncOperations.fireChannelReadComplete()
        let replies = [
            try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self),
            try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self),
        ]
        let upper = transform == .upper
        #expect(replies[0] == AddressedEnvelope(remoteAddress: first, data: ByteBuffer(string: upper ? "ONE" : "one")))
        #expect(replies[1] == AddressedEnvelope(remoteAddress: second, data: ByteBuffer(string: upper ? "TWO" : "two")))
    }

    @Test("reading stops while 4 batches are unsent, whatever their bytes (empty datagrams too), and starts again as they go")
    func unsentBatchesStopReading() throws {
        let channel = EmbeddedChannel()
        let held = HeldWrites()
        try channel.pipeline.syncOperations.addHandler(held)
        let handler = UDPEchoHandler(transform: .none)
        try channel.pipeline.syncOperations.addHandler(handler)
        defer { _ = try? channel.finish() }
        let peer = try SocketAddress(ipAddress: "127.0.0.1", port: 5001)
        func batch() {
            for _ in 0..<3 {
                channel.pipeline.syncOperations.fireChannelRead(NIOAny(AddressedEnvelope(remoteAddress: peer, data: ByteBuffer())))
            }
            channel.pipeline.syncOperations.fireChannelReadComplete()
        }
        let autoRead = { handler.reading }
        for _ in 0..<(UDPEchoHandler.maxUnsentBatches - 1) { batch() }
        #expect(autoRead(), "still reading with \(UDPEchoHandler.maxUnsentBatches - 1) batches unsent")
        batch()
        #expect(!autoRead(), "reading stops at \(UDPEchoHandler.maxUnsentBatches) batches unsent")
        #expect(held.count == 3 * UDPEchoHandler.maxUnsentBatches, "every reply was written")
        held.completeFirst(3)
        #expect(autoRead(), "one batch sent: reading again")
    }

    @Test("an ICMP error from one peer does not stop the server")
    func errorsIgnored() throws {
        let channel = try self.makeChannel()
        defer { _ = try? channel.finish() }
        channel.pipeline.syncOperations.fireErrorCaught(IOError(errnoCode: 111, reason: "recvmsg"))
        #expect(throws: Never.self) { try channel.throwIfErrorCaught() }
        let peer = try SocketAddress(ipAddress: "127.0.0.1", port: 5001)
        try channel.writeInbound(AddressedEnvelope(remoteAddress: peer, data: ByteBuffer(string: "still here")))
        #expect(try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self)?.data == ByteBuffer(string: "still here"))
    }
}

@Suite struct EchoConfigurationTests {
    @Test("the defaults validate")
    func defaults() throws {
        try EchoConfiguration().validate()
    }

    @Test("settings out of range are named by their property", arguments: [
        (EchoConfiguration(tcpPort: 70000), "tcpPort takes a port from 0 to 65535"),
        (EchoConfiguration(udpPort: -1), "udpPort takes a port from 0 to 65535"),
        (EchoConfiguration(maxConnections: 0), "maxConnections must be at least 1"),
        (EchoConfiguration(backlog: -1), "backlog must not be negative"),
        (EchoConfiguration(datagramBatch: 0), "datagramBatch must be at least 1"),
        (EchoConfiguration(datagramBatch: 257), "datagramBatch must be at most 256"),
    ])
    func rejected(configuration: EchoConfiguration, message: String) {
        #expect(throws: ConfigurationError.self) { try configuration.validate() }
        do {
            try configuration.validate()
        } catch {
            #expect("\(error)" == message)
        }
    }
}

/// Holds the writes that pass it (their promises unfulfilled), as a socket whose send buffer is
/// full would, until a test lets them go.
private final class HeldWrites: ChannelOutboundHandler {
    typealias OutboundIn = AddressedEnvelope<ByteBuffer>
    private var promises: [EventLoopPromise<Void>?] = []

    var count: Int { self.promises.count }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        self.promises.append(promise)
    }

    /// Completes the first `n` writes held, in order.
    func completeFirst(_ n: Int) {
        let done = self.promises.prefix(n)
        self.promises.removeFirst(min(n, self.promises.count))
        for promise in done { promise?.succeed() }
    }
}
