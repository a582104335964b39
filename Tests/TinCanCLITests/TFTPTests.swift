import Foundation
import Testing
import TinCanTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A directory with test files, removed at the end.
struct TFTPFiles {
    let directory: String

    init() throws {
        self.directory = try TestData.temporaryDirectory()
        // in.tftpd drops to nobody; let it read and write here.
        chmod(self.directory, 0o777)
    }

    func path(_ name: String) -> String { self.directory + "/" + name }

    @discardableResult
    func write(_ name: String, count: Int, seed: UInt64 = 1) throws -> Data {
        let data = TestData.random(count: count, seed: seed)
        try data.write(to: URL(fileURLWithPath: self.path(name)))
        chmod(self.path(name), 0o666)
        return data
    }

    func read(_ name: String) -> Data? { FileManager.default.contents(atPath: self.path(name)) }

    func names() -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: self.directory)) ?? [] }

    func remove() { try? FileManager.default.removeItem(atPath: self.directory) }
}

/// A UDP port nothing is bound to now.
func freeUDPPort() throws -> Int {
    let socket = try TestSocket.udp()
    let port = socket.port
    socket.close()
    return port
}

/// `tincan tftp serve` on 127.0.0.1, port 0.
func tftpServer(root: String, _ extra: [String] = []) async throws -> (TestProcess, Int) {
    let server = try tincan(["tftp", "serve", "--root", root, "--host", "127.0.0.1", "--port", "0"] + extra, input: .null)
    let port = try await server.listeningPort()
    return (server, port)
}

/// tftp-hpa's server in the foreground on 127.0.0.1, once it answers. Tests that call it are
/// `.enabled(if: Programs.available("in.tftpd"))`.
func hpaServer(root: String) async throws -> (TestProcess, Int) {
    let tftpd = try Programs.require("in.tftpd")
    for _ in 0..<5 {
        let port = try freeUDPPort()
        var arguments = ["-L", "-a", "127.0.0.1:\(port)", "-s", root, "-c", "-p"]
        if getuid() == 0 { arguments += ["-u", "nobody"] }
        let server = try TestProcess(tftpd, arguments, input: .null)
        if try await answers(port: port, while: server) { return (server, port) }
        server.kill()
    }
    throw HarnessError("in.tftpd did not start")
}

/// Whether a TFTP server on `port` answers a request (any answer: the probe's file does not
/// exist) before `server` exits or 10 s pass.
func answers(port: Int, while server: TestProcess) async throws -> Bool {
    let probe = try TestSocket.udp()
    defer { probe.close() }
    probe.setTimeout(0.1)
    var request = Data([0, 1])
    request.append(contentsOf: Array("tincan-probe".utf8) + [0] + Array("octet".utf8) + [0])
    for _ in 0..<100 {
        guard server.isRunning else { return false }
        // A request sent before the socket was bound is lost: ask again after each receive timeout.
        try probe.sendDatagram(request, port: port)
        let answered = try await Blocking.run { () -> Bool in
            do {
                _ = try probe.receiveDatagram()
                return true
            } catch {
                return false
            }
        }
        if answered { return true }
    }
    return false
}

@Suite(.timeLimit(.minutes(4))) struct TFTPInteropTests {
    static let sizes = [0, 1, 511, 512, 513, 1024]

    @Test(
        "tincan tftp serve with curl and tftp-hpa, read and write, checked by SHA-256",
        .enabled(if: Programs.available("curl", "tftp")),
        arguments: sizes
    )
    func serverWithPeers(size: Int) async throws {
        let curl = try Programs.require("curl")
        let tftp = try Programs.require("tftp")
        let files = try TFTPFiles()
        defer { files.remove() }
        let data = try files.write("file.bin", count: size, seed: UInt64(size) + 1)
        let (server, port) = try await tftpServer(root: files.directory, ["--create"])
        defer { server.kill() }
        let local = try TFTPFiles()
        defer { local.remove() }
        try data.write(to: URL(fileURLWithPath: local.path("up.bin")))

        for blksize in ["512", "1428"] {
            let get = try TestProcess(curl, ["-sS", "--tftp-blksize", blksize, "-o", local.path("curl-\(blksize)"), "tftp://127.0.0.1:\(port)/file.bin"])
            #expect(try await get.waitForExit() == 0, "\(get.stderr)")
            #expect(local.read("curl-\(blksize)").map(TestData.sha256) == TestData.sha256(data), "curl get, blksize \(blksize)")

            let put = try TestProcess(curl, ["-sS", "--tftp-blksize", blksize, "-T", local.path("up.bin"), "tftp://127.0.0.1:\(port)/curl-up-\(blksize)"])
            #expect(try await put.waitForExit() == 0, "\(put.stderr)")
            #expect(files.read("curl-up-\(blksize)").map(TestData.sha256) == TestData.sha256(data), "curl put, blksize \(blksize)")
        }
        let get = try TestProcess(tftp, ["-m", "binary", "127.0.0.1", String(port), "-c", "get", "file.bin", local.path("hpa")])
        #expect(try await get.waitForExit() == 0, "\(get.stderr)")
        #expect(local.read("hpa").map(TestData.sha256) == TestData.sha256(data), "tftp-hpa get")
        let put = try TestProcess(tftp, ["-m", "binary", "127.0.0.1", String(port), "-c", "put", local.path("up.bin"), "hpa-up"])
        #expect(try await put.waitForExit() == 0, "\(put.stderr)")
        #expect(files.read("hpa-up").map(TestData.sha256) == TestData.sha256(data), "tftp-hpa put")
        // One log line per transfer, and no temporary files left.
        // (The line is written just after the client has its answer.)
        let log = try await server.waitForStderr(occurrences: 6, of: ", ok\n")
        #expect(log.components(separatedBy: ", ok\n").count - 1 == 6, "\(log)")
        #expect(files.names().filter { $0.hasPrefix(".") }.isEmpty)
    }

    @Test(
        "tincan tftp get and put against tftp-hpa's in.tftpd, checked by SHA-256",
        .enabled(if: Programs.available("in.tftpd")),
        arguments: sizes
    )
    func clientWithHpa(size: Int) async throws {
        let files = try TFTPFiles()
        defer { files.remove() }
        let data = try files.write("file.bin", count: size, seed: UInt64(size) + 2)
        let (server, port) = try await hpaServer(root: files.directory)
        defer { server.kill() }
        let local = try TFTPFiles()
        defer { local.remove() }
        try data.write(to: URL(fileURLWithPath: local.path("up.bin")))

        // in.tftpd ignores windowsize: the OACK without it means lock-step.
        for (index, options) in [[], ["--blksize", "1428"], ["--blksize", "1428", "--windowsize", "16"]].enumerated() {
            let get = try tincan(["tftp", "get"] + options + ["127.0.0.1:\(port)", "file.bin", local.path("got\(index)")], input: .null)
            #expect(try await get.waitForExit() == 0, "\(get.stderr)")
            #expect(local.read("got\(index)").map(TestData.sha256) == TestData.sha256(data), "get \(options)")
            let put = try tincan(["tftp", "put"] + options + ["127.0.0.1:\(port)", local.path("up.bin"), "up\(index)"], input: .null)
            #expect(try await put.waitForExit() == 0, "\(put.stderr)")
            #expect(files.read("up\(index)").map(TestData.sha256) == TestData.sha256(data), "put \(options)")
        }
    }

    @Test(
        "above 32 MiB at blksize 512 (block numbers roll over): curl from tincan, tincan from in.tftpd",
        .enabled(if: Programs.available("curl", "in.tftpd"))
    )
    func rollover() async throws {
        let curl = try Programs.require("curl")
        let files = try TFTPFiles()
        defer { files.remove() }
        // Big data is made off the cooperative pool, which other suites' timers depend on.
        let data = try await Blocking.run { try files.write("big.bin", count: (32 << 20) + 1000, seed: 77) }
        let local = try TFTPFiles()
        defer { local.remove() }

        let (server, port) = try await tftpServer(root: files.directory)
        defer { server.kill() }
        let get = try TestProcess(curl, ["-sS", "--tftp-blksize", "512", "-o", local.path("curl"), "tftp://127.0.0.1:\(port)/big.bin"])
        #expect(try await get.waitForExit(timeout: 120) == 0, "\(get.stderr)")
        #expect(local.read("curl").map(TestData.sha256) == TestData.sha256(data))

        let (hpa, hpaPort) = try await hpaServer(root: files.directory)
        defer { hpa.kill() }
        let client = try tincan(["tftp", "get", "127.0.0.1:\(hpaPort)", "big.bin", local.path("tincan")], input: .null)
        #expect(try await client.waitForExit(timeout: 120) == 0, "\(client.stderr)")
        #expect(local.read("tincan").map(TestData.sha256) == TestData.sha256(data))
    }
}

@Suite(.timeLimit(.minutes(2))) struct TFTPCommandTests {
    @Test("a failed get exits 1 with the server's error, and leaves no file behind")
    func failedGet() async throws {
        let files = try TFTPFiles()
        defer { files.remove() }
        let (server, port) = try await tftpServer(root: files.directory)
        defer { server.kill() }
        let local = try TFTPFiles()
        defer { local.remove() }
        let get = try tincan(["tftp", "get", "127.0.0.1:\(port)", "nope.bin", local.path("nope.bin")], input: .null)
        #expect(try await get.waitForExit() == 1)
        #expect(get.stderr == "tincan: get nope.bin from 127.0.0.1:\(port): server error 1 (file not found): 'nope.bin' not found\n")
        #expect(local.names().isEmpty)

        let escape = try tincan(["tftp", "get", "127.0.0.1:\(port)", "../../etc/passwd", local.path("x")], input: .null)
        #expect(try await escape.waitForExit() == 1)
        #expect(escape.stderr.contains("server error 2 (access violation)"), "\(escape.stderr)")
        #expect(local.names().isEmpty)
    }

    @Test("uploads are refused unless enabled; the error reaches the client")
    func readOnly() async throws {
        let files = try TFTPFiles()
        defer { files.remove() }
        let local = try TFTPFiles()
        defer { local.remove() }
        try local.write("a", count: 100)
        let (server, port) = try await tftpServer(root: files.directory)
        defer { server.kill() }
        let put = try tincan(["tftp", "put", "127.0.0.1:\(port)", local.path("a")], input: .null)
        #expect(try await put.waitForExit() == 1)
        #expect(put.stderr.contains("server error 2 (access violation): uploads are not enabled"), "\(put.stderr)")
        #expect(files.names().isEmpty)
    }

    @Test("--max-file-size: a put announced too big gets ERROR 3 before any data moves")
    func maxFileSize() async throws {
        let files = try TFTPFiles()
        defer { files.remove() }
        let local = try TFTPFiles()
        defer { local.remove() }
        try local.write("a", count: 5000)
        let (server, port) = try await tftpServer(root: files.directory, ["--create", "--max-file-size", "4K"])
        defer { server.kill() }
        let put = try tincan(["tftp", "put", "127.0.0.1:\(port)", local.path("a")], input: .null)
        #expect(try await put.waitForExit() == 1)
        #expect(put.stderr.contains("server error 3 (disk full or allocation exceeded)"), "\(put.stderr)")
        // Without tsize the limit is met while writing, and the partial upload is thrown away.
        let blind = try tincan(["tftp", "put", "--no-tsize", "127.0.0.1:\(port)", local.path("a")], input: .null)
        #expect(try await blind.waitForExit() == 1)
        #expect(blind.stderr.contains("server error 3"), "\(blind.stderr)")
        // The server sends ERROR 3, then throws the partial upload away on its file thread: the
        // client may see the error first (a CI run did), so wait a bounded time for the removal.
        let deadline = ContinuousClock.now + .seconds(10)
        while !files.names().isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(files.names().isEmpty)
    }

    @Test("a silent server: timed out after N retries (at least --retries, and at least 5 s), exit 1, no file")
    func timeout() async throws {
        let silent = try TestSocket.udp()
        defer { silent.close() }
        let local = try TFTPFiles()
        defer { local.remove() }
        let get = try tincan(["tftp", "get", "--retries", "1", "127.0.0.1:\(silent.port)", "f", local.path("f")], input: .null)
        #expect(try await get.waitForExit() == 1)
        #expect(get.stderr == "tincan: get f from 127.0.0.1:\(silent.port): timed out after 2 retries\n")
        #expect(local.names().isEmpty)
    }

    @Test("'-' reads standard input and writes standard output; -v prints a summary")
    func standardStreams() async throws {
        let files = try TFTPFiles()
        defer { files.remove() }
        let data = TestData.random(count: 70_000, seed: 4)
        let input = try TFTPFiles()
        defer { input.remove() }
        try data.write(to: URL(fileURLWithPath: input.path("in")))
        let (server, port) = try await tftpServer(root: files.directory, ["--create"])
        defer { server.kill() }
        let put = try tincan(["tftp", "put", "-v", "127.0.0.1:\(port)", "-", "piped.bin"], input: .file(input.path("in")))
        #expect(try await put.waitForExit() == 0, "\(put.stderr)")
        #expect(put.stderr.hasPrefix("tincan: put 'piped.bin' to 127.0.0.1:"), "\(put.stderr)")
        #expect(put.stderr.contains("sent 70000 bytes"), "\(put.stderr)")
        let get = try tincan(["tftp", "get", "--blksize", "1000", "127.0.0.1:\(port)", "piped.bin", "-"], input: .null)
        #expect(try await get.waitForExit() == 0, "\(get.stderr)")
        #expect(TestData.sha256(get.stdout) == TestData.sha256(data))
    }

    @Test("a progress bar on a terminal (a pty from script(1)) ending at 100% of the tsize total; silence elsewhere")
    func progressBar() async throws {
        let files = try TFTPFiles()
        defer { files.remove() }
        let data = try files.write("f", count: 300_000, seed: 12)
        let local = try TFTPFiles()
        defer { local.remove() }
        let (server, port) = try await tftpServer(root: files.directory)
        defer { server.kill() }
        // script(1) runs the client with a pseudo-terminal as its stdin, stdout and stderr, and copies
        // what the terminal shows to its own stdout.
        let command = "\(Programs.tincan) tftp get 127.0.0.1:\(port) f \(local.path("tty.bin"))"
        let onTerminal = try TestProcess("/usr/bin/script", ["-qec", command, "/dev/null"], input: .null)
        #expect(try await onTerminal.waitForExit() == 0, "\(onTerminal.stdout)")
        #expect(local.read("tty.bin") == data)
        let screen = String(decoding: onTerminal.stdout, as: UTF8.self)
        #expect(screen.contains("[########################] 100% 293.0 KiB of 293.0 KiB"), "\(screen)")
        #expect(screen.contains("/s"), "\(screen)")
        #expect(screen.hasSuffix("\r\n"), "the bar's line is ended: \(screen.debugDescription)")

        let piped = try tincan(["tftp", "get", "127.0.0.1:\(port)", "f", local.path("piped.bin")], input: .null)
        #expect(try await piped.waitForExit() == 0)
        #expect(piped.stderr.isEmpty, "no bar when stderr is not a terminal: \(piped.stderr)")
        #expect(local.read("piped.bin") == data)
    }

    @Test("a get into a FIFO (or a device such as /dev/null) writes through it and never replaces it")
    func nonRegularTarget() async throws {
        let files = try TFTPFiles()
        defer { files.remove() }
        let data = try files.write("f", count: 3000, seed: 8)
        let local = try TFTPFiles()
        defer { local.remove() }
        let fifo = local.path("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let reader = try TestProcess("/bin/cat", [fifo], input: .null)
        defer { reader.kill() }
        let (server, port) = try await tftpServer(root: files.directory)
        defer { server.kill() }
        let get = try tincan(["tftp", "get", "127.0.0.1:\(port)", "f", fifo], input: .null)
        #expect(try await get.waitForExit() == 0, "\(get.stderr)")
        #expect(try await reader.waitForExit() == 0)
        #expect(reader.stdout == data)
        var info = stat()
        #expect(stat(fifo, &info) == 0 && (info.st_mode & S_IFMT) == S_IFIFO)
        #expect(local.names() == ["fifo"])
    }

    @Test("IPv6: a server on ::1 and a client reaching it as [::1]:PORT, both directions")
    func ipv6() async throws {
        let files = try TFTPFiles()
        defer { files.remove() }
        let data = try files.write("six", count: 5000, seed: 6)
        let local = try TFTPFiles()
        defer { local.remove() }
        let server = try tincan(["tftp", "serve", "--root", files.directory, "--host", "::1", "--port", "0", "--create"], input: .null)
        defer { server.kill() }
        let port = try await server.listeningPort()
        let get = try tincan(["tftp", "get", "--windowsize", "4", "[::1]:\(port)", "six", local.path("six")], input: .null)
        #expect(try await get.waitForExit() == 0, "\(get.stderr)")
        #expect(local.read("six") == data)
        let put = try tincan(["tftp", "put", "-6", "[::1]:\(port)", local.path("six"), "back"], input: .null)
        #expect(try await put.waitForExit() == 0, "\(put.stderr)")
        #expect(files.read("back") == data)
    }

    @Test("usage errors name the problem", arguments: [
        (["tftp", "serve"], "Missing expected argument '--root <root>'"),
        (["tftp", "get", "h", "f", "--blksize", "7"], "--blksize takes a size from 8 to 65464"),
        (["tftp", "put", "h", "-"], "reading standard input needs REMOTE"),
        (["tftp", "serve", "--root", "/", "--port-range", "9:1"], "--port-range takes LOW:HIGH"),
        (["tftp", "get", "h", "f", "--mode", "mail"], "--mode takes octet or netascii"),
    ])
    func usage(arguments: [String], message: String) async throws {
        let process = try tincan(arguments, input: .null)
        #expect(try await process.waitForExit() == 64)
        #expect(process.stderr.contains(message), "\(process.stderr)")
    }

    @Test("a root that does not exist is one clear error")
    func missingRoot() async throws {
        let process = try tincan(["tftp", "serve", "--root", "/nonexistent/tincan", "--port", "0"], input: .null)
        #expect(try await process.waitForExit() == 1)
        #expect(process.stderr.hasPrefix("tincan: tftp serve --root /nonexistent/tincan: "), "\(process.stderr)")
        #expect(process.stderr.split(separator: "\n").count == 1)
    }
}

/// A network namespace with only loopback, where iptables drops a share of UDP packets at random
/// (netem is not available on this kernel). Deleted at the end.
struct LossyNamespace {
    let name: String
    let ip: String

    /// Whether the loss tests can run, for `.enabled(if:)`: as root with `ip` and `iptables`, and
    /// always in CI, where ``make(loss:)`` then fails instead of the tests showing as skipped.
    static var canRun: Bool {
        Programs.inCI || (getuid() == 0 && Programs.available("ip", "iptables"))
    }

    /// Throws when not root (CI runs as root and must run the loss tests) or a tool is missing.
    static func make(loss: Double) async throws -> LossyNamespace {
        guard getuid() == 0 else { throw HarnessError("the loss tests need root (CI runs as root)") }
        let ip = try Programs.require("ip")
        let iptables = try Programs.require("iptables")
        let name = "tincan-loss-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        let add = try TestProcess(ip, ["netns", "add", name], input: .null)
        guard try await add.waitForExit() == 0 else { throw HarnessError("ip netns add: \(add.stderr)") }
        let namespace = LossyNamespace(name: name, ip: ip)
        do {
            try await namespace.run(ip, ["-n", name, "link", "set", "lo", "up"])
            try await namespace.run(ip, ["netns", "exec", name, iptables, "-A", "INPUT", "-p", "udp", "-m", "statistic",
                                         "--mode", "random", "--probability", String(loss), "-j", "DROP"])
        } catch {
            await namespace.delete()
            throw error
        }
        return namespace
    }

    private func run(_ program: String, _ arguments: [String]) async throws {
        let process = try TestProcess(program, arguments, input: .null)
        guard try await process.waitForExit() == 0 else {
            throw HarnessError("\(([program] + arguments).joined(separator: " ")): \(process.stderr)")
        }
    }

    /// `tincan ARGUMENTS` inside the namespace.
    func tincan(_ arguments: [String]) throws -> TestProcess {
        try TestProcess(self.ip, ["netns", "exec", self.name, Programs.tincan] + arguments, input: .null)
    }

    func delete() async {
        _ = try? await TestProcess(self.ip, ["netns", "delete", self.name], input: .null).waitForExit()
    }
}

extension HeavyTests {
@Suite(.timeLimit(.minutes(6)), .serialized) struct TFTPLossTests {
    @Test(
        "5% of UDP packets dropped: 20 transfers of 8 MiB with windowsize 16 all arrive intact",
        .enabled(if: LossyNamespace.canRun)
    )
    func fivePercent() async throws {
        let namespace = try await LossyNamespace.make(loss: 0.05)
        let files = try TFTPFiles()
        defer { files.remove() }
        let data = try await Blocking.run { try files.write("8m.bin", count: 8 << 20, seed: 5) }
        let local = try TFTPFiles()
        defer { local.remove() }
        let server = try namespace.tincan(["tftp", "serve", "--root", files.directory, "--host", "127.0.0.1", "--port", "0"])
        defer { server.kill() }
        do {
            let port = try await server.listeningPort()
            // Four at a time, five rounds.
            for round in 0..<5 {
                var clients: [(Int, TestProcess)] = []
                for slot in 0..<4 {
                    let index = round * 4 + slot
                    clients.append((index, try namespace.tincan(["tftp", "get", "--windowsize", "16", "127.0.0.1:\(port)", "8m.bin", local.path("got\(index)")])))
                }
                for (index, client) in clients {
                    #expect(try await client.waitForExit(timeout: 120) == 0, "transfer \(index): \(client.stderr.suffix(6000))\nserver: \(server.stderr.suffix(3000))")
                    #expect(local.read("got\(index)").map(TestData.sha256) == TestData.sha256(data), "transfer \(index)")
                }
            }
        } catch {
            await namespace.delete()
            throw error
        }
        server.kill()
        await namespace.delete()
        // The server logs what the loss cost.
        #expect(server.stderr.contains("resent"), "\(server.stderr)")
    }

    @Test("20% of UDP packets dropped: a download and an upload still complete", .enabled(if: LossyNamespace.canRun))
    func twentyPercent() async throws {
        let namespace = try await LossyNamespace.make(loss: 0.20)
        let files = try TFTPFiles()
        defer { files.remove() }
        let data = try files.write("1m.bin", count: 1 << 20, seed: 20)
        let local = try TFTPFiles()
        defer { local.remove() }
        try data.write(to: URL(fileURLWithPath: local.path("up.bin")))
        let server = try namespace.tincan(["tftp", "serve", "--root", files.directory, "--host", "127.0.0.1", "--port", "0", "--create"])
        defer { server.kill() }
        do {
            let port = try await server.listeningPort()
            let get = try namespace.tincan(["tftp", "get", "--windowsize", "16", "--blksize", "1428", "127.0.0.1:\(port)", "1m.bin", local.path("got")])
            #expect(try await get.waitForExit(timeout: 200) == 0, "\(get.stderr)")
            #expect(local.read("got").map(TestData.sha256) == TestData.sha256(data))
            let put = try namespace.tincan(["tftp", "put", "--windowsize", "16", "--blksize", "1428", "127.0.0.1:\(port)", local.path("up.bin"), "up.bin"])
            #expect(try await put.waitForExit(timeout: 200) == 0, "\(put.stderr)")
            #expect(files.read("up.bin").map(TestData.sha256) == TestData.sha256(data))
        } catch {
            await namespace.delete()
            throw error
        }
        server.kill()
        await namespace.delete()
    }
}
}
