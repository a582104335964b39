import Foundation
import TinCanCore
import TinCanIRC

/// How the client logs in.
public struct ChatLogin: Hashable, Sendable {
    public enum Mode: Hashable, Sendable {
        /// SASL PLAIN with the account's password.
        case logIn(password: String)
        /// `REGISTER` (draft/account-registration) a new account named after the nick.
        case register(password: String)
        /// No account: a guest nick (only where the server allows it).
        case guest
    }

    public var nick: String
    public var mode: Mode

    public init(nick: String, mode: Mode) {
        self.nick = nick
        self.mode = mode
    }

    var password: String? {
        switch self.mode {
        case .logIn(let password), .register(let password): password
        case .guest: nil
        }
    }
}

/// What the client must do after an event: the core never touches a socket, a file or a clock.
public enum ChatClientAction: Hashable, Sendable {
    case send(IRCMessage)
    /// Logged in (001): the nick it has, and the account when it logged in to one.
    case ready(nick: String, account: String?)
    /// The login was refused, in a sentence a person reads; the connection should close.
    case refused(String)
    /// A line was added to a conversation (for line mode and notifications).
    case line(conversation: String, ChatLine)
    /// Someone's presence changed.
    case presence(nick: String, ChatPresence)
    /// Look up a file link's name and size (HEAD), then call ``ChatClientCore/fileInfo(_:name:size:)``.
    case lookUpFile(ChatFileOffer)
    /// `/send`: upload the file at `path` to the server's FILEHOST and send its link to `target`.
    case upload(path: String, target: String, url: String)
    /// `/get N`: download this file.
    case download(ChatFileOffer)
    /// `/quit`: the person is leaving (QUIT was sent).
    case quit
}

/// Why the client refused a command the person typed (said in the conversation as a line).
struct ChatClientUsage: Error {
    let text: String
}

/// The IRC session of a chat client, sans I/O: registration (CAP, SASL PLAIN or REGISTER),
/// the conversations, presence, history and the commands a person types. Feed it the server's
/// lines and the person's input; it changes ``model`` and returns what to do.
public struct ChatClientCore: Sendable {
    public private(set) var model = ChatClientModel()
    /// How it logs in; a sign-up becomes a login once the account exists (for reconnecting).
    public private(set) var login: ChatLogin
    public let limits: ChatClientLimits
    public private(set) var registered = false
    /// CAPs the server acknowledged.
    public private(set) var capabilities: Set<String> = []
    private var offered: [String: String] = [:]
    private var nickTries = 0
    private var names: [String: [String]] = [:]
    private var batches: [String: (type: String, target: String, count: Int)] = [:]
    private var whoResults: [(nick: String, presence: ChatPresence)] = []
    private var actions: [ChatClientAction] = []

    static let wantedCapabilities = [
        "sasl", "server-time", "message-tags", "batch", "echo-message", "away-notify", "account-notify", "extended-join",
        "multi-prefix", "draft/chathistory", "draft/read-marker", "draft/account-registration", "cap-notify",
    ]

    public init(login: ChatLogin, limits: ChatClientLimits = ChatClientLimits()) {
        self.login = login
        self.limits = limits
    }

    // MARK: events

    /// The connection is up: start registering.
    public mutating func connected() -> [ChatClientAction] {
        self.registered = false
        self.capabilities = []
        self.offered = [:]
        self.nickTries = 0
        self.send("CAP", ["LS", "302"])
        self.send("NICK", [self.login.nick])
        self.send("USER", [self.login.nick, "0", "*", self.login.nick], trailing: true)
        return self.take()
    }

    /// A line from the server; `now` in milliseconds since 1970 stamps lines without server-time.
    public mutating func received(_ message: IRCMessage, now: Int64) -> [ChatClientAction] {
        self.handle(message, now: now)
        return self.take()
    }

    /// The connection is gone: nothing can be sent until ``connected()`` and the login again.
    /// People's presence is unknown meanwhile (they show as offline).
    public mutating func disconnected(now: Int64) -> [ChatClientAction] {
        self.registered = false
        for key in self.model.people.keys { self.model.people[key]?.presence = .offline }
        for index in self.model.conversations.indices { self.model.conversations[index].members = [:] }
        return self.take()
    }

    /// A line the person typed into `conversation` (an index of ``ChatClientModel/conversations``):
    /// a message, or a command such as `/msg` or `/join`.
    public mutating func submitted(_ text: String, now: Int64) -> [ChatClientAction] {
        do {
            try self.submit(text, now: now)
        } catch let usage as ChatClientUsage {
            self.system(usage.text, now: now)
        } catch {
            self.system("\(error)", now: now)
        }
        return self.take()
    }

    /// Shows another conversation; it counts as read up to its newest line.
    public mutating func show(_ index: Int) -> [ChatClientAction] {
        guard self.model.conversations.indices.contains(index) else { return [] }
        self.model.current = index
        return self.take()
    }

    /// Moves the read marker of a conversation (default: the one on screen) to its newest line: the
    /// person has seen it.
    public mutating func markRead(_ index: Int? = nil) -> [ChatClientAction] {
        let index = index ?? self.model.current
        guard self.model.conversations.indices.contains(index) else { return [] }
        let conversation = self.model.conversations[index]
        guard conversation.kind != .server, let newest = conversation.lines.last(where: { $0.kind != .system }) else {
            self.model.conversations[index].unread = 0
            self.model.conversations[index].mentioned = false
            return self.take()
        }
        if let marker = conversation.readMarker, newest.time <= marker {
            return self.take()
        }
        self.model.conversations[index].readMarker = newest.time
        self.countUnread(index)
        if self.capabilities.contains("draft/read-marker") {
            self.send("MARKREAD", [conversation.name, "timestamp=" + Self.timeTag(newest.time)])
        }
        return self.take()
    }

    /// The answer to a ``ChatClientAction/lookUpFile(_:)``: the file is announced in its
    /// conversation (`file 1: notes.txt (2 KiB) from bob: /get 1`).
    public mutating func fileInfo(_ number: Int, name: String, size: Int64?, now: Int64) -> [ChatClientAction] {
        guard let index = self.model.files.firstIndex(where: { $0.number == number }) else { return [] }
        self.model.files[index].name = name
        self.model.files[index].size = size
        let offer = self.model.files[index]
        let conversation = self.model.index(of: offer.conversation) ?? self.model.current
        self.append(ChatLine(time: now, from: "", text: Self.describe(offer), kind: .system), to: conversation)
        return self.take()
    }

    /// A line from the client itself (a transfer's progress, an error), in the conversation on screen.
    public mutating func note(_ text: String, now: Int64) -> [ChatClientAction] {
        self.system(text, now: now)
        return self.take()
    }

    // MARK: lines from the server

    private mutating func handle(_ m: IRCMessage, now: Int64) {
        let p = m.parameters
        switch m.command.uppercased() {
        case "PING":
            self.send("PONG", p, trailing: true)
        case "CAP":
            self.cap(m)
        case "AUTHENTICATE":
            if p.first == "+", let password = self.login.password {
                for chunk in Self.saslPlain(account: self.login.nick, password: password) { self.send("AUTHENTICATE", [chunk]) }
            }
        case "900":
            self.model.account = p.count > 2 ? p[2] : self.login.nick
        case "903":
            self.send("CAP", ["END"])
        case "902", "904", "905", "906":
            self.refuse(Self.refusals[m.command] ?? p.last ?? "Login refused.")
        case "REGISTER":
            if p.first == "SUCCESS" {
                self.model.account = p.count > 1 ? p[1] : self.login.nick
                if case .register(let password) = self.login.mode { self.login.mode = .logIn(password: password) }
                self.send("CAP", ["END"])
            }
        case "FAIL":
            if !self.registered, p.first == "REGISTER" || p.first == "AUTHENTICATE" {
                let code = p.count > 1 ? p[1] : ""
                self.refuse(Self.refusals[code].map { code == "WEAK_PASSWORD" || code == "UNACCEPTABLE_PASSWORD" ? "\($0) \(p.last ?? "")" : $0 } ?? "Refused: \(p.last ?? code)")
            } else {
                self.system(p.last ?? "FAIL", now: now)
            }
        case "ERROR":
            if !self.registered { self.refuse("The server closed the connection: \(p.last ?? "")") }
            else { self.system("The server closed the connection: \(p.last ?? "")", now: now) }
        case "001":
            self.welcome(m, now: now)
        case "005":
            self.isupport(m)
        case "432":
            if !self.registered { self.refuse("That nick cannot be used: start with a letter, no spaces.") }
            else { self.system(p.last ?? "Erroneous nickname", now: now) }
        case "433":
            if !self.registered, case .logIn = self.login.mode, self.nickTries < 3 {
                // Logged in by SASL, the account does not need its own nick: ann_, ann__, ...
                self.nickTries += 1
                self.send("NICK", [self.login.nick + String(repeating: "_", count: self.nickTries)])
            } else if !self.registered {
                self.refuse("That nick is in use right now. Pick another, or wait until it is free.")
            } else {
                self.system("\(p.count > 1 ? p[1] : "That nick") is in use: pick another nick.", now: now)
            }
        case "464":
            self.refuse("This server needs a server password.")
        case "465":
            self.refuse("You are banned from this server.")
        case "JOIN":
            self.join(m, now: now)
        case "PART":
            self.part(nick: Self.nick(m.source), channel: p.first ?? "", now: now)
        case "KICK":
            if p.count > 1 { self.part(nick: p[1], channel: p[0], now: now, kickedBy: Self.nick(m.source)) }
        case "QUIT":
            self.quit(m, now: now)
        case "NICK":
            self.nick(m, now: now)
        case "AWAY":
            let nick = Self.nick(m.source)
            self.setPresence(nick, (p.first ?? "").isEmpty ? .online : .away)
        case "305":
            self.setPresence(self.model.me, .online)
            self.system("You are back.", now: now)
        case "306":
            self.setPresence(self.model.me, .away)
            self.system("You are marked away.", now: now)
        case "301":
            if p.count > 2 { self.system("\(p[1]) is away: \(p[2])", now: now) }
        case "353":
            if p.count > 3 {
                let nicks = p[3].split(separator: " ").map { String($0.drop(while: { "~&@%+".contains($0) })) }
                self.names[self.model.fold(p[2]), default: []] += nicks.filter { !$0.isEmpty }
            }
        case "366":
            if p.count > 1 { self.endOfNames(p[1]) }
        case "322":
            if p.count > 2 { self.listed(p[1], count: Int(p[2]) ?? 0) }
        case "352":
            if p.count > 6 {
                let presence: ChatPresence = p[6].hasPrefix("G") ? .away : .online
                self.setPresence(p[5], presence)
                self.whoResults.append((p[5], presence))
            }
        case "315":
            self.endOfWho(p.last ?? "", now: now)
        case "730":
            for target in (p.last ?? "").split(separator: ",") { self.setPresence(Self.nick(String(target)), .online, contact: true) }
        case "731":
            for target in (p.last ?? "").split(separator: ",") { self.setPresence(Self.nick(String(target)), .offline, contact: true) }
        case "BATCH":
            self.batch(m)
        case "CHATHISTORY":
            if p.first == "TARGETS", p.count > 1 { self.historyTarget(p[1]) }
        case "MARKREAD":
            if p.count > 1 { self.marker(p[0], p[1]) }
        case "PRIVMSG", "NOTICE":
            self.message(m, now: now)
        case "321", "323", "324", "329", "331", "332", "333", "375", "372", "376", "002", "003", "004", "251", "252", "253", "254",
            "255", "265", "266", "250", "422", "908", "731 ", "732", "733":
            break
        default:
            if m.command.count == 3, let first = m.command.first, first == "4" || first == "5" {
                // An error: the last parameter is the sentence; a name before it says what it is about.
                let about = p.count > 2 ? p[1] + ": " : ""
                self.system(about + (p.last ?? m.command), now: now)
            }
        }
    }

    private mutating func cap(_ m: IRCMessage) {
        let p = m.parameters
        guard p.count > 1 else { return }
        switch p[1].uppercased() {
        case "LS":
            let more = p.count > 3 && p[2] == "*"
            for item in (p.last ?? "").split(separator: " ") {
                let parts = item.split(separator: "=", maxSplits: 1)
                self.offered[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
            }
            guard !more, !self.registered else { return }
            switch self.login.mode {
            case .logIn where self.offered["sasl"] == nil:
                return self.refuse("This server keeps no accounts, so it cannot log you in.")
            case .register where self.offered["draft/account-registration"] == nil:
                return self.refuse("This server does not let people sign up.")
            default:
                break
            }
            let wanted = Self.wantedCapabilities.filter { self.offered[$0] != nil }
            if wanted.isEmpty {
                self.send("CAP", ["END"])
            } else {
                self.send("CAP", ["REQ", wanted.joined(separator: " ")], trailing: true)
            }
        case "ACK":
            for capability in (p.last ?? "").split(separator: " ") {
                if capability.hasPrefix("-") { self.capabilities.remove(String(capability.dropFirst())) }
                else { self.capabilities.insert(String(capability)) }
            }
            guard !self.registered else { return }
            switch self.login.mode {
            case .logIn: self.send("AUTHENTICATE", ["PLAIN"])
            case .register(let password): self.send("REGISTER", ["*", "*", password], trailing: true)
            case .guest: self.send("CAP", ["END"])
            }
        case "NAK":
            guard !self.registered else { return }
            switch self.login.mode {
            case .logIn: self.refuse("This server keeps no accounts, so it cannot log you in.")
            case .register: self.refuse("This server does not let people sign up.")
            case .guest: self.send("CAP", ["END"])
            }
        default:
            break
        }
    }

    private mutating func welcome(_ m: IRCMessage, now: Int64) {
        self.registered = true
        self.model.me = m.parameters.first ?? self.login.nick
        self.setPresence(self.model.me, .online)
        self.actions.append(.ready(nick: self.model.me, account: self.model.account))
        // Channels joined before a reconnect are joined again.
        for conversation in self.model.conversations where conversation.kind == .channel && conversation.joined {
            if let lobby = self.model.lobby, self.model.fold(lobby) == self.model.fold(conversation.name) { continue }
            self.send("JOIN", [conversation.name])
        }
        if self.capabilities.contains("draft/chathistory") {
            let tomorrow = now + 86_400_000
            self.send("CHATHISTORY", ["TARGETS", "timestamp=" + Self.timeTag(0), "timestamp=" + Self.timeTag(tomorrow), String(self.limits.historyTargets)])
        }
    }

    private mutating func isupport(_ m: IRCMessage) {
        for token in m.parameters.dropFirst().dropLast() {
            let parts = token.split(separator: "=", maxSplits: 1)
            self.model.isupport[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        if let mapping = self.model.isupport["CASEMAPPING"] { self.model.caseMapping = mapping == "ascii" ? .ascii : .rfc1459 }
        if let host = self.model.isupport["draft/FILEHOST"] ?? self.model.isupport["soju.im/FILEHOST"] { self.model.fileHost = host }
    }

    private mutating func join(_ m: IRCMessage, now: Int64) {
        let nick = Self.nick(m.source)
        guard let channel = m.parameters.first else { return }
        let index = self.conversation(channel, kind: .channel)
        if self.isMe(nick) {
            if self.model.lobby == nil {
                self.model.lobby = channel
                if self.model.current == 0 { self.model.current = index }
            }
            self.model.conversations[index].joined = true
            self.model.conversations[index].members = [:]
            if self.capabilities.contains("draft/chathistory") { self.askHistory(channel, before: nil, limit: self.limits.historyPage) }
        } else {
            self.model.conversations[index].members[self.model.fold(nick)] = nick
            self.setPresence(nick, .online)
            if !self.model.conversations[index].large { self.append(ChatLine(time: now, from: "", text: "\(nick) joined", kind: .system), to: index) }
        }
    }

    private mutating func part(nick: String, channel: String, now: Int64, kickedBy: String? = nil) {
        guard let index = self.model.index(of: channel) else { return }
        if self.isMe(nick) {
            self.model.conversations[index].joined = false
            self.model.conversations[index].members = [:]
            self.append(ChatLine(time: now, from: "", text: kickedBy.map { "You were kicked by \($0)" } ?? "You left \(channel)", kind: .system), to: index)
        } else if self.model.conversations[index].members.removeValue(forKey: self.model.fold(nick)) != nil {
            self.append(ChatLine(time: now, from: "", text: kickedBy.map { "\(nick) was kicked by \($0)" } ?? "\(nick) left", kind: .system), to: index)
        }
    }

    private mutating func quit(_ m: IRCMessage, now: Int64) {
        let nick = Self.nick(m.source)
        let folded = self.model.fold(nick)
        for index in self.model.conversations.indices where self.model.conversations[index].members.removeValue(forKey: folded) != nil {
            self.append(ChatLine(time: now, from: "", text: "\(nick) quit" + (m.parameters.first.map { " (\($0))" } ?? ""), kind: .system), to: index)
        }
        self.setPresence(nick, .offline)
    }

    private mutating func nick(_ m: IRCMessage, now: Int64) {
        let old = Self.nick(m.source)
        guard let new = m.parameters.first else { return }
        let (oldFolded, newFolded) = (self.model.fold(old), self.model.fold(new))
        if self.isMe(old) {
            self.model.me = new
            self.system("You are now \(new).", now: now)
        }
        for index in self.model.conversations.indices where self.model.conversations[index].members.removeValue(forKey: oldFolded) != nil {
            self.model.conversations[index].members[newFolded] = new
            if !self.isMe(new) { self.append(ChatLine(time: now, from: "", text: "\(old) is now \(new)", kind: .system), to: index) }
        }
        if let person = self.model.people.removeValue(forKey: oldFolded) { self.model.people[newFolded] = (new, person.presence) }
    }

    private mutating func endOfNames(_ channel: String) {
        let list = self.names.removeValue(forKey: self.model.fold(channel)) ?? []
        guard let index = self.model.index(of: channel) else { return }
        var members: [String: String] = [:]
        for nick in list {
            members[self.model.fold(nick)] = nick
            if self.model.people[self.model.fold(nick)]?.presence != .away { self.setPresence(nick, .online) }
        }
        self.model.conversations[index].members = members
        // A channel past the server's quiet-presence mark lists only its operators: LIST counts it.
        if self.model.isupport["QUIETPRESENCE"] != nil { self.send("LIST", [channel]) }
    }

    private mutating func listed(_ channel: String, count: Int) {
        guard let index = self.model.index(of: channel), self.model.conversations[index].kind == .channel else { return }
        self.model.conversations[index].count = count
        let mark = Int(self.model.isupport["QUIETPRESENCE"] ?? "") ?? 0
        self.model.conversations[index].large = mark > 0 && count > mark
    }

    private mutating func endOfWho(_ text: String, now: Int64) {
        let results = self.whoResults
        self.whoResults = []
        if results.isEmpty {
            self.system("Nobody found.", now: now)
        } else {
            let list = results.map { $0.presence == .away ? "\($0.nick) (away)" : $0.nick }.joined(separator: ", ")
            self.system("Found \(results.count): \(list)" + (text.contains("cut at") ? " (and more: narrow the search)" : ""), now: now)
        }
    }

    private mutating func batch(_ m: IRCMessage) {
        guard let reference = m.parameters.first, reference.count > 1 else { return }
        let name = String(reference.dropFirst())
        if reference.hasPrefix("+") {
            self.batches[name] = (m.parameters.count > 1 ? m.parameters[1] : "", m.parameters.count > 2 ? m.parameters[2] : "", 0)
        } else if let batch = self.batches.removeValue(forKey: name), batch.type == "chathistory", let index = self.model.index(of: batch.target) {
            self.model.conversations[index].historyPending = false
            self.countUnread(index)
        }
    }

    private mutating func historyTarget(_ target: String) {
        let channel = self.isChannel(target)
        let index = self.conversation(target, kind: channel ? .channel : .direct)
        guard !channel else { return }
        // The marker first: the server answers in order, so the history that follows is known to
        // be new or not as it arrives (a channel's marker comes with its JOIN).
        if self.capabilities.contains("draft/read-marker") { self.send("MARKREAD", [target]) }
        if self.model.conversations[index].lines.isEmpty { self.askHistory(target, before: nil, limit: self.limits.historyPage) }
        self.watch(target)
    }

    private mutating func marker(_ target: String, _ value: String) {
        guard let index = self.model.index(of: target) else { return }
        let time = value == "*" ? nil : Self.milliseconds(timeTag: String(value.dropFirst("timestamp=".count)))
        self.model.conversations[index].readMarker = time
        self.countUnread(index)
    }

    private mutating func message(_ m: IRCMessage, now: Int64) {
        let p = m.parameters
        guard p.count > 1 else { return }
        var text = p[1]
        let from = Self.nick(m.source)
        // The server's notices (offline messages waiting, a message kept): said where the person looks.
        guard let source = m.source, source.contains("!"), p[0] != "*" else {
            return self.system(text, now: now)
        }
        var kind: ChatLine.Kind = m.command.uppercased() == "NOTICE" ? .notice : .message
        if text.hasPrefix("\u{1}") {
            let body = text.dropFirst().prefix { $0 != "\u{1}" }
            guard body.hasPrefix("ACTION") else { return }  // other CTCP is not shown
            text = String(body.dropFirst("ACTION".count).drop(while: { $0 == " " }))
            kind = .action
        }
        let mine = self.isMe(from)
        let channel = self.isChannel(p[0])
        let name = channel || mine ? p[0] : from
        let batch = m.tag("batch").flatMap { self.batches[$0] }
        if let reference = m.tag("batch"), batch != nil { self.batches[reference]?.count += 1 }
        let line = ChatLine(
            id: m.tag("msgid"), time: m.tag("time").flatMap(Self.milliseconds(timeTag:)) ?? now, from: from, text: text, kind: kind,
            mine: mine, mention: !mine && channel && Self.mentions(text, self.model.me, self.model.caseMapping), history: batch != nil
        )
        let index = self.conversation(name, kind: channel ? .channel : .direct)
        if !channel, !mine { self.watch(from) }
        guard self.append(line, to: index) else { return }
        for url in Self.fileLinks(text, fileHost: self.model.fileHost) where !self.model.files.contains(where: { $0.url == url }) {
            let offer = ChatFileOffer(number: self.model.files.count + 1, url: url, from: from, conversation: self.model.conversations[index].name)
            self.model.files.append(offer)
            self.actions.append(.lookUpFile(offer))
        }
    }

    // MARK: the person's commands

    private mutating func submit(_ text: String, now: Int64) throws {
        guard self.registered else { throw ChatClientUsage(text: "Not sent: not logged in yet.") }
        let current = self.model.currentConversation
        guard text.hasPrefix("/"), !text.hasPrefix("//") else {
            guard current.kind != .server else { throw ChatClientUsage(text: "This is the server's window: /join a channel or /msg someone.") }
            let message = text.hasPrefix("//") ? String(text.dropFirst()) : text
            return self.say(message, to: current.name, now: now)
        }
        let words = text.dropFirst().split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        let command = words.first.map { $0.lowercased() } ?? ""
        let argument = words.count > 1 ? words[1].trimmingCharacters(in: .whitespaces) : ""
        let first = argument.split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
        let rest = argument.split(separator: " ", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
        switch command {
        case "msg", "query":
            guard !first.isEmpty else { throw ChatClientUsage(text: "Usage: /\(command) nick [message]") }
            let index = self.conversation(first, kind: self.isChannel(first) ? .channel : .direct)
            if !self.isChannel(first) { self.watch(first) }
            if command == "query" || rest.isEmpty { self.model.current = index }
            if !rest.isEmpty { self.say(rest, to: first, now: now) }
            if command == "query", self.model.conversations[index].lines.isEmpty, self.capabilities.contains("draft/chathistory"), !self.isChannel(first) {
                self.askHistory(first, before: nil, limit: self.limits.historyPage)
            }
        case "join", "j":
            guard !first.isEmpty else { throw ChatClientUsage(text: "Usage: /join #channel") }
            let channel = self.isChannel(first) ? first : "#" + first
            self.send("JOIN", [channel])
            self.model.current = self.conversation(channel, kind: .channel)
        case "part", "leave", "close":
            if current.kind == .channel, current.joined, command != "close" {
                self.send("PART", [current.name, argument.isEmpty ? "Leaving" : argument], trailing: true)
            } else if current.kind != .server {
                self.model.conversations.remove(at: self.model.current)
                self.model.current = self.model.lobby.flatMap { self.model.index(of: $0) } ?? 0
            }
        case "me":
            guard current.kind != .server, !argument.isEmpty else { throw ChatClientUsage(text: "Usage: /me does something") }
            self.say("\u{1}ACTION \(argument)\u{1}", to: current.name, now: now)
        case "away":
            if argument.isEmpty { self.send("AWAY") } else { self.send("AWAY", [argument], trailing: true) }
        case "back":
            self.send("AWAY")
        case "nick":
            guard !first.isEmpty else { throw ChatClientUsage(text: "Usage: /nick newnick") }
            self.send("NICK", [first])
        case "who":
            let mask = first.isEmpty ? (current.kind == .channel ? current.name : "*") : first
            self.whoResults = []
            self.send("WHO", [mask])
        case "history":
            guard current.kind != .server else { throw ChatClientUsage(text: "/history works in a channel or a private conversation.") }
            guard self.capabilities.contains("draft/chathistory") else { throw ChatClientUsage(text: "This server keeps no history.") }
            let count = first.isEmpty ? self.limits.historyPage : Int(first) ?? 0
            guard count > 0 else { throw ChatClientUsage(text: "Usage: /history [N]: the N lines before the oldest shown") }
            let oldest = current.lines.first { $0.kind != .system }
            self.askHistory(current.name, before: oldest, limit: min(count, Int(self.model.isupport["CHATHISTORY"] ?? "") ?? 100))
        case "send":
            guard !first.isEmpty, !rest.isEmpty else { throw ChatClientUsage(text: "Usage: /send nick|#channel path") }
            guard let url = self.model.fileHost else { throw ChatClientUsage(text: "This server takes no files.") }
            self.actions.append(.upload(path: rest, target: first, url: url))
        case "get":
            guard let number = Int(first), let offer = self.model.files.first(where: { $0.number == number }) else {
                throw ChatClientUsage(text: self.model.files.isEmpty ? "No files yet." : "Usage: /get N, N from 1 to \(self.model.files.count)")
            }
            self.actions.append(.download(offer))
        case "files":
            if self.model.files.isEmpty { throw ChatClientUsage(text: "No files yet.") }
            for offer in self.model.files { self.system(Self.describe(offer), now: now) }
        case "quit", "exit":
            self.send("QUIT", [argument.isEmpty ? "Leaving" : argument], trailing: true)
            self.actions.append(.quit)
        case "quote", "raw":
            guard let message = try? IRCMessage(parsing: argument) else { throw ChatClientUsage(text: "Usage: /quote RAW IRC LINE") }
            self.actions.append(.send(message))
        case "help":
            for line in Self.help { self.system(line, now: now) }
        default:
            throw ChatClientUsage(text: "Unknown command /\(command): /help lists them.")
        }
    }

    static let help = [
        "/msg nick [text]  a private message (or open the conversation)    /query nick  open it",
        "/join #channel  /part [reason]  /close  /me action  /away [reason]  /back  /nick newnick",
        "/who [mask]  search people    /history [N]  older lines    /files  /get N  /send nick path",
        "/quit [reason]    Alt+1..9 or Ctrl+N/Ctrl+P switch conversations; Tab completes nicks and commands",
    ]

    /// The commands `/help` lists (for completion).
    public static let commands = ["msg", "query", "join", "part", "close", "me", "away", "back", "nick", "who", "history", "send", "get", "files", "quit", "quote", "help"]

    /// One line saying what a file offer is.
    public static func describe(_ offer: ChatFileOffer) -> String {
        let size = offer.size.map { " (\(ByteCount.text($0)))" } ?? ""
        return "file \(offer.number): \(offer.name ?? offer.url)\(size) from \(offer.from): /get \(offer.number)"
    }

    private mutating func say(_ text: String, to target: String, now: Int64) {
        self.send("PRIVMSG", [target, text], trailing: true)
        // Without echo-message the server sends no copy: show it now.
        if !self.capabilities.contains("echo-message") {
            self.handle(IRCMessage(source: "\(self.model.me)!~\(self.model.me)@local", command: "PRIVMSG", parameters: [target, text]), now: now)
        }
    }

    // MARK: state changes

    private mutating func refuse(_ sentence: String) {
        guard !self.registered else { return }
        self.actions.append(.refused(sentence))
    }

    /// The index of the conversation named `name`, made if there is none.
    private mutating func conversation(_ name: String, kind: ChatConversation.Kind) -> Int {
        if let index = self.model.index(of: name) { return index }
        self.model.conversations.append(ChatConversation(name: name, kind: kind))
        return self.model.conversations.count - 1
    }

    /// Adds `line` in time order; false when it was already there (the same msgid).
    @discardableResult
    private mutating func append(_ line: ChatLine, to index: Int) -> Bool {
        if let id = line.id {
            guard self.model.conversations[index].ids.insert(id).inserted else { return false }
        }
        var lines = self.model.conversations[index].lines
        var position = lines.count
        if let last = lines.last, last.time > line.time {
            position = lines.partitioningIndex { $0.time > line.time }
        }
        lines.insert(line, at: position)
        if lines.count > self.limits.linesPerConversation {
            let dropped = lines.removeFirst()
            if let id = dropped.id { self.model.conversations[index].ids.remove(id) }
        }
        self.model.conversations[index].lines = lines
        if position == lines.count - 1 || line.history == false {
            if self.model.conversations[index].isNew(line) {
                self.model.conversations[index].unread += 1
                if line.mention { self.model.conversations[index].mentioned = true }
            }
        }
        self.actions.append(.line(conversation: self.model.conversations[index].name, line))
        return true
    }

    private mutating func system(_ text: String, now: Int64) {
        self.append(ChatLine(time: now, from: "", text: text, kind: .system), to: self.model.current)
    }

    private mutating func countUnread(_ index: Int) {
        let conversation = self.model.conversations[index]
        var unread = 0
        var mentioned = false
        for line in conversation.lines.reversed() {
            if let marker = conversation.readMarker, line.time <= marker { break }
            if conversation.isNew(line) {
                unread += 1
                mentioned = mentioned || line.mention
            }
        }
        self.model.conversations[index].unread = unread
        self.model.conversations[index].mentioned = mentioned
    }

    private mutating func setPresence(_ nick: String, _ presence: ChatPresence, contact: Bool = false) {
        let folded = self.model.fold(nick)
        if contact { self.model.contacts.insert(folded) }
        if self.model.people[folded]?.presence != presence {
            self.model.people[folded] = (nick, presence)
            self.actions.append(.presence(nick: nick, presence))
        }
    }

    /// Keeps `nick`'s presence exact (MONITOR).
    private mutating func watch(_ nick: String) {
        let folded = self.model.fold(nick)
        guard !self.model.contacts.contains(folded), !self.isMe(nick), self.model.isupport["MONITOR"] != nil else { return }
        self.model.contacts.insert(folded)
        self.send("MONITOR", ["+", nick])
    }

    private mutating func askHistory(_ target: String, before: ChatLine?, limit: Int) {
        guard let index = self.model.index(of: target), !self.model.conversations[index].historyPending else { return }
        self.model.conversations[index].historyPending = true
        if let before {
            let reference = before.id.map { "msgid=" + $0 } ?? "timestamp=" + Self.timeTag(before.time)
            self.send("CHATHISTORY", ["BEFORE", target, reference, String(limit)])
        } else {
            self.send("CHATHISTORY", ["LATEST", target, "*", String(limit)])
        }
    }

    private func isMe(_ nick: String) -> Bool { !nick.isEmpty && self.model.fold(nick) == self.model.fold(self.model.me) }

    private func isChannel(_ name: String) -> Bool {
        guard let first = name.first else { return false }
        return (self.model.isupport["CHANTYPES"] ?? "#").contains(first)
    }

    private mutating func send(_ command: String, _ parameters: [String] = [], trailing: Bool = false) {
        self.actions.append(.send(IRCMessage(command: command, parameters: parameters, trailing: trailing)))
    }

    private mutating func take() -> [ChatClientAction] {
        defer { self.actions = [] }
        return self.actions
    }

    // MARK: helpers

    static let refusals: [String: String] = [
        "904": "Wrong nick or password.",
        "902": "That account cannot log in now.",
        "905": "The nick or password is too long.",
        "906": "Logging in was cancelled.",
        "ACCOUNT_EXISTS": "That name is taken: someone already signed up with it. Log in instead, or pick another.",
        "TEMPORARILY_UNAVAILABLE": "Sign-up is closed on this server: ask its operator for an account.",
        "WEAK_PASSWORD": "That password is too weak:",
        "UNACCEPTABLE_PASSWORD": "That password cannot be used:",
        "BAD_ACCOUNT_NAME": "That name cannot be an account name.",
        "ACCOUNT_NAME_MUST_BE_NICK": "The account is named after your nick.",
        "NEED_NICK": "Type a nick first.",
    ]

    /// The nick of a message source (`nick!user@host`).
    public static func nick(_ source: String?) -> String {
        guard let source else { return "" }
        return String(source.prefix { $0 != "!" && $0 != "@" })
    }

    /// SASL PLAIN (RFC 4616): `NUL account NUL password`, base64, in 400-byte AUTHENTICATE chunks
    /// (and a `+` after a chunk of exactly 400).
    static func saslPlain(account: String, password: String) -> [String] {
        let encoded = Data("\0\(account)\0\(password)".utf8).base64EncodedString()
        var chunks: [String] = []
        var rest = Substring(encoded)
        while !rest.isEmpty {
            chunks.append(String(rest.prefix(400)))
            rest = rest.dropFirst(400)
        }
        if chunks.isEmpty || chunks.last?.count == 400 { chunks.append("+") }
        return chunks
    }

    /// Whether `text` names `nick` as a word.
    static func mentions(_ text: String, _ nick: String, _ caseMapping: IRCCaseMapping) -> Bool {
        guard !nick.isEmpty else { return false }
        let folded = caseMapping.fold(text)
        let target = caseMapping.fold(nick)
        let word = Set("abcdefghijklmnopqrstuvwxyz0123456789_{}|^`-[]\\")
        var search = folded.startIndex
        while let range = folded.range(of: target, range: search..<folded.endIndex) {
            let before = range.lowerBound == folded.startIndex ? nil : folded[folded.index(before: range.lowerBound)]
            let after = range.upperBound == folded.endIndex ? nil : folded[range.upperBound]
            if !(before.map(word.contains) ?? false), !(after.map(word.contains) ?? false) { return true }
            search = range.upperBound
        }
        return false
    }

    /// Links in `text` to files on this server, as URLs on its FILEHOST origin: `/files/<id>` on
    /// any http(s) origin, since a client that reached the server at another address got a link
    /// with that address. Ids are 128 random bits: a file the server has under one is that file
    /// (the look-up goes to this server only, never to the link's host).
    static func fileLinks(_ text: String, fileHost: String?) -> [String] {
        guard let fileHost, let upload = URL(string: fileHost), let scheme = upload.scheme, let host = upload.host else { return [] }
        let origin = "\(scheme)://" + (host.contains(":") ? "[\(host)]" : host) + (upload.port.map { ":\($0)" } ?? "")
        return text.split(whereSeparator: \.isWhitespace).compactMap { word in
            guard word.hasPrefix("http://") || word.hasPrefix("https://"), let url = URL(string: String(word)) else { return nil }
            let path = url.path
            guard path.hasPrefix("/files/"), path.count == 39, path.dropFirst(7).allSatisfy(\.isHexDigit), url.query == nil else { return nil }
            return origin + path
        }
    }

    static func timeTag(_ milliseconds: Int64) -> String { IRCServerTime.format(milliseconds: milliseconds) }

    static func milliseconds(timeTag: String) -> Int64? { IRCServerTime.milliseconds(timeTag) }
}

extension Array {
    /// The first index whose element satisfies `belongs` (a partition: false..., then true...).
    func partitioningIndex(where belongs: (Element) -> Bool) -> Int {
        var low = 0
        var high = self.count
        while low < high {
            let middle = (low + high) / 2
            if belongs(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
