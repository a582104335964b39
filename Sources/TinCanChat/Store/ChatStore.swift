/// Where the chat server keeps what must outlive a connection: accounts and their contacts,
/// messages (channel history, private conversations, offline messages), read markers, and the
/// records of uploaded files.
///
/// Its calls never run on the event loop: the core asks with a ``ChatEffect/ask(_:for:)``
/// effect, the driver runs the work in a task, and the answer comes back to the core on the loop
/// as an event (``ChatCore/storeAnswered(_:for:)``). Live fan-out never waits for it.
///
/// Every call that returns has committed what it wrote (SQLite in WAL mode with synchronous
/// FULL), so what the server acknowledges after a call survives `kill -9`.
///
/// Names are given case-folded by the caller (the store knows no IRC case mapping): accounts are
/// named by their nick, and `folded` is that nick under the server's case mapping. Times are
/// milliseconds since 1970 (IRCv3 `server-time` has millisecond precision).
///
/// The SQLite implementation is ``SQLiteChatStore``; a PostgreSQL one (several servers sharing
/// one database) would implement the same calls.
package protocol ChatStore: Sendable {
    // MARK: accounts

    /// The account with this folded name, or nil.
    func account(named folded: String) async throws -> ChatAccountRecord?
    /// Creates the account; false (and nothing written) when the folded name is taken.
    func createAccount(_ account: ChatAccountRecord) async throws -> Bool
    /// Replaces the account's password hash; false when there is no such account.
    func setPasswordHash(_ hash: String, forAccount folded: String) async throws -> Bool
    /// Deletes the account with its contacts, read markers, offline messages and private
    /// history (its files' records stay until they expire); false when there was none.
    func deleteAccount(named folded: String) async throws -> Bool
    /// Every account, by folded name.
    func accounts() async throws -> [ChatAccountRecord]
    /// Notes when the account last logged in or out.
    func setLastSeen(_ time: Int64, forAccount folded: String) async throws

    // MARK: contacts (MONITOR entries kept with the account)

    /// The account's contacts as they were given (not folded), in the order they were added.
    func contacts(ofAccount folded: String) async throws -> [String]
    /// Adds and removes contacts (nicks as given; the store keys them by `fold`ed value given
    /// beside each). Adding one that is there already changes nothing.
    func updateContacts(ofAccount folded: String, adding: [ChatContact], removing: [String]) async throws
    /// Removes every contact of the account (MONITOR C).
    func clearContacts(ofAccount folded: String) async throws

    // MARK: messages

    /// Keeps messages in history (channel messages, private messages between connected
    /// people). Returns nothing: the sender was answered already; the messages get their row ids.
    func append(_ messages: [ChatStoredMessage]) async throws
    /// Keeps private messages for accounts that are not connected, each in history and in its
    /// account's offline box, in one transaction (one sync of the disk for all: a sender's burst of
    /// offline messages is committed as a group). Each outcome says whether it was kept: a full
    /// box (`boxLimit` messages already) or a name that is no account's keeps nothing.
    func storeOffline(_ batch: [ChatOfflineItem], boxLimit: Int) async throws -> [ChatOfflineResult]
    /// The account's undelivered offline messages, oldest first, at most `limit`.
    func offlineMessages(forAccount folded: String, limit: Int) async throws -> [ChatStoredMessage]
    /// The offline messages up to and including row id `id` were written to the account's socket.
    func markDelivered(forAccount folded: String, through id: Int64) async throws
    /// Messages of one conversation, chosen by `query`, in time order (oldest first).
    func history(_ query: ChatHistoryQuery) async throws -> [ChatStoredMessage]
    /// The conversations an account took part in between two times (CHATHISTORY TARGETS): its
    /// private partners, and those of `channels` with messages then; each with its latest
    /// message's time, oldest first, at most `limit`.
    func targets(
        forAccount folded: String, channels: [String], from: Int64, to: Int64, limit: Int
    ) async throws -> [ChatHistoryTarget]
    /// Deletes messages older than `before`, history and offline alike, and keeps at most
    /// `perChannel` messages of each channel. Returns how many rows went.
    @discardableResult
    func prune(before: Int64, perChannel: Int) async throws -> Int

    // MARK: read markers (draft/read-marker)

    /// The time up to which the account has read the conversation, or nil.
    func readMarker(forAccount folded: String, conversation: String) async throws -> Int64?
    /// Moves the marker forward (never back) and returns the marker as stored.
    func setReadMarker(_ time: Int64, forAccount folded: String, conversation: String) async throws -> Int64

    // MARK: files (FILEHOST)

    /// Records a file that has been written to disk under `record.id`.
    func addFile(_ record: ChatFileRecord) async throws
    /// The file with this id, or nil.
    func file(id: String) async throws -> ChatFileRecord?
    /// Bytes stored by the account in files that have not expired (for its quota).
    func bytesStored(byAccount folded: String) async throws -> Int64
    /// Removes the records of files that expired before `time` and returns them, so that their
    /// bytes can be deleted from disk.
    func removeFiles(expiredBefore time: Int64) async throws -> [ChatFileRecord]
}

/// A private message for an offline account (``ChatStore/storeOffline(_:boxLimit:)``).
package struct ChatOfflineItem: Sendable, Hashable {
    package var message: ChatStoredMessage
    /// The recipient's account, folded.
    package var account: String

    package init(_ message: ChatStoredMessage, for account: String) {
        self.message = message
        self.account = account
    }
}

/// What became of a ``ChatOfflineItem``; the account's name as registered.
package enum ChatOfflineResult: Sendable, Hashable {
    /// In the account's box, with its row id.
    case stored(Int64, account: String)
    case boxFull(account: String)
    case noSuchAccount
}

extension ChatStore {
    /// Keeps one private message for an account that is not connected. Returns false, and keeps
    /// nothing, when the box holds `boxLimit` messages already; throws
    /// ``SQLiteChatStoreError/noSuchAccount(_:)`` when the name is no account's.
    package func storeOffline(_ message: ChatStoredMessage, forAccount folded: String, boxLimit: Int) async throws -> Bool {
        switch try await self.storeOffline([ChatOfflineItem(message, for: folded)], boxLimit: boxLimit).first {
        case .stored: return true
        case .boxFull: return false
        case .noSuchAccount, nil: throw SQLiteChatStoreError.noSuchAccount(folded)
        }
    }
}

/// One account.
package struct ChatAccountRecord: Sendable, Hashable {
    /// The name as registered (the nick, with its case).
    package var name: String
    /// The name case-folded: the key.
    package var folded: String
    /// The salted slow hash of the password (``ChatPasswordHasher``), never the password.
    package var passwordHash: String
    /// When it was registered, milliseconds since 1970.
    package var created: Int64
    /// When it last logged in or out, milliseconds since 1970; nil before its first login.
    package var lastSeen: Int64?

    package init(name: String, folded: String, passwordHash: String, created: Int64, lastSeen: Int64? = nil) {
        self.name = name
        self.folded = folded
        self.passwordHash = passwordHash
        self.created = created
        self.lastSeen = lastSeen
    }
}

/// A contact of an account: a nick as given, and folded.
package struct ChatContact: Sendable, Hashable {
    package var nick: String
    package var folded: String

    package init(nick: String, folded: String) {
        self.nick = nick
        self.folded = folded
    }
}

/// A PRIVMSG or NOTICE as kept: in a channel's history, a private conversation, an offline box.
package struct ChatStoredMessage: Sendable, Hashable {
    /// The store's row id (0 until stored): orders messages stored in the same millisecond.
    package var id: Int64
    /// The IRCv3 `msgid`, unique, given by the core.
    package var msgid: String
    /// Milliseconds since 1970, as the server received it.
    package var time: Int64
    /// The sender's `nick!user@host`.
    package var source: String
    /// The sender's account, folded, when it was logged in.
    package var sourceAccount: String?
    /// PRIVMSG or NOTICE.
    package var command: String
    /// The target as sent: a channel's name or the recipient's nick.
    package var target: String
    /// The conversation it belongs to (``ChatConversation``), the key of history queries.
    package var conversation: String
    /// The text.
    package var text: String

    package init(
        id: Int64 = 0, msgid: String, time: Int64, source: String, sourceAccount: String?, command: String, target: String,
        conversation: String, text: String
    ) {
        self.id = id
        self.msgid = msgid
        self.time = time
        self.source = source
        self.sourceAccount = sourceAccount
        self.command = command
        self.target = target
        self.conversation = conversation
        self.text = text
    }
}

/// Keys of conversations in the store.
///
/// A channel's is its folded name (`#lobby`). A private conversation's names both parties,
/// folded, in order, after `@`: `@ann bob`. A party that was not logged in is written with a `~`
/// before its nick (`@ann ~guest1`), so that someone who registers that nick later does not read
/// what was said before it was theirs. Only logged-in parties can ask for history, and only of
/// conversations they are a party to: a third account never sees a private conversation.
package enum ChatConversation {
    package static func channel(folded: String) -> String { folded }

    /// - Parameters: each party's folded nick, and whether it was a logged-in account.
    package static func direct(_ a: (folded: String, account: Bool), _ b: (folded: String, account: Bool)) -> String {
        let names = [a, b].map { $0.account ? $0.folded : "~" + $0.folded }.sorted()
        return "@" + names[0] + " " + names[1]
    }
}

/// Which messages of a conversation (IRCv3 `draft/chathistory`). Bounds are exclusive; the
/// result is at most `limit` messages, oldest first.
package struct ChatHistoryQuery: Sendable, Hashable {
    package enum Selector: Sendable, Hashable {
        /// The latest messages, after the bound when there is one (`LATEST target * n` is nil).
        case latest(after: ChatHistoryBound?)
        /// The latest messages before the bound.
        case before(ChatHistoryBound)
        /// The first messages after the bound.
        case after(ChatHistoryBound)
        /// Up to `limit` messages around the bound: half before, half after.
        case around(ChatHistoryBound)
        /// Messages strictly between the two bounds: counted from the first bound, in either order.
        case between(ChatHistoryBound, ChatHistoryBound)
    }

    package var conversation: String
    package var selector: Selector
    package var limit: Int

    package init(conversation: String, selector: Selector, limit: Int) {
        self.conversation = conversation
        self.selector = selector
        self.limit = limit
    }
}

/// A point in a conversation: a message's `msgid`, or a time in milliseconds since 1970. A msgid
/// that the conversation does not hold selects nothing.
package enum ChatHistoryBound: Sendable, Hashable {
    case msgid(String)
    case time(Int64)
}

/// A conversation with messages in a time span (CHATHISTORY TARGETS).
package struct ChatHistoryTarget: Sendable, Hashable {
    /// The conversation's key (``ChatConversation``).
    package var conversation: String
    /// The name to show the asker: the channel's name, or the other party's nick (without `~`).
    package var name: String
    /// The time of its latest message in the span.
    package var latest: Int64

    package init(conversation: String, name: String, latest: Int64) {
        self.conversation = conversation
        self.name = name
        self.latest = latest
    }
}

/// An uploaded file's record.
package struct ChatFileRecord: Sendable, Hashable {
    /// The random, unguessable name it is stored and served under.
    package var id: String
    /// The name it was uploaded with (for `Content-Disposition`), made safe.
    package var name: String
    /// Its media type as uploaded (served `inline` only when safe).
    package var contentType: String
    package var size: Int64
    /// SHA-256 of its bytes, lowercase hex.
    package var sha256: String
    /// The account that uploaded it, folded.
    package var owner: String
    /// Milliseconds since 1970.
    package var created: Int64
    package var expires: Int64

    package init(
        id: String, name: String, contentType: String, size: Int64, sha256: String, owner: String, created: Int64,
        expires: Int64
    ) {
        self.id = id
        self.name = name
        self.contentType = contentType
        self.size = size
        self.sha256 = sha256
        self.owner = owner
        self.created = created
        self.expires = expires
    }
}

/// A question for the store from the core (``ChatEffect/ask(_:for:)``), carried out by
/// ``ChatPersistence`` off the event loop; the answer (``ChatStoreAnswer``) comes back to the
/// core with the question (``ChatCore/storeAnswered(_:to:for:)``).
///
/// Some carry a password: a request is never logged or described in an error.
package enum ChatStoreRequest: Sendable, Equatable {
    /// The account that owns this nick (folded), if one does: ``ChatStoreAnswer/nickOwner(_:)``.
    case nickOwner(folded: String)
    /// Checks a password (SASL PLAIN, NickServ IDENTIFY), waiting out the failure delay:
    /// ``ChatStoreAnswer/login(_:)``. `via` says where the answer goes (SASL, NickServ).
    case login(name: String, folded: String, password: String, address: String, via: ChatAccountRoute)
    /// Creates an account (REGISTER, NickServ REGISTER): ``ChatStoreAnswer/register(_:)``.
    case register(name: String, folded: String, password: String, via: ChatAccountRoute)
    /// ``ChatStoreAnswer/done(_:)``.
    case setPassword(folded: String, password: String)
    /// ``ChatStoreAnswer/done(_:)``.
    case dropAccount(folded: String)
    /// ``ChatStoreAnswer/accountInfo(_:)``.
    case accountInfo(folded: String)
    /// A private message for an account that is not connected, if the nick is an account's:
    /// ``ChatStoreAnswer/offline(_:)``.
    case offlineMessage(ChatStoredMessage, recipient: String, boxLimit: Int)
    /// The account's offline box: ``ChatStoreAnswer/messages(_:)``.
    case offlineBox(folded: String, limit: Int)
    /// ``ChatStoreAnswer/messages(_:)``.
    case history(ChatHistoryQuery)
    /// ``ChatStoreAnswer/targets(_:)``.
    case targets(folded: String, channels: [String], from: Int64, to: Int64, limit: Int)
    /// The account's contacts: ``ChatStoreAnswer/contacts(_:)``.
    case contacts(folded: String)
    /// The account's read marker of a conversation: ``ChatStoreAnswer/marker(_:)``.
    case readMarker(folded: String, conversation: String)
    /// Moves it forward: ``ChatStoreAnswer/marker(_:)``.
    case setReadMarker(folded: String, conversation: String, time: Int64)

    /// The session's later lines wait for this answer, so that replies keep the order of the
    /// commands. All but an offline message do: a burst of private messages to someone away is
    /// committed as one group, and its only reply is the notice that it was kept.
    var holdsLaterLines: Bool {
        if case .offlineMessage = self { return false }
        return true
    }

    /// It reads what the writer keeps (history, targets): it waits for the writes accepted
    /// before it.
    var readsHistory: Bool {
        switch self {
        case .history, .targets: true
        default: false
        }
    }
}

/// The store's answer to a ``ChatStoreRequest``.
package enum ChatStoreAnswer: Sendable, Equatable {
    /// The account's name, or nil for a nick nobody owns.
    case nickOwner(String?)
    /// The account logged in to, or nil for a wrong name or password (the same answer for both).
    case login(ChatAccountRecord?)
    case register(ChatRegisterOutcome)
    /// Whether there was such an account.
    case done(Bool)
    /// The new password will not do (SET PASSWORD), and why.
    case weakPassword(String)
    case accountInfo(ChatAccountRecord?)
    case offline(OfflineOutcome)
    case messages([ChatStoredMessage])
    case targets([ChatHistoryTarget])
    case contacts([String])
    case marker(Int64?)
    /// The store could not answer; the text is for the log, not for the client.
    case failed(String)

    package enum OfflineOutcome: Sendable, Equatable {
        /// Kept for the account, with its row id.
        case stored(account: String, id: Int64)
        /// The nick is nobody's account.
        case noAccount
        /// The account's box holds its limit.
        case boxFull(account: String)
    }
}

/// What the core writes to the store without waiting for an answer (``ChatEffect/keep(_:)``):
/// the server keeps them in order, off the loop, and logs a failure.
package enum ChatStoreWrite: Sendable, Equatable {
    /// Messages for history.
    case append([ChatStoredMessage])
    /// Offline messages up to this row id reached the account's socket.
    case markDelivered(folded: String, through: Int64)
    case updateContacts(folded: String, adding: [ChatContact], removing: [String])
    case clearContacts(folded: String)
    case lastSeen(folded: String, time: Int64)
}
