import Foundation
import Synchronization
import Testing
import TinCanTestSupport

/// `tincan chat serve` on 127.0.0.1, port 0, with a store that keeps nothing unless `extra` names
/// a `--db`.
/// The HTTP port of a `chat serve --http-port 0 --host 127.0.0.1`, from its log.
func chatHTTPPort(_ server: TestProcess) async throws -> Int {
    let log = try await server.waitForStderr("(http: websocket /socket, files)")
    let line = try #require(log.split(separator: "\n").first { $0.hasSuffix("(http: websocket /socket, files)") })
    return try #require(line.split(separator: " ").first { $0.hasPrefix("127.0.0.1:") }.flatMap { Int($0.split(separator: ":").last!) })
}

func chatServer(_ extra: [String] = []) async throws -> (TestProcess, Int) {
    let store = extra.contains("--db") ? [] : ["--db", ":memory:"]
    let server = try tincan(["chat", "serve", "--host", "127.0.0.1", "--port", "0"] + store + extra, input: .null)
    let port = try await server.listeningPort()
    return (server, port)
}

@Suite(.timeLimit(.minutes(2))) struct ChatInteropTests {
    /// The repository's scripts/interop directory.
    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/interop").path

    /// Whether python3 with the PyPI `irc` library is here (always true in CI, where a missing
    /// one fails the test).
    static let ircLibraryAvailable = Programs.inCI || Programs.pythonImports("irc.client")

    @Test(
        "two users of the Python irc library: register, lobby, private, AWAY, MONITOR, CTCP DCC, QUIT",
        .enabled(if: ChatInteropTests.ircLibraryAvailable, "python3 with the PyPI irc library")
    )
    func ircLibrary() async throws {
        let python = try Programs.require("python3")
        let probe = try TestProcess(python, ["-c", "import irc.client"], input: .null)
        guard try await probe.waitForExit() == 0 else {
            throw HarnessError("the PyPI package irc is not installed (scripts/test installs it)")
        }
        let motd = try TestData.temporaryDirectory() + "/motd.txt"
        try "Welcome to the test server.\nBe nice.\n".write(toFile: motd, atomically: true, encoding: .utf8)
        let (server, port) = try await chatServer(["--motd", motd])
        defer { server.kill() }
        let result = try await IRCPeerResult.run(python, script: "irc_two_users.py", port: port)
        let events = result.events, arguments = IRCPeerResult.arguments
        #expect(arguments(events("alice", "welcome").first) == ["Welcome to the tincan IRC network, alice!~alice@127.0.0.1"])
        #expect(events("alice", "motd").map(arguments) == [["- Welcome to the test server."], ["- Be nice."]])
        #expect(events("alice", "join").compactMap { $0["source"] as? String } == ["alice!~alice@127.0.0.1", "bob!~bob@127.0.0.1"])
        #expect(events("bob", "pubmsg").map(arguments) == [["hello lobby"]])
        #expect(events("bob", "pubmsg").first?["source"] as? String == "alice!~alice@127.0.0.1")
        #expect(events("bob", "privmsg").map(arguments) == [["just for bob"], ["are you there?"]])
        #expect(events("alice", "privmsg").isEmpty)
        #expect(arguments(events("alice", "away").first) == ["bob", "gone fishing"])
        #expect(events("alice", "730").map(arguments) == [["bob!~bob@127.0.0.1"]])
        #expect(events("bob", "ctcp").map(arguments) == [["DCC", "SEND notes.txt 2130706433 5000 12"]])
        #expect(events("alice", "quit").map(arguments) == [["Quit: bye"]])
        #expect(events("alice", "731").map(arguments) == [["bob"]])
    }
}

/// What a Python peer script of scripts/interop saw, per user: the irc library's events as JSON.
struct IRCPeerResult {
    let json: [String: Any]

    /// Runs the script against the server on `port`; it must exit 0 and say it completed.
    static func run(_ python: String, script: String, port: Int) async throws -> IRCPeerResult {
        let peer = try TestProcess(python, [ChatInteropTests.scripts + "/" + script, String(port)], input: .null)
        #expect(try await peer.waitForExit(timeout: 60) == 0, "\(peer.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: peer.stdout) as? [String: Any])
        #expect(json["completed"] as? Bool == true, "\(json)")
        return IRCPeerResult(json: json)
    }

    /// The user's events of one type, in order.
    func events(_ user: String, _ type: String) -> [[String: Any]] {
        (self.json[user] as? [[String: Any]] ?? []).filter { $0["type"] as? String == type }
    }

    static func arguments(_ event: [String: Any]?) -> [String] { event?["arguments"] as? [String] ?? [] }
}

/// Polls `condition` every 20 ms for up to 10 s.
func eventually(_ what: String, _ condition: () -> Bool) async throws {
    for _ in 0..<500 {
        if condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw HarnessError("timed out waiting for \(what)")
}

@Suite(.timeLimit(.minutes(2))) struct ChatTLSTests {
    @Test("TLS on a second port: an openssl s_client user and a plain user share the lobby, both ways", .enabled(if: Programs.available("openssl")))
    func tls() async throws {
        let openssl = try Programs.require("openssl")
        let (cert, key) = try await TestData.localhostCertificate()
        let server = try tincan(["chat", "serve", "--host", "127.0.0.1", "--port", "0", "--tls-port", "0", "--cert", cert, "--key", key, "--db", ":memory:"], input: .null)
        defer { server.kill() }
        let plainPort = try await server.listeningPort()
        let log = try await server.waitForStderr("(irc over tls)")
        let tlsLine = try #require(log.split(separator: "\n").first { $0.hasSuffix("(irc over tls)") })
        let tlsPort = try #require(Int(tlsLine.split(separator: " ").dropLast(3).last!.split(separator: ":").last!))

        let plain = try TestSocket.connect(port: plainPort)
        plain.setTimeout(10)
        try plain.send("NICK plain\r\nUSER plain 0 * :Plain\r\n")
        let plainSeen = Mutex("")
        @Sendable func plainRead(until text: String) throws {
            while !plainSeen.withLock({ $0.contains(text) }) {
                guard let chunk = try plain.receiveSome() else { throw HarnessError("plain client closed; saw \(plainSeen.withLock { $0 })") }
                plainSeen.withLock { $0 += String(decoding: chunk, as: UTF8.self) }
            }
        }
        try await Blocking.run { try plainRead(until: " 366 plain ") }

        let secure = try TestProcess(openssl, ["s_client", "-connect", "127.0.0.1:\(tlsPort)", "-quiet", "-nocommands"], input: .pipe)
        defer { secure.kill() }
        try secure.write("NICK secure\r\nUSER secure 0 * :Secure\r\n")
        try await eventually("the TLS client's welcome") { String(decoding: secure.stdout, as: UTF8.self).contains(" 366 secure #lobby ") }
        try await Blocking.run { try plainRead(until: ":secure!~secure@127.0.0.1 JOIN #lobby") }
        try secure.write("PRIVMSG #lobby :over tls\r\n")
        try await Blocking.run { try plainRead(until: ":secure!~secure@127.0.0.1 PRIVMSG #lobby :over tls\r\n") }
        try plain.send("PRIVMSG secure :in the clear\r\n")
        try await eventually("the plain user's message over TLS") {
            String(decoding: secure.stdout, as: UTF8.self).contains(":plain!~plain@127.0.0.1 PRIVMSG secure :in the clear\r\n")
        }
    }

    @Test("a certificate that cannot be read is one clear error, exit 1")
    func badCertificate() async throws {
        let process = try tincan(["chat", "serve", "--port", "0", "--tls-port", "0", "--cert", "/nonexistent/c.pem", "--key", "/nonexistent/k.pem", "--db", ":memory:"], input: .null)
        #expect(try await process.waitForExit() == 1)
        #expect(process.stderr.hasPrefix("tincan: chat tls with /nonexistent/c.pem and /nonexistent/k.pem: "), "\(process.stderr)")
        #expect(process.stderr.split(separator: "\n").count == 1)
    }
}

@Suite struct ChatCommandTests {
    @Test("usage errors name the problem", arguments: [
        (["chat", "serve", "--lobby", "lobby"], "--lobby must be a channel name"),
        (["chat", "serve", "--lobby", "#" + String(repeating: "l", count: 60)], "--lobby must be a channel name: '#' and up to 50 bytes"),
        (["chat", "serve", "--oper", "nopassword"], "--oper takes NAME:PASSWORD"),
        (["chat", "serve", "--sendq", "lots"], "--sendq takes a size in bytes"),
        (["chat", "serve", "--port", "70000"], "--port must be 0-65535"),
        (["chat", "serve", "--tls-port", "6697"], "--tls-port, --cert and --key go together"),
        (["chat", "serve", "--http-port", "70000"], "--http-port takes a port from 0 to 65535"),
        (["chat", "serve", "--http-port", "8080", "--public-url", "chat.example.org"], "--public-url must be an http or https URL"),
        (["chat", "serve", "--http-port", "8080", "--allow-origin", "chat.example.org"], "--allow-origin must be origins"),
        (["chat", "serve", "--http-port", "8080", "--max-upload", "0"], "--max-upload must be at least 1"),
        (["chat", "serve", "--files", "/tmp/files"], "--public-url, --files, --max-upload and --allow-origin need --http-port"),
    ])
    func usage(arguments: [String], message: String) async throws {
        let process = try tincan(arguments, input: .null)
        #expect(try await process.waitForExit() == 64)
        #expect(process.stderr.contains(message), "\(process.stderr)")
    }

    @Test("a missing --motd file is one clear error, exit 1")
    func missingMotd() async throws {
        let process = try tincan(["chat", "serve", "--port", "0", "--motd", "/nonexistent/motd", "--db", ":memory:"], input: .null)
        #expect(try await process.waitForExit() == 1)
        #expect(process.stderr == "tincan: read --motd /nonexistent/motd: no such file or directory\n", "\(process.stderr)")
    }

    @Test("SIGTERM tells a connected client why and exits 0")
    func gracefulShutdown() async throws {
        let (server, port) = try await chatServer()
        let client = try TestSocket.connect(port: port)
        client.setTimeout(10)
        try client.send("NICK ann\r\nUSER ann 0 * :Ann\r\n")
        var seen = ""
        while !seen.contains(" 366 ann ") { seen += String(decoding: try client.receiveSome() ?? Data(), as: UTF8.self) }
        server.kill(SIGTERM)
        #expect(try await server.waitForExit() == 0)
        let rest = String(decoding: try client.receiveAll(), as: UTF8.self)
        #expect(rest == "ERROR :Closing Link: 127.0.0.1 (Server shutting down)\r\n")
    }
}

@Suite(.timeLimit(.minutes(2))) struct ChatHTTPCommandTests {
    @Test("--http-port 0: the log names the HTTP port, and curl gets the chat page at / (the built binary finds its resources)", .enabled(if: Programs.available("curl")))
    func httpPort() async throws {
        let files = try TestData.temporaryDirectory() + "/files"
        let (server, _) = try await chatServer(["--http-port", "0", "--files", files, "--db", ":memory:"])
        defer { server.kill() }
        let port = try await chatHTTPPort(server)
        let curl = try TestProcess(try Programs.require("curl"), ["-sS", "--max-time", "10", "http://127.0.0.1:\(port)/"], input: .null)
        #expect(try await curl.waitForExit() == 0, "\(curl.stderr)")
        #expect(String(decoding: curl.stdout, as: UTF8.self).contains("<title>tincan chat</title>"))
        #expect(FileManager.default.fileExists(atPath: files), "the files directory is created")
    }
}
