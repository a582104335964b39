import NIOCore
import Testing
import TinCanTestSupport

@testable import TinCan

/// Ending a connection, one direction or both, without losing what was sent.
@Suite(.timeLimit(.minutes(2))) struct TCPClosingTests {
    /// Small kernel buffers, so that a large send leaves bytes queued in the channel.
    static var smallBuffers: SocketOptions {
        var options = testOptions
        options.sendBufferSize = 16 * 1024
        options.receiveBufferSize = 16 * 1024
        return options
    }

    /// With the peer's direction already ended, ending ours would close the socket: NIO fails what is
    /// still queued. shutdownWrite waits until it is in the kernel first.
    @Test func shutdownWriteAfterThePeersEndDeliversEverything() async throws {
        let (server, client, accepted) = try await connectedPair(
            serverOptions: Self.smallBuffers, clientOptions: Self.smallBuffers
        )
        try await accepted.send("that is all\n")
        try await accepted.shutdownWrite()
        var heard = ""
        while let chunk = try await client.receive() { heard += chunk.text }
        #expect(heard == "that is all\n")

        // The peer does not read yet: the send runs out of time with most of its bytes queued.
        let total = 1 << 20
        let timedOut = await #expect(throws: TinCanError.self) {
            try await client.send(ByteBuffer(repeating: 0x62, count: total), timeout: .milliseconds(100))
        }
        #expect(timedOut?.kind == .timedOut)
        let shutDown = Gauge()
        let shutting = Task {
            defer { shutDown.set(1) }
            try await client.shutdownWrite()
        }
        // The peer reads once shutdownWrite has done what it does at once: wait for the queue, or
        // (before the fix) close.
        try await waitUntil {
            if shutDown.value == 1 { return true }
            return try await client.writeWaiterCount() > 0
        }
        var received = 0
        while let chunk = try await accepted.receive() { received += chunk.readableBytes }
        #expect(received == total)
        try await shutting.value
        try await client.close()
        try await accepted.close()
        try await server.close()
    }

    /// close() waits for its empty write to complete: the channel becoming writable (the queue
    /// below its low mark, bytes still in it) must not end that wait, nor a datagram's send.
    @Test func writabilityDoesNotEndAWaitForAWrite() async throws {
        let (server, client, accepted) = try await connectedPair()
        let held = try await HoldWrites.install(on: client.channel)
        try await client.send("held back")
        let closing = Task { try await client.close() }
        try await waitUntil { try await client.writeWaiterCount() == 1 }
        client.channel.pipeline.fireChannelWritabilityChanged()
        // The event is handled before this look (the loop runs them in order): close still waits.
        #expect(try await client.writeWaiterCount() == 1)
        try await held.release()
        try await closing.value
        #expect(try await accepted.receive()?.text == "held back")
        #expect(try await accepted.receive() == nil)
        try await accepted.close()
        try await server.close()

        let a = try await UDPSocket.bind(host: "127.0.0.1", port: 0, options: testOptions)
        let b = try await UDPSocket.bind(host: "127.0.0.1", port: 0, options: testOptions)
        let heldDatagrams = try await HoldWrites.install(on: a.channel)
        let address = try #require(b.localAddress)
        let sending = Task { try await a.send("datagram", to: address) }
        try await waitUntil { try await a.writeWaiterCount() == 1 }
        a.channel.pipeline.fireChannelWritabilityChanged()
        #expect(try await a.writeWaiterCount() == 1)
        try await heldDatagrams.release()
        try await sending.value
        #expect(String(buffer: try await b.receive()) == "datagram")
        try await a.close()
        try await b.close()
    }

    /// A receive after our own close() says closed, even when the peer's end of stream came first.
    @Test func aReceiveAfterCloseSaysClosedAfterThePeersEnd() async throws {
        let (server, client, accepted) = try await connectedPair()
        try await accepted.send("bye")
        try await accepted.shutdownWrite()
        #expect(try await client.receive()?.text == "bye")
        #expect(try await client.receive() == nil)
        try await client.close()
        let error = await #expect(throws: TinCanError.self) { try await client.receive() }
        #expect(error?.kind == .closed)
        // The sequences still end quietly.
        for try await _ in client.chunks { Issue.record("a chunk after close") }
        try await accepted.close()
        // Both directions ended: the socket closed by itself, and close() still makes it ours.
        let (server2, client2, accepted2) = try await connectedPair()
        try await client2.shutdownWrite()
        try await accepted2.shutdownWrite()
        #expect(try await client2.receive() == nil)
        #expect(try await accepted2.receive() == nil)
        try await client2.close()
        let again = await #expect(throws: TinCanError.self) { try await client2.receive() }
        #expect(again?.kind == .closed)
        try await accepted2.close()
        try await server.close()
        try await server2.close()
    }
}

/// Waits until `condition` holds, looking again after each yield, for at most 10 seconds. For states
/// that no event announces (a task that has reached its wait on the event loop).
func waitUntil(_ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(10)
    while try await !condition() {
        try #require(ContinuousClock.now < deadline, "the condition never held")
        await Task.yield()
    }
}

/// An outbound handler at the head of a pipeline that holds every write (and its promise) until
/// released: a write that the kernel has not yet taken, on demand.
final class HoldWrites: ChannelOutboundHandler {
    typealias OutboundIn = NIOAny
    private var held: [(NIOAny, EventLoopPromise<Void>?)] = []
    private var holding = true

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if self.holding {
            self.held.append((data, promise))
        } else {
            context.write(data, promise: promise)
        }
    }

    func flush(context: ChannelHandlerContext) {
        if !self.holding { context.flush() }
    }

    /// Passes the held writes on, and every later one.
    func release(context: ChannelHandlerContext) {
        self.holding = false
        let held = self.held
        self.held = []
        for (data, promise) in held { context.write(data, promise: promise) }
        context.flush()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        for (_, promise) in self.held { promise?.fail(ChannelError.ioOnClosedChannel) }
        self.held = []
    }

    /// Adds a holder at the head of `channel`'s pipeline.
    static func install(on channel: any Channel) async throws -> Handle {
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(HoldWrites(), name: "hold", position: .first)
        }.get()
        return Handle(channel: channel)
    }

    /// Reaches the holder from a task.
    struct Handle: Sendable {
        let channel: any Channel
        /// Passes the held writes on, and every later one.
        func release() async throws {
            let channel = self.channel
            try await channel.eventLoop.submit {
                let context = try channel.pipeline.syncOperations.context(name: "hold")
                try channel.pipeline.syncOperations.handler(type: HoldWrites.self).release(context: context)
            }.get()
        }
    }
}

@available(*, unavailable)
extension HoldWrites: Sendable {}
