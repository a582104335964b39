import Testing
import TinCanIRC

@testable import TinCanChat

/// Channel modes and INVITE, driven through the core with no lobby: ann creates #c and is its
/// operator, carl is in it, bob is outside. Every reply is checked byte for byte.
@Suite struct ChannelModeTests {
    static let ann = ":ann!~ann@192.0.2.1"

    static func harness(operators: [String: String] = [:], lobby: String? = nil) -> (CoreHarness, ChatSession, ChatSession, ChatSession) {
        let h = CoreHarness(ChatServerConfiguration(name: "irc.test", lobby: lobby, operators: operators))
        let ann = h.registered("ann", host: "192.0.2.1")
        let bob = h.registered("bob", host: "192.0.2.2")
        let carl = h.registered("carl", host: "192.0.2.3")
        h.say(ann, "JOIN #c")
        h.say(carl, "JOIN #c")
        for session in [ann, bob, carl] { _ = h.take(session) }
        return (h, ann, bob, carl)
    }

    @Test("ISUPPORT and 004 name the modes: CHANMODES=beI,k,l,imnst PREFIX=(ov)@+ MODES=4 MAXLIST=beI:100 EXCEPTS INVEX")
    func advertised() {
        let h = CoreHarness(ChatServerConfiguration(name: "irc.test", lobby: nil))
        let ann = h.connect()
        h.say(ann, "NICK ann", "USER ann 0 * :Ann")
        let lines = h.take(ann)
        #expect(lines.contains(":irc.test 004 ann irc.test tincan-chat-0.1 iow beIiklmnostv beIklov"))
        let isupport = lines.filter { $0.contains(" 005 ") }.joined(separator: " ").split(separator: " ").map(String.init)
        for token in ["CHANMODES=beI,k,l,imnst", "PREFIX=(ov)@+", "MODES=4", "MAXLIST=beI:100", "EXCEPTS=e", "INVEX=I"] {
            #expect(isupport.contains(token), "\(token)")
        }
    }

    @Test("MODE #c: 324 with every mode set (key and limit for members only) and 329; changes are told in canonical form")
    func modeIs() {
        let (h, ann, bob, carl) = Self.harness()
        h.say(ann, "MODE #c")
        #expect(h.take(ann) == [":irc.test 324 ann #c +nt", ":irc.test 329 ann #c 1800000000"])
        h.say(ann, "MODE #c +ismk-t+l secret 5")
        #expect(h.take(ann) == ["\(Self.ann) MODE #c +ismk-t+l secret 5"])
        #expect(h.take(carl) == ["\(Self.ann) MODE #c +ismk-t+l secret 5"])
        h.say(carl, "MODE #c")
        #expect(h.take(carl) == [":irc.test 324 carl #c +imnskl secret 5", ":irc.test 329 carl #c 1800000000"])
        h.say(bob, "MODE #c")
        #expect(h.take(bob) == [":irc.test 324 bob #c +imnskl", ":irc.test 329 bob #c 1800000000"])
        // Setting what is set, or unsetting what is not, changes nothing and tells nobody.
        h.say(ann, "MODE #c +i-t")
        #expect(h.take(ann).isEmpty)
        h.say(ann, "MODE #c -imnskl *")
        #expect(h.take(ann) == ["\(Self.ann) MODE #c -imnskl *"])
        h.say(ann, "MODE #c")
        #expect(h.take(ann) == [":irc.test 324 ann #c +", ":irc.test 329 ann #c 1800000000"])
    }

    @Test("MODE errors: 472 for an unknown letter (the rest applies), 482 for non-operators, 401 and 441 for +o/+v, 403; at most 4 parameters")
    func modeErrors() {
        let (h, ann, bob, carl) = Self.harness()
        h.say(ann, "MODE #c +zm")
        #expect(h.take(ann) == [":irc.test 472 ann z :is unknown mode char to me", "\(Self.ann) MODE #c +m"])
        #expect(h.take(carl) == ["\(Self.ann) MODE #c +m"])
        h.say(carl, "MODE #c +o carl")
        #expect(h.take(carl) == [":irc.test 482 carl #c :You're not channel operator"])
        h.say(carl, "MODE #c -m")
        #expect(h.take(carl) == [":irc.test 482 carl #c :You're not channel operator"])
        h.say(ann, "MODE #c +o nobody")
        #expect(h.take(ann) == [":irc.test 401 ann nobody :No such nick/channel"])
        h.say(ann, "MODE #c +v bob")
        #expect(h.take(ann) == [":irc.test 441 ann bob #c :They aren't on that channel"])
        h.say(ann, "MODE #nope +o ann")
        #expect(h.take(ann) == [":irc.test 403 ann #nope :No such channel"])
        h.say(bob, "MODE #c +m")
        #expect(h.take(bob) == [":irc.test 482 bob #c :You're not channel operator"])
        // Five changes with a parameter: the fifth is ignored (MODES=4).
        h.say(ann, "MODE #c +vbbbb carl a b c d")
        #expect(h.take(carl) == ["\(Self.ann) MODE #c +vbbb carl a!*@* b!*@* c!*@*"])
        _ = h.take(ann)
        h.say(ann, "MODE #c +ov carl carl")
        #expect(h.take(ann) == ["\(Self.ann) MODE #c +o carl"])  // already voiced: only +o is news
    }

    @Test("+b: a banned user cannot join (474) nor speak (404); masks are completed and matched case-folded; +e excepts; 367/368 list")
    func bans() {
        let (h, ann, bob, carl) = Self.harness()
        h.say(ann, "MODE #c +b BOB")
        #expect(h.take(ann) == ["\(Self.ann) MODE #c +b BOB!*@*"])
        h.say(ann, "MODE #c +b BOB!*@*")  // already there
        #expect(h.take(ann).isEmpty)
        h.say(bob, "JOIN #c")
        #expect(h.take(bob) == [":irc.test 474 bob #c :Cannot join channel (+b)"])
        h.say(ann, "MODE #c +b *!*@192.0.2.?")
        _ = h.take(ann)
        _ = h.take(carl)
        h.say(carl, "PRIVMSG #c :hi")
        #expect(h.take(carl) == [":irc.test 404 carl #c :Cannot send to channel"])
        #expect(h.take(ann).isEmpty)
        h.say(ann, "MODE #c b")
        #expect(h.take(ann) == [
            ":irc.test 367 ann #c BOB!*@* ann!~ann@192.0.2.1 1800000000",
            ":irc.test 367 ann #c *!*@192.0.2.? ann!~ann@192.0.2.1 1800000000",
            ":irc.test 368 ann #c :End of channel ban list",
        ])
        // Anyone may read the list.
        h.say(bob, "MODE #c +b")
        #expect(h.take(bob).count == 3)
        // A voiced member speaks though banned.
        h.say(ann, "MODE #c +v carl")
        _ = h.take(carl)
        _ = h.take(ann)
        h.say(carl, "PRIVMSG #c :voiced")
        #expect(h.take(ann) == [":carl!~carl@192.0.2.3 PRIVMSG #c :voiced"])
        // An exception lets bob in; removing the ban matches case-insensitively.
        h.say(ann, "MODE #c +e b?b!*@*")
        #expect(h.take(ann) == ["\(Self.ann) MODE #c +e b?b!*@*"])
        h.say(ann, "MODE #c e")
        #expect(h.take(ann) == [":irc.test 348 ann #c b?b!*@* ann!~ann@192.0.2.1 1800000000", ":irc.test 349 ann #c :End of channel exception list"])
        h.say(bob, "JOIN #c")
        #expect(h.take(bob).first == ":bob!~bob@192.0.2.2 JOIN #c")
        h.say(bob, "PART #c")
        _ = h.take(bob)
        h.say(ann, "MODE #c -e+b-bb b?b!*@* x bob!*@* *!*@192.0.2.?")
        #expect(h.take(ann).last == "\(Self.ann) MODE #c -e+b-bb b?b!*@* x!*@* BOB!*@* *!*@192.0.2.?")
        h.say(bob, "JOIN #c")
        #expect(h.take(bob).first == ":bob!~bob@192.0.2.2 JOIN #c")
    }

    @Test("the three lists together hold at most 100 masks; past it 478")
    func listFull() {
        let (h, ann, _, _) = Self.harness()
        for index in 0..<98 { h.say(ann, "MODE #c +b m\(index)") }
        h.say(ann, "MODE #c +eI e i")
        _ = h.take(ann)
        h.say(ann, "MODE #c +bI extra more")
        #expect(h.take(ann) == [":irc.test 478 ann #c b :Channel list is full", ":irc.test 478 ann #c I :Channel list is full"])
        h.say(ann, "MODE #c -b m0", "MODE #c +I more")
        #expect(h.take(ann) == ["\(Self.ann) MODE #c -b m0!*@*", "\(Self.ann) MODE #c +I more!*@*"])
        h.say(ann, "MODE #c I")
        #expect(h.take(ann) == [
            ":irc.test 346 ann #c i!*@* ann!~ann@192.0.2.1 1800000000", ":irc.test 346 ann #c more!*@* ann!~ann@192.0.2.1 1800000000",
            ":irc.test 347 ann #c :End of channel invite exception list",
        ])
    }

    @Test("+i and INVITE: 473 uninvited; 341 and INVITE; the invitation is used up by joining; 482, 401, 403, 442, 443; +I lets in; INVITE lists 336/337")
    func inviteOnly() {
        let (h, ann, bob, carl) = Self.harness()
        h.say(ann, "MODE #c +i")
        _ = h.take(ann)
        _ = h.take(carl)
        h.say(bob, "JOIN #c")
        #expect(h.take(bob) == [":irc.test 473 bob #c :Cannot join channel (+i)"])
        let exchanges: [(ChatSession, String, [String])] = [
            (carl, "INVITE bob #c", [":irc.test 482 carl #c :You're not channel operator"]),
            (ann, "INVITE nobody #c", [":irc.test 401 ann nobody :No such nick/channel"]),
            (ann, "INVITE bob #nope", [":irc.test 403 ann #nope :No such channel"]),
            (bob, "INVITE carl #c", [":irc.test 442 bob #c :You're not on that channel"]),
            (ann, "INVITE Carl #c", [":irc.test 443 ann carl #c :is already on channel"]),
            (ann, "INVITE bob", [":irc.test 461 ann INVITE :Not enough parameters"]),
            (bob, "INVITE", [":irc.test 337 bob :End of /INVITE list"]),
            (ann, "INVITE BOB #C", [":irc.test 341 ann bob #c"]),
        ]
        for (session, line, replies) in exchanges {
            h.say(session, line)
            #expect(h.take(session) == replies, "after \(line)")
        }
        #expect(h.take(bob) == ["\(Self.ann) INVITE bob #c"])
        #expect(h.take(carl).isEmpty)  // no invite-notify
        h.say(bob, "INVITE")
        #expect(h.take(bob) == [":irc.test 336 bob #c", ":irc.test 337 bob :End of /INVITE list"])
        h.say(bob, "JOIN #c")
        #expect(h.take(bob).first == ":bob!~bob@192.0.2.2 JOIN #c")
        h.say(bob, "PART #c", "JOIN #c")
        #expect(h.take(bob) == [":bob!~bob@192.0.2.2 PART #c", ":irc.test 473 bob #c :Cannot join channel (+i)"])
        // An invite exception lets bob in with no invitation.
        h.say(ann, "MODE #c +I *!~bob@*")
        h.say(bob, "JOIN #c")
        #expect(h.take(bob).first == ":bob!~bob@192.0.2.2 JOIN #c")
        // Without +i any member invites, and the invitation passes a ban.
        h.say(ann, "MODE #c -i+b dave")
        let dave = h.registered("dave", host: "192.0.2.4")
        _ = h.take(carl)
        h.say(carl, "INVITE dave #c")
        #expect(h.take(carl) == [":irc.test 341 carl dave #c"])
        h.say(dave, "JOIN #c")
        #expect(h.take(dave).contains(":dave!~dave@192.0.2.4 JOIN #c"))
    }

    @Test("+k: 475 without the key or with a wrong one; JOIN #c key; keys with spaces get 696; -k; JOIN's keys go with its channels in order")
    func key() {
        let (h, ann, bob, _) = Self.harness()
        h.say(ann, "MODE #c +k :a b")
        #expect(h.take(ann) == [":irc.test 696 ann #c k * :Invalid key: no spaces, commas or control characters"])
        h.say(ann, "MODE #c +k \(String(repeating: "long", count: 10))")
        #expect(h.take(ann) == ["\(Self.ann) MODE #c +k longlonglonglonglonglon"])  // cut to 23
        h.say(ann, "MODE #c +k beer")
        _ = h.take(ann)
        h.say(bob, "JOIN #c", "JOIN #c bees")
        #expect(h.take(bob) == [":irc.test 475 bob #c :Cannot join channel (+k)", ":irc.test 475 bob #c :Cannot join channel (+k)"])
        h.say(ann, "JOIN #d")
        h.say(ann, "MODE #d +k wine")
        h.say(bob, "JOIN #d,#c wine,beer")
        #expect(h.take(bob).filter { $0.contains(" JOIN ") } == [":bob!~bob@192.0.2.2 JOIN #d", ":bob!~bob@192.0.2.2 JOIN #c"])
        h.say(ann, "MODE #c -k anything")
        #expect(h.take(ann).last == "\(Self.ann) MODE #c -k *")
    }

    @Test("+l: 471 when full; a non-positive or non-numeric limit is ignored; -l; an invitation passes the limit")
    func limit() {
        let (h, ann, bob, carl) = Self.harness()
        h.say(ann, "MODE #c +l 0", "MODE #c +l -1", "MODE #c +l abc", "MODE #c +l")
        #expect(h.take(ann).isEmpty)
        h.say(ann, "MODE #c +l 2")
        #expect(h.take(carl) == ["\(Self.ann) MODE #c +l 2"])
        h.say(bob, "JOIN #c")
        #expect(h.take(bob) == [":irc.test 471 bob #c :Cannot join channel (+l)"])
        h.say(ann, "INVITE bob #c")
        h.say(bob, "JOIN #c")
        #expect(h.take(bob).contains(":bob!~bob@192.0.2.2 JOIN #c"))
        h.say(bob, "PART #c")
        h.say(ann, "MODE #c -l")
        #expect(h.take(ann).last == "\(Self.ann) MODE #c -l")
        h.say(bob, "JOIN #c")
        #expect(h.take(bob).contains(":bob!~bob@192.0.2.2 JOIN #c"))
    }

    @Test("+m lets only +v and +o speak; -n lets outsiders send, +n (the default) refuses them; -t lets members set the topic")
    func speaking() {
        let (h, ann, bob, carl) = Self.harness()
        h.say(bob, "PRIVMSG #c :from outside")
        #expect(h.take(bob) == [":irc.test 404 bob #c :Cannot send to channel"])
        h.say(ann, "MODE #c -n")
        _ = h.take(ann)
        h.say(bob, "PRIVMSG #c :from outside")
        #expect(h.take(ann) == [":bob!~bob@192.0.2.2 PRIVMSG #c :from outside"])
        h.say(ann, "MODE #c +m")
        _ = h.take(carl)
        h.say(carl, "PRIVMSG #c :hi", "NOTICE #c :hi")
        #expect(h.take(carl) == [":irc.test 404 carl #c :Cannot send to channel"])
        #expect(h.take(ann) == ["\(Self.ann) MODE #c +m"])
        h.say(ann, "MODE #c +v carl")
        #expect(h.take(carl) == ["\(Self.ann) MODE #c +v carl"])
        h.say(carl, "PRIVMSG #c :voiced")
        #expect(h.take(ann).last == ":carl!~carl@192.0.2.3 PRIVMSG #c :voiced")
        h.say(carl, "TOPIC #c :mine")
        #expect(h.take(carl) == [":irc.test 482 carl #c :You're not channel operator"])
        h.say(ann, "MODE #c -t")
        _ = h.take(carl)
        h.say(carl, "TOPIC #c :mine")
        #expect(h.take(carl) == [":carl!~carl@192.0.2.3 TOPIC #c :mine"])
    }

    /// The entries of the first 353 among `lines`.
    static func names(_ lines: [String]) -> Set<String> {
        guard let line = lines.first(where: { $0.contains(" 353 ") }), let colon = line.dropFirst().firstIndex(of: ":") else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }

    @Test("+v: prefix +, highest first; multi-prefix shows @+ in NAMES and WHO; voice goes when the member leaves")
    func voice() {
        let h = CoreHarness(ChatServerConfiguration(name: "irc.test", lobby: nil))
        let ann = h.registered("ann", caps: "multi-prefix")
        let bob = h.registered("bob", host: "192.0.2.2")
        h.say(ann, "JOIN #c")
        h.say(bob, "JOIN #c")
        h.say(ann, "MODE #c +vv ann bob")
        _ = h.take(ann)
        _ = h.take(bob)
        h.say(ann, "NAMES #c")
        #expect(h.take(ann).first?.hasPrefix(":irc.test 353 ann = #c :") == true)
        h.say(ann, "NAMES #c")
        #expect(Self.names(h.take(ann)) == ["@+ann", "+bob"])
        h.say(bob, "NAMES #c")
        #expect(Self.names(h.take(bob)) == ["@ann", "+bob"])
        h.say(ann, "WHO #c")
        #expect(h.take(ann).first { $0.contains(" ann H") } == ":irc.test 352 ann #c ~ann 192.0.2.1 irc.test ann H@+ :0 ann Real")
        h.say(bob, "PART #c", "JOIN #c")
        _ = h.take(bob)
        h.say(ann, "NAMES #c")
        #expect(Self.names(h.take(ann)) == ["@+ann", "bob"])
    }

    @Test("+s: hidden from LIST, NAMES (366 alone), WHO and WHOIS for those outside; members see it with the @ kind")
    func secret() {
        let (h, ann, bob, carl) = Self.harness()
        h.say(ann, "MODE #c +s")
        _ = h.take(ann)
        h.say(bob, "LIST")
        #expect(h.take(bob) == [":irc.test 321 bob Channel :Users  Name", ":irc.test 323 bob :End of /LIST"])
        h.say(bob, "NAMES #c")
        #expect(h.take(bob) == [":irc.test 366 bob #c :End of /NAMES list."])
        h.say(bob, "WHOIS carl")
        #expect(!h.take(bob).contains { $0.contains(" 319 ") })
        h.say(bob, "WHO #c")
        #expect(h.take(bob) == [":irc.test 315 bob #c :End of WHO list"])
        h.say(carl, "WHO #c")
        let who = h.take(carl)
        #expect(who.filter { $0.contains(" 352 carl #c ") }.count == 2, "\(who)")
        #expect(who.last == ":irc.test 315 carl #c :End of WHO list")
        h.say(carl, "LIST")
        #expect(h.take(carl).contains(":irc.test 322 carl #c 2 :"))
        h.say(carl, "NAMES #c")
        #expect(h.take(carl).first?.hasPrefix(":irc.test 353 carl @ #c :") == true)
        h.say(carl, "WHOIS ann")
        #expect(h.take(carl).contains(":irc.test 319 carl ann :@#c"))
    }

    @Test("the lobby has no channel operators: only IRC operators change its modes, as before")
    func lobby() {
        let (h, ann, bob, _) = Self.harness(operators: ["root": "pw"], lobby: "#lobby")
        h.say(ann, "MODE #lobby +m")
        #expect(h.take(ann) == [":irc.test 482 ann #lobby :You're not channel operator"])
        h.say(bob, "OPER root pw")
        _ = h.take(bob)
        h.say(bob, "MODE #lobby +m")
        #expect(h.take(ann) == [":bob!~bob@192.0.2.2 MODE #lobby +m"])
        h.say(ann, "PRIVMSG #lobby :hi")
        #expect(h.take(ann) == [":irc.test 404 ann #lobby :Cannot send to channel"])
        h.say(ann, "MODE #lobby")
        #expect(h.take(ann) == [":irc.test 324 ann #lobby +mnt", ":irc.test 329 ann #lobby 1800000000"])
    }
}
