import Foundation
import Logging
import NIOCore
import Testing
import TinCanIRC
import TinCanTestSupport

@testable import TinCanChat

/// The chat server with a real SQLite store on a temporary file, over loopback: accounts,
/// offline messages and history as clients see them.
@Suite struct StoreLoopbackTests {
    static func store() async throws -> (SQLiteChatStore, String) {
        let directory = try TestData.temporaryDirectory()
        return (try await SQLiteChatStore.open(path: directory + "/chat.sqlite"), directory)
    }

    static func plain(_ name: String, _ password: String) -> String {
        ChatBase64.encode(Array("\0\(name)\0\(password)".utf8))
    }

    /// Connects, logs in by SASL PLAIN as `nick` and reads through the welcome's lobby NAMES.
    static func logIn(_ nick: String, _ password: String, port: Int, caps: String = "") async throws -> LineClient {
        let client = try LineClient(port: port)
        try client.send("CAP LS 302", "CAP REQ :sasl\(caps.isEmpty ? "" : " " + caps)", "NICK \(nick)", "USER \(nick) 0 * :\(nick)", "AUTHENTICATE PLAIN")
        try await client.read(until: "AUTHENTICATE +")
        try client.send("AUTHENTICATE \(Self.plain(nick, password))")
        try await client.read(until: " 903 \(nick) ")
        try client.send("CAP END")
        try await client.read(until: " 366 \(nick) ")
        return client
    }

    @Test("REGISTER creates an account that SASL logs in to on the next connection; a wrong password is refused after the delay")
    func registerThenLogIn() async throws {
        let (store, directory) = try await Self.store()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = ChatServerConfiguration(name: "tincan.test")
        configuration.accounts.failureDelay = .milliseconds(300)
        try await withChatServer(configuration, store: store) { port in
            let ann = try LineClient(port: port)
            try await ann.register("ann")
            try ann.send("REGISTER * * correct-horse")
            let lines = try await ann.read(until: "REGISTER SUCCESS ann")
            #expect(lines.last == ":tincan.test REGISTER SUCCESS ann :Account created; you are logged in")
            #expect(try await ann.line() == ":tincan.test 900 ann ann!~ann@127.0.0.1 ann :You are now logged in as ann")
            try await ann.quit()

            let again = try await Self.logIn("ann", "correct-horse", port: port)
            try again.send("WHOIS ann")
            #expect(try await again.read(until: " 330 ").last == ":tincan.test 330 ann ann ann :is logged in as")

            let wrong = try LineClient(port: port)
            try wrong.send("CAP REQ :sasl", "NICK ann2", "USER x 0 * :x", "AUTHENTICATE PLAIN")
            try await wrong.read(until: "AUTHENTICATE +")
            let start = ContinuousClock.now
            try wrong.send("AUTHENTICATE \(Self.plain("ann", "battery-staple"))")
            #expect(try await wrong.read(until: " 904 ").last == ":tincan.test 904 ann2 :SASL authentication failed")
            #expect(ContinuousClock.now - start >= .milliseconds(300), "the refusal comes after the failure delay")
        }
    }

    @Test("NickServ over the wire: REGISTER, then IDENTIFY from a second connection that took the nick meanwhile")
    func nickServ() async throws {
        let (store, directory) = try await Self.store()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withChatServer(store: store) { port in
            let bob = try LineClient(port: port)
            try await bob.register("bob")
            try bob.send("PRIVMSG NickServ :REGISTER sesame-open")
            #expect(try await bob.read(until: "NickServ").last == ":NickServ!NickServ@services.tincan.test NOTICE bob :Account bob registered; you are logged in.")
            try await bob.quit()
            let again = try LineClient(port: port)
            try again.send("NICK bob", "USER bob 0 * :bob")
            // The nick is registered: the notice says to log in.
            try await again.read(until: "bob is registered. Log in within 30 seconds")
            try again.send("PRIVMSG NickServ :IDENTIFY sesame-open")
            #expect(try await again.read(until: "identified").last == ":NickServ!NickServ@services.tincan.test NOTICE bob :You are now identified for bob.")
        }
    }

    @Test("a message to an offline account waits in SQLite and arrives at its next login, once, with its original time")
    func offlineMessage() async throws {
        let (store, directory) = try await Self.store()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let accounts = ChatAccounts(store: store, hasher: .fast)
        for name in ["ann", "carol"] {
            guard case .created = try await accounts.register(name: name, folded: name, password: "password-\(name)") else {
                Issue.record("could not create \(name)")
                return
            }
        }
        try await withChatServer(store: store) { port in
            let ann = try await Self.logIn("ann", "password-ann", port: port)
            // Answers come in the order of the commands, though the store answers each in a task.
            try ann.send("PRIVMSG carol :lunch at noon?", "PRIVMSG nobody-here :hello")
            #expect(try await ann.read(until: "NOTICE ann").last == ":tincan.test NOTICE ann :carol is offline; your message will be delivered when they next log in")
            #expect(try await ann.line() == ":tincan.test 401 ann nobody-here :No such nick/channel")
            let carol = try await Self.logIn("carol", "password-carol", port: port, caps: "server-time message-tags")
            let lines = try await carol.read(until: "lunch at noon?")
            #expect(lines.contains { $0.hasSuffix("NOTICE carol :1 message arrived while you were away, from ann") })
            let line = try #require(lines.last)
            #expect(line.hasPrefix("@time=") && line.contains(";msgid=") && line.hasSuffix(" :ann!~ann@127.0.0.1 PRIVMSG carol :lunch at noon?"))
            try await carol.quit()
            // Delivered once: the next login finds the box empty.
            let later = try await Self.logIn("carol", "password-carol", port: port)
            try await later.expectNothingElse()
        }
        #expect(try await store.offlineMessages(forAccount: "carol", limit: 10).isEmpty)
    }

    @Test("CHATHISTORY: members read the lobby; the two accounts read their private conversation; a third account never does")
    func history() async throws {
        let (store, directory) = try await Self.store()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let accounts = ChatAccounts(store: store, hasher: .fast)
        for name in ["ann", "bob", "eve"] {
            _ = try await accounts.register(name: name, folded: name, password: "password-\(name)")
        }
        try await withChatServer(store: store) { port in
            let ann = try await Self.logIn("ann", "password-ann", port: port)
            let bob = try await Self.logIn("bob", "password-bob", port: port, caps: "batch server-time message-tags")
            try ann.send("PRIVMSG #lobby :hello all", "PRIVMSG bob :just between us")
            try await bob.read(until: "just between us")
            // Kept after delivery: wait until the store has both.
            for _ in 0..<100 {
                let kept = try await store.history(ChatHistoryQuery(conversation: "@ann bob", selector: .latest(after: nil), limit: 10))
                if !kept.isEmpty { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            try bob.send("CHATHISTORY LATEST ann * 10")
            let lines = try await bob.read(until: "BATCH -")
            #expect(lines.contains { $0.hasSuffix(":ann!~ann@127.0.0.1 PRIVMSG bob :just between us") && $0.contains("batch=") })
            try bob.send("CHATHISTORY LATEST #lobby * 10")
            #expect(try await bob.read(until: "BATCH -").contains { $0.hasSuffix("PRIVMSG #lobby :hello all") })
            let eve = try await Self.logIn("eve", "password-eve", port: port, caps: "batch")
            try eve.send("CHATHISTORY LATEST ann * 10", "CHATHISTORY LATEST bob * 10")
            for _ in 0..<2 {
                var batch = try await eve.read(until: "BATCH -")
                batch.removeAll { $0.contains(" JOIN ") }
                #expect(!batch.contains { $0.contains("just between us") }, "eve read: \(batch)")
            }
            try eve.send("CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z timestamp=2100-01-01T00:00:00.000Z 10")
            let targets = try await eve.read(until: "BATCH -")
            #expect(!targets.contains { $0.contains("TARGETS ann") || $0.contains("TARGETS bob") })
            try bob.send("CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z timestamp=2100-01-01T00:00:00.000Z 10")
            #expect(try await bob.read(until: "BATCH -").contains { $0.contains(" CHATHISTORY TARGETS ann 2") })
        }
    }
}
