import Foundation
import Synchronization
import NIOCore
import NIOSSL
import TinCanChatClient
import TinCanCore
import TinCanIRC

/// `tincan chat send`'s session: log in, join a channel target, upload a file, send each line,
/// and wait until the server has answered every line (its echo with echo-message, its note that
/// the message was kept for someone offline, or an error), then quit.
struct ChatSender {
    let endpoint: Endpoint
    let tls: TLSConfiguration?
    let login: ChatLogin
    let target: String
    let timeout: TimeAmount
    let operation: String

    /// The most of a message one PRIVMSG carries (bytes of text): IRC lines are 512 bytes with the
    /// command, the target and the sender's prefix as others see it.
    static let pieceBytes = 350

    func send(_ lines: [String], file: String?) async throws {
        let connection = try await ChatClientConnection.connect(to: self.endpoint, tls: self.tls)
        // Past the timeout the connection is closed under the exchange, which then says why.
        let timedOut = TimeoutFlag()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await Task.sleep(for: .nanoseconds(self.timeout.nanoseconds))
                timedOut.set()
                connection.channel.channel.close(promise: nil)
            }
            defer { group.cancelAll() }
            try await self.exchange(connection, lines, file: file) { timedOut.isSet }
        }
    }

    private func exchange(_ connection: ChatClientConnection, _ lines: [String], file: String?, timedOut: @escaping () -> Bool) async throws {
        var core = ChatClientCore(login: self.login)
        try await connection.channel.executeThenClose { inbound, outbound in
            var lines = lines.flatMap { Self.pieces($0, bytes: Self.pieceBytes) }
            var messages = inbound.makeAsyncIterator()

            /// The next message, or the reason there is none.
            func next() async throws -> IRCMessage {
                while true {
                    let line: IRCInboundLine?
                    do {
                        line = try await messages.next()
                    } catch where timedOut() {
                        line = nil
                    }
                    switch line {
                    case .message(let message): return message
                    case nil where timedOut():
                        throw TinCanError(operation: self.operation, cause: "no answer from the server within \(TinCanError.seconds(self.timeout))")
                    case nil: throw TinCanError(operation: self.operation, cause: "the server closed the connection")
                    default: continue
                    }
                }
            }

            func perform(_ actions: [ChatClientAction]) async throws -> Bool {
                var ready = false
                for action in actions {
                    switch action {
                    case .send(let message): try await outbound.write(message.wireBytes)
                    case .refused(let sentence): throw TinCanError(operation: self.operation, cause: sentence)
                    case .ready: ready = true
                    default: break
                    }
                }
                return ready
            }

            var ready = try await perform(core.connected())
            while !ready { ready = try await perform(core.received(try await next(), now: ChatClientSession.now())) }
            // ISUPPORT (CHANTYPES, FILEHOST) comes after the welcome: read on to the end of the MOTD.
            var welcomed = false
            while !welcomed {
                let message = try await next()
                _ = try await perform(core.received(message, now: ChatClientSession.now()))
                welcomed = message.command == "376" || message.command == "422"
            }
            let channel = core.model.isupport["CHANTYPES"].map { $0.contains(self.target.first!) } ?? self.target.hasPrefix("#")
            let me = core.model.me
            let fold = core.model.fold

            // A channel is joined first (the lobby already is).
            if channel {
                try await outbound.write(IRCMessage(command: "JOIN", parameters: [self.target]).wireBytes)
                while true {
                    let message = try await next()
                    _ = try await perform(core.received(message, now: ChatClientSession.now()))
                    if message.command == "JOIN", fold(ChatClientCore.nick(message.source)) == fold(me), fold(message.parameters.first ?? "") == fold(self.target) { break }
                    if let error = Self.refusal(message, target: self.target) { throw TinCanError(operation: self.operation, cause: error) }
                }
            }
            if let file {
                guard let url = core.model.fileHost else { throw TinCanError(operation: self.operation, cause: "the server takes no files (no FILEHOST)") }
                let transfer = ChatFileTransfer(account: self.login.account, password: self.login.secret, tls: self.tls ?? .makeClientConfiguration())
                do {
                    lines.append(try await transfer.upload(file, to: url))
                } catch {
                    throw TinCanError(operation: "\(self.operation): upload \(file)", cause: "\(error)")
                }
            }
            let echoes = core.capabilities.contains("echo-message")
            for line in lines {
                try await outbound.write(IRCMessage(command: "PRIVMSG", parameters: [self.target, line], trailing: true).wireBytes)
            }
            let token = "tincan-send-\(ChatClientSession.now())"
            if !echoes { try await outbound.write(IRCMessage(command: "PING", parameters: [token]).wireBytes) }
            var answered = 0
            while answered < lines.count {
                let message = try await next()
                _ = try await perform(core.received(message, now: ChatClientSession.now()))
                if let error = Self.refusal(message, target: self.target) { throw TinCanError(operation: self.operation, cause: error) }
                let p = message.parameters
                switch message.command {
                // Not an echo: a line of the history the core asked for at login (in a batch).
                case "PRIVMSG" where message.tag("batch") != nil:
                    break
                case "PRIVMSG" where fold(ChatClientCore.nick(message.source)) == fold(me) && fold(p.first ?? "") == fold(self.target):
                    answered += 1
                case "NOTICE" where !(message.source ?? "").contains("!") && p.count > 1 && fold(p[1]).hasPrefix(fold(self.target) + " is offline"):
                    answered += 1
                case "PONG" where p.last == token:
                    answered = lines.count
                default:
                    break
                }
            }
            try await outbound.write(IRCMessage(command: "QUIT", parameters: ["sent"], trailing: true).wireBytes)
        }
    }

    /// The server's refusal of a message to (or a join of) `target`, as a sentence; nil for anything else.
    static func refusal(_ message: IRCMessage, target: String) -> String? {
        let p = message.parameters
        switch message.command {
        case "401": return "\(target): no such nick (nobody by that name is online, and no account has it)"
        case "403", "405", "471", "473", "474", "475", "404", "417", "412":
            return "\(p.count > 1 ? p[1] : target): \(p.last ?? message.command)"
        case "FAIL" where p.first == "PRIVMSG" || p.first == "JOIN":
            return p.last ?? "refused"
        case "ERROR":
            return "the server closed the connection: \(p.last ?? "")"
        default:
            return nil
        }
    }

    /// `text` cut into pieces of at most `bytes` UTF-8 bytes, at a space when there is one near.
    static func pieces(_ text: String, bytes: Int) -> [String] {
        var pieces: [String] = []
        var rest = Substring(text)
        while rest.utf8.count > bytes {
            var end = rest.startIndex
            var count = 0
            var lastSpace: String.Index?
            for index in rest.indices {
                let size = rest[index].utf8.count
                if count + size > bytes { break }
                count += size
                end = rest.index(after: index)
                if rest[index] == " " { lastSpace = index }
            }
            let cut = lastSpace.map { rest.distance(from: rest.startIndex, to: $0) > bytes / 2 ? $0 : end } ?? end
            pieces.append(String(rest[..<cut]))
            rest = rest[cut...].drop(while: { $0 == " " })
        }
        if !rest.isEmpty || pieces.isEmpty { pieces.append(String(rest)) }
        return pieces
    }
}

/// A flag one task sets and another reads.
final class TimeoutFlag: Sendable {
    private let value = Atomic(false)
    func set() { self.value.store(true, ordering: .relaxed) }
    var isSet: Bool { self.value.load(ordering: .relaxed) }
}
