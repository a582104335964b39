import NIOCore
import Testing
import TinCanCore
import TinCanTestSupport

@testable import TinCan

@Suite(.timeLimit(.minutes(2))) struct UDPTests {
    @Test(arguments: loopbacks) func sendAndReceiveWithTheSender(host: String) async throws {
        try #require(host == "127.0.0.1" || ipv6Available, "IPv6 loopback is not available here")
        let a = try await UDPSocket.bind(host: host, port: 0, options: testOptions)
        let b = try await UDPSocket.bind(host: host, port: 0, options: testOptions)
        #expect(a.port != 0)
        try await a.send("ping", to: try #require(b.localAddress))
        let (data, sender) = try await b.receiveFrom()
        #expect(String(buffer: data) == "ping")
        #expect(sender == a.localAddress)
        try await b.send(ByteBuffer(string: "pong"), to: sender)
        #expect(String(buffer: try await a.receive()) == "pong")
        try await a.close()
        try await b.close()
    }

    @Test func connectedMode() async throws {
        let server = try await UDPSocket.bind(host: "127.0.0.1", port: 0, options: testOptions)
        let client = try await UDPSocket.connect(host: "127.0.0.1", port: server.port, options: testOptions)
        #expect(client.peerAddress == server.localAddress)
        try await client.send("hi")
        let (data, sender) = try await server.receiveFrom()
        #expect(String(buffer: data) == "hi")
        #expect(sender.port == client.port)
        // A connected socket hears only its peer.
        let stranger = try await UDPSocket.bind(host: "127.0.0.1", port: 0, options: testOptions)
        try await stranger.send("noise", to: try #require(client.localAddress))
        try await server.send("back", to: sender)
        #expect(String(buffer: try await client.receive()) == "back")
        for socket in [server, client, stranger] { try await socket.close() }
    }

    @Test func anUnconnectedSocketCannotSendWithoutAnAddress() async throws {
        let socket = try await UDPSocket.bind(host: "127.0.0.1", port: 0)
        let error = await #expect(throws: TinCanError.self) { try await socket.send("nowhere") }
        #expect(error?.kind == .closed)
        try await socket.close()
    }

    @Test func connectedToAPortWhereNothingListensIsRefused() async throws {
        let gone = try await UDPSocket.bind(host: "127.0.0.1", port: 0)
        let port = gone.port
        try await gone.close()
        let client = try await UDPSocket.connect(host: "127.0.0.1", port: port, options: testOptions)
        // The ICMP port unreachable comes back to the receive (or, if it is quicker, the next send).
        let error = await #expect(throws: TinCanError.self) {
            try await client.send("anyone?")
            _ = try await client.receive()
        }
        #expect(error?.kind == .refused)
        // The socket stays usable.
        let error2 = await #expect(throws: TinCanError.self) { try await client.receive(timeout: .milliseconds(50)) }
        #expect(error2?.kind == .timedOut)
        try await client.close()
    }

    @Test func a60000ByteDatagramArrivesWhole() async throws {
        let a = try await UDPSocket.bind(host: "127.0.0.1", port: 0, options: testOptions)
        let b = try await UDPSocket.bind(host: "127.0.0.1", port: 0, options: testOptions)
        let payload = ByteBuffer(bytes: (0..<60_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try await a.send(payload, to: try #require(b.localAddress))
        try await a.send("small", to: try #require(b.localAddress))
        #expect(try await b.receive() == payload)
        #expect(String(buffer: try await b.receive()) == "small")
        try await a.close()
        try await b.close()
    }

    @Test func theLargestDatagram() async throws {
        let a = try await UDPSocket.bind(host: "127.0.0.1", port: 0, options: testOptions)
        let b = try await UDPSocket.bind(host: "127.0.0.1", port: 0, options: testOptions)
        let largest = ByteBuffer(repeating: 0x5A, count: UDPSocket.maxDatagramSize)
        try await a.send(largest, to: try #require(b.localAddress))
        #expect(try await b.receive().readableBytes == UDPSocket.maxDatagramSize)
        let error = await #expect(throws: TinCanError.self) {
            try await a.send(ByteBuffer(repeating: 0, count: UDPSocket.maxDatagramSize + 1), to: try #require(b.localAddress))
        }
        #expect(error?.cause == "datagram too large")
        try await a.close()
        try await b.close()
    }

    @Test func aReceiveThatTimesOutLeavesTheSocketUsable() async throws {
        let a = try await UDPSocket.bind(host: "127.0.0.1", port: 0, options: testOptions)
        let b = try await UDPSocket.bind(host: "127.0.0.1", port: 0, options: testOptions)
        let error = await #expect(throws: TinCanError.self) { try await b.receive(timeout: .milliseconds(50)) }
        #expect(error?.kind == .timedOut)
        try await a.send("late", to: try #require(b.localAddress))
        #expect(String(buffer: try await b.receive()) == "late")
        try await a.close()
        try await b.close()
    }

    @Test func datagramsEndWhenTheSocketIsClosed() async throws {
        let a = try await UDPSocket.bind(host: "127.0.0.1", port: 0, options: testOptions)
        let b = try await UDPSocket.bind(host: "127.0.0.1", port: 0, options: testOptions)
        let (started, signal) = AsyncStream.makeStream(of: Void.self)
        let receiving = Task {
            var texts: [String] = []
            for try await (data, _) in b.datagrams {
                texts.append(String(buffer: data))
                if texts.count == 2 { signal.yield() }
            }
            return texts
        }
        let address = try #require(b.localAddress)
        try await a.send("one", to: address)
        try await a.send("two", to: address)
        for await _ in started { break }
        try await b.close()
        #expect(try await receiving.value == ["one", "two"])
        try await a.close()
    }

    @Test func addressInUseWithoutReuse() async throws {
        let first = try await UDPSocket.bind(host: "127.0.0.1", port: 0)
        let error = await #expect(throws: TinCanError.self) {
            _ = try await UDPSocket.bind(host: "127.0.0.1", port: first.port)
        }
        #expect(error?.kind == .addressInUse)
        // With SO_REUSEPORT on both, two sockets share the port.
        let shared = try await UDPSocket.bind(host: "127.0.0.1", port: 0, options: SocketOptions(reusePort: true))
        let second = try await UDPSocket.bind(host: "127.0.0.1", port: shared.port, options: SocketOptions(reusePort: true))
        #expect(second.port == shared.port)
        for socket in [first, shared, second] { try await socket.close() }
    }

    @Test func broadcastIsOptIn() async throws {
        let plain = try await UDPSocket.bind(host: "127.0.0.1", port: 0)
        let options = try await plain.channelOption(.socketOption(.so_broadcast))
        #expect(options == 0)
        let broadcasting = try await UDPSocket.bind(host: "127.0.0.1", port: 0, options: SocketOptions(broadcast: true))
        #expect(try await broadcasting.channelOption(.socketOption(.so_broadcast)) != 0)
        try await plain.close()
        try await broadcasting.close()
    }
}

extension UDPTests {
    /// A datagram is kept in a buffer of its own size, and counts its bytes against the limit, not
    /// the 64 KiB buffer it was read into.
    @Test func aSmallDatagramDoesNotKeepItsReceiveBuffer() {
        var read = ByteBufferAllocator().buffer(capacity: UDPLimits.receiveBufferSize)
        read.writeRepeatingByte(0x64, count: 100)
        var store = UDPSocket.Store()
        let sender = try! SocketAddress(ipAddress: "127.0.0.1", port: 9)
        store.append(AddressedEnvelope(remoteAddress: sender, data: read))
        #expect(store.cost == 100)
        guard case .value(let datagram) = store.answer(NextItem(), ended: false) else {
            Issue.record("no datagram")
            return
        }
        #expect(datagram.data == ByteBuffer(repeating: 0x64, count: 100))
        #expect(datagram.data.capacity < 1024)
        #expect(store.cost == 0)
        // A datagram that mostly fills its buffer keeps it, uncopied.
        var large = ByteBufferAllocator().buffer(capacity: UDPLimits.receiveBufferSize)
        large.writeRepeatingByte(0x65, count: 60000)
        store.append(AddressedEnvelope(remoteAddress: sender, data: large))
        #expect(store.cost == 60000)
    }

    /// Many small datagrams fit under the receive limit (not 4 of them, as when each counted 64 KiB).
    @Test func theReceiveLimitCountsDatagramBytes() async throws {
        let a = try await UDPSocket.bind(host: "127.0.0.1", port: 0, options: testOptions)
        let b = try await UDPSocket.bind(host: "127.0.0.1", port: 0, options: testOptions)
        let address = try #require(b.localAddress)
        let texts = (0..<20).map { "datagram \($0)" }
        for text in texts { try await a.send(text, to: address) }
        // All 20 are read from the kernel and held, well under the 256 KiB limit.
        let total = texts.reduce(0) { $0 + $1.utf8.count }
        try await waitUntil { try await b.bufferedReceiveBytes() == total }
        for text in texts { #expect(String(buffer: try await b.receive()) == text) }
        try await a.close()
        try await b.close()
    }

    /// A datagram the kernel does not take (held here by a handler) times out by the send's own
    /// timeout, or the socket's; it stays queued and goes once the kernel takes it.
    @Test func aSendToThatWaitsTimesOut() async throws {
        let a = try await UDPSocket.bind(host: "127.0.0.1", port: 0, options: testOptions)
        let b = try await UDPSocket.bind(host: "127.0.0.1", port: 0, options: testOptions)
        let address = try #require(b.localAddress)
        let held = try await HoldWrites.install(on: a.channel)
        let own = await #expect(throws: TinCanError.self) {
            try await a.send("one", to: address, timeout: .milliseconds(20))
        }
        #expect(own?.kind == .timedOut)
        a.timeout = .milliseconds(20)
        let socketWide = await #expect(throws: TinCanError.self) {
            try await a.send(ByteBuffer(string: "two"), to: "127.0.0.1", port: b.port)
        }
        #expect(socketWide?.kind == .timedOut)
        a.timeout = .seconds(10)
        try await held.release()
        #expect(String(buffer: try await b.receive()) == "one")
        #expect(String(buffer: try await b.receive()) == "two")
        try await a.close()
        try await b.close()
    }

    @Test func sendToTakesATimeout() async throws {
        let a = try await UDPSocket.bind(host: "127.0.0.1", port: 0, options: testOptions)
        let b = try await UDPSocket.bind(host: "127.0.0.1", port: 0, options: testOptions)
        let address = try #require(b.localAddress)
        try await a.send(ByteBuffer(string: "one"), to: address, timeout: .seconds(5))
        try await a.send("two", to: address, timeout: .seconds(5))
        try await a.send(Array("three".utf8), to: address, timeout: .seconds(5))
        try await a.send(ByteBuffer(string: "four"), to: "127.0.0.1", port: b.port, timeout: .seconds(5))
        for text in ["one", "two", "three", "four"] { #expect(String(buffer: try await b.receive()) == text) }
        try await a.close()
        try await b.close()
    }
}
