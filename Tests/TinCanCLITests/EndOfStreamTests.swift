import Foundation
import Testing
import TinCanTestSupport

/// Every row of the README's end-of-stream table, in client and listen mode.
@Suite(.timeLimit(.minutes(2))) struct EndOfStreamTests {
    @Test("stdin ends first: FIN is sent, the peer's reply is still printed", arguments: Mode.allCases)
    func inputEndsFirst(mode: Mode) async throws {
        let (process, peer) = try await relaySession(mode)
        try process.write("ping")
        process.closeInput()
        // receiveAll returns only on FIN: tincan has half-closed while it is still running.
        #expect(try await peer.receiveAllAsync().text == "ping")
        #expect(process.isRunning)
        try peer.send("pong")
        peer.close()
        #expect(try await process.waitForExit() == 0)
        #expect(process.stdout.text == "pong")
        #expect(process.stderr.contains("sent FIN"))
    }

    @Test("peer closes first, stdin piped: stdin is still sent until its end", arguments: Mode.allCases)
    func peerEndsFirstWithPipedInput(mode: Mode) async throws {
        let (process, peer) = try await relaySession(mode)
        try peer.send("hello")
        peer.shutdownWrite()
        try await process.waitForStdout(count: 5)
        try await process.waitForStderr("half-closed")
        #expect(process.isRunning)
        try process.write("late reply")
        process.closeInput()
        #expect(try await peer.receiveAllAsync().text == "late reply")
        #expect(try await process.waitForExit() == 0)
        #expect(process.stdout.text == "hello")
    }

    @Test("peer closes first, stdin a terminal: exit once the output is written", arguments: Mode.allCases)
    func peerEndsFirstWithTerminal(mode: Mode) async throws {
        let (process, peer) = try await relaySession(mode, input: .terminal)
        try peer.send("bye now")
        peer.shutdownWrite()
        #expect(try await process.waitForExit() == 0)
        #expect(process.stdout.text == "bye now")
    }

    @Test("peer closes completely while stdin still has data: quiet exit 0", arguments: Mode.allCases)
    func peerGoneWhileSending(mode: Mode) async throws {
        let (process, peer) = try await relaySession(mode)
        try peer.send("done")
        peer.close()
        try await process.waitForStdout(count: 4)
        // The row is about a peer gone *after* its FIN: wait until tincan has read the FIN. (A reset
        // that overtakes a FIN not yet read makes the kernel report the reset instead of the FIN.)
        try await process.waitForStderr("half-closed")
        // Keep sending until tincan has exited: the first send draws an RST, a later one fails
        // with EPIPE (or 10 s have passed; waitForExit judges).
        let chunk = Data(repeating: 0x61, count: 4096)
        let deadline = ContinuousClock.now + .seconds(10)
        while process.isRunning, ContinuousClock.now < deadline {
            try? process.write(chunk)
            await Task.yield()
        }
        process.closeInput()
        #expect(try await process.waitForExit() == 0, "\(process.stderr)")
        #expect(!process.stderr.contains("error"))
        #expect(process.stdout.text == "done")
    }

    @Test("peer resets before its FIN: exit 1 and one line naming the cause", arguments: Mode.allCases)
    func peerResets(mode: Mode) async throws {
        let (process, peer) = try await relaySession(mode)
        try peer.send("partial")
        try await process.waitForStdout(count: 7)
        peer.reset()
        #expect(try await process.waitForExit() == 1)
        #expect(process.stderr.contains("connection reset by peer"))
    }

    @Test("--send-only: the peer's bytes are dropped; ends when the peer closes", arguments: Mode.allCases)
    func sendOnly(mode: Mode) async throws {
        let (process, peer) = try await relaySession(mode, ["--send-only"])
        try peer.send("not for stdout")
        try process.write("data")
        process.closeInput()
        #expect(try await peer.receiveAllAsync().text == "data")
        peer.close()
        #expect(try await process.waitForExit() == 0)
        #expect(process.stdout.isEmpty)
    }

    @Test("--recv-only: stdin is never read; the peer's FIN ends the relay", arguments: Mode.allCases)
    func receiveOnly(mode: Mode) async throws {
        let (process, peer) = try await relaySession(mode, ["--recv-only"])
        try process.write("never sent")
        try peer.send("only this")
        peer.shutdownWrite()
        #expect(try await process.waitForExit() == 0)
        #expect(process.stdout.text == "only this")
        #expect(try await peer.receiveAllAsync().isEmpty)
    }
}
