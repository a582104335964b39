import Foundation
import Testing
import TinCanTestSupport

/// tincan against the tools people already use: ncat, socat and OpenBSD nc, in both directions.
/// Outside CI a missing peer skips its test; in CI (CI=true) it fails.
@Suite(.timeLimit(.minutes(2))) struct InteropTests {
    /// Starts a listening peer and waits until it says so on stderr.
    func listeningPeer(_ path: String, _ arguments: [String], readyText: String) async throws -> TestProcess {
        let process = try TestProcess(path, arguments)
        try await process.waitForStderr(readyText)
        return process
    }

    @Test("tincan connect to ncat -l", .enabled(if: Programs.available("ncat")))
    func connectToNcat() async throws {
        let ncat = try Programs.require("ncat")
        let port = try closedPort()
        let peer = try await self.listeningPeer(ncat, ["-l", "-v", "127.0.0.1", String(port)], readyText: "Listening on")
        defer { peer.kill() }
        try peer.write("from ncat\n")
        peer.closeInput()
        let process = try tincan(["connect", "127.0.0.1", String(port), "--send", "from tincan\n"])
        #expect(try await process.waitForExit() == 0, "\(process.stderr)")
        #expect(process.stdout.text == "from ncat\n")
        #expect(try await peer.waitForExit() == 0)
        #expect(peer.stdout.text == "from tincan\n")
    }

    @Test("tincan connect to socat TCP-LISTEN", .enabled(if: Programs.available("socat")))
    func connectToSocat() async throws {
        let socat = try Programs.require("socat")
        let port = try closedPort()
        let peer = try await self.listeningPeer(
            socat, ["-d", "-d", "TCP-LISTEN:\(port),bind=127.0.0.1,reuseaddr", "STDIO"], readyText: "listening on"
        )
        defer { peer.kill() }
        try peer.write("from socat\n")
        peer.closeInput()
        let data = TestData.random(count: 1 << 20, seed: 11)
        let directory = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try data.write(to: URL(fileURLWithPath: directory + "/in"))
        let process = try tincan(["connect", "127.0.0.1", String(port)], input: .file(directory + "/in"))
        #expect(try await process.waitForExit() == 0, "\(process.stderr)")
        #expect(process.stdout.text == "from socat\n")
        #expect(try await peer.waitForExit() == 0)
        #expect(TestData.sha256(peer.stdout) == TestData.sha256(data))
    }

    @Test(
        "OpenBSD nc and ncat clients to tincan listen",
        .enabled(if: Programs.available("nc.openbsd", "ncat")),
        arguments: ["nc.openbsd", "ncat"]
    )
    func clientToListen(client: String) async throws {
        let path = try Programs.require(client)
        let listener = try tincan(["listen", "-v", "127.0.0.1", "0"])
        defer { listener.kill() }
        let port = try await listener.listeningPort()
        try listener.write("from tincan\n")
        listener.closeInput()
        let arguments = client == "nc.openbsd" ? ["-N", "127.0.0.1", String(port)] : ["127.0.0.1", String(port)]
        let peer = try TestProcess(path, arguments)
        try peer.write("from \(client)\n")
        peer.closeInput()
        #expect(try await peer.waitForExit() == 0, "\(peer.stderr)")
        #expect(peer.stdout.text == "from tincan\n")
        #expect(try await listener.waitForExit() == 0, "\(listener.stderr)")
        #expect(listener.stdout.text == "from \(client)\n")
    }

    @Test(
        "OpenBSD nc and ncat clients to tincan echo --upper",
        .enabled(if: Programs.available("nc.openbsd", "ncat")),
        arguments: ["nc.openbsd", "ncat"]
    )
    func clientToEcho(client: String) async throws {
        let path = try Programs.require(client)
        let server = try tincan(["echo", "--host", "127.0.0.1", "--tcp", "0", "--upper"], input: .null)
        defer { server.kill() }
        let port = try await server.listeningPort()
        let arguments = client == "nc.openbsd" ? ["-N", "127.0.0.1", String(port)] : ["127.0.0.1", String(port)]
        for line in ["hello\n", "second client\n"] {
            let peer = try TestProcess(path, arguments)
            try peer.write(line)
            peer.closeInput()
            #expect(try await peer.waitForExit() == 0, "\(peer.stderr)")
            #expect(peer.stdout.text == line.uppercased())
        }
        #expect(server.isRunning)
        server.kill(SIGTERM)
        #expect(try await server.waitForExit() == 0)
    }

    @Test("socat UDP client to tincan echo", .enabled(if: Programs.available("socat")))
    func socatUDPToEcho() async throws {
        let socat = try Programs.require("socat")
        let server = try tincan(["echo", "--host", "127.0.0.1", "--udp", "0"], input: .null)
        defer { server.kill() }
        let port = try await server.listeningPort()
        let peer = try TestProcess(socat, ["-t", "2", "-", "UDP:127.0.0.1:\(port)"])
        try peer.write("datagram\n")
        try await peer.waitForStdout(count: 9)
        peer.closeInput()
        #expect(try await peer.waitForExit() == 0)
        #expect(peer.stdout.text == "datagram\n")
    }
}
