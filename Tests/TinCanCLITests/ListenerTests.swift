import Foundation
import Testing
import TinCanTestSupport

@Suite(.timeLimit(.minutes(2))) struct KeepOpenTests {
    /// Connects `count` clients to a `tincan listen -k` and waits until tincan has accepted them all.
    func clients(_ count: Int, to process: TestProcess, port: Int) async throws -> [TestSocket] {
        var sockets: [TestSocket] = []
        for index in 1...count {
            sockets.append(try await Blocking.run { try TestSocket.connect(port: port) })
            try await process.waitForStderr("(\(index) connected)")
        }
        return sockets
    }

    @Test("-k: every client's bytes reach stdout, stdin reaches every client")
    func manyClients() async throws {
        let process = try tincan(["listen", "-k", "-v", "127.0.0.1", "0"])
        defer { process.kill() }
        let port = try await process.listeningPort()
        let sockets = try await self.clients(3, to: process, port: port)
        for (index, socket) in sockets.enumerated() { try socket.send("client\(index);") }
        try await process.waitForStdout(count: 24)
        for index in 0..<3 { #expect(process.stdout.text.contains("client\(index);")) }
        try process.write("to all")
        for socket in sockets { #expect(try await socket.receiveAsync(count: 6).text == "to all") }

        // One client leaving does not disturb the others.
        sockets[0].close()
        try await process.waitForStderr("closed connection with")
        try process.write("still here")
        for socket in sockets.dropFirst() { #expect(try await socket.receiveAsync(count: 10).text == "still here") }
        try sockets[1].send("after")
        try await process.waitForStdout(count: 29)
        #expect(process.stdout.text.hasSuffix("after"))
    }

    @Test("--broker: each client's bytes go to all the others, not back to itself")
    func broker() async throws {
        let process = try tincan(["listen", "--broker", "-v", "127.0.0.1", "0"], input: .null)
        defer { process.kill() }
        let port = try await process.listeningPort()
        let sockets = try await self.clients(3, to: process, port: port)
        try sockets[0].send("from A")
        #expect(try await sockets[1].receiveAsync(count: 6).text == "from A")
        #expect(try await sockets[2].receiveAsync(count: 6).text == "from A")
        try sockets[2].send("from C")
        #expect(try await sockets[0].receiveAsync(count: 6).text == "from C")
        #expect(try await sockets[1].receiveAsync(count: 6).text == "from C")
        // A got only C's message: its own never came back.
        sockets[0].setTimeout(0.3)
        #expect(throws: HarnessError.self) { try sockets[0].receiveSome() }
        try await process.waitForStdout(count: 12)
        #expect(process.stdout.text == "from Afrom C")
    }

    @Test("--broker: a client that stops reading is disconnected; the others get everything")
    func brokerDropsANonReader() async throws {
        let process = try tincan(["listen", "--broker", "--slow-client-timeout", "3", "-v", "127.0.0.1", "0"], input: .null, output: .file("/dev/null"))
        defer { process.kill() }
        let port = try await process.listeningPort()
        let sockets = try await self.clients(3, to: process, port: port)
        let (sender, reader, stalled) = (sockets[0], sockets[1], sockets[2])
        let data = TestData.random(count: 32 << 20, seed: 41)
        async let received = reader.receiveAsync(count: data.count)
        try await Blocking.run { try sender.send(data) }
        #expect(TestData.sha256(try await received) == TestData.sha256(data))
        try await process.waitForStderr("it is not reading")
        // The stalled client gets what was queued for it, then the end of the stream.
        stalled.setTimeout(5)
        var drained = 0
        while let chunk = try? stalled.receiveSome() { drained += chunk.count }
        #expect(drained < data.count)
    }

    @Test("--max-clients: a client over the limit is closed at once, the others stay")
    func maxClients() async throws {
        let process = try tincan(["listen", "-k", "--max-clients", "1", "-v", "127.0.0.1", "0"])
        defer { process.kill() }
        let port = try await process.listeningPort()
        let first = try await self.clients(1, to: process, port: port)[0]
        let second = try await Blocking.run { try TestSocket.connect(port: port) }
        #expect(try await second.receiveAllAsync().isEmpty)
        try await process.waitForStderr("--max-clients")
        try process.write("ok")
        #expect(try await first.receiveAsync(count: 2).text == "ok")
    }

    @Test("-k: when stdin ends, clients stay connected and can still send")
    func inputEndsClientsStay() async throws {
        let process = try tincan(["listen", "-k", "-v", "127.0.0.1", "0"])
        defer { process.kill() }
        let port = try await process.listeningPort()
        let socket = try await self.clients(1, to: process, port: port)[0]
        process.closeInput()
        try await process.waitForStderr("end of input")
        try socket.send("after stdin ended")
        try await process.waitForStdout(count: 17)
        #expect(process.isRunning)
    }

    @Test("-i without -k: exit 1 with one line once the connection idles")
    func idleTimeoutSingle() async throws {
        let (process, peer) = try await relaySession(.connect, ["-i", "0.3"])
        defer { peer.close() }
        #expect(try await process.waitForExit() == 1)
        #expect(process.stderr.hasSuffix("idle for 0.3 s, closed (--idle-timeout)\n"))
    }

    @Test("-i with -k closes only the idle connection")
    func idleTimeoutClosesOnlyTheIdle() async throws {
        let process = try tincan(["listen", "-k", "-i", "2", "-v", "127.0.0.1", "0"])
        defer { process.kill() }
        let port = try await process.listeningPort()
        let sockets = try await self.clients(2, to: process, port: port)
        let idle = sockets[0]
        let busy = sockets[1]
        let start = ContinuousClock.now
        // The busy client talks every 100 ms; the idle one says nothing and must be closed.
        async let idleEnded = idle.receiveAllAsync()
        // On a thread of its own: the cooperative pool can be held up for seconds by other suites'
        // CPU-heavy work, and a late send would make the busy client look idle.
        try await Blocking.run {
            for index in 0..<25 {
                try busy.send("\(index % 10)")
                // The pace is the behaviour under test: busy, but never idle for the limit.
                usleep(100_000)
            }
        }
        #expect(try await idleEnded.isEmpty)
        #expect(ContinuousClock.now - start >= .milliseconds(1900))
        try busy.send("!")
        try await process.waitForStdout(count: 26)
        #expect(process.stdout.text == "0123456789012345678901234!")
        try process.write("alive")
        #expect(try await busy.receiveAsync(count: 5).text == "alive")
    }
}

@Suite(.timeLimit(.minutes(2))) struct ExecTests {
    @Test("listen --exec 'tr a-z A-Z': the classic upper-casing server")
    func upperCasingServer() async throws {
        let process = try tincan(["listen", "-v", "127.0.0.1", "0", "--exec", "tr a-z A-Z"], input: .null)
        let port = try await process.listeningPort()
        let peer = try await Blocking.run { try TestSocket.connect(port: port) }
        try peer.send("hello, world\n")
        peer.shutdownWrite()
        #expect(try await peer.receiveAllAsync().text == "HELLO, WORLD\n")
        #expect(try await process.waitForExit() == 0)
        #expect(process.stdout.isEmpty)
    }

    @Test("listen -k --exec serves several clients, each with its own process")
    func keepOpenExec() async throws {
        let process = try tincan(["listen", "-k", "-v", "127.0.0.1", "0", "--exec", "echo \"$NCAT_REMOTE_PORT\"; cat"], input: .null)
        defer { process.kill() }
        let port = try await process.listeningPort()
        for _ in 0..<3 {
            let peer = try await Blocking.run { try TestSocket.connect(port: port) }
            try peer.send("x")
            peer.shutdownWrite()
            let reply = try await peer.receiveAllAsync().text
            #expect(reply == "\(peer.port)\nx")
        }
    }

    @Test("--exec children inherit no sockets: once tincan is gone, its port is closed")
    func childrenInheritNoSockets() async throws {
        let process = try tincan(["listen", "-k", "-v", "127.0.0.1", "0", "--exec", "sleep 3"], input: .null)
        defer { process.kill() }
        let port = try await process.listeningPort()
        let peer = try await Blocking.run { try TestSocket.connect(port: port) }
        defer { peer.close() }
        try await process.waitForStderr("started 'sleep 3'")
        process.kill(SIGKILL)
        // Not waitForExit: `sleep` holds tincan's stderr (by design), so that would wait for it too.
        try await process.waitUntilExited()
        // Had `sleep` inherited the listening socket, this connection would land in its backlog.
        #expect(throws: HarnessError.self) { try TestSocket.connect(port: port) }
    }

    @Test("connect --exec joins the connection to the command")
    func connectExec() async throws {
        let server = try TestSocket.listen()
        let process = try tincan(["connect", "127.0.0.1", String(server.port), "--exec", "printf 'from child'"])
        let peer = try await Blocking.run { try server.accept() }
        #expect(try await peer.receiveAllAsync().text == "from child")
        peer.close()
        #expect(try await process.waitForExit() == 0)
    }
}

@Suite(.timeLimit(.minutes(2))) struct ErrorMessageTests {
    @Test("connection refused")
    func refused() async throws {
        let port = try closedPort()
        let process = try tincan(["connect", "127.0.0.1", String(port)], input: .null)
        #expect(try await process.waitForExit() == 1)
        #expect(process.stderr == "tincan: connect to 127.0.0.1:\(port): connection refused\n")
    }

    @Test("-w times out against a listener that never accepts")
    func connectTimeout() async throws {
        // Backlog 0 holds one connection; once it is taken, the kernel drops further SYNs.
        let blackhole = try TestSocket.listen(backlog: 0)
        let filler = try TestSocket.connect(port: blackhole.port)
        defer { filler.close() }
        let start = ContinuousClock.now
        let process = try tincan(["connect", "-w", "1", "127.0.0.1", String(blackhole.port)], input: .null)
        #expect(try await process.waitForExit() == 1)
        #expect(process.stderr == "tincan: connect to 127.0.0.1:\(blackhole.port): timed out after 1 s\n")
        #expect(ContinuousClock.now - start >= .milliseconds(900))
    }

    @Test("unknown host")
    func unknownHost() async throws {
        let process = try tincan(["connect", "no-such-host.invalid", "80"], input: .null)
        #expect(try await process.waitForExit() == 1)
        #expect(process.stderr.hasPrefix("tincan: resolve no-such-host.invalid: "))
        #expect(process.stderr.split(separator: "\n").count == 1)
    }

    @Test("address in use")
    func addressInUse() async throws {
        let taken = try TestSocket.listen()
        let process = try tincan(["listen", "127.0.0.1", String(taken.port)], input: .null)
        #expect(try await process.waitForExit() == 1)
        #expect(process.stderr == "tincan: listen on 127.0.0.1:\(taken.port): address already in use\n")
    }

    @Test(
        "permission denied for a privileged port as an ordinary user",
        .enabled(if: getuid() != 0 || Programs.available("setpriv"))
    )
    func permissionDenied() async throws {
        var command = [Programs.tincan, "listen", "127.0.0.1", "1"]
        if getuid() == 0 {
            // Root binds anything: drop to nobody for the attempt.
            let setpriv = try Programs.require("setpriv")
            command = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"] + command
        }
        let process = try TestProcess(command[0], Array(command.dropFirst()), input: .null)
        #expect(try await process.waitForExit() == 1)
        #expect(process.stderr == "tincan: listen on 127.0.0.1:1: permission denied\n")
    }

    @Test(
        "network unreachable, in a network namespace with only loopback",
        .enabled(if: Programs.inCI || (getuid() == 0 && Programs.available("ip")))
    )
    func unreachable() async throws {
        // Only root makes network namespaces; CI runs as root and must run this test.
        guard getuid() == 0 else { throw HarnessError("needs root for 'ip netns add'") }
        let ip = try Programs.require("ip")
        let namespace = "tincan-test-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        let add = try TestProcess(ip, ["netns", "add", namespace], input: .null)
        guard try await add.waitForExit() == 0 else {
            Issue.record("ip netns add failed: \(add.stderr)")
            return
        }
        _ = try await TestProcess(ip, ["-n", namespace, "link", "set", "lo", "up"], input: .null).waitForExit()
        let process = try TestProcess(ip, ["netns", "exec", namespace, Programs.tincan, "connect", "192.0.2.1", "80"], input: .null)
        let status = try await process.waitForExit()
        // Delete the namespace before judging, so a failure does not leave it behind.
        #expect(try await TestProcess(ip, ["netns", "delete", namespace], input: .null).waitForExit() == 0)
        #expect(status == 1)
        #expect(process.stderr == "tincan: connect to 192.0.2.1:80: network unreachable\n")
    }

    @Test("usage errors exit with the parser's status and say what is wrong", arguments: [
        (["connect", "localhost"], "missing PORT"),
        (["connect", "host", "70000"], "invalid port '70000'"),
        (["connect", "-4", "-6", "h", "1"], "-4 and -6 cannot be used together"),
        (["connect", "-z", "-u", "h", "1"], "-z checks TCP ports only"),
        (["listen", "--broker", "--exec", "cat", "1"], "--broker and --exec"),
        (["connect", "--send", "a", "--send-file", "b", "h", "1"], "--send and --send-file"),
        (["connect", "-w", "0", "h", "1"], "--wait takes a number of seconds"),
        (["listen", "--max-clients", "0", "1"], "--max-clients must be at least 1"),
        (["listen", "-k", "--send", "x", "1"], "cannot be used with -k"),
    ])
    func usage(arguments: [String], message: String) async throws {
        let process = try tincan(arguments, input: .null)
        #expect(try await process.waitForExit() == 64)
        #expect(process.stderr.contains(message))
    }
}

@Suite(.timeLimit(.minutes(2))) struct ListenSocketTests {
    @Test("--backlog reaches listen(2): ss shows it as the listening socket's Send-Q", .enabled(if: Programs.available("ss")))
    func backlog() async throws {
        let ss = try Programs.require("ss")
        let process = try tincan(["listen", "-v", "--backlog", "7", "127.0.0.1", "0"], input: .null)
        defer { process.kill() }
        let port = try await process.listeningPort()
        let query = try TestProcess(ss, ["-Hltn", "sport = :\(port)"], input: .null)
        #expect(try await query.waitForExit() == 0)
        let fields = query.stdout.text.split(separator: " ", omittingEmptySubsequences: true)
        #expect(fields.count >= 3 && fields[2] == "7", "ss printed: \(query.stdout.text)")
    }
}
