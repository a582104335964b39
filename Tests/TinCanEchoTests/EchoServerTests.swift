import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Testing
import TinCanTestSupport

@testable import TinCanEcho

/// Runs an echo server on 127.0.0.1 with kernel-chosen ports for the duration of `body`.
func withEchoServer(
    _ configuration: EchoConfiguration = EchoConfiguration(host: "127.0.0.1", tcpPort: 0, udpPort: 0),
    _ body: @Sendable (EchoServer, EchoServer.Addresses) async throws -> Void
) async throws {
    let (stream, continuation) = AsyncStream.makeStream(of: EchoServer.Addresses.self)
    let server = EchoServer(configuration: configuration, logger: Logger(label: "test")) { continuation.yield($0) }
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run() }
        var iterator = stream.makeAsyncIterator()
        guard let addresses = await iterator.next() else { throw HarnessError("echo server did not start") }
        try await body(server, addresses)
        group.cancelAll()
    }
}

@Suite(.timeLimit(.minutes(2))) struct EchoServerTests {
    @Test func tcpEchoesByteForByte() async throws {
        try await withEchoServer { _, addresses in
            let socket = try TestSocket.connect(port: addresses.tcp!.port!)
            let data = TestData.random(count: 1 << 20, seed: 7)
            async let sent: Void = Blocking.run { try socket.send(data); socket.shutdownWrite() }
            let echoed = try await socket.receiveAllAsync()
            try await sent
            #expect(TestData.sha256(echoed) == TestData.sha256(data))
        }
    }

    @Test func upperCasesOnlyASCIILetters() async throws {
        var configuration = EchoConfiguration(host: "127.0.0.1", tcpPort: 0, udpPort: 0)
        configuration.transform = .upper
        try await withEchoServer(configuration) { _, addresses in
            let socket = try TestSocket.connect(port: addresses.tcp!.port!)
            try socket.send("hello, Wörld {z}\n")
            socket.shutdownWrite()
            #expect(try await socket.receiveAllAsync().text == "HELLO, WöRLD {Z}\n")
            let udp = try TestSocket.udp()
            try udp.sendDatagram(Data("abc xyz".utf8), port: addresses.udp!.port!)
            #expect(try await Blocking.run { try udp.receiveDatagram() }.0.text == "ABC XYZ")
        }
    }

    @Test func udpEchoesEachDatagramToItsSender() async throws {
        try await withEchoServer { _, addresses in
            let port = addresses.udp!.port!
            let clients = try (0..<4).map { _ in try TestSocket.udp() }
            for (index, client) in clients.enumerated() {
                try client.sendDatagram(Data("datagram \(index)".utf8), port: port)
            }
            for (index, client) in clients.enumerated() {
                #expect(try await Blocking.run { try client.receiveDatagram() }.0.text == "datagram \(index)")
            }
            // A datagram larger than NIO's default 2 KiB receive buffer comes back whole.
            let big = TestData.random(count: 60_000, seed: 9)
            try clients[0].sendDatagram(big, port: port)
            #expect(try await Blocking.run { try clients[0].receiveDatagram() }.0 == big)
        }
    }

    @Test("a burst read in batches (recvmmsg): datagrams of 0 to 65,507 bytes each come back whole, in order")
    func udpBatchesKeepEveryDatagramWhole() async throws {
        try await withEchoServer { _, addresses in
            let port = addresses.udp!.port!
            let client = try TestSocket.udp()
            // More than one batch (16) sent at once, so a batch is full; the largest IPv4 UDP payload among
            // them. About 150 KB in all: within the kernel's default 208 KiB receive buffer at each end.
            let sizes = [65_507, 0, 1, 64, 2_000, 30_000] + Array(repeating: 512, count: 20) + [9_000]
            let datagrams = sizes.enumerated().map { TestData.random(count: $0.element, seed: UInt64(100 + $0.offset)) }
            for datagram in datagrams { try client.sendDatagram(datagram, port: port) }
            for (index, datagram) in datagrams.enumerated() {
                let echoed = try await Blocking.run { try client.receiveDatagram() }.0
                #expect(echoed == datagram, "datagram \(index) of \(datagram.count) bytes came back as \(echoed.count)")
            }
        }
    }

    @Test func resetsAndGarbageDoNotDisturbOtherClients() async throws {
        try await withEchoServer { _, addresses in
            let port = addresses.tcp!.port!
            let steady = try TestSocket.connect(port: port)
            for round in 0..<20 {
                let rude = try TestSocket.connect(port: port)
                try rude.send(TestData.random(count: 10_000, seed: UInt64(round)))
                rude.reset()
                try steady.send("round \(round);")
                #expect(try await steady.receiveAsync(count: "round \(round);".utf8.count).text == "round \(round);")
            }
        }
    }

    @Test func maxConnectionsClosesTheExtraOnly() async throws {
        var configuration = EchoConfiguration(host: "127.0.0.1", tcpPort: 0, udpPort: nil)
        configuration.maxConnections = 2
        try await withEchoServer(configuration) { server, addresses in
            let port = addresses.tcp!.port!
            let a = try TestSocket.connect(port: port)
            let b = try TestSocket.connect(port: port)
            try a.send("a")
            _ = try await a.receiveAsync(count: 1)
            try b.send("b")
            _ = try await b.receiveAsync(count: 1)
            let c = try TestSocket.connect(port: port)
            #expect(try await c.receiveAllAsync().isEmpty)
            #expect(server.connectionCount == 2)
            try a.send("still")
            #expect(try await a.receiveAsync(count: 5).text == "still")
        }
    }

    @Test func aClientThatNeverReadsIsPausedNotBuffered() async throws {
        try await withEchoServer { server, addresses in
            let port = addresses.tcp!.port!
            let flooder = try TestSocket.connect(port: port)
            flooder.setTimeout(0.5)
            // Send without reading: once the echoes fill both socket buffers the server stops
            // reading, so our sends stall (time out) instead of the server's memory growing.
            let chunk = Data(count: 65536)
            var sent = 0
            do {
                while sent < 512 << 20 {
                    try flooder.send(chunk)
                    sent += chunk.count
                }
            } catch {}
            #expect(sent < 512 << 20)
            let other = try TestSocket.connect(port: port)
            try other.send("ok")
            #expect(try await other.receiveAsync(count: 2).text == "ok")
            #expect(server.connectionCount == 2)
        }
    }

    @Test func gracefulShutdownClosesConnections() async throws {
        let (stream, continuation) = AsyncStream.makeStream(of: EchoServer.Addresses.self)
        let server = EchoServer(
            configuration: EchoConfiguration(host: "127.0.0.1", tcpPort: 0, udpPort: 0),
            logger: Logger(label: "test")
        ) { continuation.yield($0) }
        let group = ServiceGroup(services: [server], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = stream.makeAsyncIterator()
            let addresses = await iterator.next()!
            let client = try TestSocket.connect(port: addresses.tcp!.port!)
            try client.send("x")
            _ = try await client.receiveAsync(count: 1)
            await group.triggerGracefulShutdown()
            try await tasks.next()
            // The service has returned (tasks.next()) and its connection was closed, not reset.
            #expect(try await client.receiveAllAsync().isEmpty)
            #expect(server.connectionCount == 0)
        }
    }
}
