import Foundation
import Synchronization
import Testing
import TinCanTestSupport

@testable import TinCan

/// Every wait in these tests is bounded: sockets time out after this unless a test says otherwise.
let testOptions = SocketOptions(timeout: .seconds(10))

/// Whether this machine can bind IPv6 loopback.
let ipv6Available: Bool = (try? TestSocket.listen(host: "::1")) != nil

/// The loopback addresses to test on: IPv4, and IPv6 where the machine has it.
let loopbacks: [String] = ["127.0.0.1", "::1"]

/// A server on `host` with a kernel-chosen port, a client connected to it, and the server's side
/// of the connection.
func connectedPair(
    host: String = "127.0.0.1",
    serverOptions: SocketOptions = testOptions,
    clientOptions: SocketOptions = testOptions
) async throws -> (server: TCPServer, client: TCPConnection, accepted: TCPConnection) {
    let server = try await TCPServer.bind(host: host, port: 0, options: serverOptions)
    let client = try await TCPClient.connect(host: host, port: server.port, options: clientOptions)
    guard let accepted = try await server.accept(timeout: .seconds(10)) else {
        throw HarnessError("the server closed before accepting")
    }
    return (server, client, accepted)
}

extension ByteBuffer {
    var text: String { String(buffer: self) }
}

@Suite(.timeLimit(.minutes(2))) struct TCPTests {
    @Test(arguments: loopbacks) func echoRoundTrip(host: String) async throws {
        try #require(host == "127.0.0.1" || ipv6Available, "IPv6 loopback is not available here")
        let (server, client, accepted) = try await connectedPair(host: host)
        #expect(client.peerAddress?.port == server.port)
        #expect(client.peerAddress?.ipAddress == host)
        #expect(accepted.peerAddress == client.localAddress)
        #expect(accepted.localAddress == client.peerAddress)

        try await client.send("hello, ")
        try await client.send(Array("world".utf8))
        var received = ""
        while received.count < 12, let chunk = try await accepted.receive(upTo: 1024) {
            received += chunk.text
            try await accepted.send(chunk)
        }
        #expect(received == "hello, world")
        var echoed = ""
        while echoed.count < 12, let chunk = try await client.receive() { echoed += chunk.text }
        #expect(echoed == "hello, world")

        try await client.close()
        #expect(try await accepted.receive() == nil)
        try await accepted.close()
        try await server.close()
    }

    @Test("a task that prefers the connection's executor runs on its event loop, and serves it there: echo, a timeout, cancellation, and 1 MiB with backpressure")
    func aTaskOnTheConnectionsExecutor() async throws {
        let (server, client, accepted) = try await connectedPair()
        // A receive that times out on the loop leaves the connection usable, as off it.
        let timedOut = Task(executorPreference: accepted.executor) { () async throws -> ByteBuffer? in
            #expect(accepted.executor.eventLoop.inEventLoop)
            return try await accepted.receive(timeout: .milliseconds(50))
        }
        await #expect { try await timedOut.value } throws: { ($0 as? TinCanError)?.kind == .timedOut }
        let served = Task(executorPreference: accepted.executor) { () async throws -> Int in
            var total = 0
            for try await chunk in accepted.chunks {
                #expect(accepted.executor.eventLoop.inEventLoop)
                total += chunk.readableBytes
                try await accepted.send(chunk)
            }
            try await accepted.close()
            return total
        }
        // 1 MiB, written while the echo comes back: more than both directions' buffers hold, so the
        // server's sends wait for room (on its event loop) while this side reads.
        let sent = TestData.random(count: 1 << 20, seed: 7)
        let reader = Task { () async throws -> Data in
            var echoed = Data()
            while let chunk = try await client.receive(upTo: 65536) { echoed.append(contentsOf: chunk.readableBytesView) }
            return echoed
        }
        try await client.send(sent)
        try await client.shutdownWrite()
        #expect(try await served.value == sent.count)
        #expect(try await reader.value == sent)

        // A task on the loop that is already cancelled gets CancellationError, even with bytes
        // waiting, and they stay for the next receive.
        let (server3, client3, accepted3) = try await connectedPair()
        try await client3.send("abc")
        let cancelled = Task(executorPreference: accepted3.executor) { () async throws -> String in
            let first = try await accepted3.receive(exactly: 1)?.text ?? ""  // "abc" has arrived
            withUnsafeCurrentTask { $0?.cancel() }
            do {
                _ = try await accepted3.receive(upTo: 1)
                return "received while cancelled"
            } catch is CancellationError {
                return first
            }
        }
        #expect(try await cancelled.value == "a")
        #expect(try await accepted3.receive(upTo: 10)?.text == "bc")
        for connection in [client3, accepted3] { try await connection.close() }
        try await server3.close()

        // A receive on the executor that is cancelled ends with CancellationError, and the loop goes on.
        let (server2, client2, accepted2) = try await connectedPair()
        let waiting = Task(executorPreference: accepted2.executor) { try await accepted2.receive(timeout: nil) }
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        try await client2.send("still here")
        #expect(try await accepted2.receive()?.text == "still here")

        for connection in [client, client2, accepted2] { try await connection.close() }
        try await server.close()
        try await server2.close()
    }

    @Test func receiveUpToReturnsNoMoreThanAsked() async throws {
        let (server, client, accepted) = try await connectedPair()
        try await client.send("abcdef")
        try await client.shutdownWrite()
        var pieces: [String] = []
        while let piece = try await accepted.receive(upTo: 4) { pieces.append(piece.text) }
        #expect(pieces.joined() == "abcdef")
        #expect(pieces.allSatisfy { $0.utf8.count <= 4 })
        try await client.close()
        try await accepted.close()
        try await server.close()
    }

    @Test func receiveExactlyWaitsForEveryByte() async throws {
        let (server, client, accepted) = try await connectedPair()
        async let reading = accepted.receive(exactly: 8)
        try await client.send("abc")
        try await client.send("defgh")
        try await client.send("ij")
        let first = try await reading
        #expect(first?.text == "abcdefgh")
        #expect(try await accepted.receive(exactly: 2)?.text == "ij")

        // The peer ends its direction partway through a message...
        try await client.send("xy")
        try await client.shutdownWrite()
        let error = await #expect(throws: TinCanError.self) { try await accepted.receive(exactly: 4) }
        #expect(error?.kind == .closed)
        // ...or between messages, which is the clean end.
        #expect(try await accepted.receive(upTo: 10)?.text == "xy")
        #expect(try await accepted.receive(exactly: 4) == nil)
        try await client.close()
        try await accepted.close()
        try await server.close()
    }

    @Test func receiveExactlyMoreThanTheBufferLimit() async throws {
        var options = testOptions
        options.maxBufferedReceiveBytes = 1024
        let (server, client, accepted) = try await connectedPair(serverOptions: options)
        let message = ByteBuffer(bytes: (0..<100_000).map { UInt8(truncatingIfNeeded: $0) })
        async let sending: Void = client.send(message)
        #expect(try await accepted.receive(exactly: 100_000) == message)
        try await sending
        try await client.close()
        try await accepted.close()
        try await server.close()
    }

    @Test func lines() async throws {
        let (server, client, accepted) = try await connectedPair()
        try await client.send("one\r\ntw")
        try await client.send("o\n\nthree")
        try await client.shutdownWrite()
        var lines: [String] = []
        for try await line in accepted.lines { lines.append(line) }
        #expect(lines == ["one", "two", "", "three"])
        try await client.close()
        try await accepted.close()
        try await server.close()
    }

    @Test func aLineOverTheLimitIsAnError() async throws {
        let (server, client, accepted) = try await connectedPair()
        try await client.send("12345678\r\n0123456789\nafter\n")
        #expect(try await accepted.receiveLine(maxLength: 8) == "12345678")
        let error = await #expect(throws: TinCanError.self) { try await accepted.receiveLine(maxLength: 8) }
        #expect(error?.kind == .lineTooLong)
        // The framing is lost: the long line is not skipped, and every later read of a line fails.
        let again = await #expect(throws: TinCanError.self) {
            for try await _ in accepted.lines(maxLength: 8) {}
        }
        #expect(again?.kind == .lineTooLong)
        // A line with no end within the limit fails as soon as the limit is passed.
        #expect(try await accepted.receive(exactly: 17)?.text == "0123456789\nafter\n")
        try await client.send(String(repeating: "x", count: 100))
        let endless = await #expect(throws: TinCanError.self) { try await accepted.receiveLine(maxLength: 8) }
        #expect(endless?.kind == .lineTooLong)
        try await client.close()
        try await accepted.close()
        try await server.close()
    }

    @Test(arguments: loopbacks) func halfClose(host: String) async throws {
        try #require(host == "127.0.0.1" || ipv6Available, "IPv6 loopback is not available here")
        let (server, client, accepted) = try await connectedPair(host: host)
        try await client.send("question")
        try await client.shutdownWrite()
        // The peer sees the end of the stream...
        var question = ""
        for try await chunk in accepted.chunks { question += chunk.text }
        #expect(question == "question")
        // ...and can still answer, which the client reads to its end.
        try await accepted.send("answer")
        try await accepted.close()
        var answer = ""
        for try await chunk in client.chunks { answer += chunk.text }
        #expect(answer == "answer")
        // Sending after shutdownWrite is an error of this side.
        let error = await #expect(throws: TinCanError.self) { try await client.send("more") }
        #expect(error?.kind == .closed)
        try await client.close()
        try await server.close()
    }

    @Test func refusedOnAClosedPort() async throws {
        let server = try await TCPServer.bind(host: "127.0.0.1", port: 0)
        let port = server.port
        try await server.close()
        let error = await #expect(throws: TinCanError.self) {
            _ = try await TCPClient.connect(host: "127.0.0.1", port: port, options: testOptions)
        }
        #expect(error?.kind == .refused)
        #expect(error?.description == "connect to 127.0.0.1:\(port): connection refused")
    }

    @Test func aReceiveThatTimesOutLeavesTheConnectionUsable() async throws {
        let (server, client, accepted) = try await connectedPair()
        let error = await #expect(throws: TinCanError.self) { try await client.receive(timeout: .milliseconds(50)) }
        #expect(error?.kind == .timedOut)
        #expect(error?.description.hasPrefix("receive from 127.0.0.1:\(server.port): timed out after") == true)
        // The connection's own timeout (settimeout) applies when the call names none.
        client.timeout = .milliseconds(50)
        await #expect(throws: TinCanError.self) { try await client.receiveLine() }
        client.timeout = .seconds(10)
        try await accepted.send("late\n")
        #expect(try await client.receiveLine() == "late")
        try await client.close()
        try await accepted.close()
        try await server.close()
    }

    @Test func aCancelledReceiveLeavesTheConnectionUsable() async throws {
        let (server, client, accepted) = try await connectedPair()
        let waiting = Task { try await client.receive() }
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        try await accepted.send("still here")
        #expect(try await client.receive()?.text == "still here")
        try await client.close()
        try await accepted.close()
        try await server.close()
    }

    @Test func addressInUse() async throws {
        let first = try await TCPServer.bind(host: "127.0.0.1", port: 0, reuseAddress: false)
        let error = await #expect(throws: TinCanError.self) {
            _ = try await TCPServer.bind(host: "127.0.0.1", port: first.port, reuseAddress: false)
        }
        #expect(error?.kind == .addressInUse)
        try await first.close()
    }

    @Test func resetWhenThePeerClosesWithLingerZero() async throws {
        let server = try await TCPServer.bind(host: "127.0.0.1", port: 0, options: testOptions)
        let port = server.port
        let peer = try await Blocking.run { try TestSocket.connect(port: port) }
        let accepted = try #require(try await server.accept(timeout: .seconds(10)))
        try peer.send("last words")
        peer.reset()
        // What arrived before the reset is still read; then the reset.
        let error = await #expect(throws: TinCanError.self) {
            while try await accepted.receive() != nil {}
        }
        #expect(error?.kind == .reset)
        #expect(error?.cause == "connection reset by peer")
        try await accepted.close()
        try await server.close()
    }

    @Test func closingTheServerEndsItsConnections() async throws {
        let server = try await TCPServer.bind(host: "127.0.0.1", port: 0, options: testOptions)
        let timedOut = await #expect(throws: TinCanError.self) { try await server.accept(timeout: .milliseconds(50)) }
        #expect(timedOut?.kind == .timedOut)
        let accepting = Task {
            var count = 0
            for try await connection in server.connections {
                count += 1
                try await connection.send("welcome \(count)\n")
                try await connection.close()
            }
            return count
        }
        for index in 1...3 {
            let client = try await TCPClient.connect(host: "127.0.0.1", port: server.port, options: testOptions)
            let line = try await client.receiveLine()
            #expect(line == "welcome \(index)")
            try await client.close()
        }
        try await server.close()
        #expect(try await accepting.value == 3)
        await #expect(throws: TinCanError.self) {
            _ = try await TCPClient.connect(host: "127.0.0.1", port: server.port, options: testOptions)
        }
    }

    @Test func closeSendsWhatIsQueuedFirst() async throws {
        let (server, client, accepted) = try await connectedPair()
        let message = ByteBuffer(repeating: 0x61, count: 1 << 20)
        let reading = Task {
            var total = 0
            for try await chunk in accepted.chunks { total += chunk.readableBytes }
            return total
        }
        try await client.send(message)
        try await client.close()
        #expect(try await reading.value == 1 << 20)
        try await accepted.close()
        try await server.close()
    }

    /// A slow reader must not grow the writer's memory: `send` waits once the channel holds
    /// `maxQueuedSendBytes`, and the reader's side stops reading at `maxBufferedReceiveBytes`.
    @Test func aSlowReaderSlowsTheWriter() async throws {
        var serverOptions = testOptions
        serverOptions.receiveBufferSize = 32 * 1024
        serverOptions.maxBufferedReceiveBytes = 64 * 1024
        var clientOptions = testOptions
        clientOptions.sendBufferSize = 32 * 1024
        clientOptions.maxQueuedSendBytes = 64 * 1024
        clientOptions.timeout = nil  // the writer waits as long as the reader sleeps
        let (server, client, accepted) = try await connectedPair(serverOptions: serverOptions, clientOptions: clientOptions)

        let total = 2 << 20
        let chunk = 16 * 1024
        // Byte i of the stream is i % 251: a pattern whose period divides no buffer size.
        let pattern = (0..<(chunk + 251)).map { UInt8($0 % 251) }
        let sent = Gauge()
        let mostQueued = Gauge()
        let writer = Task {
            var offset = 0
            while offset < total {
                try await client.send(pattern[(offset % 251)..<(offset % 251 + chunk)])
                offset += chunk
                sent.set(offset)
                mostQueued.raise(to: try await client.queuedSendBytes())
            }
        }

        // The reader sleeps until the writer is held up...
        let deadline = ContinuousClock.now + .seconds(20)
        while client.isWritable {
            try #require(ContinuousClock.now < deadline, "the writer was never held up")
            try await Task.sleep(for: .milliseconds(5))
        }
        // ...having sent far less than it means to: the rest waits in the writer, not in memory.
        #expect(sent.value < total)
        #expect(try await client.queuedSendBytes() <= clientOptions.maxQueuedSendBytes + chunk)
        // The reader's side stopped reading at its limit (after the read cycle in progress: at most
        // NIO's maxMessagesPerRead reads of at most 64 KiB).
        #expect(try await accepted.bufferedReceiveBytes() <= serverOptions.maxBufferedReceiveBytes + 4 * 65536)

        // Then it reads everything, and the writer finishes.
        var received = 0
        var intact = true
        while received < total, let buffer = try await accepted.receive(upTo: 65536) {
            for (index, byte) in buffer.readableBytesView.enumerated() where byte != UInt8((received + index) % 251) {
                intact = false
            }
            received += buffer.readableBytes
        }
        try await writer.value
        #expect(received == total)
        #expect(intact)
        #expect(mostQueued.value <= clientOptions.maxQueuedSendBytes + chunk)
        try await client.close()
        try await accepted.close()
        try await server.close()
    }
}

/// An integer that tasks share: the latest value, or the largest.
final class Gauge: Sendable {
    private let atomic = Atomic<Int>(0)

    var value: Int { self.atomic.load(ordering: .relaxed) }

    func set(_ value: Int) { self.atomic.store(value, ordering: .relaxed) }

    /// Raises the value to `candidate` if that is larger.
    func raise(to candidate: Int) {
        var current = self.atomic.load(ordering: .relaxed)
        while candidate > current {
            let (exchanged, original) = self.atomic.compareExchange(
                expected: current, desired: candidate, ordering: .relaxed
            )
            if exchanged { return }
            current = original
        }
    }
}
