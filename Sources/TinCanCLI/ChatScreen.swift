import Foundation
import TinCanChatClient
import TinCanTerminal

/// The full-screen chat as rows of text, from the session's state (pure: tests lay it out at any
/// size). A title bar; conversations on the left, the open one in the middle, people on the right
/// (the side lists fold away on narrow terminals); a status line (transfers, hints); the input.
struct ChatScreen {
    var size: TerminalSize
    /// Lines scrolled back from the end of the open conversation.
    var scroll = 0
    /// The wall clock, for the title bar and day headers.
    var now = Date()
    /// The open conversation's read marker as it was when it was opened: the `new` rule stays
    /// before what was unread then, while reading moves the marker on. Nil: the marker now.
    var newAfter: Int64??

    static let listWidth = 20
    static let peopleWidth = 22

    /// The conversations in the order the list shows them: channels and private ones as they
    /// came, the server's own lines last.
    static func order(_ model: ChatClientModel) -> [Int] {
        Array(model.conversations.indices.dropFirst()) + [0]
    }

    func frame(_ state: ChatClientState, editor: LineEditor) -> TerminalFrame {
        let model = state.core.model
        let rows = max(self.size.rows, 3)
        let width = max(self.size.columns, 10)
        let left = width >= 60 ? Self.listWidth : 0
        let right = width >= 100 ? Self.peopleWidth : 0
        let middle = width - (left > 0 ? left + 1 : 0) - (right > 0 ? right + 1 : 0)
        let body = rows - 3

        var lines: [String] = [self.title(state, width: width)]
        let list = left > 0 ? self.conversations(model, height: body) : []
        let people = right > 0 ? self.people(model, height: body) : []
        let messages = self.messages(model.currentConversation, model: model, width: middle, height: body)
        let bar = TerminalStyle.dim("│")
        for row in 0..<body {
            var line = ""
            if left > 0 { line += TerminalWidth.fit(list[row], width: left) + bar }
            line += TerminalWidth.fit(messages[row], width: middle)
            if right > 0 { line += bar + TerminalWidth.fit(people[row], width: right) }
            lines.append(line)
        }
        lines.append(TerminalWidth.fit(self.status(state, width: width), width: width))
        let prompt = "[\(model.currentConversation.kind == .server ? "server" : model.currentConversation.name)] "
        let room = max(width - TerminalWidth.of(prompt), 1)
        let visible = editor.visible(width: room)
        lines.append(TerminalStyle.bold(prompt) + visible.text)
        return TerminalFrame(rows: lines, cursor: (row: rows - 1, column: TerminalWidth.of(prompt) + visible.cursorColumn))
    }

    // MARK: parts

    private func title(_ state: ChatClientState, width: Int) -> String {
        let model = state.core.model
        let me = model.me.isEmpty ? state.core.login.nick : model.me
        let presence = state.connected ? model.presence(of: me).rawValue : "connecting"
        let clock = Self.clock.string(from: self.now)
        let left = " tincan chat · \(me) (\(presence)) · \(state.server)"
        let gap = max(width - TerminalWidth.of(left) - clock.count - 1, 1)
        return TerminalStyle.reverse(TerminalWidth.fit(left + String(repeating: " ", count: gap) + clock + " ", width: width))
    }

    private func conversations(_ model: ChatClientModel, height: Int) -> [String] {
        var rows = [TerminalStyle.dim(" Conversations")]
        for (position, index) in Self.order(model).enumerated() {
            let conversation = model.conversations[index]
            let number = position < 9 ? "\(position + 1)" : " "
            let name = conversation.kind == .server ? "(server)" : conversation.name
            let mark = conversation.kind == .direct ? Self.dot(model.presence(of: conversation.name)) + " " : ""
            let count = conversation.unread > 0 ? (conversation.mentioned ? " @" : " ") + "\(conversation.unread)" : ""
            var row = " \(number) \(mark)\(name)"
            let room = Self.listWidth - TerminalWidth.of(count)
            row = TerminalWidth.fit(row, width: room) + count
            if index == model.current { row = TerminalStyle.reverse(row) } else if conversation.unread > 0 { row = TerminalStyle.bold(row) }
            rows.append(row)
        }
        return Self.pad(rows, height)
    }

    private func people(_ model: ChatClientModel, height: Int) -> [String] {
        let current = model.currentConversation
        let channel = current.kind == .channel ? current : model.lobby.flatMap { model.index(of: $0) }.map { model.conversations[$0] }
        var rows: [String] = []
        var nicks: [String: String] = [:]
        if let channel {
            let count = channel.large ? channel.count : channel.members.count
            rows.append(TerminalStyle.dim(" \(channel.name) · \(count)"))
            if channel.large {
                rows.append(TerminalStyle.dim(" large: /who to search"))
            } else {
                nicks = channel.members
            }
        }
        for folded in model.contacts where nicks[folded] == nil { nicks[folded] = model.people[folded]?.nick ?? folded }
        let rank: [ChatPresence: Int] = [.online: 0, .away: 1, .offline: 2]
        let sorted = nicks.values.sorted {
            let (a, b) = (rank[model.presence(of: $0)]!, rank[model.presence(of: $1)]!)
            return a != b ? a < b : $0.lowercased() < $1.lowercased()
        }
        for nick in sorted {
            let presence = model.presence(of: nick)
            let row = " \(Self.dot(presence)) \(nick)"
            rows.append(presence == .offline ? TerminalStyle.dim(row) : row)
        }
        return Self.pad(rows, height)
    }

    /// The newest lines that fit, wrapped, with day headers and a line before the first new one.
    private func messages(_ conversation: ChatConversation, model: ChatClientModel, width: Int, height: Int) -> [String] {
        var rows: [String] = []
        var day: DateComponents?
        var newMarked = false
        let calendar = Calendar.current
        // Only as many lines as could be on screen are laid out.
        let wanted = height + self.scroll
        var start = conversation.lines.count
        var rowsEstimate = 0
        while start > 0, rowsEstimate < wanted {
            start -= 1
            rowsEstimate += 1 + TerminalWidth.of(conversation.lines[start].text) / max(width, 1)
        }
        for line in conversation.lines[start...] {
            let date = Date(timeIntervalSince1970: TimeInterval(line.time) / 1000)
            let components = calendar.dateComponents([.year, .month, .day], from: date)
            if components != day {
                day = components
                let label = calendar.isDate(date, inSameDayAs: self.now) ? "Today" : Self.dayFormat.string(from: date)
                rows.append(TerminalStyle.dim(Self.rule(label, width: width)))
            }
            let isNew = self.newAfter.map { after in
                !line.mine && line.kind != .system && (after.map { line.time > $0 } ?? (conversation.kind == .direct))
            } ?? conversation.isNew(line)
            if !newMarked, isNew {
                newMarked = true
                rows.append(TerminalStyle.color(203, Self.rule("new", width: width)))
            }
            rows += self.render(line, width: width, me: model.me)
        }
        if conversation.lines.isEmpty {
            rows.append(TerminalStyle.dim(conversation.kind == .direct ? " The start of your conversation with \(conversation.name)." : " Nothing here yet."))
        }
        let end = max(rows.count - min(self.scroll, max(rows.count - height, 0)), 0)
        let shown = Array(rows[max(end - height, 0)..<end])
        return Array(repeating: "", count: height - shown.count) + shown
    }

    private func render(_ line: ChatLine, width: Int, me: String) -> [String] {
        let time = Self.clock.string(from: Date(timeIntervalSince1970: TimeInterval(line.time) / 1000))
        let head: String
        let plainHead: String
        switch line.kind {
        case .message:
            plainHead = "\(time) <\(line.from)> "
            head = TerminalStyle.dim(time) + " " + TerminalStyle.color(Self.color(of: line.from), "<\(line.from)>") + " "
        case .action:
            plainHead = "\(time) * \(line.from) "
            head = TerminalStyle.dim(time) + " " + TerminalStyle.color(Self.color(of: line.from), "* \(line.from)") + " "
        case .notice:
            plainHead = "\(time) -\(line.from)- "
            head = TerminalStyle.dim(time) + " " + TerminalStyle.color(Self.color(of: line.from), "-\(line.from)-") + " "
        case .system:
            plainHead = "\(time) -!- "
            head = TerminalStyle.dim("\(time) -!- ")
        }
        let indent = min(TerminalWidth.of(plainHead), max(width / 3, 1))
        let wrapped = TerminalWidth.wrap(line.text, width: max(width - indent, 1))
        let text = line.kind == .system ? wrapped.map { TerminalStyle.dim($0) } : line.mention ? wrapped.map { TerminalStyle.bold($0) } : wrapped
        guard let first = text.first else { return [head] }
        return [head + first] + text.dropFirst().map { String(repeating: " ", count: indent) + $0 }
    }

    private func status(_ state: ChatClientState, width: Int) -> String {
        guard let transfer = state.transfers.first else {
            let hint = state.connected ? " Alt+1..9 or Ctrl+N/P: conversations · PgUp/PgDn: scroll · /help · Ctrl+C: quit" : " Connecting to \(state.server)…"
            return TerminalStyle.dim(hint)
        }
        let label = " " + ChatLineView.describe(transfer) + " "
        let barWidth = max(min(width - TerminalWidth.of(label) - 8, 30), 5)
        let filled = transfer.percent.map { $0 * barWidth / 100 } ?? 0
        let bar = "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: barWidth - filled) + "] " + (transfer.percent.map { "\($0)%" } ?? "")
        let more = state.transfers.count > 1 ? " (+\(state.transfers.count - 1))" : ""
        return label + bar + more
    }

    // MARK: helpers

    static func dot(_ presence: ChatPresence) -> String {
        switch presence {
        case .online: TerminalStyle.color(35, "●")
        case .away: TerminalStyle.color(214, "◐")
        case .offline: "○"
        }
    }

    /// A colour per nick (256-colour palette), the same every time.
    static func color(of nick: String) -> Int {
        let palette = [33, 37, 39, 69, 71, 75, 98, 105, 135, 141, 166, 172, 178, 208]
        let hash = nick.lowercased().unicodeScalars.reduce(5381) { ($0 &* 33) &+ Int($1.value) }
        return palette[abs(hash) % palette.count]
    }

    static func rule(_ label: String, width: Int) -> String {
        let text = " \(label) "
        let side = max((width - TerminalWidth.of(text)) / 2, 1)
        return String(repeating: "─", count: side) + text + String(repeating: "─", count: max(width - side - TerminalWidth.of(text), 0))
    }

    static func pad(_ rows: [String], _ height: Int) -> [String] {
        Array((rows + Array(repeating: "", count: max(height - rows.count, 0))).prefix(height))
    }

    static let clock: DateFormatter = {
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm"
        return formatter
    }()

    static let dayFormat: DateFormatter = {
        let formatter = DateFormatter()
        formatter.dateFormat = "EEEE d MMMM yyyy"
        return formatter
    }()
}
