import Foundation
import Testing
import TinCanChatClient
import TinCanIRC
import TinCanTerminal

@testable import TinCanCLI

/// The full-screen layout, laid out at several sizes from a session fed with server lines.
@Suite struct ChatScreenTests {
    /// ann in the lobby with bob and carol; a private message from bob she has not read.
    static func session() -> ChatClientState {
        var core = ChatClientCore(login: ChatLogin(nick: "ann", mode: .logIn(password: "pw")))
        _ = core.connected()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let stamp = IRCServerTime.format(milliseconds: now - 60_000)
        for line in [
            ":srv CAP * LS :sasl server-time echo-message draft/read-marker", ":srv CAP ann ACK :sasl server-time echo-message draft/read-marker",
            "AUTHENTICATE +", ":srv 900 ann ann!~ann@h ann :in", ":srv 903 ann :ok", ":srv 001 ann :Welcome", ":srv 005 ann CHANTYPES=# MONITOR=100 :ok",
            ":ann!~ann@h JOIN #lobby", ":srv 353 ann = #lobby :ann bob carol", ":srv 366 ann #lobby :End", ":srv MARKREAD #lobby *",
            "@time=\(stamp) :bob!~bob@h PRIVMSG #lobby :good morning everyone, this line is long enough to wrap on a narrow terminal for sure",
            "@time=\(stamp) :bob!~bob@h PRIVMSG ann :psst, ann",
            ":carol!~carol@h AWAY :lunch",
        ] {
            _ = core.received(try! IRCMessage(parsing: line), now: now)
        }
        var state = ChatClientState(core: core, server: "chat.test:6667")
        state.connected = true
        return state
    }

    static func plain(_ row: String) -> String {
        // The rows' SGR styling removed, to read them as a person does.
        var out = ""
        var escape = false
        for character in row {
            if character == "\u{1B}" { escape = true; continue }
            if escape { if character.isLetter { escape = false }; continue }
            out.append(character)
        }
        return out
    }

    @Test("wide: a title, conversations with the unread count, the messages (a new rule where unread), people with presence, the status and the input last", arguments: [110, 130])
    func wide(columns: Int) {
        let state = Self.session()
        let screen = ChatScreen(size: TerminalSize(rows: 16, columns: columns))
        var editor = LineEditor()
        _ = editor.handle(.character("h"), completions: { _ in [] })
        _ = editor.handle(.character("i"), completions: { _ in [] })
        let frame = screen.frame(state, editor: editor)
        let rows = frame.rows.map(Self.plain)
        #expect(rows.count == 16)
        #expect(rows.allSatisfy { TerminalWidth.of($0) <= columns }, "\(rows)")
        #expect(rows[0].hasPrefix(" tincan chat · ann (online) · chat.test:6667"))
        #expect(rows[1].contains("Conversations") && rows[1].contains("#lobby · 3"))
        #expect(rows.contains { $0.contains(" 1 #lobby") })
        #expect(rows.contains { $0.contains(" 2 ● bob") && $0.contains("1│") }, "bob's unread count: \(rows)")
        #expect(rows.contains { $0.contains("◐ carol") } && rows.contains { $0.contains("● bob") })
        // A channel never read has no "new" (its history was said before one came); bob's line is new.
        #expect(!rows.contains { $0.contains("─ new ─") })
        #expect(rows.contains { $0.contains("<bob> good morning everyone") })
        #expect(rows[15].trimmingCharacters(in: .whitespaces) == "[#lobby] hi")
        #expect(frame.cursor?.row == 15 && frame.cursor?.column == 11)
        var direct = state
        _ = direct.core.show(direct.core.model.index(of: "bob")!)
        let bob = screen.frame(direct, editor: LineEditor()).rows.map(Self.plain)
        #expect(bob.contains { $0.contains("─ new ─") } && bob.contains { $0.contains("<bob> psst, ann") }, "\(bob)")
        #expect(bob[15].hasPrefix("[bob] "))
    }

    @Test("narrow: the side lists fold away below 60 and 100 columns; every row fits")
    func narrow() {
        let state = Self.session()
        for (columns, list, people) in [(80, true, false), (50, false, false)] {
            let frame = ChatScreen(size: TerminalSize(rows: 12, columns: columns)).frame(state, editor: LineEditor())
            let rows = frame.rows.map(Self.plain)
            #expect(rows.count == 12)
            #expect(rows.allSatisfy { TerminalWidth.of($0) <= columns }, "\(columns): \(rows)")
            #expect(rows.contains { $0.contains("Conversations") } == list, "\(columns)")
            #expect(rows.contains { $0.contains("#lobby · 3") } == people, "\(columns)")
            #expect(rows.contains { $0.contains("this line is long enough") || $0.contains("long enough to wrap") }, "\(columns): \(rows)")
        }
    }

    @Test("the list's order (Alt+N's numbers): channels and private conversations, the server's last; Tab's candidates: nicks heard of, commands")
    func orderAndCompletion() {
        var state = Self.session()
        let order = ChatScreen.order(state.core.model)
        #expect(order.map { state.core.model.conversations[$0].name } == ["#lobby", "bob", "*"])
        #expect(ChatScreenView.complete("bo", nicks: ["bob", "carol"]) == ["bob"])
        #expect(ChatScreenView.complete("/qu", nicks: []) == ["/query", "/quit", "/quote"])
        #expect(ChatScreenView.nicks(state.core.model).contains("carol") && !ChatScreenView.nicks(state.core.model).contains("ann"))
        _ = state.core.show(order[1])
        #expect(state.core.model.currentConversation.name == "bob")
    }

    @Test("the bell: a private message or a mention arriving live elsewhere rings; the open conversation, own lines and history do not")
    func bell() {
        var state = Self.session()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        func lines(_ raw: String) -> [ChatClientAction] { state.core.received(try! IRCMessage(parsing: raw), now: now) }
        #expect(ChatScreenView.rings(lines(":carol!~carol@h PRIVMSG ann :a word in private"), state.core.model))
        #expect(!ChatScreenView.rings(lines(":carol!~carol@h PRIVMSG #lobby :just talk"), state.core.model), "the lobby is on screen")
        _ = state.core.show(state.core.model.index(of: "bob")!)
        #expect(ChatScreenView.rings(lines(":carol!~carol@h PRIVMSG #lobby :ann, look"), state.core.model))
        #expect(!ChatScreenView.rings(lines(":carol!~carol@h PRIVMSG #lobby :no names"), state.core.model))
        #expect(!ChatScreenView.rings(lines(":bob!~bob@h PRIVMSG ann :on screen already"), state.core.model))
        _ = lines(":srv BATCH +x chathistory carol")
        #expect(!ChatScreenView.rings(lines("@batch=x;msgid=h1 :carol!~carol@h PRIVMSG ann :from history"), state.core.model))
    }
}
