import Foundation
import TinCanChatClient
import TinCanTerminal

/// The chat full screen: the terminal's alternate screen in raw mode, drawn by difference
/// (``ChatScreen`` lays it out, ``TerminalRenderer`` writes what changed), keys to the line
/// editor or to moving around. The terminal comes back as it was on every way out: /quit,
/// Ctrl+C, a lost connection, SIGTERM, SIGINT or SIGHUP.
struct ChatScreenView: ChatClientView {
    private let terminal: Terminal
    private var renderer = TerminalRenderer()
    private var editor = LineEditor()
    private var screen: ChatScreen
    /// Drafts left in other conversations, by index.
    private var drafts: [Int: String] = [:]
    private var showing = 0

    init() throws {
        self.terminal = try Terminal()
        self.screen = ChatScreen(size: self.terminal.size())
    }

    mutating func start(_ events: AsyncStream<ChatClientEvent>.Continuation, in group: inout ThrowingDiscardingTaskGroup<any Error>) {
        do {
            try self.terminal.enterFullScreen()
        } catch {
            FileHandle.standardError.write(Data("tincan: chat: the terminal: \(error)\n".utf8))
        }
        let terminal = self.terminal
        group.addTask {
            for await key in terminal.keys() { events.yield(.key(key)) }
            events.yield(.inputEnded)
        }
        group.addTask {
            for await size in terminal.resizes() { events.yield(.resize(size)) }
        }
    }

    var reconnects: Bool { true }
    func read(_ model: ChatClientModel) -> [Int] { model.currentConversation.unread > 0 ? [model.current] : [] }

    mutating func show(_ session: ChatClientState, actions: [ChatClientAction]) {
        let current = session.core.model.current
        if current != self.showing {
            // Another conversation: its draft comes back, this one's is kept.
            self.drafts[self.showing] = self.editor.text.isEmpty ? nil : self.editor.text
            self.editor.setText(self.drafts.removeValue(forKey: current) ?? "")
            self.screen.scroll = 0
            self.showing = current
            self.screen.newAfter = .some(session.core.model.currentConversation.readMarker)
        }
        self.screen.now = Date()
        let frame = self.screen.frame(session, editor: self.editor)
        var bytes = self.renderer.render(frame, size: self.screen.size)
        if Self.rings(actions, session.core.model) { bytes += "\u{07}" }
        if !bytes.isEmpty { self.terminal.write(bytes) }
    }

    /// The terminal's bell for what a person would want to hear of: a private message or a
    /// mention arriving live, in a conversation that is not on screen (terminals show it as a
    /// flash, a sound or an urgent window, as their user chose).
    static func rings(_ actions: [ChatClientAction], _ model: ChatClientModel) -> Bool {
        actions.contains { action in
            guard case .line(let name, let line) = action, !line.mine, !line.history, line.kind != .system,
                let index = model.index(of: name), index != model.current
            else { return false }
            return model.conversations[index].kind == .direct || line.mention
        }
    }

    mutating func key(_ key: TerminalKey, _ session: inout ChatClientState) -> ChatClientKeyOutcome {
        let model = session.core.model
        let order = ChatScreen.order(model)
        let position = order.firstIndex(of: model.current) ?? 0
        switch key {
        case .alt(let character) where character.isNumber:
            let number = character.wholeNumberValue ?? 0
            return number >= 1 && number <= order.count ? .show(order[number - 1]) : .none
        case .control("n"), .altDown:
            return .show(order[(position + 1) % order.count])
        case .control("p"), .altUp:
            return .show(order[(position + order.count - 1) % order.count])
        case .pageUp:
            self.screen.scroll += max(self.screen.size.rows - 5, 1)
            return .none
        case .pageDown:
            self.screen.scroll = max(self.screen.scroll - max(self.screen.size.rows - 5, 1), 0)
            return .none
        case .control("c"):
            return .quit
        case .control("d") where self.editor.text.isEmpty:
            return .quit
        case .control("l"):
            self.renderer.invalidate()
            return .none
        default:
            let nicks = Self.nicks(model)
            switch self.editor.handle(key, completions: { word in Self.complete(word, nicks: nicks) }) {
            case .submitted(let line):
                self.screen.scroll = 0
                return line.trimmingCharacters(in: .whitespaces).isEmpty ? .none : .submit(line)
            case .edited, .ignored:
                return .none
            }
        }
    }

    mutating func resize(_ size: TerminalSize) {
        self.screen.size = size
    }

    mutating func stop() {
        self.terminal.restore()
    }

    /// Nicks worth completing: the open channel's members, the contacts, everyone heard of.
    static func nicks(_ model: ChatClientModel) -> [String] {
        var names = Set(model.currentConversation.members.values)
        for person in model.people.values { names.insert(person.nick) }
        for conversation in model.conversations where conversation.kind != .server { names.insert(conversation.name) }
        names.remove(model.me)
        return names.sorted { $0.lowercased() < $1.lowercased() }
    }

    static func complete(_ word: String, nicks: [String]) -> [String] {
        guard !word.isEmpty else { return [] }
        if word.hasPrefix("/") {
            let stem = word.dropFirst().lowercased()
            return ChatClientCore.commands.filter { $0.hasPrefix(stem) }.map { "/" + $0 }
        }
        let stem = word.lowercased()
        return nicks.filter { $0.lowercased().hasPrefix(stem) }
    }
}
