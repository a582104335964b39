import Logging
import NIOCore
import NIOEmbedded
import Testing

@testable import TinCanTFTP

/// File operations the test completes by hand, and the embedded loop's clock: a transfer handler
/// driven datagram by datagram, with no threads, sockets or real time.
final class ManualRuntime: TFTPCustomRuntime {
    let loop: EmbeddedEventLoop
    private(set) var reads: [(count: Int, promise: EventLoopPromise<ByteBuffer>)] = []
    private(set) var writes: [(data: ByteBuffer, promise: EventLoopPromise<Void>)] = []
    private(set) var commits: [EventLoopPromise<Void>] = []

    init(loop: EmbeddedEventLoop) {
        self.loop = loop
    }

    func now() -> NIODeadline { self.loop.now }

    func read(_ reader: any TFTPFileReader, upTo count: Int, on loop: any EventLoop) -> EventLoopFuture<ByteBuffer> {
        let promise = self.loop.makePromise(of: ByteBuffer.self)
        self.reads.append((count, promise))
        return promise.futureResult
    }

    func write(_ writer: any TFTPFileWriter, _ data: ByteBuffer, on loop: any EventLoop) -> EventLoopFuture<Void> {
        let promise = self.loop.makePromise(of: Void.self)
        self.writes.append((data, promise))
        return promise.futureResult
    }

    func commit(_ writer: any TFTPFileWriter, on loop: any EventLoop) -> EventLoopFuture<Void> {
        let promise = self.loop.makePromise(of: Void.self)
        self.commits.append(promise)
        return promise.futureResult
    }
}

/// A file the handler never touches itself: its runtime does the reading and writing.
struct UntouchedFile: TFTPFileReader, TFTPFileWriter {
    var size: Int? { nil }
    func read(upTo count: Int) async throws -> ByteBuffer {
        Issue.record("the handler read the file itself")
        return ByteBuffer()
    }
    func close() async {}
    func write(_ buffer: ByteBuffer) async throws { Issue.record("the handler wrote the file itself") }
    func commit() async throws { Issue.record("the handler committed the file itself") }
    func abort() async {}
}

/// One transfer handler on an `EmbeddedChannel`, as the peer at 127.0.0.1:40000 sees it.
final class HandlerHarness {
    let loop = EmbeddedEventLoop()
    let channel: EmbeddedChannel
    let runtime: ManualRuntime
    let peer: SocketAddress
    private(set) var outcome: TFTPTransferOutcome?

    init(_ machine: TFTPTransferMachine, file: TFTPTransferFile) throws {
        self.channel = EmbeddedChannel(loop: self.loop)
        self.runtime = ManualRuntime(loop: self.loop)
        self.peer = try SocketAddress(ipAddress: "127.0.0.1", port: 40000)
        let promise = self.loop.makePromise(of: TFTPTransferOutcome.self)
        promise.futureResult.assumeIsolated().whenSuccess { self.outcome = $0 }
        let handler = TFTPTransferHandler(
            machine: machine,
            file: file,
            peer: self.peer,
            logger: Logger(label: "handler-test") { _ in SwiftLogNoOpLogHandler() },
            ownsFile: false,
            runtime: .custom(self.runtime),
            outcome: promise
        )
        try self.channel.pipeline.syncOperations.addHandler(handler)
        // Becoming active begins the transfer.
        self.channel.connect(to: self.peer, promise: nil)
    }

    /// A datagram from the peer (or from `from`).
    func receive(_ packet: TFTPPacket, from: SocketAddress? = nil) throws {
        var buffer = ByteBuffer()
        buffer.writeTFTPPacket(packet)
        try self.channel.writeInbound(AddressedEnvelope(remoteAddress: from ?? self.peer, data: buffer))
    }

    /// Every datagram the handler sent since the last call, decoded, with its destination.
    func sent() throws -> [(packet: TFTPPacket, to: SocketAddress)] {
        var all: [(TFTPPacket, SocketAddress)] = []
        while var envelope = try self.channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) {
            all.append((try envelope.data.readTFTPPacket(), envelope.remoteAddress))
        }
        return all
    }

    /// The packets sent to the peer since the last call.
    func sentToPeer() throws -> [TFTPPacket] {
        let all = try self.sent()
        #expect(all.allSatisfy { $0.to == self.peer })
        return all.map(\.packet)
    }
}

@Suite struct TransferHandlerTests {
    static let data = ByteBuffer(bytes: (0..<700).map { UInt8(truncatingIfNeeded: $0) })

    /// A server sender for an RRQ without options, given the 700-byte file.
    func sender() throws -> HandlerHarness {
        let machine = TFTPSenderStateMachine(start: .sendData, options: TFTPTransferOptions(), timing: TFTPTiming())
        let harness = try HandlerHarness(.sender(machine), file: .source(UntouchedFile(), netascii: false))
        // The file is read ahead in one chunk, then to its end.
        #expect(harness.runtime.reads.count == 1)
        #expect(harness.runtime.reads.first?.count == TFTPReadAhead.chunk)
        #expect(try harness.sentToPeer().isEmpty)
        harness.runtime.reads[0].promise.succeed(Self.data)
        #expect(harness.runtime.reads.count == 2)
        harness.runtime.reads[1].promise.succeed(ByteBuffer())
        return harness
    }

    @Test("RRQ side: DATA 1 goes out, is sent again when the timeout passes on the loop's clock, and ACKs move it on")
    func senderRetransmits() throws {
        let harness = try self.sender()
        let first = TFTPPacket.data(block: 1, payload: Self.data.getSlice(at: 0, length: 512)!)
        #expect(try harness.sentToPeer() == [first])
        // The initial timeout is 1 s: nothing just before it, DATA 1 again at it.
        harness.loop.advanceTime(by: .milliseconds(999))
        #expect(try harness.sentToPeer().isEmpty)
        harness.loop.advanceTime(by: .milliseconds(1))
        #expect(try harness.sentToPeer() == [first])
        // Backed off: the next timeout is 2 s.
        harness.loop.advanceTime(by: .milliseconds(1999))
        #expect(try harness.sentToPeer().isEmpty)

        try harness.receive(.acknowledgment(block: 1))
        #expect(try harness.sentToPeer() == [.data(block: 2, payload: Self.data.getSlice(at: 512, length: 188)!)])
        #expect(harness.outcome == nil)
        try harness.receive(.acknowledgment(block: 2))
        let outcome = try #require(harness.outcome)
        #expect(outcome.error == nil)
        #expect(outcome.stats.bytes == 700)
        #expect(outcome.stats.timeouts == 1)
        #expect(outcome.stats.retransmissions == 1)
        #expect(!harness.channel.isActive)
        // Closed: the old timer is gone.
        harness.loop.advanceTime(by: .seconds(60))
        #expect(try harness.sentToPeer().isEmpty)
    }

    @Test("a packet from another port gets ERROR 5 there, and the transfer goes on")
    func unknownTransferID() throws {
        let harness = try self.sender()
        _ = try harness.sentToPeer()
        let stranger = try SocketAddress(ipAddress: "127.0.0.1", port: 40001)
        try harness.receive(.acknowledgment(block: 1), from: stranger)
        let answers = try harness.sent()
        #expect(answers.count == 1)
        #expect(answers.first?.packet == .error(TFTPError(.unknownTransferID, "unknown transfer ID")))
        #expect(answers.first?.to == stranger)
        #expect(harness.outcome == nil)
        try harness.receive(.acknowledgment(block: 1))
        #expect(try harness.sentToPeer().count == 1)
    }

    @Test("an ERROR from the peer ends the transfer: reported as the peer's, not answered, socket closed")
    func errorFromPeer() throws {
        let harness = try self.sender()
        _ = try harness.sentToPeer()
        try harness.receive(.error(TFTPError(.diskFull, "no space")))
        let outcome = try #require(harness.outcome)
        #expect(outcome.error == TFTPError(.diskFull, "no space"))
        #expect(outcome.errorFromPeer)
        #expect(try harness.sentToPeer().isEmpty)
        #expect(!harness.channel.isActive)
        harness.loop.advanceTime(by: .seconds(60))
        #expect(try harness.sentToPeer().isEmpty)
    }

    /// A server receiver for a WRQ without options that dallies 3 s.
    func receiver() throws -> HandlerHarness {
        let machine = TFTPReceiverStateMachine(start: .sendAck, options: TFTPTransferOptions(), timing: TFTPTiming(dally: .seconds(3)))
        let harness = try HandlerHarness(.receiver(machine), file: .sink(UntouchedFile(), netascii: false))
        #expect(try harness.sentToPeer() == [.acknowledgment(block: 0)])
        return harness
    }

    @Test("WRQ side: the final ACK waits for the write and the commit, goes out twice, and the dally starts then")
    func receiverHoldsFinalAck() throws {
        let harness = try self.receiver()
        try harness.receive(.data(block: 1, payload: ByteBuffer(string: "end")))
        #expect(harness.runtime.writes.map(\.data) == [ByteBuffer(string: "end")])
        // However long the disk takes, and however often the block comes again, no ACK yet.
        harness.loop.advanceTime(by: .seconds(30))
        try harness.receive(.data(block: 1, payload: ByteBuffer(string: "end")))
        #expect(try harness.sentToPeer().isEmpty)
        #expect(harness.runtime.commits.isEmpty)
        harness.runtime.writes[0].promise.succeed(())
        #expect(harness.runtime.commits.count == 1)
        #expect(try harness.sentToPeer().isEmpty)
        #expect(harness.outcome == nil)

        harness.runtime.commits[0].succeed(())
        #expect(try harness.sentToPeer() == [.acknowledgment(block: 1), .acknowledgment(block: 1)])
        let outcome = try #require(harness.outcome)
        #expect(outcome.error == nil)
        #expect(outcome.stats.bytes == 3)
        // Dallying: a repeated final block is answered until 3 s of quiet.
        #expect(harness.channel.isActive)
        harness.loop.advanceTime(by: .seconds(2))
        try harness.receive(.data(block: 1, payload: ByteBuffer(string: "end")))
        #expect(try harness.sentToPeer() == [.acknowledgment(block: 1)])
        harness.loop.advanceTime(by: .seconds(2))
        #expect(harness.channel.isActive)
        harness.loop.advanceTime(by: .seconds(1))
        #expect(!harness.channel.isActive)
    }

    @Test("WRQ side: a failed commit sends ERROR instead of the final ACK and reports the failure")
    func receiverCommitFails() throws {
        let harness = try self.receiver()
        try harness.receive(.data(block: 1, payload: ByteBuffer(string: "end")))
        harness.runtime.writes[0].promise.succeed(())
        harness.runtime.commits[0].fail(TFTPError(.diskFull, "disk full"))
        #expect(try harness.sentToPeer() == [.error(TFTPError(.diskFull, "disk full"))])
        let outcome = try #require(harness.outcome)
        #expect(outcome.error == TFTPError(.diskFull, "disk full"))
        #expect(!outcome.errorFromPeer)
        #expect(!harness.channel.isActive)
    }
}
