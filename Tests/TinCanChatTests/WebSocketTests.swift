import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing
import TinCanCore
import TinCanIRC
import TinCanTestSupport

@testable import TinCanChat

/// A chat server on 127.0.0.1 with its HTTP port on (port 0 for both, files in a fresh
/// temporary directory unless `http` names one); `body` gets the bound addresses.
func withHTTPChatServer<T: Sendable>(
    _ configuration: ChatServerConfiguration = ChatServerConfiguration(name: "tincan.test"),
    http: ChatHTTPConfiguration = ChatHTTPConfiguration(port: 0),
    store: (any ChatStore)? = nil,
    _ body: @Sendable (ChatServer.Addresses) async throws -> T
) async throws -> T {
    var configuration = configuration
    configuration.host = "127.0.0.1"
    configuration.port = 0
    var http = http
    if http.filesDirectory == ChatHTTPConfiguration(port: 0).filesDirectory {
        http.filesDirectory = try TestData.temporaryDirectory() + "/files"
    }
    configuration.http = http
    let (started, continuation) = AsyncStream<ChatServer.Addresses>.makeStream()
    let server = ChatServer(
        configuration: configuration,
        store: store,
        logger: Logger(label: "chat") { _ in SwiftLogNoOpLogHandler() },
        onServerRunning: { continuation.yield($0) }
    )
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            defer { continuation.finish() }
            try await server.run()
            return nil
        }
        var iterator = started.makeAsyncIterator()
        guard let addresses = await iterator.next() else {
            _ = try await group.next()
            throw HarnessError("the chat server stopped before it listened")
        }
        let result = try await body(addresses)
        group.cancelAll()
        return result
    }
}

/// A WebSocket client of the PyPI `websockets` library (scripts/interop/ws_peer.py), driven
/// message by message.
final class WebSocketPeer: Sendable {
    /// Whether python3 can import websockets (always true in CI, where a missing one fails).
    static let available = Programs.inCI || Programs.pythonImports("websockets")
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/interop/ws_peer.py").path

    let process: TestProcess
    private let consumed = Mutex(0)

    init(port: Int, path: String = "/socket", protocols: [String] = [], origin: String? = nil) throws {
        var arguments = [Self.script, "ws://127.0.0.1:\(port)\(path)"]
        for name in protocols { arguments += ["--protocol", name] }
        if let origin { arguments += ["--origin", origin] }
        self.process = try TestProcess(try Programs.require("python3"), arguments, input: .pipe)
    }

    func stop() { self.process.kill() }

    private func command(_ object: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: object)
        try self.process.write(String(decoding: data, as: UTF8.self) + "\n")
    }

    /// One text frame.
    func send(_ text: String) throws { try self.command(["text": text]) }
    /// One binary frame.
    func sendBinary(_ text: String) throws { try self.command(["binary": Data(text.utf8).map { String(format: "%02x", $0) }.joined()]) }
    /// A text frame of these bytes, UTF-8 or not.
    func sendText(bytes: [UInt8]) throws { try self.command(["text_bytes": bytes.map { String(format: "%02x", $0) }.joined()]) }

    /// The next event the peer reports (`open`, `text`, `binary`, `closed`, `refused`); waits up to 10 s.
    func next() async throws -> [String: any Sendable] {
        let deadline = ContinuousClock.now + .seconds(10)
        var exited = false
        while true {
            let line: Data? = self.consumed.withLock { consumed in
                let output = self.process.stdout
                guard let newline = output[consumed...].firstIndex(of: 0x0A) else { return nil }
                defer { consumed = newline + 1 }
                return output[consumed..<newline]
            }
            if let line {
                guard let event = try JSONSerialization.jsonObject(with: line) as? [String: any Sendable] else {
                    throw HarnessError("ws_peer.py wrote \(String(decoding: line, as: UTF8.self))")
                }
                return event
            }
            if exited { throw HarnessError("ws_peer.py exited; stderr: \(self.process.stderr)") }
            if !self.process.isRunning {
                // Its last lines may still be on their way through the pipe: read to its end, then look once more.
                try await self.process.waitForExit()
                exited = true
                continue
            }
            if ContinuousClock.now > deadline { throw HarnessError("no event from ws_peer.py within 10 s") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// The next message as (frame type, text); nil once the WebSocket is closed.
    func message() async throws -> (kind: String, text: String)? {
        let event = try await self.next()
        if let text = event["text"] as? String { return ("text", text) }
        if let hex = event["binary"] as? String {
            var bytes: [UInt8] = []
            var index = hex.startIndex
            while index < hex.endIndex {
                let next = hex.index(index, offsetBy: 2)
                bytes.append(UInt8(hex[index..<next], radix: 16)!)
                index = next
            }
            return ("binary", String(decoding: bytes, as: UTF8.self))
        }
        return nil
    }

    /// Messages up to the one that contains `text`, that one last.
    @discardableResult
    func read(until text: String, kind: String = "text") async throws -> [String] {
        var lines: [String] = []
        while let message = try await self.message() {
            #expect(message.kind == kind, "\(message)")
            lines.append(message.text)
            if message.text.contains(text) { return lines }
        }
        throw HarnessError("closed before a message with '\(text)'; read: \(lines.suffix(5))")
    }

    /// Registers as `nick` and reads through the lobby's NAMES.
    @discardableResult
    func register(_ nick: String, binary: Bool = false) async throws -> [String] {
        for line in ["NICK \(nick)", "USER \(nick) 0 * :\(nick)"] { try binary ? self.sendBinary(line) : self.send(line) }
        return try await self.read(until: " 366 \(nick) ", kind: binary ? "binary" : "text")
    }
}

@Suite(
    .timeLimit(.minutes(2)),
    .enabled(if: WebSocketPeer.available, "python3 with the PyPI websockets library (scripts/test installs it)")
)
struct ChatWebSocketTests {
    @Test(
        "a websockets user (text.ircv3.net, or no subprotocol as gamja asks) and a TCP user chat in the lobby, both ways",
        arguments: [["text.ircv3.net"], []]
    )
    func lobby(protocols: [String]) async throws {
        try await withHTTPChatServer { addresses in
            let bob = try LineClient(port: addresses.plain.port!)
            try await bob.register("bob")
            let ws = try WebSocketPeer(port: addresses.http!.port!, protocols: protocols)
            defer { ws.stop() }
            let open = try await ws.next()
            #expect(open.keys.contains("open") && open["open"] as? String == protocols.first, "\(open)")
            let welcome = try await ws.register("wsann")
            // One line a message, without CR LF; the peer's IP is its host, as a TCP user's.
            #expect(welcome.first == ":tincan.test 001 wsann :Welcome to the tincan IRC network, wsann!~wsann@127.0.0.1")
            #expect(welcome.contains(":wsann!~wsann@127.0.0.1 JOIN #lobby"))
            #expect(welcome.allSatisfy { !$0.contains("\r") && !$0.contains("\n") })
            #expect(try await bob.line() == ":wsann!~wsann@127.0.0.1 JOIN #lobby")
            try ws.send("PRIVMSG #lobby :hello from the browser ✓")
            #expect(try await bob.line() == ":wsann!~wsann@127.0.0.1 PRIVMSG #lobby :hello from the browser ✓")
            try bob.send("PRIVMSG #lobby :hello from TCP ✓", "PRIVMSG wsann :just for you")
            #expect(try await ws.message()! == ("text", ":bob!~bob@127.0.0.1 PRIVMSG #lobby :hello from TCP ✓"))
            #expect(try await ws.message()! == ("text", ":bob!~bob@127.0.0.1 PRIVMSG wsann :just for you"))
            // The same line limit as TCP's: 417, and the connection stays.
            try ws.send("PRIVMSG #lobby :" + String(repeating: "x", count: 600))
            #expect(try await ws.message()! == ("text", ":tincan.test 417 wsann :Input line was too long"))
            try ws.send("QUIT :bye")
            #expect(try await ws.message()! == ("text", "ERROR :Closing Link: 127.0.0.1 (Quit: bye)"))
            #expect(try await ws.next()["closed"] as? Int == 1000)
            #expect(try await bob.line() == ":wsann!~wsann@127.0.0.1 QUIT :Quit: bye")
            try await bob.expectNothingElse()
        }
    }

    @Test("binary.ircv3.net, preferred by the client over text: binary frames both ways")
    func binary() async throws {
        try await withHTTPChatServer { addresses in
            let bob = try LineClient(port: addresses.plain.port!)
            try await bob.register("bob")
            let ws = try WebSocketPeer(port: addresses.http!.port!, protocols: ["binary.ircv3.net", "text.ircv3.net"])
            defer { ws.stop() }
            #expect(try await ws.next()["open"] as? String == "binary.ircv3.net")
            try await ws.register("wsbin", binary: true)
            #expect(try await bob.line() == ":wsbin!~wsbin@127.0.0.1 JOIN #lobby")
            try ws.sendBinary("PRIVMSG #lobby :binary hello")
            #expect(try await bob.line() == ":wsbin!~wsbin@127.0.0.1 PRIVMSG #lobby :binary hello")
            try bob.send("PRIVMSG #lobby :back")
            #expect(try await ws.message()! == ("binary", ":bob!~bob@127.0.0.1 PRIVMSG #lobby :back"))
        }
    }

    @Test("Origin: another page's is refused with 403 before upgrading; the server's own and an allowed one open")
    func origins() async throws {
        try await withHTTPChatServer(http: ChatHTTPConfiguration(port: 0, allowedOrigins: ["https://chat.example.org"])) { addresses in
            let port = addresses.http!.port!
            let evil = try WebSocketPeer(port: port, protocols: ["text.ircv3.net"], origin: "https://evil.example")
            defer { evil.stop() }
            #expect(try await evil.next()["refused"] as? Int == 403)
            for origin in ["http://127.0.0.1:\(port)", "https://chat.example.org"] {
                let page = try WebSocketPeer(port: port, protocols: ["text.ircv3.net"], origin: origin)
                defer { page.stop() }
                #expect(try await page.next()["open"] as? String == "text.ircv3.net", "\(origin)")
            }
            // Only /socket and / upgrade (a client given only host and port asks at /).
            let root = try WebSocketPeer(port: port, path: "/", protocols: ["text.ircv3.net"])
            defer { root.stop() }
            #expect(try await root.next()["open"] as? String == "text.ircv3.net")
            let elsewhere = try WebSocketPeer(port: port, path: "/elsewhere")
            defer { elsewhere.stop() }
            #expect(try await elsewhere.next()["refused"] as? Int == 404)
        }
    }

    @Test("a text frame that is not UTF-8 closes the WebSocket with 1007; the lobby sees the user go")
    func invalidUTF8() async throws {
        try await withHTTPChatServer { addresses in
            let bob = try LineClient(port: addresses.plain.port!)
            try await bob.register("bob")
            let ws = try WebSocketPeer(port: addresses.http!.port!, protocols: ["text.ircv3.net"])
            defer { ws.stop() }
            _ = try await ws.next()
            try await ws.register("wsbad")
            #expect(try await bob.line() == ":wsbad!~wsbad@127.0.0.1 JOIN #lobby")
            try ws.sendText(bytes: Array("PRIVMSG #lobby :".utf8) + [0xFF, 0xFE, 0x41])
            #expect(try await ws.next()["closed"] as? Int == 1007)
            #expect(try await bob.line() == ":wsbad!~wsbad@127.0.0.1 QUIT :Connection closed")
        }
    }

    @Test("WebSocket users count toward the per-address limit with TCP users: the one over it is told why and closed")
    func perAddressLimit() async throws {
        var configuration = ChatServerConfiguration(name: "tincan.test")
        configuration.limits.maxClientsPerAddress = 1
        try await withHTTPChatServer(configuration) { addresses in
            let bob = try LineClient(port: addresses.plain.port!)
            try await bob.register("bob")
            let ws = try WebSocketPeer(port: addresses.http!.port!, protocols: ["text.ircv3.net"])
            defer { ws.stop() }
            _ = try await ws.next()
            let refusal = try await ws.message()
            #expect(refusal?.text.hasPrefix("ERROR :Closing Link: 127.0.0.1 (Too many connections from 127.0.0.1") == true, "\(String(describing: refusal))")
            #expect(try await ws.next()["closed"] as? Int == 1000)
        }
    }
}

@Suite struct ChatHTTPPureTests {
    @Test("subprotocols: the client's first that the server speaks; none or unknown ones mean text without the header")
    func negotiate() {
        #expect(ChatWebSocketMode.negotiate(["binary.ircv3.net, text.ircv3.net"]) == (.binary, "binary.ircv3.net"))
        #expect(ChatWebSocketMode.negotiate(["text.ircv3.net", "binary.ircv3.net"]) == (.text, "text.ircv3.net"))
        #expect(ChatWebSocketMode.negotiate([]) == (.text, nil))
        #expect(ChatWebSocketMode.negotiate(["chat"]) == (.text, nil))
    }

    @Test("origins: the page's host and port must be the Host's, or listed")
    func origins() {
        let policy = ChatOriginPolicy(allowedOrigins: ["https://chat.example.org"], secure: false)
        #expect(policy.allows(origin: nil, host: "127.0.0.1:8080"))
        #expect(policy.allows(origin: "http://127.0.0.1:8080", host: "127.0.0.1:8080"))
        #expect(policy.allows(origin: "http://LOCALHOST", host: "localhost:80"))
        #expect(policy.allows(origin: "https://chat.example.org:443", host: "127.0.0.1:8080"))
        #expect(!policy.allows(origin: "http://127.0.0.1:8081", host: "127.0.0.1:8080"))
        #expect(!policy.allows(origin: "null", host: "127.0.0.1:8080"))
        #expect(!policy.allows(origin: "https://evil.example", host: "127.0.0.1:8080"))
        #expect(ChatOriginPolicy(allowedOrigins: ["*"], secure: true).allows(origin: "https://evil.example", host: "x"))
        #expect(ChatOrigin(url: "https://chat.example.org/", allowPath: true)?.text == "https://chat.example.org")
        #expect(ChatOrigin(url: "http://[::1]:8080/chat/", allowPath: true)?.text == "http://[::1]:8080/chat")
        #expect(ChatOrigin(url: "http://x/?q", allowPath: true) == nil)
        #expect(ChatOrigin(url: "ftp://x", allowPath: true) == nil)
    }

    @Test("HTTP settings are validated with the property's name")
    func validation() {
        func problem(_ change: (inout ChatHTTPConfiguration) -> Void) -> String? {
            var http = ChatHTTPConfiguration(port: 8080)
            change(&http)
            do {
                try ChatServerConfiguration(http: http).validate()
                return nil
            } catch let error as ConfigurationError {
                return error.settings.joined(separator: ",")
            } catch {
                return "\(error)"
            }
        }
        #expect(problem { _ in } == nil)
        #expect(problem { $0.port = 70000 } == "http.port")
        #expect(problem { $0.publicURL = "chat.example.org" } == "http.publicURL")
        #expect(problem { $0.filesDirectory = "" } == "http.filesDirectory")
        #expect(problem { $0.maxUploadBytes = 0 } == "http.maxUploadBytes")
        #expect(problem { $0.quotaBytes = -1 } == "http.quotaBytes")
        #expect(problem { $0.fileLifetime = .zero } == "http.fileLifetime")
        #expect(problem { $0.sweepInterval = .zero } == "http.sweepInterval")
        #expect(problem { $0.allowedOrigins = ["chat.example.org"] } == "http.allowedOrigins")
    }
}
