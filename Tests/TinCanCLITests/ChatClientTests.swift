#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
import TinCanCore
import TinCanTestSupport

/// `tincan chat HOST` and `tincan chat send` through the built binary against a real
/// `tincan chat serve`: full screen under a pseudo-terminal that tmux keeps (keys typed with
/// send-keys, the screen read with capture-pane), line mode in pipes, and the script sender.
@Suite(.timeLimit(.minutes(2))) struct ChatClientTests {
    /// tmux is here (always true in CI, where a missing one fails the terminal tests).
    static let tmuxAvailable = Programs.available("tmux")

    // MARK: full screen

    @Test("full screen: signing up logs in; the title bar names the nick, the lobby is open", .enabled(if: tmuxAvailable, "tmux"))
    func logIn() async throws {
        let chat = try await ChatWorld.start()
        defer { chat.stop() }
        let pane = try await chat.terminal(nick: "dave", ["--register"])
        defer { pane.stop() }
        // The title bar names dave, online; the prompt is the lobby's; the people column lists dave.
        let screen = try await pane.waitForLobby(nick: "dave")
        #expect(screen.title.contains("tincan chat"), "\(screen)")
        #expect(screen.list.contains { $0.contains("1 #lobby") }, "the lobby is first in the list: \(screen)")
        #expect(screen.people.contains { $0.hasPrefix(" #lobby") }, "\(screen)")
        #expect(screen.middle.contains { $0.contains("Nothing here yet.") }, "\(screen)")
    }

    @Test("full screen: chatting in the lobby with a raw IRC client, both ways", .enabled(if: tmuxAvailable, "tmux"))
    func lobby() async throws {
        let (chat, pane) = try await ChatWorld.inLobby(users: ["ann", "bob"], as: "ann")
        defer { pane.stop(); chat.stop() }
        let bob = try await RawIRCUser.logIn("bob", port: chat.port)
        try await pane.waitForScreen("bob joined") { $0.middle.contains { $0.hasSuffix("-!- bob joined") } && $0.people.contains { $0.hasSuffix(" bob") } }
        try bob.send("PRIVMSG #lobby :hello from a socket")
        try await pane.waitForScreen("bob's message") { $0.middle.contains { $0.hasSuffix("<bob> hello from a socket") } }
        try await pane.type("hello from a terminal")
        try await bob.waitFor(":ann!~ann@127.0.0.1 PRIVMSG #lobby :hello from a terminal\r\n")
        try await pane.waitForScreen("ann's own line") { $0.middle.contains { $0.hasSuffix("<ann> hello from a terminal") } }
    }

    @Test("full screen: a private conversation with /msg and /query, listed, both ways", .enabled(if: tmuxAvailable, "tmux"))
    func privateConversation() async throws {
        let (chat, pane) = try await ChatWorld.inLobby(users: ["ann", "bob"], as: "ann")
        defer { pane.stop(); chat.stop() }
        let bob = try await RawIRCUser.logIn("bob", port: chat.port)
        try await pane.waitForScreen("bob online") { $0.people.contains { $0.hasSuffix(" bob") } }

        try await pane.type("/msg bob just between us")
        try await bob.waitFor(":ann!~ann@127.0.0.1 PRIVMSG bob :just between us\r\n")
        // /msg with a text stays where it is and lists the conversation.
        try await pane.waitForScreen("bob in the list") { $0.list.contains { $0.hasSuffix(" bob") } && $0.lastRow.hasPrefix("[#lobby]") }
        try bob.send("PRIVMSG ann :and a reply")
        try await pane.waitForScreen("one unread from bob") { $0.list.contains { $0.contains(" bob") && $0.hasSuffix(" 1") } }
        try await pane.type("/query bob")
        let opened = try await pane.waitForScreen("the conversation with bob open") {
            $0.lastRow.hasPrefix("[bob]") && $0.middle.contains { $0.hasSuffix("<bob> and a reply") }
        }
        #expect(opened.middle.contains { $0.hasSuffix("<ann> just between us") }, "ann's own private line (echo-message): \(opened)")
        try await pane.type("typed in the conversation")
        try await bob.waitFor(":ann!~ann@127.0.0.1 PRIVMSG bob :typed in the conversation\r\n")
        try await pane.waitForScreen("ann's line in it") { $0.middle.contains { $0.hasSuffix("<ann> typed in the conversation") } }
        // Read once on screen: the count goes.
        try await pane.waitForScreen("bob's count cleared") { $0.list.contains { $0.hasSuffix(" bob") } }
    }

    @Test("full screen: /who lists who is here (away marked), /who NICK one, /who of nobody says so", .enabled(if: tmuxAvailable, "tmux"))
    func who() async throws {
        let (chat, pane) = try await ChatWorld.inLobby(users: ["ann", "bob"], as: "ann")
        defer { pane.stop(); chat.stop() }
        let bob = try await RawIRCUser.logIn("bob", port: chat.port)
        try bob.send("AWAY :at lunch")
        try await bob.waitFor(" 306 bob ")
        try await pane.type("/who")
        let all = try await pane.waitForScreen("the /who line") { $0.middle.contains { $0.contains("-!- Found 2: ") } }
        let line = try #require(all.middle.first { $0.contains("-!- Found 2: ") })
        let names = line.components(separatedBy: "Found 2: ").last!.components(separatedBy: ", ").sorted()
        #expect(names == ["ann", "bob (away)"], "\(line)")
        try await pane.type("/who bob")
        try await pane.waitForScreen("/who bob") { $0.middle.contains { $0.hasSuffix("-!- Found 1: bob (away)") } }
        try await pane.type("/who nobody")
        try await pane.waitForScreen("/who nobody") { $0.middle.contains { $0.hasSuffix("-!- Nobody found.") } }
    }

    @Test(
        "full screen: a message tincan chat send left for an offline account is there at login, counted unread",
        .enabled(if: tmuxAvailable, "tmux")
    )
    func offlineMessage() async throws {
        let chat = try await ChatWorld.start(users: ["ann", "carol"])
        defer { chat.stop() }
        let send = try chat.tincan(as: "ann", ["chat", "send", chat.address, "--nick", "ann", "--to", "carol", "while you were out"])
        #expect(try await send.waitForExit() == 0, "\(send.stderr)")
        #expect(send.stderr.isEmpty, "\(send.stderr)")

        let pane = try await chat.terminal(nick: "carol")
        defer { pane.stop() }
        try await pane.waitForLobby(nick: "carol")
        let screen = try await pane.waitForScreen("ann's conversation with one unread") { $0.list.contains { $0.contains(" ann") && $0.hasSuffix(" 1") } }
        #expect(screen.middle.contains { $0.contains("1 message arrived while you were away") }, "the server's note in the lobby: \(screen)")
        try await pane.type("/query ann")
        try await pane.waitForScreen("the message") { $0.lastRow.hasPrefix("[ann]") && $0.middle.contains { $0.hasSuffix("<ann> while you were out") } }
    }

    @Test(
        "full screen and line mode exchange files: /send, /files shows the card, /get saves it to --downloads (SHA-256 checked)",
        .enabled(if: tmuxAvailable, "tmux")
    )
    func files() async throws {
        let (chat, pane) = try await ChatWorld.inLobby(users: ["ann", "bob"], as: "ann")
        defer { pane.stop(); chat.stop() }
        let bob = try await chat.lineClient(nick: "bob")
        defer { bob.process.kill() }
        try await bob.waitForLine("bob logged in") { $0.hasSuffix(" * -!- Logged in to \(chat.address) as bob") }

        // The terminal sends, line mode gets.
        let forBob = TestData.random(count: 65536, seed: 1)
        try forBob.write(to: URL(fileURLWithPath: chat.directory + "/for-bob.bin"))
        try await pane.type("/send bob \(chat.directory)/for-bob.bin")
        try await pane.waitForScreen("sent") { $0.middle.contains { $0.hasSuffix("-!- Sent for-bob.bin to bob.") } }
        try await bob.waitForLine("the link") { $0.contains(" ann <ann> http://127.0.0.1:\(chat.httpPort)/files/") }
        // Announced in the conversation once looked up; then /files lists it (in the lobby, on screen).
        let bobsCard = "-!- file 1: for-bob.bin (\(ByteCount.text(Int64(forBob.count)))) from ann: /get 1"
        try await bob.waitForLine("the file announced") { $0.hasSuffix(" ann \(bobsCard)") }
        try bob.say("/files")
        try await bob.waitForLine("the file card") { $0.hasSuffix(" #lobby \(bobsCard)") }
        try bob.say("/get 1")
        let bobs = chat.directory + "/bob-downloads"
        try await bob.waitForLine("saved") { $0.hasSuffix("-!- Saved for-bob.bin as \(bobs)/for-bob.bin.") }
        #expect(FileManager.default.contents(atPath: bobs + "/for-bob.bin").map(TestData.sha256) == TestData.sha256(forBob))

        // Line mode sends, the terminal gets.
        let forAnn = TestData.random(count: 3 * 1024, seed: 2)
        try forAnn.write(to: URL(fileURLWithPath: chat.directory + "/for-ann.bin"))
        try bob.say("/send ann \(chat.directory)/for-ann.bin")
        try await bob.waitForLine("sent") { $0.hasSuffix("-!- Sent for-ann.bin to ann.") }
        // ann's own link to bob came back too (echo-message): bob's file is the one named for-ann.bin.
        let described = "for-ann.bin (\(ByteCount.text(Int64(forAnn.count)))) from bob: /get "
        try await pane.type("/query bob")
        let announced = try await pane.waitForScreen("the file announced") { $0.lastRow.hasPrefix("[bob]") && $0.middle.contains { $0.contains(described) } }
        let card = try #require(announced.middle.first { $0.contains(described) })
        let number = try #require(card.components(separatedBy: "/get ").last.flatMap { Int($0) })
        #expect(card.hasSuffix("-!- file \(number): \(described)\(number)"), "\(card)")
        try await pane.type("/files")
        try await pane.waitForScreen("the file card of /files") { $0.middle.filter { $0.hasSuffix("-!- file \(number): \(described)\(number)") }.count == 2 }
        try await pane.type("/get \(number)")
        let anns = chat.directory + "/ann-downloads"
        try await pane.waitForScreen("saved") { $0.middle.contains { $0.contains("-!- Saved for-ann.bin as") } }
        #expect(FileManager.default.contents(atPath: anns + "/for-ann.bin").map(TestData.sha256) == TestData.sha256(forAnn))
    }

    @Test("full screen: the layout follows the terminal's size (people column at 120, not at 70; no list at 50)", .enabled(if: tmuxAvailable, "tmux"))
    func resize() async throws {
        let chat = try await ChatWorld.start(users: ["ann"])
        defer { chat.stop() }
        let pane = try await chat.terminal(nick: "ann", columns: 120, rows: 30)
        defer { pane.stop() }
        let wide = try await pane.waitForLobby(nick: "ann")
        #expect(wide.rows.count == 30 && wide.columns == 3 && wide.people.contains { $0.hasPrefix(" #lobby") }, "\(wide)")

        try await pane.tmux.run(["resize-window", "-t", pane.target, "-x", "70", "-y", "20"])
        // tmux keeps what fits of the old screen until tincan redraws (the 30 rows lose their top 10, title
        // and list included, and the people column is cut off), so a redrawn frame is one with its title.
        let narrow = try await pane.waitForScreen("the 70 x 20 layout, the conversations still listed") {
            $0.rows.count == 20 && $0.title.contains(" ann (online) ") && $0.lastRow.hasPrefix("[#lobby]") && $0.columns == 2
                && $0.list.contains { $0.contains("1 #lobby") }
        }
        #expect(!narrow.rows.contains { $0.contains(" #lobby · ") }, "no people column: \(narrow)")

        try await pane.tmux.run(["resize-window", "-t", pane.target, "-x", "50", "-y", "12"])
        let small = try await pane.waitForScreen("the 50 x 12 layout") { $0.rows.count == 12 && $0.title.contains(" ann (online) ") && $0.lastRow.hasPrefix("[#lobby]") && $0.columns == 1 }
        #expect(!small.rows.contains { $0.contains("Conversations") }, "no list: \(small)")

        try await pane.tmux.run(["resize-window", "-t", pane.target, "-x", "120", "-y", "30"])
        let back = try await pane.waitForScreen("the 120 x 30 layout again") { $0.rows.count == 30 && $0.title.contains(" ann (online) ") && $0.columns == 3 && $0.lastRow.hasPrefix("[#lobby]") }
        #expect(back.people.contains { $0.hasSuffix(" ann") }, "\(back)")
    }

    @Test("full screen: after SIGTERM the terminal is as it was (main screen, icanon and echo on)", .enabled(if: tmuxAvailable, "tmux"))
    func terminalRestoredAfterSIGTERM() async throws {
        let (chat, pane) = try await ChatWorld.inLobby(users: ["ann"], as: "ann")
        defer { pane.stop(); chat.stop() }
        #expect(try await pane.tmux.run(["display-message", "-p", "-t", pane.target, "#{alternate_on}"]) == "1\n", "full screen is on the alternate screen")
        let pid = try #require(pane.pid)
        kill(pid, SIGTERM)
        // 128 + SIGTERM: Terminal restores the terminal and exits so.
        let screen = try await pane.waitForScreen("the shell's lines after tincan", joined: true) {
            $0.rows.contains { $0.hasPrefix("EXITED ") } && $0.rows.contains { $0.contains("icanon") }
        }
        #expect(screen.rows.contains("EXITED 143"), "\(screen)")
        // stty -a's words: a setting that is off has a '-' before it.
        let words = screen.rows.drop(while: { !$0.hasPrefix("EXITED ") }).joined(separator: " ").split(whereSeparator: { $0 == " " || $0 == ";" })
        let settings = Set(words.map(String.init))
        #expect(["icanon", "echo", "isig", "icrnl", "opost"].allSatisfy(settings.contains), "\(screen)")
        #expect(!settings.contains("-icanon") && !settings.contains("-echo"), "\(screen)")
        #expect(try await pane.tmux.run(["display-message", "-p", "-t", pane.target, "#{alternate_on}"]) == "0\n", "the alternate screen was left")
        #expect(!screen.rows.contains { $0.contains("Conversations") }, "the chat is gone from the screen: \(screen)")
    }

    @Test("full screen: the server restarts; the client says it was disconnected, connects again by itself, logs in and talks", .enabled(if: tmuxAvailable, "tmux"))
    func reconnects() async throws {
        let (chat, pane) = try await ChatWorld.inLobby(users: ["ann"], as: "ann")
        defer { pane.stop(); chat.stop() }
        chat.server.kill(SIGTERM)
        _ = try await chat.server.waitForExit()
        try await pane.waitForScreen("the disconnection said") { $0.rows.contains { $0.contains("Disconnected: ") } }
        // The same database, on the same port.
        let (again, _) = try await chatServer(["--db", chat.directory + "/chat.sqlite", "--port", String(chat.port), "--no-flood-limit"])
        defer { again.kill() }
        let back = try await pane.waitForScreen("connected again", timeout: 40) { $0.rows.contains { $0.contains("Connected again to ") } }
        #expect(back.title.contains(" ann (online) "), "\(back)")
        try await pane.type("back after the restart")
        // The server's echo: the line went through the new connection, into the lobby joined again.
        try await pane.waitForScreen("the line echoed") { $0.rows.contains { $0.contains("<ann> back after the restart") } }
    }

    // MARK: line mode

    @Test("line mode in pipes: stdin's lines reach the lobby, events come one per line as documented, a private message shows, exit 0 at EOF")
    func lineMode() async throws {
        let chat = try await ChatWorld.start(users: ["ann", "bob"])
        defer { chat.stop() }
        let send = try chat.tincan(as: "ann", ["chat", "send", chat.address, "--nick", "ann", "--to", "bob", "left for you"])
        #expect(try await send.waitForExit() == 0, "\(send.stderr)")

        let bob = try await chat.lineClient(nick: "bob")
        defer { bob.process.kill() }
        try await bob.waitForLine("logged in") { $0.hasSuffix(" * -!- Logged in to \(chat.address) as bob") }
        try await bob.waitForLine("the offline message, new") { $0.hasSuffix(" [new] ann <ann> left for you") }
        let ann = try await RawIRCUser.logIn("ann", port: chat.port)
        try await bob.waitForLine("ann joined") { $0.hasSuffix(" #lobby -!- ann joined") }

        try bob.say("hello from a pipe")
        try await ann.waitFor(":bob!~bob@127.0.0.1 PRIVMSG #lobby :hello from a pipe\r\n")
        try await bob.waitForLine("bob's own line") { $0.hasSuffix(" #lobby <bob> hello from a pipe") }
        try bob.say("/me waves")
        try await ann.waitFor(":bob!~bob@127.0.0.1 PRIVMSG #lobby :\u{1}ACTION waves\u{1}\r\n")
        try await bob.waitForLine("the action") { $0.hasSuffix(" #lobby * bob waves") }
        try ann.send("PRIVMSG #lobby :hello, pipe")
        try await bob.waitForLine("ann's line") { $0.hasSuffix(" #lobby <ann> hello, pipe") }
        try ann.send("NOTICE #lobby :a notice")
        try await bob.waitForLine("ann's notice") { $0.hasSuffix(" #lobby -ann- a notice") }
        try ann.send("PRIVMSG bob :just for you")
        try await bob.waitForLine("the private message") { $0.hasSuffix(" ann <ann> just for you") }

        bob.process.closeInput()
        #expect(try await bob.process.waitForExit(timeout: 20) == 0, "\(bob.process.stderr)")
        try await ann.waitFor(":bob!~bob@127.0.0.1 QUIT :")
        #expect(bob.process.stderr.isEmpty, "\(bob.process.stderr)")
        // HH:MM (or YYYY-MM-DD HH:MM another day), [new] when unseen, the target, then <nick>, * nick, -nick- or -!-.
        let format = /^(\d{4}-\d\d-\d\d )?\d\d:\d\d (\[new\] )?[^ ]+ (<[^ >]+> |\* [^ ]+ |-[^ ]+- |-!- ).+$/
        for line in bob.lines {
            #expect(line.wholeMatch(of: format) != nil, "not in the documented format: '\(line)'")
        }
    }

    // MARK: chat send

    @Test(
        "chat send: exit 0 for an online nick, stdin's lines to a channel and a registered offline account; 1 with one line for a wrong password, an unknown nick and no server"
    )
    func sendStatuses() async throws {
        let chat = try await ChatWorld.start(users: ["ann", "bob", "carol"])
        defer { chat.stop() }
        let bob = try await RawIRCUser.logIn("bob", port: chat.port)

        let online = try chat.tincan(as: "ann", ["chat", "send", chat.address, "--nick", "ann", "--to", "bob", "--timeout", "10", "the backup finished"])
        #expect(try await online.waitForExit() == 0, "\(online.stderr)")
        #expect(online.stderr.isEmpty, "\(online.stderr)")
        try await bob.waitFor(":ann!~ann@127.0.0.1 PRIVMSG bob :the backup finished\r\n")

        let lines = try chat.tincan(as: "ann", ["chat", "send", chat.address, "--nick", "ann", "--to", "#lobby", "--timeout", "10"], input: .pipe)
        try lines.write("disk 91% full\nload 0.5\n")
        lines.closeInput()
        #expect(try await lines.waitForExit() == 0, "\(lines.stderr)")
        try await bob.waitFor(":ann!~ann@127.0.0.1 PRIVMSG #lobby :disk 91% full\r\n:ann!~ann@127.0.0.1 PRIVMSG #lobby :load 0.5\r\n")

        let offline = try chat.tincan(as: "ann", ["chat", "send", chat.address, "--nick", "ann", "--to", "carol", "--timeout", "10", "kept for later"])
        #expect(try await offline.waitForExit() == 0, "\(offline.stderr)")
        #expect(offline.stderr.isEmpty, "\(offline.stderr)")
        let carol = try await RawIRCUser.logIn("carol", port: chat.port)
        try await carol.waitFor("] kept for later\r\n")

        let passwordFile = chat.directory + "/wrong-password"
        try "not-the-password\n".write(toFile: passwordFile, atomically: true, encoding: .utf8)
        let wrong = try tincan(["chat", "send", chat.address, "--nick", "ann", "--password-file", passwordFile, "--to", "bob", "hi"], input: .null)
        #expect(try await wrong.waitForExit() == 1)
        #expect(wrong.stderr == "tincan: chat send to bob via \(chat.address): Wrong nick or password.\n", "\(wrong.stderr)")

        let unknown = try chat.tincan(as: "ann", ["chat", "send", chat.address, "--nick", "ann", "--to", "nobody", "hi"])
        #expect(try await unknown.waitForExit() == 1)
        #expect(unknown.stderr.hasPrefix("tincan: chat send to nobody via \(chat.address): nobody: no such nick"), "\(unknown.stderr)")
        #expect(unknown.stderr.split(separator: "\n").count == 1, "\(unknown.stderr)")

        let port = try closedPort()
        let refused = try chat.tincan(as: "ann", ["chat", "send", "127.0.0.1:\(port)", "--nick", "ann", "--to", "bob", "hi"])
        #expect(try await refused.waitForExit() == 1)
        #expect(refused.stderr == "tincan: connect to 127.0.0.1:\(port): connection refused\n", "\(refused.stderr)")
    }

    @Test("chat send --file uploads through FILEHOST and the recipient gets the link (and the file, SHA-256 checked)")
    func sendFile() async throws {
        let chat = try await ChatWorld.start(users: ["ann", "bob"])
        defer { chat.stop() }
        let bob = try await chat.lineClient(nick: "bob")
        defer { bob.process.kill() }
        try await bob.waitForLine("logged in") { $0.hasSuffix(" * -!- Logged in to \(chat.address) as bob") }
        let report = TestData.random(count: 100_000, seed: 3)
        try report.write(to: URL(fileURLWithPath: chat.directory + "/report.bin"))
        let send = try chat.tincan(
            as: "ann", ["chat", "send", chat.address, "--nick", "ann", "--to", "bob", "--timeout", "10", "--file", chat.directory + "/report.bin"]
        )
        #expect(try await send.waitForExit() == 0, "\(send.stderr)")
        #expect(send.stderr.isEmpty, "\(send.stderr)")
        let link = try await bob.waitForLine("the link") { $0.contains(" ann <ann> http://127.0.0.1:\(chat.httpPort)/files/") }
        #expect(link.wholeMatch(of: /.* ann <ann> http:\/\/127\.0\.0\.1:\d+\/files\/[0-9a-f]{32}/) != nil, "\(link)")
        let card = "-!- file 1: report.bin (\(ByteCount.text(Int64(report.count)))) from ann: /get 1"
        try await bob.waitForLine("the file announced") { $0.hasSuffix(" ann \(card)") }
        try bob.say("/files")
        try await bob.waitForLine("the file card") { $0.hasSuffix(" #lobby \(card)") }
        try bob.say("/get 1")
        let saved = chat.directory + "/bob-downloads/report.bin"
        try await bob.waitForLine("saved") { $0.hasSuffix("-!- Saved report.bin as \(saved).") }
        #expect(FileManager.default.contents(atPath: saved).map(TestData.sha256) == TestData.sha256(report))
    }
}

// MARK: - harness

/// A chat server of the test's own (accounts in a fresh SQLite file, files, HTTP on port 0)
/// and what the test starts against it; ``stop()`` ends the server.
private struct ChatWorld {
    let server: TestProcess
    let port: Int
    let httpPort: Int
    let directory: String

    var address: String { "127.0.0.1:\(self.port)" }

    /// Makes the accounts `users` (password NAME-password, with `tincan chat user add`), then
    /// starts the server.
    static func start(users: [String] = []) async throws -> ChatWorld {
        let directory = try TestData.temporaryDirectory()
        let database = directory + "/chat.sqlite"
        try await ChatAccountTests.addUsers(users, database: database)
        let (server, port) = try await chatServer(["--db", database, "--http-port", "0", "--files", directory + "/files", "--no-flood-limit"])
        do {
            return ChatWorld(server: server, port: port, httpPort: try await chatHTTPPort(server), directory: directory)
        } catch {
            server.kill()
            throw error
        }
    }

    func stop() {
        self.server.kill()
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    static func password(_ nick: String) -> String { "\(nick)-password" }

    /// A server with the accounts `users`, and `nick` full screen in its lobby.
    static func inLobby(users: [String], as nick: String) async throws -> (ChatWorld, ChatPane) {
        let chat = try await ChatWorld.start(users: users)
        do {
            let pane = try await chat.terminal(nick: nick)
            do {
                try await pane.waitForLobby(nick: nick)
                return (chat, pane)
            } catch {
                pane.stop()
                throw error
            }
        } catch {
            chat.stop()
            throw error
        }
    }

    /// `tincan ARGUMENTS` with `nick`'s password in TINCAN_CHAT_PASSWORD.
    func tincan(as nick: String, _ arguments: [String], input: TestProcess.Input = .null) throws -> TestProcess {
        try TestProcess("env", ["TINCAN_CHAT_PASSWORD=\(Self.password(nick))", Programs.tincan] + arguments, input: input)
    }

    /// `tincan chat` in line mode (its stdin a pipe), downloads to DIRECTORY/NICK-downloads.
    func lineClient(nick: String) async throws -> LineChat {
        let process = try self.tincan(as: nick, ["chat", self.address, "--nick", nick, "--downloads", "\(self.directory)/\(nick)-downloads"], input: .pipe)
        return LineChat(process: process)
    }

    /// `tincan chat` full screen in a tmux of its own, downloads to DIRECTORY/NICK-downloads; after
    /// it ends the pane's shell prints `EXITED status` and `stty -a`.
    func terminal(nick: String, _ extra: [String] = [], columns: Int = 120, rows: Int = 30) async throws -> ChatPane {
        let command = ["env", "TINCAN_CHAT_PASSWORD=\(Self.password(nick))", Programs.tincan, "chat", self.address, "--nick", nick]
            + ["--downloads", "\(self.directory)/\(nick)-downloads"] + extra
        let pidFile = "\(self.directory)/\(nick).pid"
        // The inner shell writes its pid and becomes tincan, so the test can signal tincan itself.
        let inner = "echo $$ > \(shellQuoted(pidFile)); exec " + command.map(shellQuoted).joined(separator: " ")
        let script = "sh -c \(shellQuoted(inner)); echo EXITED $?; stty -a; sleep 600"
        let tmux = try await Tmux.start(socket: "\(self.directory)/tmux-\(nick)", session: "chat", columns: columns, rows: rows, ["sh", "-c", script])
        return ChatPane(tmux: tmux, target: "chat", pidFile: pidFile)
    }
}

private func shellQuoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

/// A tmux server of one test's own (its own socket, no configuration file), so tests never touch
/// each other's tmux or a user's.
private struct Tmux {
    let tmux: String
    let socket: String
    /// The server's pid, to end it even when it ignores kill-server.
    let serverPID: pid_t

    static func start(socket: String, session: String, columns: Int, rows: Int, _ command: [String]) async throws -> Tmux {
        let path = try Programs.require("tmux")
        let starter = Tmux(tmux: path, socket: socket, serverPID: 0)
        try await starter.run(["-f", "/dev/null", "new-session", "-d", "-s", session, "-x", String(columns), "-y", String(rows)] + command)
        let pid = try await starter.run(["display-message", "-p", "-t", session, "#{pid}"])
        guard let serverPID = pid_t(pid.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            starter.kill()
            throw HarnessError("tmux said its pid is '\(pid)'")
        }
        return Tmux(tmux: path, socket: socket, serverPID: serverPID)
    }

    /// Runs a tmux command against this server; its standard output.
    @discardableResult
    func run(_ arguments: [String]) async throws -> String {
        let process = try TestProcess(self.tmux, ["-S", self.socket] + arguments, input: .null)
        let status = try await process.waitForExit()
        guard status == 0 else { throw HarnessError("tmux \(arguments.joined(separator: " ")): status \(status): \(process.stderr)") }
        return String(decoding: process.stdout, as: UTF8.self)
    }

    /// Ends the tmux server and everything in its panes (their terminal hangs up). A server
    /// spawned from a test may have SIGTERM and SIGCHLD blocked (libdispatch's worker threads block
    /// them, and posix_spawn passes the mask on), so it is killed outright if kill-server did not
    /// end it at once.
    func kill() {
        if let process = try? TestProcess(self.tmux, ["-S", self.socket, "kill-server"], input: .null) {
            for _ in 0..<50 where process.isRunning { usleep(20_000) }
            process.kill()
        }
        if self.serverPID > 0 {
            for _ in 0..<50 where Glibc.kill(self.serverPID, 0) == 0 && !Self.isZombie(self.serverPID) { usleep(20_000) }
            if Glibc.kill(self.serverPID, 0) == 0 { Glibc.kill(self.serverPID, SIGKILL) }
        }
    }

    private static func isZombie(_ pid: pid_t) -> Bool {
        ((try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? "").contains(") Z ")
    }
}

/// What a pane shows: its rows, and for the chat's layout the columns between the bars.
private struct PaneScreen: CustomStringConvertible {
    let rows: [String]

    var title: String { self.rows.first ?? "" }
    var lastRow: String { self.rows.last ?? "" }
    /// The body's rows split at the column bars (the rows between the title and the status line).
    private var body: [[String]] {
        guard self.rows.count > 3 else { return [] }
        return self.rows[1..<(self.rows.count - 2)].map { $0.split(separator: "│", omittingEmptySubsequences: false).map(String.init) }
    }
    /// How many columns the body has: 3 with the list and the people, 2 with the list, 1 alone.
    var columns: Int { self.body.map(\.count).max() ?? 0 }
    var list: [String] { self.columns > 1 ? self.body.compactMap { $0.first?.trimmingTrailingSpaces() } : [] }
    var middle: [String] {
        self.body.compactMap { parts in (self.columns > 1 ? parts.dropFirst().first : parts.first)?.trimmingTrailingSpaces() }
    }
    var people: [String] { self.columns > 2 ? self.body.compactMap { $0.count > 2 ? $0[2].trimmingTrailingSpaces() : nil } : [] }

    var description: String { "\n" + self.rows.joined(separator: "\n") }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var text = Substring(self)
        while text.last == " " { text = text.dropLast() }
        return String(text)
    }
}

/// `tincan chat` in a tmux pane.
private struct ChatPane {
    let tmux: Tmux
    let target: String
    let pidFile: String

    /// tincan's pid (the pane's inner shell wrote it, then became tincan).
    var pid: pid_t? {
        (try? String(contentsOfFile: self.pidFile, encoding: .utf8)).flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// The screen now; `joined` joins wrapped lines (for text longer than the pane, such as stty's).
    func screen(joined: Bool = false) async throws -> PaneScreen {
        let text = try await self.tmux.run(["capture-pane", "-p", "-t", self.target] + (joined ? ["-J"] : []))
        var rows = text.components(separatedBy: "\n")
        if rows.last == "" { rows.removeLast() }
        return PaneScreen(rows: joined ? rows.map { $0.trimmingTrailingSpaces() } : rows)
    }

    /// Polls the screen every 100 ms until `condition` holds; throws with the last screen after
    /// `timeout` seconds.
    @discardableResult
    func waitForScreen(_ what: String, timeout: Double = 20, joined: Bool = false, _ condition: (PaneScreen) -> Bool) async throws -> PaneScreen {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while true {
            let screen = try await self.screen(joined: joined)
            if condition(screen) { return screen }
            if ContinuousClock.now > deadline { throw HarnessError("timed out waiting for \(what); the screen:\(screen)") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Logged in as `nick`, the lobby open.
    @discardableResult
    func waitForLobby(nick: String) async throws -> PaneScreen {
        try await self.waitForScreen("\(nick) logged in, the lobby open") {
            $0.title.contains(" \(nick) (online) ") && $0.lastRow.hasPrefix("[#lobby]") && $0.people.contains { $0.hasSuffix(" \(nick)") }
        }
    }

    /// Types `text` and Enter.
    func type(_ text: String) async throws {
        try await self.tmux.run(["send-keys", "-t", self.target, "-l", text])
        try await self.tmux.run(["send-keys", "-t", self.target, "Enter"])
    }

    /// Ends the tmux server, and tincan if it outlived its pane.
    func stop() {
        self.tmux.kill()
        if let pid = self.pid, kill(pid, 0) == 0 { kill(pid, SIGKILL) }
    }
}

/// `tincan chat` in line mode: lines in on a pipe, events out one per line.
private struct LineChat {
    let process: TestProcess

    var lines: [String] { String(decoding: self.process.stdout, as: UTF8.self).split(separator: "\n").map(String.init) }

    func say(_ line: String) throws { try self.process.write(line + "\n") }

    /// Waits (up to 20 s) for a line of standard output that `matches`; returns it.
    @discardableResult
    func waitForLine(_ what: String, timeout: Double = 20, _ matches: (String) -> Bool) async throws -> String {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while true {
            if let line = self.lines.first(where: matches) { return line }
            if ContinuousClock.now > deadline || !self.process.isRunning {
                throw HarnessError("no line for \(what) from line mode; stdout:\n\(self.lines.joined(separator: "\n"))\nstderr: \(self.process.stderr)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

/// An IRC user on a plain socket, logged in by SASL PLAIN; what it has read is kept, so a wait
/// finds a line however it was split into reads.
private final class RawIRCUser: Sendable {
    let socket: TestSocket
    private let seen: Mutex<String>

    private init(socket: TestSocket, seen: String) {
        self.socket = socket
        self.seen = Mutex(seen)
    }

    /// Logs in `nick` (password NAME-password) and reads through the lobby's NAMES.
    static func logIn(_ nick: String, port: Int) async throws -> RawIRCUser {
        let (socket, welcome) = try await ChatAccountTests.logIn(nick, port: port)
        return RawIRCUser(socket: socket, seen: welcome)
    }

    func send(_ line: String) throws { try self.socket.send(line + "\r\n") }

    /// Reads until what was read contains `text` (each read waits at most 10 s).
    func waitFor(_ text: String) async throws {
        try await Blocking.run {
            while !self.seen.withLock({ $0.contains(text) }) {
                let chunk: Data?
                do {
                    chunk = try self.socket.receiveSome()
                } catch {
                    throw HarnessError("\(error) waiting for '\(text)'; saw \(self.seen.withLock { $0 })")
                }
                guard let chunk else { throw HarnessError("closed before '\(text)'; saw \(self.seen.withLock { $0 })") }
                self.seen.withLock { $0 += String(decoding: chunk, as: UTF8.self) }
            }
        }
    }
}
