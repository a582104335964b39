import NIOCore
import Testing

@testable import TinCanTFTP

/// The receiver's final ACK waits for the commit, and is the state machine's decision.
@Suite struct ReceiverCommitTests {
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    static let timing = TFTPTiming(dally: .seconds(3))

    /// A server receiver that has taken DATA 1 (full) and is offered the final block 2.
    func receiverAtFinalBlock() -> (TFTPReceiverStateMachine, [TFTPTransferAction]) {
        var receiver = TFTPReceiverStateMachine(start: .sendAck, options: TFTPTransferOptions(blockSize: 8), timing: Self.timing)
        #expect(receiver.begin(now: Self.start) == [.send(.acknowledgment(block: 0)), .setTimer(Self.start + .seconds(1))])
        let first = receiver.received(.data(block: 1, payload: ByteBuffer(string: "12345678")), now: Self.start)
        #expect(first.first == .write(ByteBuffer(string: "12345678")))
        #expect(first.contains(.send(.acknowledgment(block: 1))))
        let final = receiver.received(.data(block: 2, payload: ByteBuffer(string: "end")), now: Self.start)
        return (receiver, final)
    }

    @Test("the final block asks for a commit and sends nothing: no ACK, no timer, no completion")
    func finalBlockCommits() {
        let (receiver, actions) = self.receiverAtFinalBlock()
        #expect(actions == [.write(ByteBuffer(string: "end")), .commit])
        #expect(receiver.isCommitting)
    }

    @Test("while the commit runs, a repeated final block, a timer and an ERROR change nothing")
    func quietWhileCommitting() {
        var (receiver, _) = self.receiverAtFinalBlock()
        #expect(receiver.received(.data(block: 2, payload: ByteBuffer(string: "end")), now: Self.start + .seconds(1)).isEmpty)
        #expect(receiver.timerFired(now: Self.start + .seconds(10)).isEmpty)
        #expect(receiver.received(.error(TFTPError(.notDefined, "bye")), now: Self.start + .seconds(11)).isEmpty)
        #expect(receiver.isCommitting)
        #expect(receiver.stats.timeouts == 0)
    }

    @Test("committed: the final ACK goes out twice, then completion, and the dally counts from then")
    func committedSendsFinalAck() {
        var (receiver, _) = self.receiverAtFinalBlock()
        let later = Self.start + .seconds(20)
        let actions = receiver.committed(now: later)
        let ack = TFTPTransferAction.send(.acknowledgment(block: 2))
        #expect(actions == [ack, ack, .complete(TFTPTransferStats(bytes: 11, blocks: 2)), .setTimer(later + .seconds(3))])
        #expect(TFTPReceiverStateMachine.finalAckCopies == 2)
        #expect(!receiver.isCommitting)
        // A second `committed` is not a second completion.
        #expect(receiver.committed(now: later).isEmpty)
        // Dallying: a repeated final block is answered, and the dally starts over.
        let repeatAt = later + .seconds(2)
        #expect(receiver.received(.data(block: 2, payload: ByteBuffer(string: "end")), now: repeatAt) == [ack, .setTimer(repeatAt + .seconds(3))])
        // The old deadline is no longer the end.
        #expect(receiver.timerFired(now: later + .seconds(3)) == [.setTimer(repeatAt + .seconds(3))])
        #expect(receiver.timerFired(now: repeatAt + .seconds(3)) == [.close])
        #expect(receiver.isFinished)
    }

    @Test("a failed write or commit ends the transfer with an ERROR to the peer; after it has ended, nothing")
    func fileFailure() {
        let error = TFTPError(.diskFull, "disk full")
        var (committing, _) = self.receiverAtFinalBlock()
        #expect(committing.fileFailed(error) == [.fail(error, sendToPeer: true), .close])
        #expect(committing.isFinished)
        #expect(committing.fileFailed(error).isEmpty)
        #expect(committing.committed(now: Self.start).isEmpty)

        var sender = TFTPSenderStateMachine(start: .sendData, options: TFTPTransferOptions(), timing: TFTPTiming())
        _ = sender.begin(now: Self.start)
        #expect(sender.fileFailed(error) == [.fail(error, sendToPeer: true), .close])
        #expect(sender.isFinished)
        #expect(sender.fileFailed(error).isEmpty)
    }

    @Test("a slow commit over a lossy link: the sender repeats its last block, no final ACK leaves before the commit ends, and both sides finish well", arguments: [UInt64(1), 2, 3])
    func slowCommit(seed: UInt64) throws {
        let data = file(2000)
        var simulation = Simulation.download(
            // DATA may be lost, ACKs are not: the test is about when the final ACK leaves.
            file: data, options: [], links: [Link(), Link(loss: 0.1)], seed: seed
        )
        simulation.commitDelay = .seconds(2)
        simulation.logSends = true
        simulation.run()
        #expect(simulation.received == data)
        #expect(simulation.failures == [nil, nil])
        #expect(simulation.commits == 1)
        let committedAt = try #require(simulation.commitStartedAt) + .seconds(2)
        // DATA 4 is the final block (2000 = 3 × 512 + 464); the client is side 1.
        let finalAcks = simulation.sent.filter { $0.side == 1 && $0.packet == .acknowledgment(block: 4) }
        #expect(finalAcks.count >= TFTPReceiverStateMachine.finalAckCopies)
        #expect(finalAcks.allSatisfy { $0.time >= committedAt })
        // The server's timer repeated the final block while the commit ran.
        let repeats = simulation.sent.filter {
            $0.side == 0 && $0.time > simulation.commitStartedAt! && $0.time < committedAt
                && { if case .data(4, _) = $0.packet { true } else { false } }($0)
        }
        #expect(!repeats.isEmpty)
    }

    @Test("simulated transfers commit exactly once, in both directions")
    func simulatedCommits() {
        let data = file(2000)
        var download = Simulation.download(file: data, options: [], links: [Link(), Link()], seed: 1)
        download.run()
        #expect(download.received == data)
        #expect(download.commits == 1)
        var upload = Simulation.upload(file: data, options: [option("windowsize", 4)], links: [Link(), Link()], seed: 2)
        upload.run()
        #expect(upload.received == data)
        #expect(upload.commits == 1)
    }
}

@Suite struct ReadAheadTests {
    @Test("reads a chunk ahead, hands over what was asked for, and waits while enough is buffered")
    func readsAhead() {
        var readAhead = TFTPReadAhead(netascii: false)
        readAhead.want(16384)
        #expect(readAhead.take() == nil)
        #expect(readAhead.nextRead() == TFTPReadAhead.chunk)
        // One read at a time.
        #expect(readAhead.nextRead() == nil)
        readAhead.readFinished(file(TFTPReadAhead.chunk))
        let taken = readAhead.take()
        #expect(taken?.data == file(TFTPReadAhead.chunk).getSlice(at: 0, length: 16384))
        #expect(taken?.endOfFile == false)
        #expect(!readAhead.isWanted)
        // 240 KiB left: no read until less than half a chunk is buffered.
        #expect(readAhead.nextRead() == nil)
        readAhead.want(120 * 1024)
        _ = readAhead.take()
        #expect(readAhead.buffered == TFTPReadAhead.chunk - 16384 - 120 * 1024)
        #expect(readAhead.nextRead() == TFTPReadAhead.chunk)
    }

    @Test("a sender that asks for more than half a chunk gets reads twice its ask")
    func largeAsk() {
        var readAhead = TFTPReadAhead(netascii: false)
        readAhead.want(1_000_000)
        #expect(readAhead.nextRead() == 2_000_000)
    }

    @Test("at the end of the file the rest is handed over, marked as the end")
    func endOfFile() {
        var readAhead = TFTPReadAhead(netascii: false)
        readAhead.want(4096)
        #expect(readAhead.nextRead() != nil)
        readAhead.readFinished(ByteBuffer(string: "short file"))
        // Fewer bytes than asked for, and the end not known yet.
        #expect(readAhead.take() == nil)
        #expect(readAhead.nextRead() != nil)
        readAhead.readFinished(ByteBuffer())
        #expect(readAhead.atEnd)
        let taken = readAhead.take()
        #expect(taken?.data == ByteBuffer(string: "short file"))
        #expect(taken?.endOfFile == true)
        #expect(readAhead.nextRead() == nil)
    }

    @Test("netascii is encoded as it is read")
    func netascii() {
        var readAhead = TFTPReadAhead(netascii: true)
        readAhead.want(100)
        _ = readAhead.nextRead()
        readAhead.readFinished(ByteBuffer(string: "a\nb\r"))
        _ = readAhead.nextRead()
        readAhead.readFinished(ByteBuffer())
        #expect(readAhead.take()?.data == ByteBuffer(string: "a\r\nb\r\0"))
    }
}

@Suite struct WriteBehindTests {
    @Test("gathers a chunk before writing, one write at a time, then commits once everything is written")
    func writesThenCommits() {
        var writeBehind = TFTPWriteBehind(netascii: false)
        writeBehind.append(file(1000))
        #expect(writeBehind.next() == .none)
        writeBehind.append(file(TFTPWriteBehind.chunk - 1000, seed: 2))
        guard case .write(let first) = writeBehind.next() else {
            Issue.record("expected a write")
            return
        }
        #expect(first.readableBytes == TFTPWriteBehind.chunk)
        writeBehind.append(ByteBuffer(string: "tail"))
        writeBehind.finish()
        // The first write still runs: nothing else starts.
        #expect(writeBehind.next() == .none)
        writeBehind.writeFinished()
        #expect(writeBehind.next() == .write(ByteBuffer(string: "tail")))
        #expect(writeBehind.next() == .none)
        writeBehind.writeFinished()
        #expect(writeBehind.next() == .commit)
        #expect(writeBehind.next() == .none)
    }

    @Test("an empty file commits at once")
    func emptyFile() {
        var writeBehind = TFTPWriteBehind(netascii: false)
        writeBehind.finish()
        #expect(writeBehind.next() == .commit)
    }

    @Test("full above the limit, so that DATA is dropped while the disk is behind")
    func full() {
        var writeBehind = TFTPWriteBehind(netascii: false)
        writeBehind.append(ByteBuffer(repeating: 1, count: TFTPWriteBehind.chunk))
        #expect(writeBehind.next() != .none)
        // That write hangs; the rest piles up.
        for _ in 0..<(TFTPWriteBehind.maxBuffered / TFTPWriteBehind.chunk) {
            writeBehind.append(ByteBuffer(repeating: 2, count: TFTPWriteBehind.chunk))
        }
        #expect(!writeBehind.isFull)
        writeBehind.append(ByteBuffer(repeating: 3, count: 1))
        #expect(writeBehind.isFull)
        writeBehind.writeFinished()
        #expect(writeBehind.next() != .none)
        #expect(!writeBehind.isFull)
    }

    @Test("netascii is decoded across blocks, and a CR at the very end is kept")
    func netascii() {
        var writeBehind = TFTPWriteBehind(netascii: true)
        writeBehind.append(ByteBuffer(string: "a\r"))
        writeBehind.append(ByteBuffer(string: "\nb\r\0c\r"))
        writeBehind.finish()
        #expect(writeBehind.next() == .write(ByteBuffer(string: "a\nb\rc\r")))
    }
}
