#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing
import TinCanCore
import TinCanTestSupport

@testable import TinCanRelay

/// A pipe whose ends the test closes explicitly.
struct Pipe {
    let read: CInt
    let write: CInt

    init() throws {
        var fds: [CInt] = [0, 0]
        guard pipe(&fds) == 0 else { throw HarnessError("pipe failed") }
        self.read = fds[0]
        self.write = fds[1]
    }

    func writeAll(_ data: Data) {
        data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(self.write, buffer.baseAddress! + offset, buffer.count - offset)
                if n <= 0 { return }
                offset += n
            }
        }
    }
}

/// Reads a descriptor to its end on a blocking thread.
func readToEnd(_ fd: CInt) async throws -> Data {
    try await Blocking.run {
        var result = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { return result }
            result.append(contentsOf: buffer[0..<n])
        }
    }
}

@Suite(.timeLimit(.minutes(2))) struct FileDescriptorIOTests {
    @Test func readerDeliversEverythingInChunksThenEnds() async throws {
        let pipe = try Pipe()
        let data = TestData.random(count: 3 << 20, seed: 21)
        let reader = FileDescriptorReader(fd: pipe.read, chunkSize: 100_000, closeWhenDone: true)
        async let written: Void = Blocking.run { pipe.writeAll(data); close(pipe.write) }
        var received = Data()
        var largest = 0
        for try await chunk in reader.chunks {
            largest = max(largest, chunk.readableBytes)
            received.append(contentsOf: chunk.readableBytesView)
        }
        try await written
        #expect(received == data)
        #expect(largest <= 100_000)
    }

    @Test func writerWritesInOrderAndDrains() async throws {
        let pipe = try Pipe()
        let writer = FileDescriptorWriter(fd: pipe.write, name: "test pipe", queueLimit: 64 * 1024, closeWhenDone: true)
        async let all = readToEnd(pipe.read)
        let data = TestData.random(count: 2 << 20, seed: 22)
        var offset = 0
        while offset < data.count {
            let end = min(offset + 10_000, data.count)
            try await writer.write(ByteBuffer(bytes: data[offset..<end]))
            offset = end
        }
        try await writer.drain()
        writer.finish()
        #expect(try await all == data)
    }

    @Test func writerReportsABrokenPipeOnce() async throws {
        let pipe = try Pipe()
        close(pipe.read)
        let writer = FileDescriptorWriter(fd: pipe.write, name: "closed pipe", closeWhenDone: true)
        defer { writer.finish() }
        try? await writer.write(ByteBuffer(string: "x"))
        await #expect {
            try await writer.drain()
        } throws: { error in
            String(describing: error) == "write closed pipe: broken pipe (the reader went away)"
        }
        await #expect(throws: TinCanError.self) { try await writer.write(ByteBuffer(string: "y")) }
    }
}

@Suite(.timeLimit(.minutes(2))) struct RelayLibraryTests {
    let logger = Logger(label: "test")

    @Test func listenerRelaysOneConnectionToDescriptors() async throws {
        let input = try Pipe()
        let output = try Pipe()
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let listener = TCPRelayListener(endpoint: Endpoint(host: "127.0.0.1", port: 0))
        let ends = RelayEnds.local(
            input: .reader(FileDescriptorReader(fd: input.read, closeWhenDone: true)),
            output: RelayOutput(writer: FileDescriptorWriter(fd: output.write, closeWhenDone: true))
        )
        async let served: Void = listener.run(ends: ends, logger: self.logger) { continuation.yield($0.port!) }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        let peer = try await Blocking.run { try TestSocket.connect(port: port) }
        input.writeAll(Data("to peer".utf8))
        close(input.write)
        #expect(try await Blocking.run { try peer.receiveAll() } == Data("to peer".utf8))
        try peer.send("to output")
        peer.close()
        try await served
        // The relay ends only after finishing its output (the writer drained), so the bytes are
        // in the pipe already; the poll's timeout only guards against a regression.
        var received: [UInt8] = []
        while received.count < 9 {
            var ready = pollfd(fd: output.read, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 5000) == 1 else { break }
            var buffer = [UInt8](repeating: 0, count: 64)
            let n = read(output.read, &buffer, buffer.count)
            guard n > 0 else { break }
            received += buffer[0..<n]
        }
        #expect(String(decoding: received, as: UTF8.self) == "to output")
    }

    @Test func clientSendsBytesAndReportsTotals() async throws {
        let server = try TestSocket.listen()
        let port = server.port
        async let peer: Data = Blocking.run {
            let connection = try server.accept()
            let data = try connection.receiveAll()
            try connection.send("reply")
            connection.close()
            return data
        }
        let stats = try await TCPRelayClient.run(
            to: Endpoint(host: "127.0.0.1", port: port),
            settings: SocketSettings(),
            options: RelayOptions(sendOnly: true),
            ends: .local(input: .bytes(ByteBuffer(string: "hello")), output: .discard),
            logger: self.logger
        )
        #expect(try await peer == Data("hello".utf8))
        #expect(stats == RelayStats(sent: 5, received: 5, peerFinished: true))
    }

    /// Serves one connection on a kernel-chosen port, closing first (so the port is in TIME_WAIT).
    ///
    /// On 127.0.0.2, because a port in TIME_WAIT on 127.0.0.1 may be handed to the next port-0
    /// listener with SO_REUSEADDR that another test starts meanwhile.
    func serveOnceClosingFirst() async throws -> Int {
        let listener = TCPRelayListener(endpoint: Endpoint(host: "127.0.0.2", port: 0))
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        async let served: Void = listener.run(ends: .local(input: .bytes(ByteBuffer(string: "bye")), output: .discard), logger: self.logger) {
            continuation.yield($0.port!)
        }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        let client = try await Blocking.run { try TestSocket.connect(host: "127.0.0.2", port: port) }
        #expect(try await Blocking.run { try client.receiveAll() } == Data("bye".utf8))
        client.close()
        try await served
        return port
    }

    @Test func reuseAddressLetsARestartedListenerBindAtOnce() async throws {
        let port = try await self.serveOnceClosingFirst()
        let strict = TCPRelayListener(endpoint: Endpoint(host: "127.0.0.2", port: port), settings: SocketSettings(reuseAddress: false))
        await #expect {
            try await strict.run(ends: .local(input: .none, output: .discard), logger: self.logger)
        } throws: { error in
            String(describing: error) == "listen on 127.0.0.2:\(port): address already in use"
        }
        let again = TCPRelayListener(endpoint: Endpoint(host: "127.0.0.2", port: port))
        let (rebound, reboundContinuation) = AsyncStream.makeStream(of: Int.self)
        let logger = self.logger
        let task = Task {
            defer { reboundContinuation.finish() }
            try await again.run(ends: .local(input: .none, output: .discard), logger: logger) {
                reboundContinuation.yield($0.port!)
            }
        }
        var reboundIterator = rebound.makeAsyncIterator()
        let reboundPort = await reboundIterator.next()
        task.cancel()
        let result = await task.result
        let sockets = try TestProcess("ss", ["-tanp"], input: .null)
        _ = try await sockets.waitForExit()
        let lines = sockets.stdout.text.split(separator: "\n").filter { $0.contains(":\(port)") }
        #expect(reboundPort == port, "\(result) \(lines)")
    }
}
