import Foundation
import Testing
import TinCanTestSupport

/// Accounts and offline messages through the built binary: a database file that the server and
/// `tincan chat user` share, and that survives `kill -9`.
@Suite(.timeLimit(.minutes(2))) struct ChatAccountTests {
    /// Creates the accounts in `database` with `tincan chat user add`, the password on stdin.
    static func addUsers(_ names: [String], database: String) async throws {
        for name in names {
            let add = try tincan(["chat", "user", "add", "--db", database, name], input: .pipe)
            try add.write("\(name)-password\n")
            add.closeInput()
            #expect(try await add.waitForExit() == 0, "\(add.stderr)")
        }
    }

    static func plain(_ name: String, _ password: String) -> String {
        Data("\0\(name)\0\(password)".utf8).base64EncodedString()
    }

    /// Logs in by SASL PLAIN over a raw socket and reads through the lobby's NAMES.
    static func logIn(_ nick: String, port: Int) async throws -> (TestSocket, String) {
        let socket = try TestSocket.connect(port: port)
        socket.setTimeout(10)
        try socket.send("CAP REQ :sasl\r\nNICK \(nick)\r\nUSER \(nick) 0 * :\(nick)\r\nAUTHENTICATE PLAIN\r\n")
        var seen = try await Self.read(socket, until: "AUTHENTICATE +")
        try socket.send("AUTHENTICATE \(Self.plain(nick, "\(nick)-password"))\r\nCAP END\r\n")
        seen += try await Self.read(socket, until: " 366 \(nick) ")
        return (socket, seen)
    }

    static func read(_ socket: TestSocket, until text: String) async throws -> String {
        try await Blocking.run {
            var seen = ""
            while !seen.contains(text) {
                guard let chunk = try socket.receiveSome() else { throw HarnessError("closed before '\(text)'; saw \(seen)") }
                seen += String(decoding: chunk, as: UTF8.self)
            }
            return seen
        }
    }

    @Test("an offline message the server acknowledged survives kill -9 and a restart, and arrives at the next login")
    func offlineAcrossKill() async throws {
        let directory = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = directory + "/chat.sqlite"
        try await Self.addUsers(["ann", "carol"], database: database)
        let (first, port) = try await chatServer(["--db", database])
        let (ann, _) = try await Self.logIn("ann", port: port)
        try ann.send("PRIVMSG carol :kept through a crash\r\n")
        _ = try await Self.read(ann, until: "carol is offline; your message will be delivered when they next log in")
        first.kill(SIGKILL)
        _ = try await first.waitForExit()

        let (second, newPort) = try await chatServer(["--db", database])
        defer { second.kill() }
        let (carol, welcome) = try await Self.logIn("carol", port: newPort)
        let seen = welcome.contains("kept through a crash") ? welcome : welcome + (try await Self.read(carol, until: "kept through a crash"))
        #expect(seen.contains(":ann!~ann@127.0.0.1 PRIVMSG carol :["), "a time prefix for a client without server-time: \(seen)")
        #expect(seen.contains("] kept through a crash\r\n"))
    }

    @Test("--db none is a plain IRC server: no accounts or history offered; chat user refuses it")
    func noStore() async throws {
        let (server, port) = try await chatServer(["--db", "none"])
        defer { server.kill() }
        let socket = try TestSocket.connect(port: port)
        socket.setTimeout(10)
        try socket.send("CAP LS 302\r\n")
        let caps = try await Self.read(socket, until: "\r\n")
        #expect(caps.hasPrefix(":tincan.local CAP * LS :away-notify batch cap-notify echo-message"), "\(caps)")
        #expect(!caps.contains("sasl") && !caps.contains("chathistory"))
        let user = try tincan(["chat", "user", "list", "--db", "none"], input: .null)
        #expect(try await user.waitForExit() == 1)
        #expect(user.stderr == "tincan: open the chat store: --db none keeps no accounts; name a database file\n", "\(user.stderr)")
    }

    @Test(
        "the PyPI irc library logs in with SASL PLAIN, leaves a message for an offline account, and that account gets it at login",
        .enabled(if: ChatInteropTests.ircLibraryAvailable, "python3 with the PyPI irc library")
    )
    func ircLibrarySASL() async throws {
        let python = try Programs.require("python3")
        let directory = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = directory + "/chat.sqlite"
        try await Self.addUsers(["alice", "carol"], database: database)
        let (server, port) = try await chatServer(["--db", database])
        defer { server.kill() }
        let result = try await IRCPeerResult.run(python, script: "irc_sasl_offline.py", port: port)
        let events = result.events, arguments = IRCPeerResult.arguments
        #expect(events("alice", "loggedin").count == 1 && events("alice", "saslsuccess").count == 1, "alice logged in by SASL: \(result.json["alice"] ?? [])")
        #expect(events("carol", "loggedin").count == 1)
        let message = try #require(events("carol", "privmsg").first)
        #expect(message["source"] as? String == "alice!~alice@127.0.0.1")
        #expect(arguments(message).first?.hasSuffix("] while you were out") == true, "\(arguments(message))")
    }
}
