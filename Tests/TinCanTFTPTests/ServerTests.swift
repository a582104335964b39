import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import Testing
import TinCanTestSupport

@testable import TinCanTFTP

/// A server on 127.0.0.1, port 0, for the length of `body`; reports collected.
func withServer<T: Sendable>(
    _ fileSystem: any TFTPFileSystem,
    configuration: TFTPServerConfiguration = TFTPServerConfiguration(host: "127.0.0.1", port: 0),
    reports: Reports? = nil,
    _ body: @Sendable (SocketAddress) async throws -> T
) async throws -> T {
    var configuration = configuration
    configuration.port = 0
    let (addresses, continuation) = AsyncStream<SocketAddress>.makeStream()
    let server = TFTPServer(
        configuration: configuration,
        fileSystem: fileSystem,
        logger: Logger(label: "tftp-test") { _ in SwiftLogNoOpLogHandler() },
        onTransfer: { report in reports?.add(report) },
        onServerRunning: { continuation.yield($0) }
    )
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            try await server.run()
            return nil
        }
        var iterator = addresses.makeAsyncIterator()
        let address = await iterator.next()!
        let result = try await body(address)
        group.cancelAll()
        return result
    }
}

final class Reports: Sendable {
    private struct State {
        var reports: [TFTPTransferReport] = []
        var listeners: [UUID: AsyncStream<Void>.Continuation] = [:]
    }

    private let state = Mutex(State())

    func add(_ report: TFTPTransferReport) {
        let listeners = self.state.withLock { state in
            state.reports.append(report)
            return Array(state.listeners.values)
        }
        for listener in listeners { listener.yield() }
    }

    var all: [TFTPTransferReport] { self.state.withLock { $0.reports } }

    /// Waits until `count` reports are in (transfers report just after the client is done).
    func wait(for count: Int) async throws -> [TFTPTransferReport] {
        try await self.wait(for: count) { _ in true }
    }

    /// Waits until `count` reports that pass `filter` are in, and returns those; fails after 5 s.
    func wait(
        for count: Int,
        where filter: @escaping @Sendable (TFTPTransferReport) -> Bool
    ) async throws -> [TFTPTransferReport] {
        // Each new report wakes the waiter, which looks again.
        let (changes, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = UUID()
        self.state.withLock { $0.listeners[id] = continuation }
        defer {
            self.state.withLock { $0.listeners[id] = nil }
            continuation.finish()
        }
        let found = try await withThrowingTaskGroup(of: [TFTPTransferReport]?.self) { group in
            group.addTask {
                var iterator = changes.makeAsyncIterator()
                repeat {
                    let matching = self.all.filter(filter)
                    if matching.count >= count { return matching }
                } while await iterator.next() != nil
                return nil
            }
            group.addTask {
                // A deadline for a failing test, not a wait for the event.
                try await Task.sleep(for: .seconds(5))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let found else {
            throw HarnessError("expected \(count) transfer reports, got \(self.all.count): \(self.all)")
        }
        return found
    }

    /// A transfer started by a client's retransmitted request that arrived after the original
    /// transfer had ended (a loaded machine can delay the first reply past the client's 1 s
    /// timeout): the client, locked to the first transfer's port, answers its DATA with ERROR 5, as
    /// the RFC says, and the server drops it. Not a failure of the transfer under test.
    static func isLateDuplicate(_ report: TFTPTransferReport) -> Bool {
        report.errorFromPeer && report.error?.code == .unknownTransferID && report.stats.bytes == 0
    }
}

/// A client that sends raw packets, to see exactly what the server answers.
struct RawPeer: Sendable {
    let socket: TestSocket

    /// `timeout` bounds each wait for a packet that must come: long, so that a run with every suite
    /// at once (servers whose file systems share the cooperative threads with CPU-heavy tests) is
    /// slow rather than failed. Waits that must see nothing pass their own, shorter time.
    init(timeout: Double = 20) throws {
        self.socket = try TestSocket.udp()
        self.socket.setTimeout(timeout)
    }

    func send(_ packet: TFTPPacket, to port: Int) throws {
        var buffer = ByteBuffer()
        buffer.writeTFTPPacket(packet)
        try self.socket.sendDatagram(Data(buffer.readableBytesView), port: port)
    }

    func sendRaw(_ bytes: [UInt8], to port: Int) throws {
        try self.socket.sendDatagram(Data(bytes), port: port)
    }

    /// The next packet and the port it came from; with `from`, the next one from that port.
    ///
    /// Tests run in parallel, so a port this peer was given may just have been another test's
    /// client port, and that test's server may still be sending to it: those strays are skipped.
    func receive(from expected: Int? = nil) async throws -> (TFTPPacket, Int) {
        let socket = self.socket
        while true {
            let (data, port) = try await Blocking.run { try socket.receiveDatagram() }
            if let expected, port != expected { continue }
            var buffer = ByteBuffer(bytes: data)
            return (try buffer.readTFTPPacket(), port)
        }
    }

    /// The payload of DATA `block` from `port`, skipping repeats of earlier blocks; anything else
    /// is an error.
    func receiveData(block: UInt16, from port: Int) async throws -> ByteBuffer {
        while true {
            let (packet, _) = try await self.receive(from: port)
            guard case .data(let number, let payload) = packet else {
                throw HarnessError("expected DATA \(block), got \(packet)")
            }
            if number == block { return payload }
            guard number < block else { throw HarnessError("expected DATA \(block), got DATA \(number)") }
        }
    }

    /// True when nothing arrives for `seconds`.
    func isQuiet(for seconds: Double) async throws -> Bool {
        let socket = self.socket
        return try await Blocking.run {
            socket.setTimeout(seconds)
            defer { socket.setTimeout(20) }
            do {
                _ = try socket.receiveDatagram()
                return false
            } catch {
                return true
            }
        }
    }
}

func buffer(_ data: Data) -> ByteBuffer { ByteBuffer(bytes: data) }

/// A log handler that hands every message to `sink`: tests wait for what the server logs.
struct ForwardingLogHandler: LogHandler {
    let sink: @Sendable (String) -> Void
    var logLevel: Logger.Level = .debug
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        self.sink(event.message.description)
    }
}

/// A logger whose messages arrive on the stream, and a wait for one of them.
struct LogMessages {
    let logger: Logger
    private let messages: AsyncStream<String>

    init() {
        let (messages, continuation) = AsyncStream<String>.makeStream()
        self.messages = messages
        self.logger = Logger(label: "tftp-test") { _ in ForwardingLogHandler { continuation.yield($0) } }
    }

    /// Returns once a message containing `text` has been logged.
    func wait(for text: String) async {
        for await message in self.messages where message.contains(text) { return }
    }
}

@Suite(.timeLimit(.minutes(2))) struct ServerClientTests {
    static let sizes = [0, 1, 511, 512, 513, 1024, 100_000]
    static let optionSets: [TFTPClientOptions] = [
        TFTPClientOptions(transferSize: false),
        TFTPClientOptions(blockSize: 1428, windowSize: 16),
        TFTPClientOptions(blockSize: 8, windowSize: 3),
    ]

    @Test("get and put round trips through a memory file system", arguments: sizes)
    func roundTrips(size: Int) async throws {
        let data = TestData.random(count: size, seed: UInt64(size))
        let files = TFTPMemoryFileSystem(files: ["f": buffer(data)])
        let reports = Reports()
        try await withServer(files, reports: reports) { server in
            let client = TFTPClient(logger: Logger(label: "c") { _ in SwiftLogNoOpLogHandler() })
            for (index, options) in Self.optionSets.enumerated() {
                let received = TFTPMemoryFileSystem()
                let writer = try await received.openForWriting("out", expectedSize: nil)
                let report = try await client.get("f", from: server, into: writer, options: options)
                #expect(received["out"] == buffer(data), "get with options #\(index)")
                #expect(report.stats.bytes == size)
                #expect(report.options.blockSize == options.blockSize ?? 512)
                #expect(report.options.windowSize == options.windowSize ?? 1)

                let reader = try await TFTPMemoryFileSystem(files: ["in": buffer(data)]).openForReading("in")
                try await client.put(reader, to: server, as: "up\(index)", options: options)
                #expect(files["up\(index)"] == buffer(data), "put with options #\(index)")
            }
            let all = try await reports.wait(for: 6) { !Reports.isLateDuplicate($0) }
            #expect(all.count == 6)
            #expect(all.allSatisfy { $0.error == nil && $0.stats.bytes == size }, "\(all.filter { $0.error != nil || $0.stats.bytes != size })")
            #expect(all.filter { $0.direction == .write }.count == 3)
        }
    }

    @Test("block numbers roll over past 65535 (33 MiB at blksize 512)")
    func rollover() async throws {
        let data = try await Blocking.run { TestData.random(count: 33 << 20, seed: 3) }
        let files = TFTPMemoryFileSystem(files: ["big": buffer(data)])
        try await withServer(files) { server in
            let client = TFTPClient(logger: Logger(label: "c") { _ in SwiftLogNoOpLogHandler() })
            let received = TFTPMemoryFileSystem()
            let writer = try await received.openForWriting("out", expectedSize: nil)
            let report = try await client.get("big", from: server, into: writer, options: TFTPClientOptions(windowSize: 32))
            #expect(report.stats.blocks == (33 << 20) / 512 + 1)
            #expect(received["out"].map { TestData.sha256(Data($0.readableBytesView)) } == TestData.sha256(data))
        }
    }

    @Test("netascii: LF becomes CR LF and CR becomes CR NUL on the wire, and back")
    func netascii() async throws {
        let text = "line one\nbare\rcr\n\n"
        let files = TFTPMemoryFileSystem(files: ["t.txt": ByteBuffer(string: text)])
        try await withServer(files) { server in
            let peer = try RawPeer()
            try peer.send(.readRequest(TFTPRequest(filename: "t.txt", mode: .netascii)), to: server.port!)
            let (packet, port) = try await peer.receive()
            #expect(packet == .data(block: 1, payload: ByteBuffer(string: "line one\r\nbare\r\0cr\r\n\r\n")))
            try peer.send(.acknowledgment(block: 1), to: port)

            let client = TFTPClient(logger: Logger(label: "c") { _ in SwiftLogNoOpLogHandler() })
            let received = TFTPMemoryFileSystem()
            try await client.get("t.txt", from: server, into: try await received.openForWriting("x", expectedSize: nil), options: TFTPClientOptions(blockSize: 8, mode: .netascii))
            #expect(received["x"] == ByteBuffer(string: text))
            let reader = try await TFTPMemoryFileSystem(files: ["in": ByteBuffer(string: text)]).openForReading("in")
            try await client.put(reader, to: server, as: "back.txt", options: TFTPClientOptions(blockSize: 8, mode: .netascii))
            #expect(files["back.txt"] == ByteBuffer(string: text))
        }
    }

    @Test("a packet from the wrong transfer ID gets ERROR 5 and the transfer goes on")
    func wrongTransferID() async throws {
        let data = TestData.random(count: 1500, seed: 5)
        try await withServer(TFTPMemoryFileSystem(files: ["f": buffer(data)])) { server in
            let peer = try RawPeer()
            let stranger = try RawPeer()
            try peer.send(.readRequest(TFTPRequest(filename: "f")), to: server.port!)
            let (first, port) = try await peer.receive()
            #expect(first == .data(block: 1, payload: buffer(data.prefix(512))))
            #expect(port != server.port)
            try stranger.send(.acknowledgment(block: 1), to: port)
            let (answer, from) = try await stranger.receive()
            #expect(answer == .error(TFTPError(.unknownTransferID, "unknown transfer ID")))
            #expect(from == port)
            var received = Data(data.prefix(512))
            var block: UInt16 = 1
            while true {
                try peer.send(.acknowledgment(block: block), to: port)
                var (packet, _) = try await peer.receive(from: port)
                // A block the server sent again because our ACK was slow (a loaded machine) is a
                // duplicate, as any client treats it: skipped.
                while case .data(let number, _) = packet, number <= block { (packet, _) = try await peer.receive(from: port) }
                guard case .data(let number, let payload) = packet else {
                    Issue.record("expected DATA, got \(packet)")
                    return
                }
                #expect(number == block + 1)
                block = number
                received.append(contentsOf: payload.readableBytesView)
                if payload.readableBytes < 512 { break }
            }
            try peer.send(.acknowledgment(block: block), to: port)
            #expect(received == data)
        }
    }

    static func request(_ opcode: UInt8, _ parts: [String], terminated: Bool = true) -> [UInt8] {
        var bytes: [UInt8] = [0, opcode]
        for (index, part) in parts.enumerated() {
            bytes += Array(part.utf8)
            if terminated || index < parts.count - 1 { bytes.append(0) }
        }
        return bytes
    }

    struct Datagram: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var bytes: [UInt8]
        init(_ name: String, _ bytes: [UInt8]) {
            self.testDescription = name
            self.bytes = bytes
        }
    }

    static let malformedDatagrams: [Datagram] = [
        Datagram("empty", []),
        Datagram("one byte", [0]),
        Datagram("unknown opcode 9", [0, 9, 0, 0]),
        Datagram("RRQ without NUL after the name", request(1, ["file"], terminated: false)),
        Datagram("RRQ without NUL after the mode", request(1, ["file", "octet"], terminated: false)),
        Datagram("DATA on the request port", [0, 3, 0, 1, 65, 66]),
        Datagram("ACK on the request port", [0, 4, 0, 1]),
        Datagram("request over 512 bytes", request(1, [String(repeating: "A", count: 600), "octet"])),
        Datagram("mail mode", request(1, ["f", "mail"])),
        Datagram("unknown mode", request(2, ["f", "bogus"])),
    ]

    @Test("malformed, truncated, oversized and misdirected datagrams on the request port get ERROR 4", arguments: malformedDatagrams)
    func malformed(datagram: Datagram) async throws {
        // Open until the server is gone: the transfer it starts at the end is never acknowledged
        // (see perAddressLimit).
        let peer = try RawPeer()
        try await withServer(TFTPMemoryFileSystem(files: ["f": ByteBuffer(string: "ok")])) { server in
            try peer.sendRaw(datagram.bytes, to: server.port!)
            let (packet, port) = try await peer.receive(from: server.port!)
            guard case .error(let error) = packet else {
                Issue.record("expected ERROR, got \(packet)")
                return
            }
            #expect(error.code == .illegalOperation)
            #expect(port == server.port)
            // And the server still serves.
            try peer.send(.readRequest(TFTPRequest(filename: "f")), to: server.port!)
            let (data, _) = try await peer.receive()
            #expect(data == .data(block: 1, payload: ByteBuffer(string: "ok")))
        }
    }

    @Test("an ERROR packet on the request port is never answered")
    func errorNotAnswered() async throws {
        try await withServer(TFTPMemoryFileSystem()) { server in
            let peer = try RawPeer()
            try peer.send(.error(TFTPError(.notDefined, "hi")), to: server.port!)
            #expect(try await peer.isQuiet(for: 0.3))
        }
    }

    @Test("a repeated request while its transfer runs starts no second transfer")
    func duplicateRequest() async throws {
        let reports = Reports()
        try await withServer(TFTPMemoryFileSystem(files: ["f": ByteBuffer(string: "x")]), reports: reports) { server in
            let peer = try RawPeer()
            try peer.send(.readRequest(TFTPRequest(filename: "f")), to: server.port!)
            try peer.send(.readRequest(TFTPRequest(filename: "f")), to: server.port!)
            let (first, port) = try await peer.receive()
            #expect(first == .data(block: 1, payload: ByteBuffer(string: "x")))
            try peer.send(.acknowledgment(block: 1), to: port)
            #expect(try await peer.isQuiet(for: 0.3))
            #expect(try await reports.wait(for: 1).count == 1)
        }
    }

    @Test("the final ACK of an upload is repeated when the last DATA comes again (dally)")
    func dally() async throws {
        let files = TFTPMemoryFileSystem()
        try await withServer(files) { server in
            let peer = try RawPeer()
            try peer.send(.writeRequest(TFTPRequest(filename: "u")), to: server.port!)
            let (ack0, port) = try await peer.receive()
            #expect(ack0 == .acknowledgment(block: 0))
            try peer.send(.data(block: 1, payload: ByteBuffer(string: "end")), to: port)
            // Sent twice, once the file is committed.
            #expect(try await peer.receive(from: port).0 == .acknowledgment(block: 1))
            #expect(try await peer.receive(from: port).0 == .acknowledgment(block: 1))
            #expect(files["u"] == ByteBuffer(string: "end"))
            try peer.send(.data(block: 1, payload: ByteBuffer(string: "end")), to: port)
            #expect(try await peer.receive(from: port).0 == .acknowledgment(block: 1))
        }
    }

    @Test("a commit slower than the client's dally: the final ACK still goes out, and the dally starts after it")
    func slowCommit() async throws {
        let data = TestData.random(count: 1024, seed: 9)
        let reports = Reports()
        try await withServer(TFTPMemoryFileSystem(files: ["f": buffer(data)]), reports: reports) { server in
            let client = TFTPClient(logger: Logger(label: "c") { _ in SwiftLogNoOpLogHandler() })
            let received = TFTPMemoryFileSystem()
            // On loopback the client dallies 4 × 20 ms; this commit takes far longer.
            let writer = SlowCommitWriter(try await received.openForWriting("out", expectedSize: nil), delay: .milliseconds(400))
            try await client.get("f", from: server, into: writer)
            #expect(received["out"] == buffer(data))
            let report = try #require(try await reports.wait(for: 1).first)
            // The server repeats its last block while the commit runs (the client holds the ACK);
            // what matters is that the ACK arrives and the transfer ends well on both sides.
            #expect(report.error == nil, "\(report)")
        }
    }

    @Test("option negotiation over the wire: OACK, clamps, unknown options never echoed, tsize answered")
    func negotiation() async throws {
        let files = TFTPMemoryFileSystem(files: ["f": buffer(TestData.random(count: 3000))])
        var configuration = TFTPServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.limits = TFTPOptionLimits(maxBlockSize: 1024, maxWindowSize: 4, maxFileSize: 100)
        try await withServer(files, configuration: configuration) { server in
            let peer = try RawPeer()
            let options = [
                TFTPOption(name: "blksize", value: "9000"), TFTPOption(name: "bogus", value: "1"),
                TFTPOption(name: "windowsize", value: "64"), TFTPOption(name: "tsize", value: "0"),
            ]
            try peer.send(.readRequest(TFTPRequest(filename: "f", options: options)), to: server.port!)
            let (oack, port) = try await peer.receive()
            #expect(oack == .optionAcknowledgment([
                TFTPOption(name: "blksize", value: "1024"), TFTPOption(name: "windowsize", value: "4"),
                TFTPOption(name: "tsize", value: "3000"),
            ]))
            // The client refuses the OACK: the transfer ends quietly, with no retransmission.
            try peer.send(.error(TFTPError(.optionNegotiationFailed, "no thanks")), to: port)
            #expect(try await peer.isQuiet(for: 1.3))

            try peer.send(.writeRequest(TFTPRequest(filename: "w", options: [TFTPOption(name: "tsize", value: "101")])), to: server.port!)
            let (refused, _) = try await peer.receive()
            guard case .error(let error) = refused else {
                Issue.record("expected ERROR 3, got \(refused)")
                return
            }
            #expect(error.code == .diskFull)
        }
    }

    @Test("over --max-transfers a request gets ERROR 0; a flood of RRQs never stops other transfers")
    func maxTransfersAndFlood() async throws {
        let files = TFTPMemoryFileSystem(files: ["f": buffer(TestData.random(count: 4000))])
        var configuration = TFTPServerConfiguration(host: "127.0.0.1", port: 0, maxTransfers: 64, maxTransfersPerAddress: 1000)
        configuration.timing = TFTPTiming(maxRetries: 1, initialTimeout: .milliseconds(200), dally: .milliseconds(100))
        // Open until the server and its stalled transfers are gone (see perAddressLimit).
        let flood = try RawPeer()
        let hog = try RawPeer()
        try await withServer(files, configuration: configuration) { server in
            // 30 stalled transfers (never acknowledged) and 500 requests for missing files.
            for index in 0..<30 { try flood.send(.readRequest(TFTPRequest(filename: "f", options: [TFTPOption(name: "x\(index)", value: "1")])), to: server.port!) }
            // In batches, so the test socket's buffer holds the answers.
            for batch in 0..<10 {
                for index in 0..<50 { try flood.send(.readRequest(TFTPRequest(filename: "missing\(batch)-\(index)")), to: server.port!) }
                var errors = 0
                while errors < 50 {
                    if case .error = try await flood.receive().0 { errors += 1 }
                }
            }
            let client = TFTPClient(logger: Logger(label: "c") { _ in SwiftLogNoOpLogHandler() })
            let received = TFTPMemoryFileSystem()
            try await client.get("f", from: server, into: try await received.openForWriting("x", expectedSize: nil))
            #expect(received["x"] == files["f"])

            // Fill every slot, then one more.
            for index in 0..<80 { try hog.send(.readRequest(TFTPRequest(filename: "f", options: [TFTPOption(name: "y\(index)", value: "1")])), to: server.port!) }
            var busy = 0
            for _ in 0..<200 {
                guard let (packet, _) = try? await hog.receive() else { break }
                if case .error(let error) = packet, error.code == .notDefined, error.message.hasPrefix("server busy") { busy += 1 }
                if busy > 0 { break }
            }
            #expect(busy > 0)
        }
    }

    @Test("--max-transfers-per-address: one address's flood gets ERROR 0, another address is still served")
    func perAddressLimit() async throws {
        let files = TFTPMemoryFileSystem(files: ["f": buffer(TestData.random(count: 3000))])
        var configuration = TFTPServerConfiguration(host: "::", port: 0, maxTransfersPerAddress: 5)
        configuration.timing = TFTPTiming(maxRetries: 1, initialTimeout: .milliseconds(200))
        // Open until the server and its stalled transfers are gone: a port closed earlier may go to
        // another test's client, which would take their DATA for its own.
        let flood = try RawPeer()
        try await withServer(files, configuration: configuration) { server in
            for index in 0..<10 {
                try flood.send(.readRequest(TFTPRequest(filename: "f", options: [TFTPOption(name: "x\(index)", value: "1")])), to: server.port!)
            }
            var refused = 0
            for _ in 0..<40 {
                guard let (packet, _) = try? await flood.receive() else { break }
                if case .error(let error) = packet, error.message.hasPrefix("too many transfers from") { refused += 1 }
                if refused == 5 { break }
            }
            #expect(refused == 5)
            let client = TFTPClient(logger: Logger(label: "c") { _ in SwiftLogNoOpLogHandler() })
            let received = TFTPMemoryFileSystem()
            try await client.get("f", from: try SocketAddress(ipAddress: "::1", port: server.port!), into: try await received.openForWriting("x", expectedSize: nil))
            #expect(received["x"] == files["f"])
        }
    }

    @Test("graceful shutdown stops taking requests and lets a running transfer finish")
    func gracefulShutdown() async throws {
        let data = TestData.random(count: 2000, seed: 9)
        let files = TFTPMemoryFileSystem(files: ["f": buffer(data)])
        let (addresses, continuation) = AsyncStream<SocketAddress>.makeStream()
        let log = LogMessages()
        let server = TFTPServer(
            configuration: TFTPServerConfiguration(host: "127.0.0.1", port: 0),
            fileSystem: files,
            logger: log.logger,
            onServerRunning: { continuation.yield($0) }
        )
        let group = ServiceGroup(services: [server], logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() })
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = addresses.makeAsyncIterator()
            let address = await iterator.next()!
            let peer = try RawPeer()
            try peer.send(.readRequest(TFTPRequest(filename: "f")), to: address.port!)
            let (first, port) = try await peer.receive()
            #expect(first == .data(block: 1, payload: buffer(data.prefix(512))))
            await group.triggerGracefulShutdown()
            await log.wait(for: "stopped taking requests")
            let late = try RawPeer()
            try late.send(.readRequest(TFTPRequest(filename: "f")), to: address.port!)
            #expect(try await late.isQuiet(for: 0.3))
            var received = Data(data.prefix(512))
            for block in UInt16(1)...3 {
                try peer.send(.acknowledgment(block: block), to: port)
                // A loaded machine may have had the server's timer resend DATA 1 meanwhile.
                let payload = try await peer.receiveData(block: block + 1, from: port)
                received.append(contentsOf: payload.readableBytesView)
            }
            try peer.send(.acknowledgment(block: 4), to: port)
            #expect(received == data)
            try await tasks.next()
        }
    }

    @Test("an upload that ends after graceful shutdown began does not hold the server for its dally")
    func shutdownCutsLaterDally() async throws {
        let files = TFTPMemoryFileSystem()
        let (addresses, continuation) = AsyncStream<SocketAddress>.makeStream()
        var configuration = TFTPServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.timing.dally = .seconds(600)
        let log = LogMessages()
        let server = TFTPServer(
            configuration: configuration,
            fileSystem: files,
            logger: log.logger,
            onServerRunning: { continuation.yield($0) }
        )
        let group = ServiceGroup(services: [server], logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() })
        let stopped = try await withThrowingTaskGroup(of: Bool.self) { tasks in
            tasks.addTask {
                try await group.run()
                return true
            }
            var iterator = addresses.makeAsyncIterator()
            let address = await iterator.next()!
            let peer = try RawPeer()
            try peer.send(.writeRequest(TFTPRequest(filename: "u")), to: address.port!)
            let (ack0, port) = try await peer.receive()
            #expect(ack0 == .acknowledgment(block: 0))
            await group.triggerGracefulShutdown()
            // Shutdown has begun once the server stops taking requests.
            await log.wait(for: "stopped taking requests")
            // The running upload finishes after shutdown began: saved and acknowledged.
            try peer.send(.data(block: 1, payload: ByteBuffer(string: "end")), to: port)
            // A loaded machine may have had the server's timer resend ACK 0 meanwhile.
            var answer = try await peer.receive(from: port).0
            while answer == .acknowledgment(block: 0) { answer = try await peer.receive(from: port).0 }
            #expect(answer == .acknowledgment(block: 1))
            #expect(files["u"] == ByteBuffer(string: "end"))
            // Then the server stops, instead of dallying 600 s on that final ACK.
            tasks.addTask {
                // A deadline for a failing test, not a wait for the event.
                try await Task.sleep(for: .seconds(60))
                return false
            }
            let first = try await tasks.next()!
            tasks.cancelAll()
            return first
        }
        #expect(stopped, "the server was still dallying 60 s after its last transfer ended")
    }

    @Test("pluggable file systems: generated content, and the stats hook sees each transfer")
    func generatedContent() async throws {
        struct Counting: TFTPFileSystem {
            func openForReading(_ name: String) async throws -> any TFTPFileReader {
                guard let count = Int(name) else { throw TFTPError(.fileNotFound, "not a number") }
                return try await TFTPMemoryFileSystem(files: ["x": ByteBuffer(repeating: UInt8(ascii: "a"), count: count)]).openForReading("x")
            }
            func openForWriting(_ name: String, expectedSize: Int?) async throws -> any TFTPFileWriter {
                throw TFTPError(.accessViolation, "read-only")
            }
        }
        let reports = Reports()
        try await withServer(Counting(), reports: reports) { server in
            let client = TFTPClient(logger: Logger(label: "c") { _ in SwiftLogNoOpLogHandler() })
            let received = TFTPMemoryFileSystem()
            try await client.get("1234", from: server, into: try await received.openForWriting("x", expectedSize: nil))
            #expect(received["x"]?.readableBytes == 1234)
            await #expect(throws: TFTPClientError.self) {
                try await client.get("nope", from: server, into: try await received.openForWriting("y", expectedSize: nil))
            }
            #expect(received["y"] == nil)
            let all = try await reports.wait(for: 2)
            #expect(all.map(\.stats.bytes) == [1234, 0])
            #expect(all[1].error?.code == .fileNotFound)
        }
    }

    @Test("the client falls back to RFC 1350 when a server answers options with ERROR 8")
    func fallbackOnError8() async throws {
        let server = try RawPeer()
        let serverPort = server.socket.port
        let client = TFTPClient(logger: Logger(label: "c") { _ in SwiftLogNoOpLogHandler() })
        let received = TFTPMemoryFileSystem()
        let writer = try await received.openForWriting("x", expectedSize: nil)
        async let report = client.get("f", from: try SocketAddress(ipAddress: "127.0.0.1", port: serverPort), into: writer, options: TFTPClientOptions(blockSize: 1024))
        let (first, clientPort) = try await server.receive()
        guard case .readRequest(let request) = first else {
            Issue.record("expected RRQ, got \(first)")
            return
        }
        #expect(request.options.contains(TFTPOption(name: "blksize", value: "1024")))
        try server.send(.error(TFTPError(.optionNegotiationFailed, "no options here")), to: clientPort)
        // A loaded machine may deliver a retransmission of the first request after the ERROR.
        var (second, retryPort) = try await server.receive()
        while second == first { (second, retryPort) = try await server.receive() }
        #expect(second == .readRequest(TFTPRequest(filename: "f")))
        try server.send(.data(block: 1, payload: ByteBuffer(string: "plain")), to: retryPort)
        // And the plain request may be retransmitted before the DATA arrives.
        var answer = try await server.receive(from: retryPort).0
        while answer == second { answer = try await server.receive(from: retryPort).0 }
        #expect(answer == .acknowledgment(block: 1))
        #expect(try await report.options.blockSize == 512)
        #expect(received["x"] == ByteBuffer(string: "plain"))
    }
}

/// A writer whose commit takes `delay`, like an fsync on a busy disk.
struct SlowCommitWriter: TFTPFileWriter {
    let base: any TFTPFileWriter
    let delay: Duration
    init(_ base: any TFTPFileWriter, delay: Duration) {
        self.base = base
        self.delay = delay
    }
    func write(_ buffer: ByteBuffer) async throws { try await self.base.write(buffer) }
    func commit() async throws {
        // The slow disk is what the test is about, not a wait.
        try await Task.sleep(for: self.delay)
        try await self.base.commit()
    }
    func abort() async { await self.base.abort() }
}
