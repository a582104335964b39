import NIOCore
import Testing
import TinCanIRC

@testable import TinCanChat

/// The behaviours that irctest checks (issue 15), checked here too so that none depends on an
/// external checkout to stay correct: a server without a lobby, replies in the order of the
/// commands, labeled-response, setname, userhost-in-names, extended-monitor, UTF8ONLY, the
/// 512-byte cut of relayed text, away-notify on join.
@Suite struct ConformanceTests {
    static func plainServer() -> CoreHarness {
        CoreHarness(ChatServerConfiguration(name: "irc.test", lobby: nil))
    }

    @Test("--lobby none: registration ends with the MOTD, no JOIN; LUSERS counts no channel; WHO shows no common channel")
    func noLobby() {
        let h = Self.plainServer()
        let ann = h.connect()
        h.say(ann, "NICK ann", "USER ann 0 * :Ann")
        let lines = h.take(ann)
        #expect(lines.last == ":irc.test 422 ann :MOTD File is missing")
        #expect(!lines.contains { $0.contains(" JOIN ") })
        #expect(lines.contains(":irc.test 254 ann 0 :channels formed"))
        let bob = h.registered("bob")
        h.say(ann, "WHO bob")
        #expect(h.take(ann).first == ":irc.test 352 ann * ~bob 192.0.2.1 irc.test bob H :0 bob Real")
        _ = bob
    }

    @Test("a command that asks the store holds the lines after it: the PING sent after NickServ REGISTER is answered after it")
    func repliesInOrder() {
        let h = CoreHarness(usesStore: true)
        let ann = h.registered("ann")
        h.say(ann, "NS REGISTER sesame-password", "PING after")
        guard let register = AccountCoreTests.lastQuestion(h, for: ann) else { Issue.record("no question"); return }
        #expect(h.take(ann).isEmpty)
        #expect(ann.held.count == 1)
        h.core.storeAnswered(.register(.created(AccountCoreTests.record("ann"))), to: register, for: ann)
        h.collect()
        let lines = h.take(ann)
        #expect(lines.first?.contains("NickServ") == true, "\(lines)")
        // The login fetches the offline box and the contacts: the PING waits for them too.
        #expect(!lines.contains { $0.contains("PONG") }, "\(lines)")
        AccountCoreTests.answerLoginQuestions(h, ann)
        #expect(h.take(ann) == [":irc.test PONG irc.test :after"])
    }

    @Test("labeled-response: no reply is an ACK, one reply carries the label, several come in a labeled-response batch")
    func labeledResponse() {
        let h = Self.plainServer()
        let ann = h.registered("ann", caps: "labeled-response batch echo-message")
        let bob = h.registered("bob")
        // PONG has no reply.
        h.say(ann, "@label=a1 PONG x")
        #expect(h.take(ann) == ["@label=a1 :irc.test ACK"])
        // A private message with echo-message: the echo is the one reply; bob's copy has no label.
        h.say(ann, "@label=a2 PRIVMSG bob :hi")
        #expect(h.take(ann) == ["@label=a2 :ann!~ann@192.0.2.1 PRIVMSG bob :hi"])
        #expect(h.take(bob) == [":ann!~ann@192.0.2.1 PRIVMSG bob :hi"])
        // To oneself: it arrives, and its echo answers the label.
        h.say(ann, "@label=a3 PRIVMSG ann :me")
        #expect(h.take(ann) == [":ann!~ann@192.0.2.1 PRIVMSG ann :me", "@label=a3 :ann!~ann@192.0.2.1 PRIVMSG ann :me"])
        // Several replies: a batch that carries the label.
        h.say(ann, "@label=a4 JOIN #c")
        let join = h.take(ann)
        let id = join.first?.split(separator: " ").dropFirst(3).first.map { String($0.dropFirst()) } ?? "?"
        #expect(join.first == "@label=a4 :irc.test BATCH +\(id) labeled-response", "\(join)")
        #expect(join.dropFirst().dropLast().allSatisfy { $0.hasPrefix("@batch=\(id) ") }, "\(join)")
        #expect(join.last == ":irc.test BATCH -\(id)")
        #expect(join.contains("@batch=\(id) :ann!~ann@192.0.2.1 JOIN #c"))
        #expect(join.count == 5, "\(join)")
        // Without the capability the tag is ignored.
        h.say(bob, "@label=b1 PING x")
        #expect(h.take(bob) == [":irc.test PONG irc.test :x"])
    }

    @Test("labeled-response: a labeled command that waits for the store is answered with its label when the store answers")
    func labeledAcrossTheStore() {
        let h = CoreHarness(usesStore: true)
        let ann = h.registered("ann", caps: "labeled-response batch")
        h.say(ann, "@label=n1 NS REGISTER sesame-password")
        guard let register = AccountCoreTests.lastQuestion(h, for: ann) else { Issue.record("no question"); return }
        #expect(h.take(ann).isEmpty)
        h.core.storeAnswered(.register(.created(AccountCoreTests.record("ann"))), to: register, for: ann)
        h.collect()
        #expect(h.take(ann).isEmpty)
        AccountCoreTests.answerLoginQuestions(h, ann)
        let lines = h.take(ann)
        #expect(lines.first?.hasPrefix("@label=n1 :irc.test BATCH +") == true, "\(lines)")
        #expect(lines.contains { $0.contains("NickServ") && $0.hasPrefix("@batch=") }, "\(lines)")
    }

    @Test("SETNAME: confirmed to the sender, told to channel peers with setname, not to the others; WHOIS shows it; too long is FAIL")
    func setname() {
        let h = Self.plainServer()
        let ann = h.registered("ann", caps: "setname")
        let bob = h.registered("bob", caps: "setname")
        let cat = h.registered("cat")
        for session in [ann, bob, cat] { h.say(session, "JOIN #c") }
        for session in [ann, bob, cat] { _ = h.take(session) }
        h.say(ann, "SETNAME :Ann Other")
        #expect(h.take(ann) == [":ann!~ann@192.0.2.1 SETNAME :Ann Other"])
        #expect(h.take(bob) == [":ann!~ann@192.0.2.1 SETNAME :Ann Other"])
        #expect(h.take(cat).isEmpty)
        h.say(cat, "WHOIS ann")
        #expect(h.take(cat).first == ":irc.test 311 cat ann ~ann 192.0.2.1 * :Ann Other")
        h.say(ann, "SETNAME :" + String(repeating: "x", count: 391))
        #expect(h.take(ann) == [":irc.test FAIL SETNAME INVALID_REALNAME :A real name is 1 to 390 bytes"])
    }

    @Test("userhost-in-names: NAMES lists nick!user@host for those who asked, nicks for the rest")
    func userhostInNames() {
        let h = Self.plainServer()
        let ann = h.registered("ann", caps: "userhost-in-names")
        let bob = h.registered("bob")
        h.say(ann, "JOIN #c")
        h.say(bob, "JOIN #c")
        _ = h.take(ann)
        _ = h.take(bob)
        h.say(ann, "NAMES #c")
        h.say(bob, "NAMES #c")
        #expect(h.take(ann).first?.hasSuffix(" = #c :@ann!~ann@192.0.2.1 bob!~bob@192.0.2.1") == true)
        #expect(h.take(bob).first?.hasSuffix(" = #c :@ann bob") == true)
    }

    @Test("extended-monitor: a monitored user's AWAY and SETNAME reach monitors with extended-monitor and the matching capability only")
    func extendedMonitor() {
        let h = Self.plainServer()
        let watcher = h.registered("watcher", caps: "extended-monitor away-notify setname")
        let plain = h.registered("plain", caps: "away-notify setname")
        let ann = h.registered("ann")
        h.say(watcher, "MONITOR + ann")
        h.say(plain, "MONITOR + ann")
        _ = h.take(watcher)
        _ = h.take(plain)
        h.say(ann, "AWAY :lunch", "SETNAME :Ann B")
        #expect(h.take(watcher) == [":ann!~ann@192.0.2.1 AWAY :lunch", ":ann!~ann@192.0.2.1 SETNAME :Ann B"])
        #expect(h.take(plain).isEmpty)
    }

    @Test("away-notify: someone away who joins is followed by their AWAY, for members who asked")
    func awayOnJoin() {
        let h = Self.plainServer()
        let ann = h.registered("ann", caps: "away-notify")
        let bob = h.registered("bob")
        h.say(ann, "JOIN #c")
        _ = h.take(ann)
        h.say(bob, "AWAY :gone", "JOIN #c")
        _ = h.take(bob)
        #expect(h.take(ann) == [":bob!~bob@192.0.2.1 JOIN #c", ":bob!~bob@192.0.2.1 AWAY :gone"])
    }

    @Test("UTF8ONLY: a line that is not UTF-8 is answered FAIL <command> INVALID_UTF8 and not relayed")
    func utf8Only() {
        let h = Self.plainServer()
        let ann = h.registered("ann")
        let bob = h.registered("bob")
        var decoder = IRCLineDecoder(requireUTF8: true)
        var buffer = ByteBuffer(bytes: Array("PRIVMSG bob :caf".utf8) + [0xE9] + Array("\r\nPRIVMSG bob :café\r\n".utf8))
        var lines: [IRCInboundLine] = []
        while let line = decoder.nextLine(&buffer) { if let line { lines.append(line) } }
        #expect(lines.count == 2)
        #expect(lines.first == .notUTF8(command: "PRIVMSG"))
        for line in lines { h.core.received(line, from: ann) }
        h.collect()
        #expect(h.take(ann) == [":irc.test FAIL PRIVMSG INVALID_UTF8 :Messages must be UTF-8"])
        #expect(h.take(bob) == [":ann!~ann@192.0.2.1 PRIVMSG bob :café"])
        // A decoder that does not require UTF-8 reads it with U+FFFD.
        var lenient = IRCLineDecoder()
        var again = ByteBuffer(bytes: Array("PRIVMSG bob :caf".utf8) + [0xE9, 0x0D, 0x0A])
        guard case .message(let message)?? = lenient.nextLine(&again) else { Issue.record("no message"); return }
        #expect(message.parameters.last == "caf\u{FFFD}")
    }

    @Test("relayed text is cut at a character boundary so that the line with the sender's prefix fits in 512 bytes")
    func truncation() {
        let h = Self.plainServer()
        let ann = h.registered("ann")
        let bob = h.registered("bob")
        let prefix = "PRIVMSG bob :"
        let text = String(repeating: "x", count: 510 - prefix.utf8.count - 2) + "éé"
        h.say(ann, prefix + text)
        guard let line = h.take(bob).first else { Issue.record("nothing relayed"); return }
        #expect(line.utf8.count + 2 <= 512, "\(line.utf8.count)")
        #expect(line.utf8.count + 2 >= 511)
        #expect(line.hasPrefix(":ann!~ann@192.0.2.1 PRIVMSG bob :xxx"))
        #expect(!line.contains("\u{FFFD}"))
        #expect(ChatCore.fitting("short", source: "a!b@c", command: "PRIVMSG", target: "bob") == "short")
    }
}

@Suite struct ConformanceMoreTests {
    @Test("STATUSMSG: PRIVMSG @#chan reaches the channel's operators only, with the @ kept in the target")
    func statusmsg() {
        let h = ConformanceTests.plainServer()
        let op = h.registered("op")
        let schmoe = h.registered("schmoe")
        h.say(op, "JOIN #c")
        h.say(schmoe, "JOIN #c")
        _ = (h.take(op), h.take(schmoe))
        h.say(schmoe, "PRIVMSG @#c :psst ops")
        #expect(h.take(op) == [":schmoe!~schmoe@192.0.2.1 PRIVMSG @#c :psst ops"])
        #expect(h.take(schmoe).isEmpty)
        h.say(op, "PRIVMSG @#c :ops only")
        #expect(h.take(schmoe).isEmpty)
    }

    @Test("SASL: chunks that never end fail the exchange with 904; one chunk over 400 bytes is 905")
    func saslEndless() {
        let h = CoreHarness(usesStore: true)
        let ann = h.connect()
        h.say(ann, "CAP REQ :sasl", "NICK ann", "USER ann 0 * :Ann", "AUTHENTICATE PLAIN")
        _ = h.take(ann)
        for _ in 0..<3 { h.say(ann, "AUTHENTICATE " + String(repeating: "A", count: 400)) }
        #expect(h.take(ann) == [":irc.test 904 ann :SASL authentication failed: the credentials are too long"])
        h.say(ann, "AUTHENTICATE PLAIN", "AUTHENTICATE " + String(repeating: "A", count: 401))
        #expect(h.take(ann) == ["AUTHENTICATE +", ":irc.test 905 ann :SASL message too long"])
    }

    @Test("CHATHISTORY TARGETS names each target with its latest time, bare as the spec's examples")
    func targetsFormat() {
        let h = CoreHarness(usesStore: true)
        let ann = AccountCoreTests.loggedIn(h, "ann", caps: "sasl batch")
        h.say(ann, "CHATHISTORY TARGETS timestamp=2027-01-01T00:00:00.000Z timestamp=2027-02-01T00:00:00Z 20")
        guard let question = AccountCoreTests.lastQuestion(h, for: ann) else { Issue.record("no question"); return }
        h.core.storeAnswered(.targets([ChatHistoryTarget(conversation: "#lobby", name: "#lobby", latest: 1_800_000_000_000)]), to: question, for: ann)
        #expect(h.take(ann).contains { $0.hasSuffix(" CHATHISTORY TARGETS #lobby 2027-01-15T08:00:00.000Z") })
    }

    @Test("USER with an empty real name is 461")
    func emptyRealName() {
        let h = ConformanceTests.plainServer()
        let ann = h.connect()
        h.say(ann, "NICK ann", "USER ann 0 * :")
        #expect(h.take(ann) == [":irc.test 461 ann USER :Not enough parameters"])
        #expect(!ann.isRegistered)
    }
}
