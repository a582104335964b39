import Foundation
import Testing
import TinCanTestSupport

@Suite(.timeLimit(.minutes(2))) struct BinaryTransferTests {
    static let size = 16 << 20

    @Test("16 MiB of random bytes from stdin reach the peer intact", arguments: Mode.allCases)
    func stdinToPeer(mode: Mode) async throws {
        let directory = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let data = TestData.random(count: Self.size, seed: 1)
        try data.write(to: URL(fileURLWithPath: directory + "/in"))
        let (process, peer) = try await relaySession(mode, input: .file(directory + "/in"))
        let received = try await peer.receiveAllAsync()
        peer.close()
        #expect(try await process.waitForExit() == 0)
        #expect(received.count == Self.size)
        #expect(TestData.sha256(received) == TestData.sha256(data))
    }

    @Test("16 MiB of random bytes from the peer reach stdout intact", arguments: Mode.allCases)
    func peerToStdout(mode: Mode) async throws {
        let directory = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let data = TestData.random(count: Self.size, seed: 2)
        let (process, peer) = try await relaySession(mode, input: .null, output: .file(directory + "/out"))
        try await Blocking.run { try peer.send(data) }
        peer.shutdownWrite()
        let unexpected = try await peer.receiveAllAsync()
        #expect(unexpected.isEmpty, "\(unexpected.count) bytes: \(unexpected.prefix(200).text) stderr: \(process.stderr)")
        #expect(try await process.waitForExit() == 0)
        let written = try Data(contentsOf: URL(fileURLWithPath: directory + "/out"))
        #expect(written.count == Self.size)
        #expect(TestData.sha256(written) == TestData.sha256(data))
    }
}

@Suite(.timeLimit(.minutes(2))) struct OneShotTests {
    @Test("--send TEXT: send, half-close, print the reply, exit 0")
    func sendText() async throws {
        let server = try TestSocket.listen()
        let process = try tincan(["connect", "127.0.0.1:\(server.port)", "--send", "GET / HTTP/1.0\r\n\r\n"], input: .terminal)
        let peer = try await Blocking.run { try server.accept() }
        #expect(try await peer.receiveAllAsync().text == "GET / HTTP/1.0\r\n\r\n")
        try peer.send("HTTP/1.0 200 OK\r\n")
        peer.close()
        #expect(try await process.waitForExit() == 0)
        #expect(process.stdout.text == "HTTP/1.0 200 OK\r\n")
    }

    @Test("--send-file PATH sends the file")
    func sendFile() async throws {
        let directory = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let data = TestData.random(count: 300_000, seed: 3)
        try data.write(to: URL(fileURLWithPath: directory + "/f"))
        let server = try TestSocket.listen()
        let process = try tincan(["connect", "127.0.0.1", String(server.port), "--send-file", directory + "/f"])
        let peer = try await Blocking.run { try server.accept() }
        #expect(try await peer.receiveAllAsync() == data)
        peer.close()
        #expect(try await process.waitForExit() == 0)
    }

    @Test("--send-file of a missing file: one line, exit 1")
    func sendMissingFile() async throws {
        let process = try tincan(["connect", "127.0.0.1", "9", "--send-file", "/nonexistent/file"])
        #expect(try await process.waitForExit() == 1)
        #expect(process.stderr == "tincan: open /nonexistent/file: no such file or directory\n")
    }

    @Test("-z: exit 0 when the port accepts, 1 when it does not")
    func zeroIO() async throws {
        let server = try TestSocket.listen()
        let open = try tincan(["connect", "-z", "127.0.0.1", String(server.port)])
        #expect(try await open.waitForExit() == 0)
        let closed = try tincan(["connect", "-z", "127.0.0.1", String(try closedPort())])
        #expect(try await closed.waitForExit() == 1)
        #expect(closed.stderr.isEmpty)
        let verbose = try tincan(["connect", "-z", "-v", "127.0.0.1", String(try closedPort())])
        #expect(try await verbose.waitForExit() == 1)
        #expect(verbose.stderr.contains("connection refused"))
    }
}

@Suite(.timeLimit(.minutes(2))) struct IPv6Tests {
    @Test("IPv6 on ::1, as [::1]:PORT and as -6 ::1 PORT", arguments: Mode.allCases)
    func loopback6(mode: Mode) async throws {
        let (process, peer) = try await relaySession(mode, ["-6"], host: "::1")
        try process.write("over v6")
        process.closeInput()
        #expect(try await peer.receiveAllAsync().text == "over v6")
        try peer.send("back")
        peer.close()
        #expect(try await process.waitForExit() == 0)
        #expect(process.stdout.text == "back")
    }

    @Test("bracketed form")
    func bracketed() async throws {
        let server = try TestSocket.listen(host: "::1")
        let process = try tincan(["connect", "[::1]:\(server.port)", "--send", "x"])
        let peer = try await Blocking.run { try server.accept() }
        #expect(try await peer.receiveAllAsync().text == "x")
        peer.close()
        #expect(try await process.waitForExit() == 0)
    }
}

@Suite(.timeLimit(.minutes(2))) struct UDPTests {
    @Test("connect -u: stdin goes as datagrams, replies are printed, exit after the linger")
    func client() async throws {
        let server = try TestSocket.udp()
        let process = try tincan(["connect", "-u", "-w", "1", "127.0.0.1", String(server.port)])
        try process.write("hello\n")
        let (datagram, port) = try await Blocking.run { try server.receiveDatagram() }
        #expect(datagram.text == "hello\n")
        try server.sendDatagram(Data("world\n".utf8), port: port)
        try await process.waitForStdout(count: 6)
        process.closeInput()
        #expect(try await process.waitForExit() == 0)
        #expect(process.stdout.text == "world\n")
    }

    @Test("connect -u to a closed port: ICMP unreachable is reported, exit 1")
    func refused() async throws {
        let port = try closedPortUDP()
        let process = try tincan(["connect", "-u", "127.0.0.1", String(port)])
        try process.write("a")
        // The ICMP error reaches the socket a moment after the first datagram, and a later send
        // reports it: send again until tincan has said so (or 10 s have passed).
        let deadline = ContinuousClock.now + .seconds(10)
        while process.isRunning, !process.stderr.contains("connection refused"), ContinuousClock.now < deadline {
            try? process.write("b")
            _ = try? await process.waitForStderr("connection refused", timeout: 0.1)
        }
        #expect(try await process.waitForExit() == 1)
        #expect(process.stderr.contains("connection refused"))
    }

    @Test("listen -u: prints datagrams and replies to the last sender")
    func listener() async throws {
        let process = try tincan(["listen", "-u", "-v", "127.0.0.1", "0"])
        defer { process.kill() }
        let port = try await process.listeningPort()
        let client = try TestSocket.udp()
        try client.sendDatagram(Data("ping".utf8), port: port)
        try await process.waitForStdout(count: 4)
        try process.write("pong")
        let (reply, from) = try await Blocking.run { try client.receiveDatagram() }
        #expect(reply.text == "pong")
        #expect(from == port)
        #expect(process.stdout.text == "ping")
    }

    @Test("datagrams up to 64 KiB pass whole in both directions")
    func largeDatagrams() async throws {
        let directory = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let outbound = TestData.random(count: 60_000, seed: 31)
        try outbound.write(to: URL(fileURLWithPath: directory + "/in"))
        let server = try TestSocket.udp()
        // -w 3: the reply must come within the linger even on a machine busy with other tests.
        let process = try tincan(["connect", "-u", "-w", "3", "127.0.0.1", String(server.port)], input: .file(directory + "/in"))
        let (datagram, port) = try await Blocking.run { try server.receiveDatagram() }
        #expect(datagram == outbound)
        let reply = TestData.random(count: 65_000, seed: 32)
        try server.sendDatagram(reply, port: port)
        #expect(try await process.waitForExit() == 0)
        #expect(process.stdout == reply)
    }

    @Test("listen -u keeps serving after its stdin ends")
    func listenerOutlivesInput() async throws {
        let process = try tincan(["listen", "-u", "-v", "127.0.0.1", "0"], input: .null)
        defer { process.kill() }
        let port = try await process.listeningPort()
        let client = try TestSocket.udp()
        try client.sendDatagram(Data("first".utf8), port: port)
        try await process.waitForStdout(count: 5)
        // Its stdin (/dev/null) has ended by now; UDP has no end, so it still serves.
        try await process.waitForStderr("end of input: nothing more will be sent")
        #expect(process.isRunning)
        try client.sendDatagram(Data("second".utf8), port: port)
        try await process.waitForStdout(count: 11)
        #expect(process.stdout.text == "firstsecond")
    }

    @Test("listen -u -k: stdin goes to every peer heard from")
    func keepOpen() async throws {
        let process = try tincan(["listen", "-u", "-k", "-v", "127.0.0.1", "0"])
        defer { process.kill() }
        let port = try await process.listeningPort()
        let a = try TestSocket.udp()
        let b = try TestSocket.udp()
        try a.sendDatagram(Data("a".utf8), port: port)
        try b.sendDatagram(Data("b".utf8), port: port)
        try await process.waitForStdout(count: 2)
        try process.write("all")
        #expect(try await Blocking.run { try a.receiveDatagram() }.0.text == "all")
        #expect(try await Blocking.run { try b.receiveDatagram() }.0.text == "all")
    }
}

func closedPortUDP() throws -> Int {
    let socket = try TestSocket.udp()
    let port = socket.port
    socket.close()
    return port
}
