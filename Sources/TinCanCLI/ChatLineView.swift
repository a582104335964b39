import Foundation
import TinCanChatClient
import TinCanCore
import TinCanTerminal

/// The chat without a terminal: each event one line on stdout, each input line a message (to the
/// conversation open, the lobby at first) or a command, so it works in pipes, and under expect
/// with `--line-mode` (expect gives the program a terminal).
///
/// A line is `HH:MM TARGET TEXT`: TARGET is the channel or the partner of a private conversation;
/// TEXT is `<nick> message`, `* nick action`, `-nick- notice` or `-!- what happened`. A message
/// that arrived unseen (while you were away) has `[new]` before TARGET; one from another day
/// has the date before the time.
struct ChatLineView: ChatClientView {
    private var printedQuarters: [Int: Int] = [:]
    private var announced = false
    private let output = FileHandle.standardOutput

    mutating func start(_ events: AsyncStream<ChatClientEvent>.Continuation, in group: inout ThrowingDiscardingTaskGroup<any Error>) {
        // A blocking read belongs on a thread of its own, not on one of Swift's few.
        let thread = Thread {
            while let line = readLine(strippingNewline: true) {
                events.yield(.input(line.hasSuffix("\r") ? String(line.dropLast()) : line))
            }
            events.yield(.inputEnded)
        }
        thread.start()
    }

    mutating func show(_ session: ChatClientState, actions: [ChatClientAction]) {
        var text = ""
        let model = session.core.model
        for action in actions {
            switch action {
            case .ready(let nick, let account):
                text += Self.format(time: ChatClientSession.now(), target: "*", "-!- Logged in to \(session.server) as \(nick)" + (account.map { $0 == nick ? "" : " (account \($0))" } ?? " (a guest)")) + "\n"
            case .line(let name, let line):
                let conversation = model.index(of: name).map { model.conversations[$0] }
                // New: it came while you were away (before this login) and after what was read.
                let away = session.loggedInAt.map { line.time < $0 } ?? true
                text += Self.format(line, in: name, isNew: away && conversation?.isNew(line) == true) + "\n"
            case .presence(let nick, let presence) where model.contacts.contains(model.fold(nick)):
                text += Self.format(time: ChatClientSession.now(), target: nick, "-!- \(nick) is \(presence.rawValue)") + "\n"
            default:
                break
            }
        }
        for transfer in session.transfers {
            let quarter = (transfer.percent ?? 0) / 25
            if self.printedQuarters[transfer.id].map({ $0 < quarter }) ?? true {
                self.printedQuarters[transfer.id] = quarter
                text += Self.format(time: ChatClientSession.now(), target: "*", "-!- \(Self.describe(transfer))") + "\n"
            }
        }
        if !text.isEmpty { self.output.write(Data(text.utf8)) }
    }

    mutating func key(_ key: TerminalKey, _ session: inout ChatClientState) -> ChatClientKeyOutcome { .none }
    mutating func resize(_ size: TerminalSize) {}
    var reconnects: Bool { false }
    func read(_ model: ChatClientModel) -> [Int] { model.conversations.indices.filter { model.conversations[$0].unread > 0 } }
    mutating func stop() {}

    static func describe(_ transfer: ChatTransfer) -> String {
        let amount = transfer.total.map { "\(ByteCount.text(transfer.done)) of \(ByteCount.text($0))" } ?? ByteCount.text(transfer.done)
        switch transfer.kind {
        case .upload(let target): return "sending \(transfer.name) to \(target): \(amount)"
        case .download: return "getting \(transfer.name): \(amount)"
        }
    }

    static func format(_ line: ChatLine, in conversation: String, isNew: Bool) -> String {
        let text = switch line.kind {
        case .message: "<\(line.from)> \(line.text)"
        case .action: "* \(line.from) \(line.text)"
        case .notice: "-\(line.from)- \(line.text)"
        case .system: "-!- \(line.text)"
        }
        return Self.format(time: line.time, target: (isNew ? "[new] " : "") + conversation, text)
    }

    static func format(time: Int64, target: String, _ text: String) -> String {
        "\(ChatTimeText.text(time)) \(target) \(text)"
    }
}

/// Times as the client shows them: `14:05` today, `2027-01-15 14:05` another day, local time.
enum ChatTimeText {
    static func text(_ milliseconds: Int64, now: Date = Date()) -> String {
        let date = Date(timeIntervalSince1970: TimeInterval(milliseconds) / 1000)
        let calendar = Calendar.current
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        let time = String(format: "%02d:%02d", parts.hour ?? 0, parts.minute ?? 0)
        if calendar.isDate(date, inSameDayAs: now) { return time }
        return String(format: "%04d-%02d-%02d ", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0) + time
    }
}
