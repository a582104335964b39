import Foundation
import NIOCore
import Testing
import TinCanIRC

@testable import TinCanChat

/// Accounts, offline messages and history in the core: lines in, the store's questions out as
/// effects, its answers fed back as the driver would, and the bytes each session gets.
@Suite struct AccountCoreTests {
    static func record(_ name: String) -> ChatAccountRecord {
        ChatAccountRecord(name: name, folded: name.lowercased(), passwordHash: "scrypt$...", created: 1_800_000_000_000)
    }

    static func plain(_ name: String, _ password: String, as authzid: String = "") -> String {
        ChatBase64.encode(Array("\(authzid)\0\(name)\0\(password)".utf8))
    }

    /// The last question the core asked the store for `session`.
    static func lastQuestion(_ h: CoreHarness, for session: ChatSession) -> ChatStoreRequest? {
        for effect in h.effects.reversed() {
            if case .ask(let request, let asker) = effect, asker === session { return request }
        }
        return nil
    }

    /// A session registered and logged in to its own nick's account by SASL.
    static func loggedIn(_ h: CoreHarness, _ nick: String, caps: String = "sasl") -> ChatSession {
        let session = h.connect()
        h.say(session, "CAP LS 302", "CAP REQ :\(caps)", "NICK \(nick)", "USER \(nick) 0 * :\(nick) Real", "AUTHENTICATE PLAIN")
        h.say(session, "AUTHENTICATE \(Self.plain(nick, "password1"))", "CAP END")
        guard let request = Self.lastQuestion(h, for: session) else { fatalError("no login asked") }
        h.core.storeAnswered(.login(Self.record(nick)), to: request, for: session)
        Self.answerLoginQuestions(h, session)
        _ = h.take(session)
        return session
    }

    /// Answers what a login asks next (the offline box, the contacts, the lobby's read marker)
    /// with nothing, as a new account's store would: lines sent after the login wait for these.
    static func answerLoginQuestions(_ h: CoreHarness, _ session: ChatSession) {
        h.collect()
        for effect in h.effects {
            guard case .ask(let request, let asker) = effect, asker === session else { continue }
            switch request {
            case .offlineBox: h.core.storeAnswered(.messages([]), to: request, for: session)
            case .contacts: h.core.storeAnswered(.contacts([]), to: request, for: session)
            case .readMarker: h.core.storeAnswered(.marker(nil), to: request, for: session)
            default: continue
            }
        }
        h.collect()
    }

    @Test("CAP LS 302 offers the account and history capabilities with their values when there is a store")
    func capabilities() {
        let h = CoreHarness(usesStore: true)
        let ann = h.connect()
        h.say(ann, "CAP LS 302")
        #expect(h.take(ann) == [
            ":irc.test CAP * LS :account-notify account-tag away-notify batch cap-notify draft/chathistory "
                + "draft/account-registration=before-connect draft/read-marker echo-message extended-join extended-monitor labeled-response "
                + "message-tags multi-prefix sasl=PLAIN server-time setname userhost-in-names"
        ])
        h.say(ann, "CAP LS")
        #expect(h.take(ann).first?.contains(" sasl ") == true)
        let plain = CoreHarness()
        let bob = plain.connect()
        plain.say(bob, "CAP REQ :sasl")
        #expect(plain.take(bob) == [":irc.test CAP * NAK :sasl"])
    }

    @Test("SASL PLAIN: the credentials go to the store, registration waits for its answer, then 900 and 903 and the welcome")
    func saslLogin() {
        let h = CoreHarness(usesStore: true)
        let ann = h.connect()
        h.say(ann, "CAP LS 302", "CAP REQ :sasl", "NICK ann", "USER ann 0 * :Ann", "AUTHENTICATE PLAIN")
        #expect(h.take(ann).suffix(2) == [":irc.test CAP * ACK :sasl", "AUTHENTICATE +"])
        h.say(ann, "AUTHENTICATE \(Self.plain("ann", "password1"))", "CAP END")
        let request = Self.lastQuestion(h, for: ann)
        #expect(request == .login(name: "ann", folded: "ann", password: "password1", address: "192.0.2.1", via: .sasl))
        #expect(h.take(ann).isEmpty)
        #expect(!ann.isRegistered)
        h.core.storeAnswered(.login(Self.record("ann")), to: request!, for: ann)
        h.collect()
        let lines = h.take(ann)
        #expect(Array(lines.prefix(3)) == [
            ":irc.test 900 ann ann!~ann@192.0.2.1 ann :You are now logged in as ann",
            ":irc.test 903 ann :SASL authentication successful",
            ":irc.test 001 ann :Welcome to the tincan IRC network, ann!~ann@192.0.2.1",
        ])
        #expect(ann.account == ChatAccountName(name: "ann", folded: "ann"))
        // The nick is the account's: no question about its owner; the offline box and contacts are fetched.
        #expect(h.effects.contains { if case .ask(.offlineBox(folded: "ann", limit: 1000), _) = $0 { true } else { false } })
        #expect(h.effects.contains { if case .ask(.contacts(folded: "ann"), _) = $0 { true } else { false } })
        #expect(!h.effects.contains { if case .ask(.nickOwner, _) = $0 { true } else { false } })
    }

    @Test("SASL refusals: wrong password 904, unknown mechanism 908 and 904, abort 906, too long 905, someone else's authzid 904")
    func saslRefusals() {
        let h = CoreHarness(usesStore: true)
        let ann = h.connect()
        h.say(ann, "CAP REQ :sasl", "NICK ann", "USER ann 0 * :Ann", "AUTHENTICATE PLAIN", "AUTHENTICATE \(Self.plain("ann", "wrong-one"))")
        _ = h.take(ann)
        h.core.storeAnswered(.login(nil), to: Self.lastQuestion(h, for: ann)!, for: ann)
        #expect(h.take(ann) == [":irc.test 904 ann :SASL authentication failed"])
        h.say(ann, "AUTHENTICATE SCRAM-SHA-256")
        #expect(h.take(ann) == [":irc.test 908 ann PLAIN :are available SASL mechanisms", ":irc.test 904 ann :SASL authentication failed"])
        h.say(ann, "AUTHENTICATE PLAIN", "AUTHENTICATE *")
        #expect(h.take(ann) == ["AUTHENTICATE +", ":irc.test 906 ann :SASL authentication aborted"])
        h.say(ann, "AUTHENTICATE PLAIN", "AUTHENTICATE \(String(repeating: "A", count: 401))")
        #expect(h.take(ann) == ["AUTHENTICATE +", ":irc.test 905 ann :SASL message too long"])
        h.say(ann, "AUTHENTICATE PLAIN", "AUTHENTICATE \(Self.plain("ann", "password1", as: "root"))")
        #expect(h.take(ann) == ["AUTHENTICATE +", ":irc.test 904 ann :SASL authentication failed"])
        // Still not registered: CAP END registers it as a guest, asking who owns the nick.
        h.say(ann, "CAP END")
        #expect(Self.lastQuestion(h, for: ann) == .nickOwner(folded: "ann"))
    }

    @Test("a client that sends everything at once (CAP, NICK, USER, AUTHENTICATE, CAP END, JOIN) has its lines after the login held, then handled in order")
    func saslPipelined() {
        let h = CoreHarness(usesStore: true)
        let ann = h.connect()
        h.say(ann, "CAP REQ :sasl", "NICK ann", "USER ann 0 * :Ann", "AUTHENTICATE PLAIN", "AUTHENTICATE \(Self.plain("ann", "password1"))", "CAP END", "JOIN #side")
        let request = Self.lastQuestion(h, for: ann)
        #expect(ann.held.count == 2)
        h.core.storeAnswered(.login(Self.record("ann")), to: request!, for: ann)
        h.collect()
        var lines = h.take(ann)
        #expect(lines.contains(":irc.test 001 ann :Welcome to the tincan IRC network, ann!~ann@192.0.2.1"))
        // The JOIN waits for the offline box and the contacts, which the login asked for.
        #expect(!lines.contains(":ann!~ann@192.0.2.1 JOIN #side"))
        Self.answerLoginQuestions(h, ann)
        lines += h.take(ann)
        #expect(lines.contains(":ann!~ann@192.0.2.1 JOIN #side"))
        #expect(!lines.contains { $0.contains(" 451 ") })
    }

    @Test("SASL in 400-byte chunks: a full chunk means more follow; + ends an exact multiple")
    func saslChunks() {
        let h = CoreHarness(usesStore: true)
        let ann = h.connect()
        let password = String(repeating: "p", count: 300)
        let payload = Self.plain("ann", password)
        #expect(payload.utf8.count > 400)
        h.say(ann, "CAP REQ :sasl", "AUTHENTICATE PLAIN", "AUTHENTICATE \(payload.prefix(400))")
        #expect(Self.lastQuestion(h, for: ann) == nil)
        h.say(ann, "AUTHENTICATE \(payload.dropFirst(400))")
        #expect(Self.lastQuestion(h, for: ann) == .login(name: "ann", folded: "ann", password: password, address: "192.0.2.1", via: .sasl))
    }

    @Test("REGISTER: success logs in; an existing account, a name not the nick, closed registration and VERIFY get FAIL")
    func registerCommand() {
        let h = CoreHarness(usesStore: true)
        let bob = h.registered("bob")
        h.say(bob, "REGISTER alice * password1")
        #expect(h.take(bob) == [":irc.test FAIL REGISTER ACCOUNT_NAME_MUST_BE_NICK alice :The account is named after your nick: register as bob, or change nick first"])
        h.say(bob, "REGISTER * * password1")
        let request = Self.lastQuestion(h, for: bob)
        #expect(request == .register(name: "bob", folded: "bob", password: "password1", via: .register))
        h.core.storeAnswered(.register(.exists), to: request!, for: bob)
        #expect(h.take(bob) == [":irc.test FAIL REGISTER ACCOUNT_EXISTS bob :bob is already registered"])
        h.core.storeAnswered(.register(.weakPassword("Passwords have at least 8 characters")), to: request!, for: bob)
        #expect(h.take(bob) == [":irc.test FAIL REGISTER WEAK_PASSWORD bob :Passwords have at least 8 characters"])
        h.core.storeAnswered(.register(.created(Self.record("bob"))), to: request!, for: bob)
        h.collect()
        #expect(h.take(bob) == [
            ":irc.test REGISTER SUCCESS bob :Account created; you are logged in",
            ":irc.test 900 bob bob!~bob@192.0.2.1 bob :You are now logged in as bob",
        ])
        Self.answerLoginQuestions(h, bob)
        h.say(bob, "REGISTER * * password2", "VERIFY bob 1234")
        #expect(h.take(bob) == [
            ":irc.test FAIL REGISTER ALREADY_AUTHENTICATED bob :You are already logged in as bob",
            ":irc.test FAIL VERIFY INVALID_CODE bob :This server sends no verification codes: accounts are ready when REGISTER succeeds",
        ])
        var closed = ChatServerConfiguration(name: "irc.test")
        closed.accounts.registration = .closed
        let c = CoreHarness(closed, usesStore: true)
        let cat = c.registered("cat")
        c.say(cat, "REGISTER * * password1")
        #expect(c.take(cat) == [":irc.test FAIL REGISTER TEMPORARILY_UNAVAILABLE * :Registration is closed on this server; ask its operator for an account"])
    }

    @Test("NickServ: REGISTER, IDENTIFY, SET PASSWORD, DROP and INFO, answered as NOTICEs from NickServ; nobody can take its nick")
    func nickServ() {
        let h = CoreHarness(usesStore: true)
        let bob = h.registered("bob")
        h.say(bob, "PRIVMSG NickServ :IDENTIFY password1")
        let identify = Self.lastQuestion(h, for: bob)
        #expect(identify == .login(name: "bob", folded: "bob", password: "password1", address: "192.0.2.1", via: .nickServ))
        h.core.storeAnswered(.login(nil), to: identify!, for: bob)
        #expect(h.take(bob) == [":NickServ!NickServ@services.irc.test NOTICE bob :Invalid password for that account (or no such account). Wait a moment before trying again."])
        h.say(bob, "PRIVMSG NickServ :IDENTIFY password1")
        h.core.storeAnswered(.login(Self.record("bob")), to: identify!, for: bob)
        h.collect()
        #expect(h.take(bob) == [
            ":irc.test 900 bob bob!~bob@192.0.2.1 bob :You are now logged in as bob",
            ":NickServ!NickServ@services.irc.test NOTICE bob :You are now identified for bob.",
        ])
        Self.answerLoginQuestions(h, bob)
        _ = h.take(bob)
        h.say(bob, "NS SET PASSWORD newpassword")
        #expect(Self.lastQuestion(h, for: bob) == .setPassword(folded: "bob", password: "newpassword"))
        h.core.storeAnswered(.done(true), to: .setPassword(folded: "bob", password: "newpassword"), for: bob)
        #expect(h.take(bob) == [":NickServ!NickServ@services.irc.test NOTICE bob :Password changed."])
        h.say(bob, "NICKSERV INFO bob")
        h.core.storeAnswered(.accountInfo(Self.record("bob")), to: .accountInfo(folded: "bob"), for: bob)
        #expect(h.take(bob) == [":NickServ!NickServ@services.irc.test NOTICE bob :bob: registered 2027-01-15 08:00:00 UTC, online now."])
        h.say(bob, "PRIVMSG NickServ :DROP")
        h.core.storeAnswered(.done(true), to: .dropAccount(folded: "bob"), for: bob)
        #expect(h.take(bob) == [
            ":irc.test 901 bob bob!~bob@192.0.2.1 :You are now logged out",
            ":NickServ!NickServ@services.irc.test NOTICE bob :Account dropped.",
        ])
        h.say(bob, "NICK NickServ")
        #expect(h.take(bob) == [":irc.test 433 bob NickServ :Nickname is already in use"])
        h.say(bob, "WHOIS NickServ")
        #expect(h.take(bob) == [
            ":irc.test 311 bob NickServ NickServ services.irc.test * :Account services: /msg NickServ HELP",
            ":irc.test 312 bob NickServ irc.test :tincan chat",
            ":irc.test 318 bob NickServ :End of /WHOIS list",
        ])
    }

    @Test("a registered nick held without logging in is renamed to a guest's when the grace period ends; IDENTIFY in time keeps it")
    func nickGrace() {
        let h = CoreHarness(usesStore: true)
        let ann = h.connect()
        h.say(ann, "NICK ann", "USER ann 0 * :Ann")
        h.core.storeAnswered(.nickOwner("ann"), to: .nickOwner(folded: "ann"), for: ann)
        h.collect()
        #expect(h.take(ann).contains(":NickServ!NickServ@services.irc.test NOTICE ann :ann is registered. Log in within 30 seconds (/msg NickServ IDENTIFY password) or your nick will be changed."))
        #expect(h.effects.contains { if case .wake = $0 { true } else { false } })
        h.time.advance(.seconds(29))
        h.core.wake()
        #expect(h.take(ann).isEmpty)
        h.time.advance(.seconds(2))
        h.core.wake()
        let lines = h.take(ann)
        #expect(lines.first == ":NickServ!NickServ@services.irc.test NOTICE ann :You did not log in in time; your nick is now a guest's.")
        #expect(lines.last?.hasPrefix(":ann!~ann@192.0.2.1 NICK Guest") == true)
        #expect(ann.nick?.hasPrefix("Guest") == true)

        let bob = h.connect()
        h.say(bob, "NICK bob", "USER bob 0 * :Bob")
        h.core.storeAnswered(.nickOwner("bob"), to: .nickOwner(folded: "bob"), for: bob)
        h.say(bob, "PRIVMSG NickServ :IDENTIFY password1")
        h.core.storeAnswered(.login(Self.record("bob")), to: Self.lastQuestion(h, for: bob)!, for: bob)
        h.time.advance(.seconds(31))
        h.core.wake()
        #expect(bob.nick == "bob")
        #expect(bob.nickGraceEnds == nil)
    }

    @Test("a PRIVMSG to an account with no connection is kept, and the sender told; nobody's nick gets 401; a full box gets FAIL")
    func offlineSend() {
        let h = CoreHarness(usesStore: true)
        let ann = Self.loggedIn(h, "ann")
        h.say(ann, "PRIVMSG carol :see you tomorrow")
        guard case .offlineMessage(let message, recipient: "carol", boxLimit: 1000) = Self.lastQuestion(h, for: ann) else {
            Issue.record("no offline question: \(h.effects)")
            return
        }
        #expect(message.text == "see you tomorrow" && message.source == "ann!~ann@192.0.2.1" && message.sourceAccount == "ann")
        #expect(message.conversation == "@ann carol" && message.time == 1_800_000_000_250 && !message.msgid.isEmpty)
        let request = ChatStoreRequest.offlineMessage(message, recipient: "carol", boxLimit: 1000)
        h.core.storeAnswered(.offline(.stored(account: "carol", id: 7)), to: request, for: ann)
        #expect(h.take(ann) == [":irc.test NOTICE ann :carol is offline; your message will be delivered when they next log in"])
        h.core.storeAnswered(.offline(.noAccount), to: request, for: ann)
        #expect(h.take(ann) == [":irc.test 401 ann carol :No such nick/channel"])
        h.core.storeAnswered(.offline(.boxFull(account: "carol")), to: request, for: ann)
        #expect(h.take(ann) == [":irc.test FAIL PRIVMSG BOX_FULL carol :carol is offline and already has 1000 messages waiting; this one was not kept"])
        h.core.storeAnswered(.failed("disk on fire"), to: request, for: ann)
        #expect(h.take(ann) == [":irc.test FAIL PRIVMSG TEMPORARILY_UNAVAILABLE carol :carol is offline and the message could not be kept; try again later"])
    }

    @Test("at login the offline box arrives in order with its senders, original times and msgids, and counts as delivered once written")
    func offlineDelivery() {
        let h = CoreHarness(usesStore: true)
        let carol = Self.loggedIn(h, "carol", caps: "sasl server-time message-tags account-tag")
        let plainCarol = Self.loggedIn(h, "dave")
        _ = h.take(carol)
        let kept = [
            ChatStoredMessage(id: 3, msgid: "a1", time: 1_799_999_000_000, source: "ann!~ann@192.0.2.9", sourceAccount: "ann", command: "PRIVMSG", target: "carol", conversation: "@ann carol", text: "first"),
            ChatStoredMessage(id: 5, msgid: "a2", time: 1_799_999_060_000, source: "g!~g@192.0.2.8", sourceAccount: nil, command: "PRIVMSG", target: "carol", conversation: "@carol ~g", text: "second"),
        ]
        h.core.storeAnswered(.messages(kept), to: .offlineBox(folded: "carol", limit: 1000), for: carol)
        h.collect()
        #expect(h.take(carol) == [
            "@time=2027-01-15T08:00:00.250Z :irc.test NOTICE carol :2 messages arrived while you were away, from ann and g",
            "@time=2027-01-15T07:43:20.000Z;msgid=a1;account=ann :ann!~ann@192.0.2.9 PRIVMSG carol :first",
            "@time=2027-01-15T07:44:20.000Z;msgid=a2 :g!~g@192.0.2.8 PRIVMSG carol :second",
        ])
        #expect(h.effects.contains { if case .keepOnceWritten(.markDelivered(folded: "carol", through: 5), let s) = $0 { s === carol } else { false } })
        h.core.storeAnswered(.messages(Array(kept.prefix(1))), to: .offlineBox(folded: "dave", limit: 1000), for: plainCarol)
        #expect(h.take(plainCarol) == [
            ":irc.test NOTICE dave :1 message arrived while you were away, from ann",
            ":ann!~ann@192.0.2.9 PRIVMSG dave :[2027-01-15 07:43:20 UTC] first",
        ])
    }

    @Test("live messages go out first and are kept after: channels always, private ones for accounts; account tags and extended-join")
    func keepingAndTags() {
        let h = CoreHarness(usesStore: true)
        let ann = Self.loggedIn(h, "ann")
        let bob = Self.loggedIn(h, "bob", caps: "sasl account-tag extended-join account-notify")
        _ = h.take(ann)
        h.say(ann, "PRIVMSG #lobby :hello", "PRIVMSG bob :psst")
        #expect(h.take(bob) == [
            "@account=ann :ann!~ann@192.0.2.1 PRIVMSG #lobby :hello",
            "@account=ann :ann!~ann@192.0.2.1 PRIVMSG bob :psst",
        ])
        let kept = h.effects.compactMap { effect -> ChatStoredMessage? in
            if case .keep(.append(let messages)) = effect { return messages.first }
            return nil
        }
        #expect(kept.map(\.conversation) == ["#lobby", "@ann bob"])
        #expect(kept.map(\.text) == ["hello", "psst"])
        let cat = h.registered("cat")
        _ = cat
        #expect(h.take(bob).first == ":cat!~cat@192.0.2.1 JOIN #lobby * :cat Real")
        h.say(ann, "WHOIS bob")
        #expect(h.take(ann).contains(":irc.test 330 ann bob bob :is logged in as"))
    }

    @Test("MARKREAD: a join tells the marker to the joiner alone; a move is told to every connection of the account that has the capability")
    func readMarker() {
        let h = CoreHarness(usesStore: true)
        let ann = Self.loggedIn(h, "ann", caps: "sasl draft/read-marker")
        let again = h.connect()
        h.say(again, "CAP REQ :sasl draft/read-marker", "NICK ann2", "USER ann 0 * :Ann", "AUTHENTICATE PLAIN", "AUTHENTICATE \(Self.plain("ann", "password1"))", "CAP END")
        h.core.storeAnswered(.login(Self.record("ann")), to: Self.lastQuestion(h, for: again)!, for: again)
        h.core.storeAnswered(.nickOwner("ann"), to: .nickOwner(folded: "ann2"), for: again)
        h.collect()
        _ = h.take(ann)
        _ = h.take(again)
        h.say(ann, "JOIN #side")
        #expect(Self.lastQuestion(h, for: ann) == .readMarker(folded: "ann", conversation: "#side"))
        // The join's NAMES ends after the marker, as the spec asks.
        #expect(h.take(ann).last == ":irc.test 353 ann = #side :@ann")
        h.core.storeAnswered(.marker(nil), to: .readMarker(folded: "ann", conversation: "#side"), for: ann)
        #expect(h.take(ann) == [":irc.test MARKREAD #side *", ":irc.test 366 ann #side :End of /NAMES list."])
        #expect(h.take(again).isEmpty)
        h.say(ann, "MARKREAD #side timestamp=2027-01-15T08:00:00.000Z")
        let move = ChatStoreRequest.setReadMarker(folded: "ann", conversation: "#side", time: 1_800_000_000_000)
        #expect(Self.lastQuestion(h, for: ann) == move)
        h.core.storeAnswered(.marker(1_800_000_000_000), to: move, for: ann)
        #expect(h.take(ann) == [":irc.test MARKREAD #side timestamp=2027-01-15T08:00:00.000Z"])
        #expect(h.take(again) == [":irc.test MARKREAD #side timestamp=2027-01-15T08:00:00.000Z"])
        // Without an account, markers live as long as the connection, and only move forward.
        let guest = h.registered("guest")
        h.say(guest, "MARKREAD #lobby")
        #expect(h.take(guest) == [":irc.test MARKREAD #lobby *"])
        h.say(guest, "MARKREAD #lobby timestamp=2027-01-15T08:00:00.000Z", "MARKREAD #LOBBY timestamp=2020-01-01T00:00:00.000Z")
        #expect(h.take(guest) == [
            ":irc.test MARKREAD #lobby timestamp=2027-01-15T08:00:00.000Z", ":irc.test MARKREAD #LOBBY timestamp=2027-01-15T08:00:00.000Z",
        ])
        #expect(!h.effects.contains { if case .ask(.readMarker, let asker) = $0 { asker === guest } else { false } })
        #expect(!h.effects.contains { if case .ask(.setReadMarker, let asker) = $0 { asker === guest } else { false } })
        h.say(guest, "MARKREAD", "MARKREAD #lobby *", "MARKREAD #lobby timestamp=yesterday")
        #expect(h.take(guest) == [
            ":irc.test FAIL MARKREAD NEED_MORE_PARAMS :MARKREAD <target> [timestamp=...]",
            ":irc.test FAIL MARKREAD INVALID_PARAMS * :The marker is timestamp=YYYY-MM-DDThh:mm:ss.sssZ",
            ":irc.test FAIL MARKREAD INVALID_PARAMS timestamp=yesterday :The marker is timestamp=YYYY-MM-DDThh:mm:ss.sssZ",
        ])
    }

    @Test("A CHATHISTORY and a MARKREAD outstanding for one private conversation each answer under the nick they were asked with")
    func historyAndMarkerTogether() {
        let h = CoreHarness(usesStore: true)
        let ann = Self.loggedIn(h, "ann", caps: "sasl batch server-time message-tags draft/read-marker")
        _ = h.take(ann)
        // Both name bob's conversation, whose store key is "@ann bob"; the second is asked before the first is answered.
        h.say(ann, "CHATHISTORY LATEST Bob * 10", "MARKREAD bob")
        let history = ChatStoreRequest.history(ChatHistoryQuery(conversation: "@ann bob", selector: .latest(after: nil), limit: 10))
        let marker = ChatStoreRequest.readMarker(folded: "ann", conversation: "@ann bob")
        // The MARKREAD waits for the history's answer, so that the replies keep the commands' order.
        #expect(Self.lastQuestion(h, for: ann) == history)
        h.core.storeAnswered(.messages([]), to: history, for: ann)
        h.collect()
        #expect(Self.lastQuestion(h, for: ann) == marker)
        let batch = h.take(ann)
        #expect(batch.first?.hasSuffix(" chathistory Bob") == true, "\(batch)")
        h.core.storeAnswered(.marker(nil), to: marker, for: ann)
        let answer = h.take(ann)
        #expect(answer.count == 1 && answer[0].hasSuffix(" :irc.test MARKREAD bob *"), "\(answer)")
    }

    @Test("CHATHISTORY asks the store for members' channels and the account's own conversations only, and answers in a batch")
    func chathistory() {
        let h = CoreHarness(usesStore: true)
        let ann = Self.loggedIn(h, "ann", caps: "sasl batch server-time message-tags")
        let guest = h.registered("guest", caps: "batch")
        h.say(ann, "CHATHISTORY LATEST #lobby * 500")
        let query = ChatHistoryQuery(conversation: "#lobby", selector: .latest(after: nil), limit: 100)
        #expect(Self.lastQuestion(h, for: ann) == .history(query))
        _ = h.take(ann)
        let message = ChatStoredMessage(id: 1, msgid: "x1", time: 1_799_999_000_000, source: "bob!~bob@192.0.2.2", sourceAccount: "bob", command: "PRIVMSG", target: "#lobby", conversation: "#lobby", text: "earlier")
        h.core.storeAnswered(.messages([message]), to: .history(query), for: ann)
        let lines = h.take(ann)
        #expect(lines.count == 3)
        #expect(lines.first?.hasSuffix(" BATCH +m-") == false && lines.first?.contains(" BATCH +") == true && lines.first?.hasSuffix(" chathistory #lobby") == true)
        #expect(lines[1].hasPrefix("@batch=") && lines[1].hasSuffix(";time=2027-01-15T07:43:20.000Z;msgid=x1 :bob!~bob@192.0.2.2 PRIVMSG #lobby :earlier"))
        #expect(lines[2].contains(" BATCH -"))
        // Each question answered (with nothing) before the next line is read.
        func ask(_ line: String) -> ChatStoreRequest? {
            h.say(ann, line)
            let question = Self.lastQuestion(h, for: ann)
            if let question { h.core.storeAnswered(.messages([]), to: question, for: ann) }
            h.collect()
            _ = h.take(ann)
            return question
        }
        #expect(ask("CHATHISTORY BEFORE bob timestamp=2027-01-15T08:00:00.000Z 10") == .history(ChatHistoryQuery(conversation: "@ann bob", selector: .before(.time(1_800_000_000_000)), limit: 10)))
        // Someone online is asked about by their account, whatever their nick.
        let robert = Self.loggedIn(h, "bob")
        h.say(robert, "NICK robert")
        #expect(ask("CHATHISTORY LATEST robert * 10") == .history(ChatHistoryQuery(conversation: "@ann bob", selector: .latest(after: nil), limit: 10)))
        #expect(ask("CHATHISTORY BETWEEN bob msgid=x1 msgid=x2 5") == .history(ChatHistoryQuery(conversation: "@ann bob", selector: .between(.msgid("x1"), .msgid("x2")), limit: 5)))
        // A session without an account has no private history, and nobody reads a channel they are not in.
        _ = h.take(guest)
        h.say(guest, "CHATHISTORY LATEST ann * 10", "CHATHISTORY LATEST #elsewhere * 10", "CHATHISTORY LATEST #lobby bogus 10")
        #expect(h.take(guest) == [
            ":irc.test FAIL CHATHISTORY INVALID_TARGET LATEST ann :No history of ann for you",
            ":irc.test FAIL CHATHISTORY INVALID_TARGET LATEST #elsewhere :No history of #elsewhere for you",
            ":irc.test FAIL CHATHISTORY INVALID_PARAMS LATEST :References are timestamp=YYYY-MM-DDThh:mm:ss.sssZ or msgid=ID",
        ])
        h.say(ann, "CHATHISTORY TARGETS timestamp=2027-01-01T00:00:00.000Z timestamp=2027-02-01T00:00:00Z 20")
        guard case .targets(folded: "ann", channels: ["#lobby"], from: _, to: _, limit: 20) = Self.lastQuestion(h, for: ann) else {
            Issue.record("no TARGETS question")
            return
        }
    }
}
