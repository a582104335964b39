import NIOCore
import TinCanIRC

/// Accounts: SASL PLAIN (AUTHENTICATE), IRCv3 account registration (REGISTER, VERIFY), logging
/// in and out, and registered nicks' protection. NickServ is in NickServ.swift.
///
/// Passwords are checked and hashed by the store's side, off the event loop
/// (``ChatStoreRequest/login(name:folded:password:address:via:)``); the core sees only the outcome.
/// An account is named by a nick, and logging in does not change the session's nick.
extension ChatCore {
    /// SASL's chunk size: a chunk this long means more follow (sasl-3.1).
    static let saslChunk = 400
    /// The most an AUTHENTICATE payload may hold, base64 (ERR_SASLTOOLONG past it): a PLAIN
    /// message of a nick, a nick and a 300-byte password fits.
    static let saslPayloadLimit = 1024
    /// Passwords are shorter than this (the account-registration spec's advice, so that they fit
    /// in a NickServ line).
    static let passwordLimit = 400

    // MARK: SASL

    func authenticate(_ message: IRCMessage, _ session: ChatSession) {
        let argument = message.parameters[0]
        guard self.usesStore else { return self.numeric(.errSaslFail, to: session, ["SASL authentication failed: this server keeps no accounts"]) }
        if argument == "*" {
            guard session.sasl != nil else { return self.numeric(.errSaslAborted, to: session, ["SASL authentication aborted"]) }
            session.sasl = nil
            return self.numeric(.errSaslAborted, to: session, ["SASL authentication aborted"])
        }
        guard var exchange = session.sasl else {
            // A new exchange: the argument is the mechanism. Re-authentication after
            // registration is allowed (sasl-3.2).
            guard argument.uppercased() == "PLAIN" else {
                self.numeric(.rplSaslMechs, to: session, ["PLAIN", "are available SASL mechanisms"])
                return self.numeric(.errSaslFail, to: session, ["SASL authentication failed"])
            }
            session.sasl = ChatSASLExchange()
            self.send(IRCMessage(command: "AUTHENTICATE", parameters: ["+"]), to: session)
            return
        }
        guard !exchange.verifying else { return }  // the answer is on its way
        guard argument.utf8.count <= Self.saslChunk else {
            session.sasl = nil
            return self.numeric(.errSaslTooLong, to: session, ["SASL message too long"])
        }
        guard exchange.payload.utf8.count + argument.utf8.count <= Self.saslPayloadLimit else {
            // Chunks that never end: the exchange fails (904), as the SASL spec has it.
            session.sasl = nil
            return self.numeric(.errSaslFail, to: session, ["SASL authentication failed: the credentials are too long"])
        }
        if argument != "+" { exchange.payload += argument }
        if argument.utf8.count == Self.saslChunk {
            session.sasl = exchange  // more to come
            return
        }
        guard let credentials = Self.plainCredentials(exchange.payload),
            ChatNicks.isValid(credentials.name, limit: self.limits.nickLength)
        else {
            session.sasl = nil
            return self.numeric(.errSaslFail, to: session, ["SASL authentication failed"])
        }
        exchange.verifying = true
        exchange.payload = ""
        session.sasl = exchange
        let folded = self.caseMapping.fold(credentials.name)
        self.effect(.ask(.login(name: credentials.name, folded: folded, password: credentials.password, address: session.host, via: .sasl), for: session))
    }

    /// `authzid NUL authcid NUL password`, base64 (RFC 4616). The authorization identity must be
    /// empty or the authentication identity: nobody logs in as someone else.
    static func plainCredentials(_ base64: String) -> (name: String, password: String)? {
        guard let bytes = ChatBase64.decode(base64) else { return nil }
        let parts = bytes.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        guard let authzid = String(validating: parts[0], as: UTF8.self), let authcid = String(validating: parts[1], as: UTF8.self),
            let password = String(validating: parts[2], as: UTF8.self), !authcid.isEmpty, !password.isEmpty
        else { return nil }
        guard authzid.isEmpty || authzid == authcid else { return nil }
        return (authcid, password)
    }

    // MARK: REGISTER and VERIFY (IRCv3 draft/account-registration)

    /// `REGISTER <account> <email> <password>` (the account `*` or the nick; an e-mail is not
    /// needed and not kept), and the older `REGISTER <email> <password>`.
    func register(_ message: IRCMessage, _ session: ChatSession) {
        let p = message.parameters
        let (account, password) = p.count >= 3 ? (p[0], p[2]) : ("*", p[1])
        guard let nick = session.nick else {
            return self.fail("REGISTER", "NEED_NICK", ["*"], "Send NICK first: the account is named after it", to: session)
        }
        guard self.usesStore, self.configuration.accounts.registration == .open else {
            return self.fail("REGISTER", "TEMPORARILY_UNAVAILABLE", [account], "Registration is closed on this server; ask its operator for an account", to: session)
        }
        if let current = session.account {
            return self.fail("REGISTER", "ALREADY_AUTHENTICATED", [current.name], "You are already logged in as \(current.name)", to: session)
        }
        if account != "*", self.caseMapping.fold(account) != self.caseMapping.fold(nick) {
            return self.fail("REGISTER", "ACCOUNT_NAME_MUST_BE_NICK", [account], "The account is named after your nick: register as \(nick), or change nick first", to: session)
        }
        guard password.utf8.count < Self.passwordLimit else {
            return self.fail("REGISTER", "UNACCEPTABLE_PASSWORD", [nick], "Passwords are shorter than \(Self.passwordLimit) bytes", to: session)
        }
        self.effect(.ask(.register(name: nick, folded: self.caseMapping.fold(nick), password: password, via: .register), for: session))
    }

    /// There is no e-mail here: an account is ready as soon as REGISTER succeeds, and VERIFY has
    /// nothing to verify.
    func verify(_ message: IRCMessage, _ session: ChatSession) {
        self.fail("VERIFY", "INVALID_CODE", [message.parameters[0]], "This server sends no verification codes: accounts are ready when REGISTER succeeds", to: session)
    }

    /// A standard reply: `FAIL <command> <code> [context...] :<text>`.
    func fail(_ command: String, _ code: String, _ context: [String], _ text: String, to session: ChatSession) {
        self.send(IRCMessage(source: self.serverName, command: "FAIL", parameters: [command, code] + context + [text], trailing: true), to: session)
    }

    // MARK: logging in and out

    /// The store checked the password (``ChatStoreRequest/login(name:folded:password:address:via:)``).
    func loginAnswered(_ record: ChatAccountRecord?, via route: ChatAccountRoute, _ session: ChatSession) {
        if route == .sasl {
            session.sasl = nil
            guard let record else {
                self.numeric(.errSaslFail, to: session, ["SASL authentication failed"])
                return self.tryRegister(session)
            }
            self.logIn(session, ChatAccountName(name: record.name, folded: record.folded))
            self.numeric(.rplSaslSuccess, to: session, ["SASL authentication successful"])
            return self.tryRegister(session)
        }
        guard let record else {
            return self.nickServ(session, "Invalid password for that account (or no such account). Wait a moment before trying again.")
        }
        self.logIn(session, ChatAccountName(name: record.name, folded: record.folded))
        self.nickServ(session, "You are now identified for \(record.name).")
    }

    /// The store created the account (``ChatStoreRequest/register(name:folded:password:via:)``).
    func registerAnswered(_ outcome: ChatRegisterOutcome, name: String, via route: ChatAccountRoute, _ session: ChatSession) {
        switch (outcome, route) {
        case (.created(let record), .register):
            self.send(IRCMessage(source: self.serverName, command: "REGISTER", parameters: ["SUCCESS", record.name, "Account created; you are logged in"], trailing: true), to: session)
            self.logIn(session, ChatAccountName(name: record.name, folded: record.folded))
        case (.created(let record), _):
            self.nickServ(session, "Account \(record.name) registered; you are logged in.")
            self.logIn(session, ChatAccountName(name: record.name, folded: record.folded))
        case (.exists, .register):
            self.fail("REGISTER", "ACCOUNT_EXISTS", [name], "\(name) is already registered", to: session)
        case (.exists, _):
            self.nickServ(session, "\(name) is already registered.")
        case (.weakPassword(let why), .register):
            self.fail("REGISTER", "WEAK_PASSWORD", [name], why, to: session)
        case (.weakPassword(let why), _):
            self.nickServ(session, why)
        case (.invalidName, .register):
            self.fail("REGISTER", "BAD_ACCOUNT_NAME", [name], "\(name) cannot be an account's name", to: session)
        case (.invalidName, _):
            self.nickServ(session, "\(name) cannot be an account's name.")
        }
    }

    /// The session is now `account`'s: 900, its peers with account-notify told, the nick's grace
    /// ended if the nick is the account's, its offline messages and contacts fetched.
    func logIn(_ session: ChatSession, _ account: ChatAccountName) {
        if let previous = session.account { self.directory.logOut(session, from: previous.folded) }
        session.account = account
        self.directory.logIn(session, to: account.folded)
        self.numeric(.rplLoggedIn, to: session, [session.mask, account.name, "You are now logged in as \(account.name)"])
        self.effect(.keep(.lastSeen(folded: account.folded, time: Int64(self.clock.wallMilliseconds()))))
        guard let identity = session.identity else { return }  // the rest once registered
        if identity.folded == account.folded { session.nickGraceEnds = nil }
        let notice = IRCMessage(source: session.mask, command: "ACCOUNT", parameters: [account.name])
        self.fanOut(notice, to: self.changeAudience(of: session, with: .accountNotify), from: nil)
        self.arrived(session, account)
    }

    /// A logged-in session is registered: fetch what waited for the account.
    func arrived(_ session: ChatSession, _ account: ChatAccountName) {
        self.fetchOfflineBox(for: session)
        self.effect(.ask(.contacts(folded: account.folded), for: session))
    }

    /// The session is no one's any more (NickServ DROP of its own account).
    func logOut(_ session: ChatSession) {
        guard let account = session.account else { return }
        session.account = nil
        self.directory.logOut(session, from: account.folded)
        self.numeric(.rplLoggedOut, to: session, [session.mask, "You are now logged out"])
        guard session.isRegistered else { return }
        let notice = IRCMessage(source: session.mask, command: "ACCOUNT", parameters: ["*"])
        self.fanOut(notice, to: self.changeAudience(of: session, with: .accountNotify), from: nil)
    }

    // MARK: registered nicks

    /// The store said who owns the nick the session holds (asked at registration and on NICK).
    func nickOwnerAnswered(_ owner: String?, folded: String, _ session: ChatSession) {
        guard let owner, let identity = session.identity, identity.folded == folded,
            session.account?.folded != self.caseMapping.fold(owner)
        else { return }
        let grace = self.configuration.accounts.nickGrace
        let ends = self.clock.now() + grace
        session.nickGraceEnds = ends
        self.graceSessions.insert(session.id)
        self.nickServ(session, "\(identity.nick) is registered. Log in within \(grace.nanoseconds / 1_000_000_000) seconds (/msg NickServ IDENTIFY password) or your nick will be changed.")
        self.effect(.wake(at: ends))
    }

    /// Renames sessions whose grace on a registered nick has run out (from ``wake()``).
    func endGraces() {
        let now = self.clock.now()
        for id in self.graceSessions {
            guard let session = self.directory.sessions[id], let ends = session.nickGraceEnds else {
                self.graceSessions.remove(id)
                continue
            }
            guard ends <= now else { continue }
            self.graceSessions.remove(id)
            session.nickGraceEnds = nil
            self.nickServ(session, "You did not log in in time; your nick is now a guest's.")
            self.rename(session, to: self.guestNick())
        }
    }

    /// A free `GuestNNNNN` nick.
    func guestNick() -> String {
        while true {
            let nick = "Guest\(Int.random(in: 10_000...99_999))"
            if !self.directory.isTaken(self.caseMapping.fold(nick), by: nil) { return nick }
        }
    }
}

/// Which way an account request came, so that its answer goes back the same way.
package enum ChatAccountRoute: Sendable, Equatable {
    case sasl
    /// IRCv3 REGISTER.
    case register
    case nickServ
}

/// Base64 (RFC 4648) for SASL payloads.
enum ChatBase64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 255, count: 256)
        for (index, byte) in Self.alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    /// The bytes, or nil for text that is not padded base64.
    static func decode(_ text: String) -> [UInt8]? {
        let bytes = Array(text.utf8)
        guard bytes.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count / 4 * 3)
        var index = 0
        while index < bytes.count {
            var quad: [UInt8] = []
            var padding = 0
            for offset in 0..<4 {
                let byte = bytes[index + offset]
                if byte == UInt8(ascii: "=") {
                    guard index + 4 == bytes.count, offset >= 2 else { return nil }
                    padding += 1
                    quad.append(0)
                } else {
                    guard padding == 0 else { return nil }
                    let value = Self.values[Int(byte)]
                    guard value != 255 else { return nil }
                    quad.append(value)
                }
            }
            let word = UInt32(quad[0]) << 18 | UInt32(quad[1]) << 12 | UInt32(quad[2]) << 6 | UInt32(quad[3])
            out.append(UInt8(word >> 16 & 0xFF))
            if padding < 2 { out.append(UInt8(word >> 8 & 0xFF)) }
            if padding < 1 { out.append(UInt8(word & 0xFF)) }
            index += 4
        }
        return out
    }

    static func encode(_ bytes: some Collection<UInt8>) -> String {
        var out: [UInt8] = []
        var iterator = bytes.makeIterator()
        while let a = iterator.next() {
            let b = iterator.next()
            let c = iterator.next()
            let word = UInt32(a) << 16 | UInt32(b ?? 0) << 8 | UInt32(c ?? 0)
            out.append(Self.alphabet[Int(word >> 18 & 63)])
            out.append(Self.alphabet[Int(word >> 12 & 63)])
            out.append(b == nil ? UInt8(ascii: "=") : Self.alphabet[Int(word >> 6 & 63)])
            out.append(c == nil ? UInt8(ascii: "=") : Self.alphabet[Int(word & 63)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
