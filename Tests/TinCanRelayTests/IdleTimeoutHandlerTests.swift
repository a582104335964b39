import NIOCore
import NIOEmbedded
import Testing

@testable import TinCanRelay

/// The idle limit of a relayed connection (`IdleTimeoutHandler`, as `makeRelayConnection` installs
/// it) on an in-memory channel whose clock the test advances.
@Suite struct IdleTimeoutHandlerTests {
    func makeChannel(limit: TimeAmount) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(IdleTimeoutHandler(limit: limit))
        channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 5000), promise: nil)
        #expect(channel.isActive)
        return channel
    }

    @Test("a connection with no traffic for the limit fails with IdleTimeoutError and closes; not a moment before")
    func idles() throws {
        let channel = try self.makeChannel(limit: .seconds(2))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1999))
        #expect(channel.isActive)
        #expect(throws: Never.self) { try channel.throwIfErrorCaught() }
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(throws: IdleTimeoutError.self) { try channel.throwIfErrorCaught() }
        #expect(!channel.isActive)
    }

    @Test("reading or writing starts the limit over", arguments: ["read", "write"])
    func trafficResets(direction: String) throws {
        let channel = try self.makeChannel(limit: .seconds(2))
        defer { _ = try? channel.finish() }
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1500))
        if direction == "read" {
            try channel.writeInbound(ByteBuffer(string: "x"))
            #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(string: "x"))
        } else {
            try channel.writeOutbound(ByteBuffer(string: "x"))
            #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "x"))
        }
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1500))
        #expect(channel.isActive)
        #expect(throws: Never.self) { try channel.throwIfErrorCaught() }
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(500))
        #expect(throws: IdleTimeoutError.self) { try channel.throwIfErrorCaught() }
        #expect(!channel.isActive)
    }

    @Test("a connection that closes first never fires the timer")
    func closedFirst() throws {
        let channel = try self.makeChannel(limit: .seconds(2))
        _ = try channel.finish()
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(throws: Never.self) { try channel.throwIfErrorCaught() }
    }

    @Test("other user events pass through untouched")
    func otherEvents() throws {
        let channel = try self.makeChannel(limit: .seconds(2))
        defer { _ = try? channel.finish() }
        let recorder = EventRecorder()
        try channel.pipeline.syncOperations.addHandler(recorder)
        channel.pipeline.syncOperations.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(recorder.inputClosed == 1)
        #expect(channel.isActive)
    }
}

private final class EventRecorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var inputClosed = 0

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { self.inputClosed += 1 }
        context.fireUserInboundEventTriggered(event)
    }
}
