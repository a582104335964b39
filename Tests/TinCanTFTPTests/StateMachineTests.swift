import NIOCore
import Testing
import TinCanTestSupport

@testable import TinCanTFTP

func file(_ count: Int, seed: UInt64 = 1) -> ByteBuffer {
    ByteBuffer(bytes: TestData.random(count: count, seed: seed))
}

func option(_ name: String, _ value: Int) -> TFTPOption { TFTPOption(name: name, value: String(value)) }

@Suite struct TransferTests {
    @Test("lock-step transfers of the sizes around a block boundary", arguments: [0, 1, 511, 512, 513, 1024, 5000])
    func lockStep(size: Int) {
        for upload in [false, true] {
            let data = file(size)
            var simulation = upload
                ? Simulation.upload(file: data, options: [], links: [Link(), Link()], seed: 1)
                : Simulation.download(file: data, options: [], links: [Link(), Link()], seed: 1)
            simulation.run()
            #expect(simulation.received == data, "upload: \(upload)")
            #expect(simulation.closed == [true, true])
            #expect(simulation.failures == [nil, nil])
            #expect(simulation.dataPacketsSent == size / 512 + 1)
        }
    }

    @Test("windowed transfers with options", arguments: [(1428, 16), (8, 3), (65464, 4), (512, 64)])
    func windowed(blockSize: Int, window: Int) {
        for size in [0, blockSize - 1, blockSize, blockSize * window, blockSize * window + 1, 300_000] {
            for upload in [false, true] {
                let data = file(size, seed: UInt64(size))
                let options = [option("blksize", blockSize), option("windowsize", window), option("tsize", upload ? size : 0)]
                var simulation = upload
                    ? Simulation.upload(file: data, options: options, limits: TFTPOptionLimits(maxBlockSize: 65464, maxWindowSize: 64), links: [Link(), Link()], seed: 2)
                    : Simulation.download(file: data, options: options, limits: TFTPOptionLimits(maxBlockSize: 65464, maxWindowSize: 64), links: [Link(), Link()], seed: 2)
                simulation.run()
                #expect(simulation.received == data, "size \(size) upload \(upload)")
                #expect(simulation.failures == [nil, nil])
                #expect(simulation.completed[0]?.bytes == size)
                #expect(simulation.completed[1]?.bytes == size)
                // No loss, no timeouts: every block went out exactly once.
                #expect(simulation.dataPacketsSent == size / blockSize + 1)
            }
        }
    }

    @Test("block numbers roll over past 65535", arguments: [UInt16(0), 1])
    func rollover(to: UInt16) {
        let blocks = 65535 + 300
        let data = file(blocks * 8 + 3)
        var simulation = Simulation.download(
            file: data, options: [option("blksize", 8), option("windowsize", 7)],
            timing: TFTPTiming(rolloverTo: to), links: [Link(loss: 0.02), Link(loss: 0.02)], seed: 3
        )
        simulation.run()
        #expect(simulation.received == data)
        #expect(simulation.failures == [nil, nil])
    }

    @Test("a duplicated ACK never makes the sender send again (no Sorcerer's Apprentice)")
    func duplicateAcks() {
        for window in [1, 8] {
            let data = file(100 * 512)
            var simulation = Simulation.download(
                file: data, options: [option("windowsize", window)], links: [Link(duplication: 1.0), Link()], seed: 4
            )
            simulation.run()
            #expect(simulation.received == data)
            #expect(simulation.dataPacketsSent == 101)
        }
    }

    @Test("a gap in a window is acknowledged at once: the sender resumes without a timeout")
    func gapRecoveryWithoutTimeout() {
        let data = file(64 * 1428)
        // Server to client: 1 OACK, then DATA 1...; packet 4 is DATA 3.
        var simulation = Simulation.download(
            file: data, options: [option("blksize", 1428), option("windowsize", 16)],
            links: [Link(), Link(dropExactly: [4])], seed: 5
        )
        simulation.run()
        #expect(simulation.received == data)
        guard let sender = simulation.sender else { Issue.record("no server"); return }
        #expect(sender.stats.timeouts == 0)
        #expect(sender.stats.retransmissions > 0)
    }

    @Test("the first block of a window lost: the receiver's repeated ACK makes the sender resend at once")
    func gapAtWindowStart() {
        let data = file(48 * 1428 + 7)
        // Server to client: 1 OACK, DATA 1-16 are packets 2-17, DATA 17 (first of window 2) is 18.
        var simulation = Simulation.download(
            file: data, options: [option("blksize", 1428), option("windowsize", 16)],
            links: [Link(), Link(dropExactly: [18])], seed: 8
        )
        simulation.run()
        #expect(simulation.received == data)
        guard let sender = simulation.sender else { Issue.record("no server"); return }
        #expect(sender.stats.timeouts == 0)
        #expect(sender.stats.retransmissions > 0)
    }

    @Test("in lock-step a duplicate ACK never causes a resend (no Sorcerer's Apprentice)")
    func duplicateAckInLockStep() {
        var sender = TFTPSenderStateMachine(start: .sendData, options: TFTPTransferOptions(), timing: TFTPTiming())
        let now = NIODeadline.uptimeNanoseconds(0)
        _ = sender.begin(now: now)
        let sent = sender.supply(file(2000), endOfFile: true, now: now)
        #expect(sent.contains { if case .send(.data(1, _)) = $0 { true } else { false } })
        let next = sender.received(.acknowledgment(block: 1), now: now)
        #expect(next.contains { if case .send(.data(2, _)) = $0 { true } else { false } })
        #expect(sender.received(.acknowledgment(block: 1), now: now).isEmpty)
        #expect(sender.received(.acknowledgment(block: 1), now: now).isEmpty)
    }

    @Test("a lost final ACK is answered while the receiver dallies")
    func lostFinalAck() {
        let data = file(3 * 512 + 10)
        // Client to server: RRQ, ACK 1, ACK 2, ACK 3, ACK 4 (final) is packet 5.
        var simulation = Simulation.download(file: data, options: [], links: [Link(dropExactly: [5]), Link()], seed: 6)
        simulation.run()
        #expect(simulation.received == data)
        #expect(simulation.failures == [nil, nil])
        #expect(simulation.completed[0] != nil)
    }

    @Test("a silent peer: the transfer fails after maxRetries timeouts and says so")
    func silentPeer() {
        let timing = TFTPTiming(maxRetries: 3)
        var simulation = Simulation.download(file: file(5000), options: [], timing: timing, links: [Link(), Link(loss: 1.0)], seed: 7)
        simulation.run()
        #expect(simulation.failures[1] == TFTPError(.notDefined, "timed out after 3 retries"))
        #expect(simulation.failures[0] == TFTPError(.notDefined, "timed out after 3 retries"))
        #expect(simulation.closed == [true, true])
    }

    @Test("a client's ERROR 8 after an OACK ends the transfer quietly")
    func clientRefusesOack() {
        var sender = TFTPSenderStateMachine(start: .sendOptionAck([option("blksize", 1024)]), options: TFTPTransferOptions(blockSize: 1024), timing: TFTPTiming())
        let now = NIODeadline.uptimeNanoseconds(0)
        _ = sender.begin(now: now)
        let actions = sender.received(.error(TFTPError(.optionNegotiationFailed, "no")), now: now)
        #expect(actions == [.fail(TFTPError(.optionNegotiationFailed, "no"), sendToPeer: false), .close])
        #expect(sender.timerFired(now: now + .seconds(10)).isEmpty)
    }

    @Test("a client refuses an OACK with a larger blksize than it asked for")
    func clientRefusesBadOack() {
        var receiver = TFTPReceiverStateMachine(
            start: .sendRequest(TFTPRequest(filename: "f", options: [option("blksize", 1024)])), options: TFTPTransferOptions(), timing: TFTPTiming()
        )
        let now = NIODeadline.uptimeNanoseconds(0)
        _ = receiver.begin(now: now)
        let actions = receiver.received(.optionAcknowledgment([option("blksize", 2048)]), now: now)
        guard case .fail(let error, sendToPeer: true) = actions.first else { Issue.record("\(actions)"); return }
        #expect(error.code == .optionNegotiationFailed)
    }

    @Test("a server that ignores options gets a plain RFC 1350 transfer")
    func serverIgnoresOptions() {
        let data = file(2000)
        var simulation = Simulation.download(
            file: data, options: [option("blksize", 1428), option("windowsize", 8)],
            limits: TFTPOptionLimits(maxBlockSize: 512, maxWindowSize: 1), links: [Link(), Link()], seed: 8
        )
        simulation.run()
        #expect(simulation.received == data)
    }

    @Test("timeouts adapt to the round trip: 40 ms each way, 5 % loss")
    func adaptiveTimeout() {
        let data = file(200 * 512)
        var simulation = Simulation.download(
            file: data, options: [], links: [Link(loss: 0.05, delay: .milliseconds(40)), Link(loss: 0.05, delay: .milliseconds(40))], seed: 9
        )
        let start = simulation.now
        simulation.run()
        #expect(simulation.received == data)
        // About 200 round trips of 80 ms plus the recoveries; a fixed 1 s timeout would add ~20 s.
        #expect(simulation.now - start < .seconds(30))
    }

    @Test("thousands of random transfers over bad links all deliver the exact file")
    func randomized() async throws {
        // Tens of seconds of CPU in a debug build: on a thread of its own, so that it does not
        // hold one of Swift's few cooperative threads (as many as cores) that every other test
        // and in-process server of the run shares.
        let failure = try await Blocking.run { Self.randomTransfers() }
        #expect(failure == nil, "\(failure ?? "")")
    }

    /// Runs the random transfers; the first that fails, described, or nil.
    private static func randomTransfers() -> String? {
        var random = SeededRandom(seed: 2026)
        for run in 0..<1500 {
            let size = Int.random(in: 0...20_000, using: &random)
            let blockSize = [8, 64, 512, 1428, 4096].randomElement(using: &random)!
            let window = [1, 2, 4, 16, 64].randomElement(using: &random)!
            let link = Link(
                loss: Double.random(in: 0...0.2, using: &random),
                duplication: Double.random(in: 0...0.1, using: &random),
                delay: .microseconds(Int64.random(in: 50...20_000, using: &random)),
                jitter: .microseconds(Int64.random(in: 0...5_000, using: &random))
            )
            let upload = Bool.random(using: &random)
            let options = [option("blksize", blockSize), option("windowsize", window)]
            // A long dally, as a server uses: three times the longest timeout the sender may back
            // off to, so a sender that missed the final ACK has several chances to ask again.
            let timing = TFTPTiming(maxRetries: 30, dally: .seconds(15))
            let data = file(size, seed: UInt64(run))
            var simulation = upload
                ? Simulation.upload(file: data, options: options, timing: timing, links: [link, link], seed: UInt64(run))
                : Simulation.download(file: data, options: options, timing: timing, links: [link, link], seed: UInt64(run))
            simulation.run()
            if simulation.received != data || simulation.failures != [nil, nil] {
                return "run \(run): size \(size) blksize \(blockSize) window \(window) upload \(upload) \(link): "
                    + "\(simulation.received == data ? "file intact" : "file differs"), failures \(simulation.failures)"
            }
        }
        return nil
    }
}
