import Testing
import TinCanIRC

@testable import TinCanChat

/// WHOWAS, TIME, INFO, HELP/HELPOP, LINKS, VERSION, ADMIN, WALLOPS with user mode +w, and
/// LUSERS' counts, driven through a core (``CoreHarness``) and read back as reply lines.
@Suite struct ServerCommandTests {
    static func operators() -> ChatServerConfiguration {
        ChatServerConfiguration(name: "irc.test", lobby: nil, operators: ["root": "hunter2"])
    }

    // MARK: WHOWAS

    @Test("WHOWAS after QUIT: 314, 312, 369; a nick never seen gets 406 then 369; no nick gets 431 alone")
    func whowasAfterQuit() {
        let h = CoreHarness(ChatServerConfiguration(name: "irc.test", lobby: nil))
        let ann = h.registered("ann")
        let bob = h.registered("Bob", host: "198.51.100.7")
        h.say(bob, "QUIT :bye")
        _ = h.take(ann)
        h.say(ann, "WHOWAS bob")
        #expect(h.take(ann) == [
            ":irc.test 314 ann Bob ~bob 198.51.100.7 * :Bob Real",
            ":irc.test 312 ann Bob irc.test :tincan chat",
            ":irc.test 369 ann bob :End of WHOWAS",
        ])
        h.say(ann, "WHOWAS carol")
        #expect(h.take(ann) == [":irc.test 406 ann carol :There was no such nickname", ":irc.test 369 ann carol :End of WHOWAS"])
        h.say(ann, "WHOWAS")
        #expect(h.take(ann) == [":irc.test 431 ann :No nickname given"])
        // Someone online now who never left has no history either.
        h.say(ann, "WHOWAS ann")
        #expect(h.take(ann) == [":irc.test 406 ann ann :There was no such nickname", ":irc.test 369 ann ann :End of WHOWAS"])
    }

    @Test("WHOWAS lists newest first; a positive count limits it, zero and negative counts do not; comma lists")
    func whowasCountAndOrder() {
        let h = CoreHarness(ChatServerConfiguration(name: "irc.test", lobby: nil))
        let ann = h.registered("ann")
        for user in ["first", "second", "third"] {
            let s = h.connect()
            h.say(s, "NICK dan", "USER \(user) 0 * :Dan \(user)", "QUIT")
        }
        _ = h.take(ann)
        func users(_ line: String) -> [String] {
            h.say(ann, line)
            return h.take(ann).filter { $0.contains(" 314 ") }.map { String($0.split(separator: " ")[4]) }
        }
        #expect(users("WHOWAS dan") == ["~third", "~second", "~first"])
        #expect(users("WHOWAS DAN 1") == ["~third"])
        #expect(users("WHOWAS dan 2") == ["~third", "~second"])
        #expect(users("WHOWAS dan 0") == ["~third", "~second", "~first"])
        #expect(users("WHOWAS dan -1") == ["~third", "~second", "~first"])
        #expect(users("WHOWAS d*") == ["~third", "~second", "~first"])
        #expect(users("WHOWAS ?AN 2") == ["~third", "~second"])
        #expect(users("WHOWAS x*").isEmpty)
        h.say(ann, "WHOWAS nobody,dan 1")
        #expect(h.take(ann) == [
            ":irc.test 406 ann nobody :There was no such nickname", ":irc.test 369 ann nobody :End of WHOWAS",
            ":irc.test 314 ann dan ~third 192.0.2.1 * :Dan third", ":irc.test 312 ann dan irc.test :tincan chat",
            ":irc.test 369 ann dan :End of WHOWAS",
        ])
    }

    @Test("a nick change is remembered under the old nick, with the account (330) the session was logged in to")
    func whowasNickChange() {
        let h = CoreHarness(ChatServerConfiguration(name: "irc.test", lobby: nil))
        let ann = h.registered("ann")
        let bob = h.registered("bob")
        bob.account = ChatAccountName(name: "Bob", folded: "bob")
        h.say(bob, "NICK robert")
        _ = h.take(ann)
        h.say(ann, "WHOWAS bob")
        #expect(h.take(ann) == [
            ":irc.test 314 ann bob ~bob 192.0.2.1 * :bob Real",
            ":irc.test 330 ann bob Bob :was logged in as",
            ":irc.test 312 ann bob irc.test :tincan chat",
            ":irc.test 369 ann bob :End of WHOWAS",
        ])
        h.say(ann, "WHOWAS robert")
        #expect(h.take(ann).first == ":irc.test 406 ann robert :There was no such nickname")
    }

    @Test("the history keeps whowasPerNick entries per nick and whowasEntries in all, dropping the oldest")
    func whowasBounded() {
        var configuration = ChatServerConfiguration(name: "irc.test", lobby: nil)
        configuration.limits.whowasEntries = 3
        configuration.limits.whowasPerNick = 2
        let h = CoreHarness(configuration)
        let ann = h.registered("ann")
        for nick in ["x", "x", "x", "y", "z"] {
            let s = h.connect()
            h.say(s, "NICK \(nick)", "USER u\(h.core.whowas.count) 0 * :R", "QUIT")
        }
        #expect(h.core.whowas.count == 3)
        _ = h.take(ann)
        h.say(ann, "WHOWAS x")
        // x had three entries (u0, u1, u2): the nick keeps two, and the overall limit of three
        // leaves only the newest x beside y and z.
        #expect(h.take(ann).filter { $0.contains(" 314 ") } == [":irc.test 314 ann x ~u2 192.0.2.1 * :R"])
        for _ in 0..<1000 {
            let s = h.connect()
            h.say(s, "NICK w", "USER w 0 * :R", "QUIT")
        }
        #expect(h.core.whowas.count == 2)
        #expect(h.core.whowas.lookup("w").count == 2)
        #expect(h.core.whowas.lookup("x").isEmpty && h.core.whowas.lookup("y").isEmpty)
    }

    @Test("ChatWhowas alone: newest first, limits, and a lookup capped by its limit")
    func whowasStructure() {
        var history = ChatWhowas()
        func entry(_ user: String) -> ChatWhowas.Entry { ChatWhowas.Entry(nick: "n", user: user, host: "h", realName: "r") }
        for user in ["a", "b", "c", "d", "e"] { history.record(entry(user), folded: "n", total: 10, perNick: 4) }
        #expect(history.lookup("n").map(\.user) == ["e", "d", "c", "b"])
        #expect(history.lookup("n", limit: 2).map(\.user) == ["e", "d"])
        #expect(history.count == 4)
        history.record(entry("z"), folded: "o", total: 10, perNick: 4)
        #expect(history.lookup(where: { _ in true }, limit: 1, cap: 10).map(\.user) == ["e", "z"])
        #expect(history.lookup(where: { _ in true }, limit: nil, cap: 3).map(\.user) == ["e", "d", "c"])
        history.record(entry("f"), folded: "m", total: 0, perNick: 4)
        #expect(history.lookup("m").isEmpty)
    }

    // MARK: about the server

    @Test("TIME, INFO, VERSION, ADMIN and LINKS answer for this server and give 402 for another")
    func aboutTheServer() {
        let h = CoreHarness(ChatServerConfiguration(name: "irc.test", lobby: nil))
        let ann = h.registered("ann")
        h.say(ann, "TIME")
        #expect(h.take(ann) == [":irc.test 391 ann irc.test :2027-01-15 08:00:00 UTC"])
        h.say(ann, "TIME IRC.TEST")
        #expect(h.take(ann) == [":irc.test 391 ann irc.test :2027-01-15 08:00:00 UTC"])
        for command in ["TIME", "INFO", "VERSION", "ADMIN"] {
            h.say(ann, "\(command) other.example")
            #expect(h.take(ann) == [":irc.test 402 ann other.example :No such server"], "\(command)")
        }
        h.say(ann, "INFO *test")
        let info = h.take(ann)
        #expect(info.count > 2)
        #expect(info.dropLast().allSatisfy { $0.hasPrefix(":irc.test 371 ann :") })
        #expect(info.first == ":irc.test 371 ann :tincan-chat-0.1: the chat server of tincan, built on SwiftNIO.")
        #expect(info.last == ":irc.test 374 ann :End of INFO list")
        h.say(ann, "VERSION")
        let version = h.take(ann)
        #expect(version.first == ":irc.test 351 ann tincan-chat-0.1 irc.test :tincan chat")
        #expect(version.count > 2 && version.dropFirst().allSatisfy { $0.hasPrefix(":irc.test 005 ann ") })
        #expect(version.last?.hasSuffix(" :are supported by this server") == true)
        h.say(ann, "ADMIN")
        #expect(h.take(ann) == [
            ":irc.test 256 ann irc.test :Administrative info",
            ":irc.test 257 ann :tincan chat on the tincan network",
            ":irc.test 258 ann :Ask an IRC operator (LUSERS counts them)",
            ":irc.test 259 ann :No administrator e-mail address is configured",
        ])
        h.say(ann, "LINKS")
        #expect(h.take(ann) == [":irc.test 364 ann irc.test irc.test :0 tincan chat", ":irc.test 365 ann * :End of /LINKS list"])
        h.say(ann, "LINKS *.example")
        #expect(h.take(ann) == [":irc.test 365 ann *.example :End of /LINKS list"])
        h.say(ann, "LINKS other.example *")
        #expect(h.take(ann) == [":irc.test 402 ann other.example :No such server"])
    }

    @Test("the server's description (--server-info) is what WHOIS, WHOWAS, LINKS and VERSION give")
    func serverInfo() {
        var configuration = ChatServerConfiguration(name: "irc.test", lobby: nil)
        configuration.serverInfo = "test server"
        let h = CoreHarness(configuration)
        let ann = h.registered("ann")
        let bob = h.registered("bob")
        h.say(ann, "WHOIS bob")
        #expect(h.take(ann).contains(":irc.test 312 ann bob irc.test :test server"))
        h.say(bob, "QUIT")
        _ = h.take(ann)
        h.say(ann, "WHOWAS bob", "LINKS", "VERSION")
        let lines = h.take(ann)
        #expect(lines.contains(":irc.test 312 ann bob irc.test :test server"))
        #expect(lines.contains(":irc.test 364 ann irc.test irc.test :0 test server"))
        #expect(lines.contains(":irc.test 351 ann tincan-chat-0.1 irc.test :test server"))
    }

    // MARK: HELP

    @Test("HELP and HELPOP: the index, a command's text (any case), 524 for an unknown subject", arguments: ["HELP", "HELPOP"])
    func help(command: String) {
        let h = CoreHarness(ChatServerConfiguration(name: "irc.test", lobby: nil))
        let ann = h.registered("ann")
        h.say(ann, "\(command) privmsg")
        #expect(h.take(ann) == [
            ":irc.test 704 ann PRIVMSG :PRIVMSG <target>{,<target>} <text>",
            ":irc.test 705 ann PRIVMSG :Sends a message to channels or people.",
            ":irc.test 706 ann PRIVMSG :End of /HELP",
        ])
        h.say(ann, "\(command) THISISNOTACOMMAND")
        #expect(h.take(ann) == [":irc.test 524 ann THISISNOTACOMMAND :No help available on this topic"])
        h.say(ann, command)
        let index = h.take(ann)
        #expect(index.first == ":irc.test 704 ann index :Help topics available (HELP <topic>):")
        #expect(index.last == ":irc.test 706 ann index :End of /HELP")
        #expect(index.dropFirst().dropLast().allSatisfy { $0.hasPrefix(":irc.test 705 ann index :") })
        // Every command the server knows is listed, and has a text of its own or a pointer.
        let listed = Set(index.dropFirst().dropLast().flatMap { $0.split(separator: ":").last!.split(separator: " ").map(String.init) })
        #expect(listed == Set(ChatCommands.table.keys))
        for name in ChatHelp.topics.keys { #expect(ChatCommands.table[name] != nil, "help for \(name), which is no command") }
    }

    // MARK: WALLOPS and user modes

    @Test("WALLOPS: 481 without OPER; from an operator it reaches +w users and operators, not -w users")
    func wallops() {
        let h = CoreHarness(Self.operators())
        let ann = h.registered("ann")
        let bob = h.registered("bob")
        let cat = h.registered("cat")
        h.say(ann, "WALLOPS :hi")
        #expect(h.take(ann) == [":irc.test 481 ann :Permission Denied- You're not an IRC operator"])
        h.say(bob, "MODE bob +w")
        #expect(h.take(bob) == [":bob!~bob@192.0.2.1 MODE bob +w"])
        h.say(bob, "MODE bob +w")
        #expect(h.take(bob).isEmpty)
        h.say(bob, "MODE bob")
        #expect(h.take(bob) == [":irc.test 221 bob +w"])
        h.say(cat, "MODE cat +w", "MODE cat -w")
        #expect(h.take(cat) == [":cat!~cat@192.0.2.1 MODE cat +w", ":cat!~cat@192.0.2.1 MODE cat -w"])
        h.say(ann, "OPER root hunter2", "WALLOPS :hi everyone")
        #expect(h.take(ann) == [":irc.test 381 ann :You are now an IRC operator", ":ann!~ann@192.0.2.1 MODE ann +o", ":ann!~ann@192.0.2.1 WALLOPS :hi everyone"])
        #expect(h.take(bob) == [":ann!~ann@192.0.2.1 WALLOPS :hi everyone"])
        #expect(h.take(cat).isEmpty)
        h.say(ann, "WALLOPS")
        #expect(h.take(ann) == [":irc.test 461 ann WALLOPS :Not enough parameters"])
    }

    @Test("user modes: several letters at once, unknown ones get 501 and the rest still apply, -o ends OPER")
    func userModes() {
        let h = CoreHarness(Self.operators())
        let ann = h.registered("ann")
        h.say(ann, "OPER root hunter2")
        _ = h.take(ann)
        h.say(ann, "MODE ann +iwz")
        #expect(h.take(ann) == [":irc.test 501 ann :Unknown MODE flag", ":ann!~ann@192.0.2.1 MODE ann +iw"])
        h.say(ann, "MODE ann")
        #expect(h.take(ann) == [":irc.test 221 ann +iow"])
        h.say(ann, "MODE ann -o+o")
        #expect(h.take(ann) == [":ann!~ann@192.0.2.1 MODE ann -o"])
        h.say(ann, "MODE ann -w+i")
        #expect(h.take(ann) == [":ann!~ann@192.0.2.1 MODE ann -w"])
        h.say(ann, "KILL ann :x")
        #expect(h.take(ann) == [":irc.test 481 ann :Permission Denied- You're not an IRC operator"])
    }

    // MARK: LUSERS

    func lusers(_ h: CoreHarness, _ session: ChatSession) -> [String] {
        h.say(session, "LUSERS")
        return h.take(session)
    }

    @Test("LUSERS: unregistered connections are unknown, clients are registered ones, the max is the peak, QUIT counts")
    func lusersCounts() {
        let h = CoreHarness(Self.operators())
        let bar = h.registered("bar")
        #expect(self.lusers(h, bar) == [
            ":irc.test 251 bar :There are 1 users and 0 invisible on 1 servers",
            ":irc.test 252 bar 0 :operator(s) online",
            ":irc.test 253 bar 0 :unknown connection(s)",
            ":irc.test 254 bar 0 :channels formed",
            ":irc.test 255 bar :I have 1 clients and 0 servers",
            ":irc.test 265 bar 1 1 :Current local users 1, max 1",
            ":irc.test 266 bar 1 1 :Current global users 1, max 1",
        ])
        let qux = h.connect()
        h.say(qux, "NICK qux")
        let bat = h.connect()
        h.say(bat, "NICK bat")
        var lines = self.lusers(h, bar)
        #expect(lines[2] == ":irc.test 253 bar 2 :unknown connection(s)")
        #expect(lines[4] == ":irc.test 255 bar :I have 1 clients and 0 servers")
        #expect(lines[5] == ":irc.test 265 bar 1 1 :Current local users 1, max 1")
        h.say(qux, "USER u s e :r")
        h.say(bat, "QUIT")
        lines = self.lusers(h, bar)
        #expect(lines[0] == ":irc.test 251 bar :There are 2 users and 0 invisible on 1 servers")
        #expect(lines[2] == ":irc.test 253 bar 0 :unknown connection(s)")
        #expect(lines[4] == ":irc.test 255 bar :I have 2 clients and 0 servers")
        #expect(lines[6] == ":irc.test 266 bar 2 2 :Current global users 2, max 2")
        h.say(qux, "MODE qux +i", "OPER root hunter2", "JOIN #x")
        h.say(bar, "MODE bar +i")
        #expect(h.take(bar) == [":bar!~bar@192.0.2.1 MODE bar +i"])
        lines = self.lusers(h, bar)
        #expect(lines[0] == ":irc.test 251 bar :There are 0 users and 2 invisible on 1 servers")
        #expect(lines[1] == ":irc.test 252 bar 1 :operator(s) online")
        #expect(lines[3] == ":irc.test 254 bar 1 :channels formed")
        h.say(qux, "QUIT")
        lines = self.lusers(h, bar)
        #expect(lines[0] == ":irc.test 251 bar :There are 0 users and 1 invisible on 1 servers")
        #expect(lines[1] == ":irc.test 252 bar 0 :operator(s) online")
        #expect(lines[3] == ":irc.test 254 bar 0 :channels formed")
        #expect(lines[4] == ":irc.test 255 bar :I have 1 clients and 0 servers")
        #expect(lines[5] == ":irc.test 265 bar 1 2 :Current local users 1, max 2")
        h.say(bar, "MODE bar -i")
        _ = h.take(bar)
        #expect(self.lusers(h, bar)[0] == ":irc.test 251 bar :There are 1 users and 0 invisible on 1 servers")
    }
}
