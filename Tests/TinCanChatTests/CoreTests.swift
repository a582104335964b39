import Foundation
import Logging
import NIOCore
import Synchronization
import Testing
import TinCanIRC

@testable import TinCanChat

/// A monotonic time that a test moves by hand.
final class TestTime: Sendable {
    private let nanoseconds = Atomic<Int64>(1_000_000_000_000)
    var now: NIODeadline { .uptimeNanoseconds(UInt64(self.nanoseconds.load(ordering: .relaxed))) }
    func advance(_ amount: TimeAmount) { self.nanoseconds.add(amount.nanoseconds, ordering: .relaxed) }
}

/// A core with a fixed clock (2027-01-15 08:00:00.250 UTC) and nothing around it: lines go in,
/// and what comes out is the round log's bytes per session and the effects, as the server would
/// get them. No sockets and no simulation of them.
final class CoreHarness {
    let core: ChatCore
    /// Bytes each session got in the rounds ended so far, not yet taken.
    private var inboxes: [Int: String] = [:]
    /// Every effect the core asked for, in order.
    private(set) var effects: [ChatEffect] = []
    /// Sessions the core asked to close.
    private(set) var closed: Set<Int> = []

    /// The monotonic clock the core reads; tests move it (``advance(_:)``).
    let time = TestTime()

    init(_ configuration: ChatServerConfiguration = ChatServerConfiguration(name: "irc.test"), usesStore: Bool = false) {
        var clock = ChatClock()
        clock.wallMilliseconds = { 1_800_000_000_250 }
        clock.now = { [time] in time.now }
        self.core = ChatCore(
            configuration: configuration, logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() }, clock: clock, usesStore: usesStore,
            msgidPrefix: "m"
        )
    }

    func connect(host: String = "192.0.2.1") -> ChatSession {
        guard case .success(let session) = self.core.connected(host: host) else { fatalError("refused") }
        return session
    }

    func say(_ session: ChatSession, _ lines: String...) {
        for line in lines { self.core.received(.message(try! IRCMessage(parsing: line)), from: session) }
        self.collect()
    }

    /// Takes the effects the core left, as the driver does after each call.
    @discardableResult
    func collect() -> [ChatEffect] {
        let new = self.core.takeEffects()
        for effect in new {
            if case .close(let session) = effect { self.closed.insert(session.id) }
        }
        self.effects += new
        return new
    }

    /// Ends the round, as the driver does: each session's runs become its bytes.
    func endRound() {
        let round = self.core.round.take()
        for delivery in round.deliveries {
            self.inboxes[delivery.session.id, default: ""] += String(buffer: round.copy(delivery.runs))
        }
    }

    /// The lines the session got since the last call, without CR LF (the round ends first).
    func take(_ session: ChatSession) -> [String] {
        self.endRound()
        let text = self.inboxes.removeValue(forKey: session.id) ?? ""
        return text.split(separator: "\r\n", omittingEmptySubsequences: true).map(String.init)
    }

    /// A registered session whose welcome has been read.
    func registered(_ nick: String, host: String = "192.0.2.1", caps: String? = nil) -> ChatSession {
        let session = self.connect(host: host)
        if let caps { self.say(session, "CAP LS 302", "CAP REQ :\(caps)") }
        self.say(session, "NICK \(nick)", "USER \(nick.lowercased()) 0 * :\(nick) Real")
        if caps != nil { self.say(session, "CAP END") }
        // With a store, registration waits to hear who owns the nick: nobody.
        if case .ask(let request, let asker) = self.effects.last, asker === session, case .nickOwner = request {
            self.core.storeAnswered(.nickOwner(nil), to: request, for: session)
            self.collect()
        }
        _ = self.take(session)
        return session
    }
}

@Suite struct RegistrationTests {
    @Test("NICK and USER: welcome 001-005, LUSERS, no MOTD, then the lobby's JOIN and NAMES, byte for byte")
    func welcome() {
        let h = CoreHarness()
        let ann = h.connect()
        h.say(ann, "NICK Ann")
        #expect(h.take(ann).isEmpty)
        h.say(ann, "USER ann 0 * :Ann Example")
        let lines = h.take(ann)
        #expect(Array(lines.prefix(4)) == [
            ":irc.test 001 Ann :Welcome to the tincan IRC network, Ann!~ann@192.0.2.1",
            ":irc.test 002 Ann :Your host is irc.test, running version tincan-chat-0.1",
            ":irc.test 003 Ann :This server was created 2027-01-15 08:00:00 UTC",
            ":irc.test 004 Ann irc.test tincan-chat-0.1 iow beIiklmnostv beIklov",
        ])
        #expect(lines[4].hasPrefix(":irc.test 005 Ann AWAYLEN=390 CASEMAPPING=rfc1459 CHANLIMIT=#:50 "))
        #expect(lines[4].hasSuffix(" :are supported by this server"))
        #expect(lines[5].hasPrefix(":irc.test 005 Ann ") && lines[5].contains("UTF8ONLY"))
        #expect(Array(lines[6...]) == [
            ":irc.test 251 Ann :There are 1 users and 0 invisible on 1 servers",
            ":irc.test 252 Ann 0 :operator(s) online",
            ":irc.test 253 Ann 0 :unknown connection(s)",
            ":irc.test 254 Ann 1 :channels formed",
            ":irc.test 255 Ann :I have 1 clients and 0 servers",
            ":irc.test 265 Ann 1 1 :Current local users 1, max 1",
            ":irc.test 266 Ann 1 1 :Current global users 1, max 1",
            ":irc.test 422 Ann :MOTD File is missing",
            ":Ann!~ann@192.0.2.1 JOIN #lobby",
            ":irc.test 353 Ann = #lobby :Ann",
            ":irc.test 366 Ann #lobby :End of /NAMES list.",
        ])
    }

    @Test("CAP LS 302 holds registration until CAP END; REQ is all or nothing; LIST shows what is on")
    func capabilities() {
        let h = CoreHarness()
        let bob = h.connect()
        h.say(bob, "CAP LS 302", "NICK bob", "USER bob 0 * :Bob")
        #expect(h.take(bob) == [
            ":irc.test CAP * LS :away-notify batch cap-notify echo-message extended-monitor labeled-response message-tags multi-prefix server-time "
                + "setname userhost-in-names"
        ])
        h.say(bob, "CAP REQ :server-time bogus")
        #expect(h.take(bob) == [":irc.test CAP bob NAK :server-time bogus"])
        h.say(bob, "CAP REQ :server-time echo-message", "CAP LIST")
        #expect(h.take(bob) == [
            ":irc.test CAP bob ACK :server-time echo-message",
            "@time=2027-01-15T08:00:00.250Z :irc.test CAP bob LIST :cap-notify echo-message server-time",
        ])
        h.say(bob, "CAP END")
        let welcome = h.take(bob)
        #expect(welcome.first == "@time=2027-01-15T08:00:00.250Z :irc.test 001 bob :Welcome to the tincan IRC network, bob!~bob@192.0.2.1")
        h.say(bob, "CAP FOO")
        #expect(h.take(bob) == ["@time=2027-01-15T08:00:00.250Z :irc.test 410 bob FOO :Invalid CAP command"])
    }

    @Test("nick rules: none given, erroneous, in use (case-folded), commands before registering", arguments: [
        ("NICK", ":irc.test 431 * :No nickname given"),
        ("NICK 1abc", ":irc.test 432 * 1abc :Erroneous nickname"),
        ("NICK a b", ""),  // "a" is fine; the extra parameter is ignored
        ("NICK \(String(repeating: "x", count: 31))", ":irc.test 432 * \(String(repeating: "x", count: 31)) :Erroneous nickname"),
        ("NICK TAKEN[]", ":irc.test 433 * TAKEN[] :Nickname is already in use"),
        ("PRIVMSG x :hi", ":irc.test 451 * :You have not registered"),
        ("USER a b", ":irc.test 461 * USER :Not enough parameters"),
    ])
    func nickRules(line: String, reply: String) {
        let h = CoreHarness()
        _ = h.registered("taken{}")
        let client = h.connect()
        h.say(client, line)
        #expect(h.take(client) == (reply.isEmpty ? [] : [reply]))
    }

    @Test("a server password: the right one registers, a wrong one gets 464 and ERROR, and the connection closes")
    func password() {
        let h = CoreHarness(ChatServerConfiguration(name: "irc.test", password: "sesame"))
        let good = h.connect()
        h.say(good, "PASS sesame", "NICK good", "USER g 0 * :G")
        #expect(h.take(good).first?.contains(" 001 good ") == true)
        let bad = h.connect()
        h.say(bad, "PASS nope", "NICK bad", "USER b 0 * :B")
        #expect(h.take(bad) == [":irc.test 464 bad :Password incorrect", "ERROR :Closing Link: 192.0.2.1 (Bad password)"])
        #expect(h.closed == [bad.id])
        #expect(h.core.directory.registeredCount == 1)
    }

    @Test("over --max-clients-per-address a connection is refused with the reason")
    func perAddress() {
        var configuration = ChatServerConfiguration(name: "irc.test")
        configuration.limits.maxClientsPerAddress = 2
        let h = CoreHarness(configuration)
        _ = h.connect(host: "192.0.2.9")
        _ = h.connect(host: "192.0.2.9")
        if case .failure(let refusal) = h.core.connected(host: "192.0.2.9") {
            #expect(refusal.reason == "Too many connections from 192.0.2.9 (2)")
        } else {
            Issue.record("a third connection from 192.0.2.9 was let in")
        }
        #expect((try? h.core.connected(host: "192.0.2.10").get()) != nil)
    }
}

@Suite struct ConversationTests {
    @Test("the lobby: JOIN reaches members; a message reaches everyone else once; PART and QUIT too")
    func lobby() {
        let h = CoreHarness()
        let ann = h.registered("ann")
        let bob = h.registered("bob")
        #expect(h.take(ann) == [":bob!~bob@192.0.2.1 JOIN #lobby"])
        h.say(ann, "PRIVMSG #LOBBY :hello all")
        #expect(h.take(bob) == [":ann!~ann@192.0.2.1 PRIVMSG #lobby :hello all"])
        #expect(h.take(ann).isEmpty)
        h.say(bob, "QUIT :bye")
        #expect(h.take(bob) == ["ERROR :Closing Link: 192.0.2.1 (Quit: bye)"])
        #expect(h.take(ann) == [":bob!~bob@192.0.2.1 QUIT :Quit: bye"])
        h.say(ann, "PART #lobby :later")
        #expect(h.take(ann) == [":ann!~ann@192.0.2.1 PART #lobby :later"])
        h.say(ann, "PRIVMSG #lobby :anyone?")
        #expect(h.take(ann) == [":irc.test 404 ann #lobby :Cannot send to channel"])
    }

    @Test("private messages reach their target alone; unknown nicks get 401; AWAY answers 301")
    func privateMessages() {
        let h = CoreHarness()
        let ann = h.registered("ann")
        let bob = h.registered("bob")
        let cat = h.registered("cat")
        _ = (h.take(ann), h.take(bob))
        h.say(ann, "PRIVMSG Bob :psst")
        #expect(h.take(bob) == [":ann!~ann@192.0.2.1 PRIVMSG bob :psst"])
        #expect(h.take(cat).isEmpty)
        #expect(h.take(ann).isEmpty)
        h.say(ann, "PRIVMSG nobody :hello?", "NOTICE nobody :quiet")
        #expect(h.take(ann) == [":irc.test 401 ann nobody :No such nick/channel"])
        h.say(bob, "AWAY :lunch")
        #expect(h.take(bob) == [":irc.test 306 bob :You have been marked as being away"])
        h.say(ann, "PRIVMSG bob :back?", "NOTICE bob :fyi")
        #expect(h.take(ann) == [":irc.test 301 ann bob :lunch"])
        // CTCP passes through untouched, so a DCC offer reaches its target.
        h.say(ann, "PRIVMSG bob :\u{1}DCC SEND file.txt 3232235777 5000 42\u{1}")
        #expect(h.take(bob).last == ":ann!~ann@192.0.2.1 PRIVMSG bob :\u{1}DCC SEND file.txt 3232235777 5000 42\u{1}")
    }

    @Test("IRCv3: echo-message, server-time, message-tags (client tags and TAGMSG), away-notify")
    func ircv3() {
        let h = CoreHarness()
        let ann = h.registered("ann", caps: "echo-message server-time message-tags")
        let bob = h.registered("bob", caps: "away-notify")
        let cat = h.registered("cat", caps: "message-tags")
        _ = (h.take(ann), h.take(bob), h.take(cat))
        h.say(ann, "@+draft/react=x;secret=no PRIVMSG #lobby :hi")
        #expect(h.take(ann) == ["@+draft/react=x;msgid=m-1;time=2027-01-15T08:00:00.250Z :ann!~ann@192.0.2.1 PRIVMSG #lobby :hi"])
        #expect(h.take(bob) == [":ann!~ann@192.0.2.1 PRIVMSG #lobby :hi"])
        #expect(h.take(cat) == ["@+draft/react=x;msgid=m-1 :ann!~ann@192.0.2.1 PRIVMSG #lobby :hi"])
        h.say(ann, "@+typing=active TAGMSG #lobby")
        #expect(h.take(cat) == ["@+typing=active;msgid=m-2 :ann!~ann@192.0.2.1 TAGMSG #lobby"])
        #expect(h.take(bob).isEmpty, "TAGMSG only reaches clients with message-tags")
        #expect(h.take(ann) == ["@+typing=active;msgid=m-2;time=2027-01-15T08:00:00.250Z :ann!~ann@192.0.2.1 TAGMSG #lobby"], "echoed")
        h.say(cat, "AWAY :gone")
        #expect(h.take(bob) == [":cat!~cat@192.0.2.1 AWAY :gone"])
        #expect(h.take(ann).isEmpty)
        // Private messages are echoed too, to the sender alone; one to oneself arrives and is echoed.
        _ = h.take(cat)
        h.say(ann, "PRIVMSG Bob :psst", "PRIVMSG ann :note to self")
        #expect(h.take(ann) == [
            "@msgid=m-3;time=2027-01-15T08:00:00.250Z :ann!~ann@192.0.2.1 PRIVMSG bob :psst",
            "@msgid=m-4;time=2027-01-15T08:00:00.250Z :ann!~ann@192.0.2.1 PRIVMSG ann :note to self",
            "@msgid=m-4;time=2027-01-15T08:00:00.250Z :ann!~ann@192.0.2.1 PRIVMSG ann :note to self",
        ])
        #expect(h.take(bob) == [":ann!~ann@192.0.2.1 PRIVMSG bob :psst"])
        #expect(h.take(cat).isEmpty)
    }

    @Test("MONITOR: online and offline now, then as they happen; list, clear, full")
    func monitor() {
        var configuration = ChatServerConfiguration(name: "irc.test")
        configuration.limits.monitorEntries = 2
        let h = CoreHarness(configuration)
        let ann = h.registered("ann")
        h.say(ann, "MONITOR + bob,ann")
        #expect(h.take(ann) == [":irc.test 730 ann :ann!~ann@192.0.2.1", ":irc.test 731 ann :bob"])
        let bob = h.registered("Bob")
        #expect(h.take(ann) == [":irc.test 730 ann :Bob!~bob@192.0.2.1", ":Bob!~bob@192.0.2.1 JOIN #lobby"])
        h.say(bob, "QUIT")
        #expect(h.take(ann) == [":Bob!~bob@192.0.2.1 QUIT :Quit", ":irc.test 731 ann :Bob"])
        h.say(ann, "MONITOR + cat", "MONITOR L")
        #expect(h.take(ann) == [":irc.test 734 ann 2 cat :Monitor list is full.", ":irc.test 732 ann :ann,bob", ":irc.test 733 ann :End of MONITOR list"])
        h.say(ann, "MONITOR C", "MONITOR L")
        #expect(h.take(ann) == [":irc.test 733 ann :End of MONITOR list"])
    }

    @Test("channels: JOIN creates with the joiner as operator; TOPIC, NAMES, LIST, WHO, WHOIS, ISON, KICK")
    func channels() {
        let h = CoreHarness()
        let ann = h.registered("ann")
        let bob = h.registered("bob")
        _ = h.take(ann)
        h.say(ann, "JOIN #Den")
        #expect(h.take(ann) == [":ann!~ann@192.0.2.1 JOIN #Den", ":irc.test 353 ann = #Den :@ann", ":irc.test 366 ann #Den :End of /NAMES list."])
        h.say(ann, "TOPIC #den :Welcome")
        #expect(h.take(ann) == [":ann!~ann@192.0.2.1 TOPIC #Den :Welcome"])
        h.say(bob, "JOIN #den")
        #expect(h.take(bob) == [
            ":bob!~bob@192.0.2.1 JOIN #Den", ":irc.test 332 bob #Den :Welcome", ":irc.test 333 bob #Den ann!~ann@192.0.2.1 1800000000",
            ":irc.test 353 bob = #Den :@ann bob", ":irc.test 366 bob #Den :End of /NAMES list.",
        ])
        h.say(bob, "TOPIC #den :mine")
        #expect(h.take(bob) == [":irc.test 482 bob #Den :You're not channel operator"])
        h.say(bob, "LIST")
        #expect(h.take(bob) == [
            ":irc.test 321 bob Channel :Users  Name", ":irc.test 322 bob #Den 2 :Welcome", ":irc.test 322 bob #lobby 2 :", ":irc.test 323 bob :End of /LIST",
        ])
        h.say(bob, "LIST #den,#nowhere,#DEN")
        #expect(h.take(bob) == [":irc.test 321 bob Channel :Users  Name", ":irc.test 322 bob #Den 2 :Welcome", ":irc.test 323 bob :End of /LIST"])
        h.say(bob, "AWAY :out", "WHO #den")
        _ = h.take(bob).first
        h.say(bob, "WHO #den")
        #expect(h.take(bob) == [
            ":irc.test 352 bob #Den ~ann 192.0.2.1 irc.test ann H@ :0 ann Real",
            ":irc.test 352 bob #Den ~bob 192.0.2.1 irc.test bob G :0 bob Real",
            ":irc.test 315 bob #den :End of WHO list",
        ])
        h.say(ann, "WHOIS bob")
        #expect(h.take(ann).filter { !$0.contains(" JOIN ") } == [
            ":irc.test 311 ann bob ~bob 192.0.2.1 * :bob Real", ":irc.test 319 ann bob :#lobby #Den",
            ":irc.test 312 ann bob irc.test :tincan chat", ":irc.test 301 ann bob :out",
            ":irc.test 317 ann bob 0 1800000000 :seconds idle, signon time", ":irc.test 318 ann bob :End of /WHOIS list",
        ])
        h.say(ann, "ISON bob zed ANN")
        #expect(h.take(ann) == [":irc.test 303 ann :bob ann"])
        h.say(ann, "KICK #den bob :out you go")
        #expect(h.take(bob) == [":ann!~ann@192.0.2.1 KICK #Den bob :out you go"])
        h.say(bob, "PRIVMSG #den :let me in")
        #expect(h.take(bob) == [":irc.test 404 bob #Den :Cannot send to channel"])
    }

    @Test("the rest of the replies, byte for byte: MOTD, re-registering, OPER without operators, message and channel errors, modes, topics, AWAY")
    func otherReplies() {
        var configuration = ChatServerConfiguration(name: "irc.test", motd: ["Hello", "there"])
        configuration.limits.maxChannelsPerClient = 2  // the lobby and one more
        let h = CoreHarness(configuration)
        let ann = h.connect()
        h.say(ann, "NICK ann", "USER ann 0 * :ann Real")
        #expect(h.take(ann).filter { $0.contains(" 37") } == [
            ":irc.test 375 ann :- irc.test Message of the day - ", ":irc.test 372 ann :- Hello", ":irc.test 372 ann :- there",
            ":irc.test 376 ann :End of /MOTD command.",
        ])
        let bob = h.registered("bob")
        h.say(bob, "JOIN #bobs")
        _ = h.take(bob)
        _ = h.take(ann)
        let exchanges: [(String, [String])] = [
            ("USER ann 0 * :again", [":irc.test 462 ann :You may not reregister"]),
            ("OPER root x", [":irc.test 491 ann :No O-lines for your host"]),
            ("PRIVMSG", [":irc.test 411 ann :No recipient given (PRIVMSG)"]),
            ("PRIVMSG bob", [":irc.test 412 ann :No text to send"]),
            ("PART #nope", [":irc.test 403 ann #nope :No such channel"]),
            ("PART #bobs", [":irc.test 442 ann #bobs :You're not on that channel"]),
            ("JOIN #a", [":ann!~ann@192.0.2.1 JOIN #a", ":irc.test 353 ann = #a :@ann", ":irc.test 366 ann #a :End of /NAMES list."]),
            ("JOIN #b", [":irc.test 405 ann #b :You have joined too many channels"]),
            ("MODE #a", [":irc.test 324 ann #a +nt", ":irc.test 329 ann #a 1800000000"]),
            ("MODE #a +z", [":irc.test 472 ann z :is unknown mode char to me"]),
            ("MODE #a +o", [":irc.test 461 ann MODE :Not enough parameters"]),
            ("MODE #a +b", [":irc.test 368 ann #a :End of channel ban list"]),
            ("KICK #a bob", [":irc.test 441 ann bob #a :They aren't on that channel"]),
            ("MODE ann", [":irc.test 221 ann +"]),
            ("MODE ann +i", [":ann!~ann@192.0.2.1 MODE ann +i"]),
            ("MODE ann", [":irc.test 221 ann +i"]),
            ("MODE ann +z", [":irc.test 501 ann :Unknown MODE flag"]),
            ("MODE bob", [":irc.test 502 ann :Can't change mode for other users"]),
            ("TOPIC #a", [":irc.test 331 ann #a :No topic is set"]),
            ("AWAY :x", [":irc.test 306 ann :You have been marked as being away"]),
            ("AWAY", [":irc.test 305 ann :You are no longer marked as being away"]),
        ]
        for (line, replies) in exchanges {
            h.say(ann, line)
            #expect(h.take(ann) == replies, "after \(line)")
        }
    }

    @Test("every numeric the server sends has its conventional code and is checked byte for byte in these tests")
    func everyNumericUsed() throws {
        let sources = URL(filePath: #filePath).deletingLastPathComponent().appending(path: "../../Sources/TinCanChat").standardized
        let files = (FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)?.allObjects ?? [])
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }
        #expect(files.count > 10)
        var used = Set<String>()
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            for match in text.matches(of: /\.((?:rpl|err)[A-Z][A-Za-z]*)\b/) { used.insert(String(match.1)) }
        }
        #expect(used.count > 60)
        // The codes of modern.ircdocs.horse, written out here apart from IRCNumeric.
        let expected: [String: Int] = [
            "rplWelcome": 1, "rplYourHost": 2, "rplCreated": 3, "rplMyInfo": 4, "rplISupport": 5, "rplUModeIs": 221,
            "rplLUserClient": 251, "rplLUserOp": 252, "rplLUserUnknown": 253, "rplLUserChannels": 254, "rplLUserMe": 255,
            "rplTryAgain": 263, "rplLocalUsers": 265, "rplGlobalUsers": 266, "rplAway": 301, "rplUserHost": 302, "rplIsOn": 303,
            "rplUnAway": 305, "rplNowAway": 306, "rplWhoisUser": 311, "rplWhoisServer": 312, "rplWhoisOperator": 313,
            "rplEndOfWho": 315, "rplWhoisIdle": 317, "rplEndOfWhois": 318, "rplWhoisChannels": 319, "rplListStart": 321,
            "rplList": 322, "rplListEnd": 323, "rplChannelModeIs": 324, "rplCreationTime": 329, "rplNoTopic": 331, "rplTopic": 332,
            "rplTopicWhoTime": 333, "rplWhoReply": 352, "rplNamReply": 353, "rplEndOfNames": 366, "rplEndOfBanList": 368,
            "rplMotd": 372, "rplMotdStart": 375, "rplEndOfMotd": 376, "rplYoureOper": 381, "errNoSuchNick": 401,
            "errNoSuchServer": 402, "errNoSuchChannel": 403, "errCannotSendToChan": 404, "errTooManyChannels": 405,
            "errInvalidCapCmd": 410, "errNoRecipient": 411, "errNoTextToSend": 412, "errInputTooLong": 417, "errUnknownCommand": 421,
            "errNoMotd": 422, "errNoNicknameGiven": 431, "errErroneousNickname": 432, "errNicknameInUse": 433,
            "errUserNotInChannel": 441, "errNotOnChannel": 442, "errNotRegistered": 451, "errNeedMoreParams": 461,
            "errAlreadyRegistered": 462, "errPasswdMismatch": 464, "errChannelIsFull": 471, "errUnknownMode": 472,
            "errBadChanMask": 476, "errNoPrivileges": 481, "errChanOPrivsNeeded": 482, "errNoOperHost": 491,
            "errUModeUnknownFlag": 501, "errUsersDontMatch": 502, "rplMonOnline": 730, "rplMonOffline": 731, "rplMonList": 732,
            "rplEndOfMonList": 733, "errMonListFull": 734, "rplWhoisAccount": 330, "rplLoggedIn": 900, "rplLoggedOut": 901,
            "rplSaslSuccess": 903, "errSaslFail": 904, "errSaslTooLong": 905, "errSaslAborted": 906, "rplSaslMechs": 908,
            // Channel modes and INVITE (ChannelModeTests.swift).
            "rplInviteList": 336, "rplEndOfInviteList": 337, "rplInviting": 341, "rplInvExList": 346, "rplEndOfInvExList": 347,
            "rplExceptList": 348, "rplEndOfExceptList": 349, "rplBanList": 367, "errUserOnChannel": 443, "errInviteOnlyChan": 473,
            "errBannedFromChan": 474, "errBadChannelKey": 475, "errBanListFull": 478, "errInvalidModeParam": 696,
            "rplAdminMe": 256, "rplAdminLoc1": 257, "rplAdminLoc2": 258, "rplAdminEmail": 259, "rplWhowasUser": 314,
            "rplVersion": 351, "rplLinks": 364, "rplEndOfLinks": 365, "rplEndOfWhowas": 369, "rplInfo": 371, "rplEndOfInfo": 374,
            "rplTime": 391, "errWasNoSuchNick": 406, "errHelpNotFound": 524, "rplHelpStart": 704, "rplHelpTxt": 705,
            "rplEndOfHelp": 706,
        ]
        let tests = try String(contentsOf: URL(filePath: #filePath), encoding: .utf8)
            + String(contentsOf: URL(filePath: #filePath).deletingLastPathComponent().appending(path: "LoopbackTests.swift"), encoding: .utf8)
            + String(contentsOf: URL(filePath: #filePath).deletingLastPathComponent().appending(path: "AccountCoreTests.swift"), encoding: .utf8)
            + String(contentsOf: URL(filePath: #filePath).deletingLastPathComponent().appending(path: "ChannelModeTests.swift"), encoding: .utf8)
            + String(contentsOf: URL(filePath: #filePath).deletingLastPathComponent().appending(path: "ServerCommandTests.swift"), encoding: .utf8)
        for name in used.sorted() {
            guard let code = expected[name] else {
                Issue.record("\(name) is sent but has no conventional code in this test")
                continue
            }
            // The conventional names, with ERR_ERRONEUSNICKNAME's spelling as the RFC has it.
            let numeric = IRCNumeric.all.first {
                $0.description.replacingOccurrences(of: "_", with: "").replacingOccurrences(of: "ERRONEUS", with: "ERRONEOUS") == name.uppercased()
            }
            #expect(numeric?.code == code, "\(name)")
            let text = String(format: "%03d", code)
            #expect(tests.contains("irc.test \(text) ") || tests.contains(" \(text) "), "\(name) (\(text)) is not in any expected reply")
        }
    }

    @Test("OPER then KILL; KILL without OPER is refused; wrong OPER password gets 464")
    func operators() {
        let h = CoreHarness(ChatServerConfiguration(name: "irc.test", operators: ["root": "hunter2"]))
        let ann = h.registered("ann")
        let bob = h.registered("bob")
        _ = h.take(ann)
        h.say(bob, "KILL ann :no")
        #expect(h.take(bob) == [":irc.test 481 bob :Permission Denied- You're not an IRC operator"])
        h.say(ann, "OPER root wrong", "OPER root hunter2")
        #expect(h.take(ann) == [":irc.test 464 ann :Password incorrect", ":irc.test 381 ann :You are now an IRC operator", ":ann!~ann@192.0.2.1 MODE ann +o"])
        h.say(bob, "WHOIS ann")
        #expect(h.take(bob).filter { $0.contains(" 313 ") } == [":irc.test 313 bob ann :is an IRC operator"])
        h.say(ann, "KILL bob :spam")
        #expect(h.take(bob) == ["ERROR :Closing Link: 192.0.2.1 (Killed (ann (spam)))"])
        #expect(h.take(ann) == [":bob!~bob@192.0.2.1 QUIT :Killed (ann (spam))"])
        #expect(h.closed == [bob.id])
    }

    @Test("a line over 512 bytes gets 417 and the connection stays; PING is answered; unknown commands get 421")
    func limitsAndPing() {
        let h = CoreHarness()
        let ann = h.registered("ann")
        h.core.received(.tooLong, from: ann)
        h.say(ann, "PING :tok 1", "FROB x")
        #expect(h.take(ann) == [
            ":irc.test 417 ann :Input line was too long", ":irc.test PONG irc.test :tok 1", ":irc.test 421 ann FROB :Unknown command",
        ])
    }
}

@Suite struct FloodBucketTests {
    @Test("a burst of 5 at once, then one line every half second at 2 a second; the bucket never holds more than the burst")
    func bucket() {
        var bucket = FloodBucket(ChatFloodLimit())
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        for _ in 0..<5 { #expect(bucket.take(now: start) == nil) }
        #expect(bucket.take(now: start) == .milliseconds(500))
        #expect(bucket.take(now: start + .milliseconds(499)) != nil)
        #expect(bucket.take(now: start + .milliseconds(500)) == nil)
        #expect(bucket.take(now: start + .milliseconds(600)) == .milliseconds(400))
        // A long quiet spell refills to the burst and no further.
        let later = start + .seconds(3600)
        for _ in 0..<5 { #expect(bucket.take(now: later) == nil) }
        #expect(bucket.take(now: later) != nil)
    }
}

@Suite struct BackpressureTests {
    @Test("many sessions backed up at once pause everyone's reading, once; when half have drained, reading resumes; nothing is lost")
    func overloadPausesAndResumes() {
        let h = CoreHarness()
        let sessions = (0..<12).map { h.registered("u\($0)") }
        for session in sessions { _ = h.take(session) }
        let line = "PRIVMSG #lobby :" + String(repeating: "x", count: 100)
        var sent = 0
        while !h.core.round.isFull {
            h.say(sessions[0], line)
            sent += 1
        }
        // The round fills after the log limit's worth of lines, and not before.
        #expect(sent == ChatRoundLog.logLimit / (":u0!~u0@192.0.2.1 ".utf8.count + line.utf8.count + 2) + 1)
        // The server wrote the round, and eleven sockets passed their mark (8 mean overload).
        for session in sessions.dropFirst() { h.core.queued(session, bytes: 9000, writable: false) }
        #expect(h.collect().filter { if case .pauseReading = $0 { true } else { false } }.count == 1)
        #expect(h.core.overloaded)
        // Seven drained: four still backed up, half the mark. Reading resumes.
        for session in sessions.dropFirst().prefix(6) { h.core.queued(session, bytes: 0, writable: true) }
        #expect(h.core.overloaded)
        h.core.queued(sessions[7], bytes: 0, writable: true)
        #expect(!h.core.overloaded)
        let effects = h.collect()
        #expect(effects.count == 1)
        if case .pauseReading(false) = effects.first {} else { Issue.record("expected reading to resume, got \(effects)") }
        for session in sessions.dropFirst() {
            #expect(h.take(session) == Array(repeating: ":u0!~u0@192.0.2.1 " + line, count: sent))
        }
        #expect(h.closed.isEmpty)
    }

    @Test("one slow reader is not overload; past the send queue it is closed with SendQ exceeded and the others hear why")
    func slowReaderMeetsSendQueue() {
        var configuration = ChatServerConfiguration(name: "irc.test")
        configuration.limits.sendQueueBytes = 64 * 1024
        let h = CoreHarness(configuration)
        let ann = h.registered("ann")
        let bob = h.registered("bob")
        _ = h.take(ann)
        h.core.queued(bob, bytes: 9000, writable: false)
        #expect(!h.core.overloaded)
        #expect(h.collect().isEmpty)
        h.core.queued(bob, bytes: 64 * 1024 + 1, writable: false)
        h.collect()
        #expect(h.closed == [bob.id])
        #expect(h.take(ann) == [":bob!~bob@192.0.2.1 QUIT :SendQ exceeded"])
        #expect(h.core.directory.registeredCount == 1)
    }

    @Test("a slow reader's copy keeps none of the round's logs alive; a fast one's slices share them")
    func copiesForSlowReaders() {
        let h = CoreHarness()
        let ann = h.registered("ann")
        let bob = h.registered("bob")
        let cat = h.registered("cat")
        let dan = h.registered("dan")
        for session in [ann, bob, cat, dan] { _ = h.take(session) }
        // Much traffic bob does not get, one line he does.
        for _ in 0..<40 { h.say(cat, "PRIVMSG dan :" + String(repeating: "z", count: 400)) }
        h.say(ann, "PRIVMSG bob :just for you")
        let round = h.core.round.take()
        guard let delivery = round.deliveries.first(where: { $0.session === bob }) else {
            Issue.record("bob got nothing")
            return
        }
        func storage(_ buffer: ByteBuffer) -> UnsafeMutableRawPointer {
            buffer.withVeryUnsafeBytesWithStorageManagement { _, storage in storage.toOpaque() }
        }
        let log = storage(round.logs[delivery.runs[0].log])
        #expect(round.slices(delivery.runs).allSatisfy { storage($0) == log })
        let copy = round.copy(delivery.runs)
        #expect(storage(copy) != log)
        #expect(round.logs[delivery.runs[0].log].capacity > 16 * 1024)
        #expect(copy.capacity < 1024)
        #expect(String(buffer: copy) == ":ann!~ann@192.0.2.1 PRIVMSG bob :just for you\r\n")
    }
}

@Suite struct RoundTests {
    @Test("a round taken is the server's: what the core writes after (a QUIT for a socket found gone) goes in the next, and the taken one is intact")
    func goneWhileWriting() {
        let h = CoreHarness()
        let bob = h.registered("bob")
        let ann = h.registered("ann")
        let cat = h.registered("cat")
        for session in [bob, ann, cat] { _ = h.take(session) }
        let line = "PRIVMSG #lobby :" + String(repeating: "y", count: 450)
        h.say(ann, line)
        let first = h.core.round.take()
        // Writing the round, the server finds bob's socket reset.
        h.core.disconnected(bob, reason: "Connection reset by peer")
        #expect(first.text(for: cat) == ":ann!~ann@192.0.2.1 \(line)\r\n")
        #expect(first.text(for: bob) == ":ann!~ann@192.0.2.1 \(line)\r\n")
        #expect(h.take(cat) == [":bob!~bob@192.0.2.1 QUIT :Connection reset by peer"])
        #expect(h.take(ann) == [":bob!~bob@192.0.2.1 QUIT :Connection reset by peer"])
    }

    @Test("a session with many pieces in one round fills it: the round ends after that command")
    func manyPiecesFillTheRound() {
        let h = CoreHarness()
        let ann = h.registered("ann")
        let bob = h.registered("bob")
        let cat = h.registered("cat")
        for session in [ann, bob, cat] { _ = h.take(session) }
        // Bob's lines and cat's private ones to him alternate: a new piece each time.
        var pieces = 0
        while !h.core.round.isFull {
            h.say(bob, "PING x")
            h.say(cat, "PRIVMSG ann :hi")
            h.say(ann, "PRIVMSG #lobby :yo")
            pieces += 1
        }
        // Bob's pieces: his PONG, then the lobby line and the next PONG, which are side by side.
        #expect(pieces == ChatRoundLog.runLimit - 1)
        #expect(h.take(bob).count == pieces * 2)
    }

    @Test("everyone leaving at once: each QUIT is told once to each who remains, and the server is empty at the end")
    func everyoneLeaves() {
        let h = CoreHarness()
        let sessions = (0..<50).map { h.registered("u\($0)", host: "198.51.100.\($0 / 10)") }
        for session in sessions { _ = h.take(session) }
        for session in sessions { h.say(session, "PING x") }
        // Writing the round, the server finds every socket reset, one after the other.
        let round = h.core.round.take()
        for session in sessions { h.core.disconnected(session, reason: "Connection reset by peer") }
        #expect(round.deliveries.count == 50)
        #expect(round.deliveries.allSatisfy { String(buffer: round.copy($0.runs)) == ":irc.test PONG irc.test :x\r\n" })
        #expect(h.core.sessions.isEmpty)
        #expect(h.core.directory.registeredCount == 0)
        // The last to leave heard of the 49 before it, once each; nobody heard of the last.
        let last = h.take(sessions[49])
        #expect(last == (0..<49).map { ":u\($0)!~u\($0)@198.51.100.\($0 / 10) QUIT :Connection reset by peer" })
        #expect(h.take(sessions[0]).isEmpty)
    }
}

@Suite struct StoreTests {
    @Test("registration asks the store and completes when it answers: meanwhile nobody sees the nick, and the session's lines wait their turn")
    func registrationWaitsForTheStore() throws {
        let h = CoreHarness(usesStore: true)
        let bob = h.connect()
        h.say(bob, "NICK bob", "USER bob 0 * :bob Real")
        guard case .ask(.nickOwner(folded: "bob"), let first) = h.effects.last, first === bob else {
            Issue.record("no question for the store: \(h.effects)")
            return
        }
        h.core.storeAnswered(.nickOwner(nil), to: .nickOwner(folded: "bob"), for: bob)
        #expect(h.core.sessions[bob.id]?.isRegistered == true)
        #expect(h.take(bob).first == ":irc.test 001 bob :Welcome to the tincan IRC network, bob!~bob@192.0.2.1")
        let ann = h.connect()
        h.say(ann, "NICK ann", "USER ann 0 * :Ann", "PRIVMSG bob :early", "WHOIS bob")
        guard case .ask(let request, let asker) = h.effects.last, asker === ann else {
            Issue.record("no question for the store: \(h.effects)")
            return
        }
        #expect(request == .nickOwner(folded: "ann"))
        #expect(h.take(ann).isEmpty)
        h.say(bob, "WHOIS ann", "ISON ann")
        #expect(h.take(bob) == [
            ":irc.test 401 bob ann :No such nick/channel", ":irc.test 318 bob ann :End of /WHOIS list", ":irc.test 303 bob :",
        ])
        // The store's answer comes back to the loop as an event.
        h.core.storeAnswered(.nickOwner(nil), to: request, for: ann)
        #expect(h.core.sessions[ann.id]?.isRegistered == true)
        let lines = h.take(ann)
        #expect(lines.first == ":irc.test 001 ann :Welcome to the tincan IRC network, ann!~ann@192.0.2.1")
        // The welcome, then the lines held while the store answered, in order.
        #expect(lines.contains(":irc.test 311 ann bob ~bob 192.0.2.1 * :bob Real"))
        #expect(h.take(bob) == [":ann!~ann@192.0.2.1 JOIN #lobby", ":ann!~ann@192.0.2.1 PRIVMSG bob :early"])
    }
}

@Suite struct QuietPresenceTests {
    /// A lobby that turns quiet past 3 members.
    static func harness(whoReplies: Int = 200) -> CoreHarness {
        var configuration = ChatServerConfiguration(name: "irc.test", operators: ["root": "pw"])
        configuration.limits.quietPresence = 3
        configuration.limits.whoReplies = whoReplies
        return CoreHarness(configuration)
    }

    @Test("past the mark others' JOIN and QUIT stop; each user still sees their own; below it they come back")
    func switchesAtTheMark() {
        let h = Self.harness()
        let ann = h.registered("ann")
        let bob = h.registered("bob")
        let cat = h.registered("cat")
        _ = (h.take(ann), h.take(bob))
        // The fourth member makes the lobby quiet: only dan hears of his JOIN.
        let dan = h.connect()
        h.say(dan, "NICK dan", "USER dan 0 * :dan")
        let welcome = h.take(dan)
        #expect(Array(welcome.suffix(4)) == [
            ":dan!~dan@192.0.2.1 JOIN #lobby", ":irc.test 353 dan = #lobby :dan", ":irc.test 366 dan #lobby :End of /NAMES list.",
            ":irc.test NOTICE dan :#lobby has 4 members: past 3, joins, parts and quits are not shown and NAMES lists its operators; "
                + "MONITOR your contacts, and WHO a nick mask to search",
        ])
        #expect(h.take(ann).isEmpty)
        h.say(dan, "PART #lobby :bye")
        #expect(h.take(dan) == [":dan!~dan@192.0.2.1 PART #lobby :bye"])
        #expect(h.take(ann).isEmpty)
        h.say(dan, "JOIN #lobby")
        _ = h.take(dan)
        h.say(dan, "QUIT :later")
        #expect(h.take(ann).isEmpty && h.take(bob).isEmpty && h.take(cat).isEmpty)
        // Three again: loud. Messages were never quiet.
        h.say(cat, "PRIVMSG #lobby :still here")
        #expect(h.take(ann) == [":cat!~cat@192.0.2.1 PRIVMSG #lobby :still here"])
        h.say(cat, "QUIT :gone")
        #expect(h.take(ann) == [":cat!~cat@192.0.2.1 QUIT :Quit: gone"])
    }

    @Test("operators see everyone's JOIN, PART and QUIT in a quiet channel; a channel's creator is its operator")
    func operatorsSeeAll() {
        let h = Self.harness()
        let ann = h.registered("ann")
        _ = (h.registered("bob"), h.registered("cat"), h.registered("dan"))
        _ = h.take(ann)
        h.say(ann, "OPER root pw")
        #expect(h.take(ann) == [":irc.test 381 ann :You are now an IRC operator", ":ann!~ann@192.0.2.1 MODE ann +o"])
        let eve = h.registered("eve")
        #expect(h.take(ann) == [":eve!~eve@192.0.2.1 JOIN #lobby"])
        h.say(eve, "QUIT")
        #expect(h.take(ann) == [":eve!~eve@192.0.2.1 QUIT :Quit"])
        // NAMES on the quiet lobby: the operators and the asker.
        let fay = h.registered("fay")
        _ = h.take(ann)
        h.say(fay, "NAMES #lobby")
        let names = h.take(fay)
        #expect(names.count == 2 && names[1] == ":irc.test 366 fay #lobby :End of /NAMES list.")
        #expect(Set(names[0].split(separator: ":").last?.split(separator: " ").map(String.init) ?? []) == ["ann", "fay"])
    }

    @Test("WHO on a quiet channel lists its operators and the asker and says to use a mask; a mask's answer is at most a page")
    func who() {
        let h = Self.harness(whoReplies: 2)
        let ann = h.registered("ann")
        for nick in ["bob", "cat", "dan"] { _ = h.registered(nick) }
        _ = h.take(ann)
        h.say(ann, "WHO #lobby")
        #expect(h.take(ann) == [
            ":irc.test 352 ann #lobby ~ann 192.0.2.1 irc.test ann H :0 ann Real",
            ":irc.test 315 ann #lobby :End of WHO list (#lobby is large: ask WHO with a nick mask)",
        ])
        h.say(ann, "WHO *n*")
        #expect(h.take(ann) == [
            ":irc.test 352 ann * ~ann 192.0.2.1 irc.test ann H :0 ann Real",
            ":irc.test 352 ann * ~dan 192.0.2.1 irc.test dan H :0 dan Real",
            ":irc.test 315 ann *n* :End of WHO list",
        ])
        h.say(ann, "WHO *")
        let all = h.take(ann)
        #expect(all.count == 3 && all.last == ":irc.test 315 ann * :End of WHO list (cut at 2; narrow the mask)")
    }

    @Test("MONITOR is exact whatever the channel's size; AWAY reaches monitors with extended-monitor and away-notify, not the quiet lobby")
    func contacts() {
        let h = Self.harness()
        let ann = h.registered("ann", caps: "away-notify extended-monitor")
        let bob = h.registered("bob", caps: "away-notify")
        _ = (h.registered("cat"), h.registered("dan"))
        h.say(ann, "MONITOR + eve")
        _ = (h.take(ann), h.take(bob))
        let eve = h.registered("eve")
        #expect(h.take(ann) == [":irc.test 730 ann :eve!~eve@192.0.2.1"])
        h.say(eve, "AWAY :lunch")
        #expect(h.take(ann) == [":eve!~eve@192.0.2.1 AWAY :lunch"])
        #expect(h.take(bob).isEmpty)
        h.say(eve, "QUIT")
        #expect(h.take(ann) == [":irc.test 731 ann :eve"])
        #expect(h.take(bob).isEmpty)
    }

    @Test("registering costs the same however many are in: the lines written per new client stop growing at the mark")
    func registrationIsLinear() {
        var configuration = ChatServerConfiguration(name: "irc.test")
        configuration.limits.quietPresence = 50
        configuration.limits.maxClientsPerAddress = 1000
        let h = CoreHarness(configuration)
        var linesPerClient: [Int] = []
        var everyone: [ChatSession] = []
        for index in 0..<300 {
            let session = h.connect()
            h.say(session, "NICK u\(index)", "USER u 0 * :u")
            everyone.append(session)
            linesPerClient.append(everyone.reduce(0) { $0 + h.take($1).count })
        }
        // Below the mark each new client costs one JOIN per member and a NAMES that grows; past it, the same.
        #expect(linesPerClient[40] > linesPerClient[10])
        #expect(Set(linesPerClient[60...]).count == 1, "\(linesPerClient[55...65])")
    }
}

@Suite struct DrainDeadlineTests {
    @Test("sessions that never drain cannot hold everyone: past the drain deadline they are dropped and reading resumes")
    func hostagesAreReleased() {
        let h = CoreHarness()
        let sessions = (0..<12).map { h.registered("u\($0)") }
        for session in sessions { _ = h.take(session) }
        let stuck = Array(sessions.suffix(10))
        for session in stuck { h.core.queued(session, bytes: 9000, writable: false) }
        let effects = h.collect()
        #expect(h.core.overloaded)
        guard case .wake(let deadline) = effects.last else {
            Issue.record("no deadline asked for: \(effects)")
            return
        }
        #expect(deadline == h.time.now + .seconds(5))
        // Two drain in time; the other eight do not.
        h.time.advance(.seconds(1))
        h.core.queued(stuck[0], bytes: 0, writable: true)
        h.core.queued(stuck[1], bytes: 0, writable: true)
        h.time.advance(.seconds(4))
        h.core.wake()
        h.collect()
        #expect(!h.core.overloaded)
        #expect(h.closed == Set(stuck.dropFirst(2).map(\.id)))
        #expect(h.take(sessions[0]).filter { $0.hasSuffix("QUIT :SendQ exceeded") }.count == 8)
    }

    @Test("those that backed up later get their own deadline, while the pause lasts")
    func laterOnesWaitTheirTurn() {
        let h = CoreHarness()
        let sessions = (0..<20).map { h.registered("u\($0)") }
        for session in sessions.prefix(8) { h.core.queued(session, bytes: 9000, writable: false) }
        h.time.advance(.seconds(3))
        for session in sessions[8..<16] { h.core.queued(session, bytes: 9000, writable: false) }
        h.time.advance(.seconds(2))
        h.collect()
        h.core.wake()
        #expect(h.core.overloaded)
        guard case .wake(let next) = h.collect().last else {
            Issue.record("no second deadline")
            return
        }
        #expect(next == h.time.now + .seconds(3))
        #expect(h.closed == Set(sessions.prefix(8).map(\.id)))
        h.time.advance(.seconds(3))
        h.core.wake()
        h.collect()
        #expect(!h.core.overloaded)
        #expect(h.closed == Set(sessions.prefix(16).map(\.id)))
    }
}
