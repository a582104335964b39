import Testing
import TinCanIRC

@testable import TinCanChatClient

/// The client's session, line by line, with no network.
@Suite struct ChatClientCoreTests {
    static let now: Int64 = 1_800_000_000_000

    /// Feeds server lines; returns the actions.
    static func feed(_ core: inout ChatClientCore, _ lines: String...) -> [ChatClientAction] {
        lines.flatMap { core.received(try! IRCMessage(parsing: $0), now: Self.now) }
    }

    static func sent(_ actions: [ChatClientAction]) -> [String] {
        actions.compactMap { if case .send(let message) = $0 { message.line } else { nil } }
    }

    /// A core logged in as ann with the capabilities tincan's server gives.
    static func loggedIn(_ caps: String = "sasl server-time message-tags batch echo-message away-notify draft/chathistory draft/read-marker") -> ChatClientCore {
        var core = ChatClientCore(login: ChatLogin(nick: "ann", mode: .logIn(password: "secret")))
        _ = core.connected()
        _ = Self.feed(&core, ":srv CAP * LS :\(caps)", ":srv CAP ann ACK :\(caps)", "AUTHENTICATE +", ":srv 900 ann ann!~ann@h ann :You are now logged in", ":srv 903 ann :ok")
        _ = Self.feed(&core, ":srv 001 ann :Welcome", ":srv 005 ann CHANTYPES=# MONITOR=100 QUIETPRESENCE=3 CHATHISTORY=100 draft/FILEHOST=http://chat.test:8080/upload :are supported")
        return core
    }

    @Test("registration: CAP LS 302, NICK and USER; the wanted capabilities; SASL PLAIN; CAP END after 903; CHATHISTORY TARGETS after 001")
    func registration() {
        var core = ChatClientCore(login: ChatLogin(nick: "ann", mode: .logIn(password: "secret")))
        #expect(Self.sent(core.connected()) == ["CAP LS 302", "NICK ann", "USER ann 0 * :ann"])
        #expect(Self.sent(Self.feed(&core, ":srv CAP * LS * :sasl server-time", ":srv CAP * LS :batch draft/chathistory unknown-cap")) == [
            "CAP REQ :sasl server-time batch draft/chathistory"
        ])
        #expect(Self.sent(Self.feed(&core, ":srv CAP ann ACK :sasl server-time batch draft/chathistory")) == ["AUTHENTICATE PLAIN"])
        // base64("\0ann\0secret")
        #expect(Self.sent(Self.feed(&core, "AUTHENTICATE +")) == ["AUTHENTICATE AGFubgBzZWNyZXQ="])
        #expect(Self.sent(Self.feed(&core, ":srv 900 ann ann!~ann@h ann :logged in", ":srv 903 ann :SASL ok")) == ["CAP END"])
        let welcome = Self.feed(&core, ":srv 001 ann :Welcome")
        #expect(welcome.contains(.ready(nick: "ann", account: "ann")))
        #expect(Self.sent(welcome).first?.hasPrefix("CHATHISTORY TARGETS timestamp=1970-01-01T00:00:00.000Z timestamp=") == true)
    }

    @Test("refusals are sentences: a wrong password, no SASL, a taken name on sign-up")
    func refusals() {
        var core = ChatClientCore(login: ChatLogin(nick: "ann", mode: .logIn(password: "x")))
        _ = core.connected()
        #expect(Self.feed(&core, ":srv CAP * LS :server-time").contains(.refused("This server keeps no accounts, so it cannot log you in.")))
        core = ChatClientCore(login: ChatLogin(nick: "ann", mode: .logIn(password: "x")))
        _ = core.connected()
        _ = Self.feed(&core, ":srv CAP * LS :sasl", ":srv CAP ann ACK :sasl", "AUTHENTICATE +")
        #expect(Self.feed(&core, ":srv 904 ann :SASL authentication failed").contains(.refused("Wrong nick or password.")))
        var signUp = ChatClientCore(login: ChatLogin(nick: "ann", mode: .register(password: "pw")))
        _ = signUp.connected()
        #expect(Self.sent(Self.feed(&signUp, ":srv CAP * LS :draft/account-registration", ":srv CAP ann ACK :draft/account-registration")) == [
            "CAP REQ :draft/account-registration", "REGISTER * * :pw",
        ])
        #expect(Self.feed(&signUp, ":srv FAIL REGISTER ACCOUNT_EXISTS ann :Account already exists").contains(
            .refused("That name is taken: someone already signed up with it. Log in instead, or pick another.")))
        // Once signed up, connecting again logs in.
        var again = ChatClientCore(login: ChatLogin(nick: "ann", mode: .register(password: "pw")))
        _ = again.connected()
        _ = Self.feed(&again, ":srv CAP * LS :sasl draft/account-registration", ":srv CAP ann ACK :sasl draft/account-registration", ":srv REGISTER SUCCESS ann :Account created")
        #expect(again.login.mode == .logIn(password: "pw"))
        _ = again.connected()
        #expect(Self.sent(Self.feed(&again, ":srv CAP * LS :sasl draft/account-registration", ":srv CAP ann ACK :sasl draft/account-registration")) == [
            "CAP REQ :sasl draft/account-registration", "AUTHENTICATE PLAIN",
        ])
    }

    @Test("a nick in use at login (another session of the account) becomes ann_, then ann__")
    func nickInUse() {
        var core = ChatClientCore(login: ChatLogin(nick: "ann", mode: .logIn(password: "x")))
        _ = core.connected()
        #expect(Self.sent(Self.feed(&core, ":srv 433 * ann :Nickname is already in use")) == ["NICK ann_"])
        #expect(Self.sent(Self.feed(&core, ":srv 433 * ann_ :Nickname is already in use")) == ["NICK ann__"])
    }

    @Test("the lobby: joining asks its history; NAMES fills the members; LIST says it is large; JOIN, AWAY and QUIT change presence")
    func lobby() {
        var core = Self.loggedIn()
        let join = Self.feed(&core, ":ann!~ann@h JOIN #lobby", ":srv 353 ann = #lobby :ann @bob carol", ":srv 366 ann #lobby :End")
        #expect(Self.sent(join) == ["CHATHISTORY LATEST #lobby * 50", "LIST #lobby"])
        #expect(core.model.lobby == "#lobby" && core.model.currentConversation.name == "#lobby")
        #expect(Set(core.model.currentConversation.members.values) == ["ann", "bob", "carol"])
        #expect(core.model.presence(of: "bob") == .online)
        _ = Self.feed(&core, ":srv 322 ann #lobby 5 :")
        #expect(core.model.currentConversation.large && core.model.currentConversation.count == 5)
        _ = Self.feed(&core, ":bob!~bob@h AWAY :lunch")
        #expect(core.model.presence(of: "bob") == .away)
        _ = Self.feed(&core, ":carol!~carol@h QUIT :bye")
        #expect(core.model.presence(of: "carol") == .offline && core.model.currentConversation.members["carol"] == nil)
    }

    @Test("messages: live lines count as unread until read; a mention is marked; history in a batch keeps time order; the same msgid twice is one line")
    func messages() {
        var core = Self.loggedIn()
        _ = Self.feed(&core, ":ann!~ann@h JOIN #lobby", ":srv MARKREAD #lobby timestamp=2027-01-15T08:00:00.000Z")
        _ = Self.feed(
            &core, "@time=2027-01-15T08:00:05.000Z;msgid=m2 :bob!~bob@h PRIVMSG #lobby :hi ann",
            "@time=2027-01-15T08:00:06.000Z;msgid=m3 :carol!~carol@h PRIVMSG #lobby :\u{1}ACTION waves\u{1}"
        )
        var lobby = core.model.currentConversation
        #expect(lobby.lines.map(\.text) == ["hi ann", "waves"])
        #expect(lobby.lines[1].kind == .action && lobby.lines[0].mention)
        #expect(lobby.unread == 2 && lobby.mentioned)
        _ = Self.feed(
            &core, ":srv BATCH +h chathistory #lobby", "@batch=h;time=2027-01-15T07:59:00.000Z;msgid=m1 :bob!~bob@h PRIVMSG #lobby :earlier",
            "@batch=h;time=2027-01-15T08:00:05.000Z;msgid=m2 :bob!~bob@h PRIVMSG #lobby :hi ann", ":srv BATCH -h"
        )
        lobby = core.model.currentConversation
        #expect(lobby.lines.map(\.text) == ["earlier", "hi ann", "waves"])
        #expect(lobby.unread == 2)
        #expect(Self.sent(core.markRead()) == ["MARKREAD #lobby timestamp=2027-01-15T08:00:06.000Z"])
        #expect(core.model.currentConversation.unread == 0)
    }

    @Test("private messages: a conversation per partner, watched with MONITOR; offline ones from history are new; files announced get numbers")
    func privateMessages() {
        var core = Self.loggedIn()
        _ = Self.feed(&core, ":ann!~ann@h JOIN #lobby")
        let first = Self.feed(&core, "@time=2027-01-15T08:00:00.000Z;msgid=p1 :bob!~bob@h PRIVMSG ann :psst http://127.0.0.1:8080/files/0123456789abcdef0123456789abcdef http://example.com/files/x")
        #expect(Self.sent(first) == ["MONITOR + bob"])
        // A file link on another address of the server is looked up on the FILEHOST origin; other links are not files.
        let offer = ChatFileOffer(number: 1, url: "http://chat.test:8080/files/0123456789abcdef0123456789abcdef", from: "bob", conversation: "bob")
        #expect(first.filter { if case .lookUpFile = $0 { true } else { false } } == [.lookUpFile(offer)])
        let bob = core.model.conversations[core.model.index(of: "bob")!]
        #expect(bob.kind == .direct && bob.unread == 1)
        _ = core.fileInfo(1, name: "notes.txt", size: 2048, now: Self.now)
        #expect(ChatClientCore.describe(core.model.files[0]) == "file 1: notes.txt (2.0 KiB) from bob: /get 1")
        #expect(core.model.conversations[core.model.index(of: "bob")!].lines.last?.text == "file 1: notes.txt (2.0 KiB) from bob: /get 1")
        // Someone else's conversation found by TARGETS at login: its marker, its history, its presence.
        let targets = Self.feed(&core, ":srv CHATHISTORY TARGETS carol timestamp=2027-01-15T07:00:00.000Z")
        #expect(Self.sent(targets) == ["MARKREAD carol", "CHATHISTORY LATEST carol * 50", "MONITOR + carol"])
        _ = Self.feed(&core, ":srv MARKREAD carol timestamp=2027-01-15T06:00:00.000Z")
        _ = Self.feed(
            &core, ":srv BATCH +c chathistory carol", "@batch=c;time=2027-01-15T05:00:00.000Z;msgid=c0 :carol!~carol@h PRIVMSG ann :read before",
            "@batch=c;time=2027-01-15T07:00:00.000Z;msgid=c1 :carol!~carol@h PRIVMSG ann :while you were out", ":srv BATCH -c"
        )
        let carol = core.model.conversations[core.model.index(of: "carol")!]
        #expect(carol.unread == 1 && carol.lines.map { carol.isNew($0) } == [false, true])
        _ = Self.feed(&core, ":srv 731 ann :carol")
        #expect(core.model.presence(of: "carol") == .offline && core.model.contacts.contains("carol"))
    }

    @Test("commands: /msg, /query, /join, /me, /away, /nick, /who, /history, /send, /get, /quit; a plain line goes to the conversation on screen")
    func commands() {
        var core = Self.loggedIn()
        _ = Self.feed(&core, ":ann!~ann@h JOIN #lobby")
        #expect(Self.sent(core.submitted("hello all", now: Self.now)) == ["PRIVMSG #lobby :hello all"])
        #expect(Self.sent(core.submitted("/msg bob hi there", now: Self.now)) == ["MONITOR + bob", "PRIVMSG bob :hi there"])
        #expect(core.model.currentConversation.name == "#lobby")
        _ = core.submitted("/query bob", now: Self.now)
        #expect(core.model.currentConversation.name == "bob")
        #expect(Self.sent(core.submitted("/me waves", now: Self.now)) == ["PRIVMSG bob :\u{1}ACTION waves\u{1}"])
        #expect(Self.sent(core.submitted("/join side", now: Self.now)) == ["JOIN #side"])
        _ = core.submitted("/query bob", now: Self.now)
        #expect(Self.sent(core.submitted("/away lunch", now: Self.now)) == ["AWAY :lunch"])
        #expect(Self.sent(core.submitted("/nick ann2", now: Self.now)) == ["NICK ann2"])
        #expect(Self.sent(core.submitted("/who b*", now: Self.now)) == ["WHO b*"])
        _ = Self.feed(&core, ":srv 352 ann * ~bob h srv bob G :0 Bob", ":srv 315 ann b* :End of WHO list")
        #expect(core.model.currentConversation.lines.last?.text == "Found 1: bob (away)")
        #expect(core.submitted("/send bob /tmp/x.bin", now: Self.now).contains(.upload(path: "/tmp/x.bin", target: "bob", url: "http://chat.test:8080/upload")))
        #expect(Self.sent(core.submitted("/get 3", now: Self.now)).isEmpty)
        #expect(core.model.currentConversation.lines.last?.text == "No files yet.")
        // /history N asks for the N lines before the oldest shown; /part leaves a channel; /help lists the commands.
        // (the join's own history question answered: an empty batch)
        _ = Self.feed(&core, ":ann!~ann@h JOIN #side", ":srv BATCH +h1 chathistory #side", ":srv BATCH -h1")
        _ = Self.feed(&core, "@msgid=s1;time=2027-01-15T08:00:00.000Z :bob!~bob@h PRIVMSG #side :first")
        _ = core.submitted("/join side", now: Self.now)
        #expect(core.model.currentConversation.name == "#side")
        #expect(Self.sent(core.submitted("/history 20", now: Self.now)) == ["CHATHISTORY BEFORE #side msgid=s1 20"])
        #expect(Self.sent(core.submitted("/part bye", now: Self.now)) == ["PART #side :bye"])
        _ = core.submitted("/help", now: Self.now)
        #expect(core.model.currentConversation.lines.suffix(ChatClientCore.help.count).map(\.text) == ChatClientCore.help)
        _ = core.submitted("/frob", now: Self.now)
        #expect(core.model.currentConversation.lines.last?.text == "Unknown command /frob: /help lists them.")
        let quit = core.submitted("/quit gone", now: Self.now)
        #expect(Self.sent(quit) == ["QUIT :gone"] && quit.contains(.quit))
    }

    @Test("without echo-message the client shows its own line at once")
    func withoutEcho() {
        var core = Self.loggedIn("sasl server-time")
        _ = Self.feed(&core, ":ann!~ann@h JOIN #lobby")
        _ = core.submitted("hello", now: Self.now)
        #expect(core.model.currentConversation.lines.last.map { ($0.from, $0.text, $0.mine) } ?? ("", "", false) == ("ann", "hello", true))
    }
}
