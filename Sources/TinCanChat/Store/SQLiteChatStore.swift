#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GRDB
import NIOPosix
import TinCanCore

/// The chat store in one SQLite file, through GRDB.swift.
///
/// A file is opened as a `DatabasePool` in WAL mode: one writer and concurrent readers, in this
/// process or another (`tincan chat user add` while the server runs). Every call runs with GRDB's
/// async API, so a caller that is a task off the event loop waits without blocking a thread of
/// its own; the work itself runs on GRDB's serial queues.
package final class SQLiteChatStore: ChatStore {
    /// The path `:memory:` opens a database that lives and dies with this object.
    package static let inMemoryPath = ":memory:"
    /// How long a write waits for another process's write (the command line's, say) to finish.
    static let busyTimeout = 5.0

    /// The file's path, or `:memory:`.
    package let path: String
    private let writer: any DatabaseWriter

    /// Opens (creating if missing) the store at `path`: its parent directories are created with
    /// mode 0700 when missing, a new file with mode 0600, and the schema is migrated to the
    /// latest version.
    ///
    /// - Throws: `TinCanError` naming the path and the cause (`open chat store /x/chat.sqlite:
    ///   permission denied`).
    package init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(Self.busyTimeout)
        configuration.label = "tincan.chat"
        do {
            if path == Self.inMemoryPath {
                self.writer = try DatabaseQueue(configuration: configuration)
            } else {
                try Self.createParentDirectories(of: path)
                // A new file is the owner's only; SQLite gives its -wal and -shm files the same mode.
                let created = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                if created >= 0 { close(created) }
                let pool = try DatabasePool(path: path, configuration: configuration)
                // GRDB puts a pool's writer at `synchronous = NORMAL`, which in WAL mode may lose
                // the last commits on a power cut. FULL syncs the log at every commit, so that
                // every write that returned survives `kill -9` and a crash of the machine: what the
                // server acknowledged is on disk. Set after opening, as GRDB sets NORMAL then; the
                // writer connection is kept for the pool's life, and only it writes.
                try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
                self.writer = pool
            }
            try ChatStoreMigrations.migrator.migrate(self.writer)
        } catch {
            throw TinCanError(operation: "open chat store \(path)", cause: Self.cause(of: error))
        }
    }

    /// Opens the store as ``init(path:)`` does, from a thread that may block (see ``write(_:)``).
    package static func open(path: String) async throws -> SQLiteChatStore {
        try await NIOThreadPool.singleton.runIfActive { try SQLiteChatStore(path: path) }
    }

    // MARK: where SQLite runs
    //
    // SQLite blocks: a commit waits for the disk (`fdatasync`, with `synchronous = FULL`). GRDB's
    // async calls can run their work on the thread of the task that awaits them, which here is one
    // of Swift's few cooperative threads (as many as cores), so a slow disk would hold up every
    // task of the process, the chat server's store questions and the tests' alike. Every call
    // runs on SwiftNIO's thread pool for blocking work instead, through GRDB's synchronous API.

    private func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let writer = self.writer
        return try await NIOThreadPool.singleton.runIfActive { try writer.write(body) }
    }

    private func writeWithoutTransaction<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let writer = self.writer
        return try await NIOThreadPool.singleton.runIfActive { try writer.writeWithoutTransaction(body) }
    }

    private func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let writer = self.writer
        return try await NIOThreadPool.singleton.runIfActive { try writer.read(body) }
    }

    /// `mkdir -p` of the path's directory, each directory made here with mode 0700 (chat history
    /// and password hashes are nobody else's business).
    private static func createParentDirectories(of path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/").dropLast() {
            prefix += component
            if mkdir(prefix, 0o700) != 0, errno != EEXIST {
                throw TinCanError(operation: "create directory \(prefix)", cause: TinCanError.describeErrno(errno))
            }
            prefix += "/"
        }
    }

    /// SQLite's own words for a database error (`unable to open database file`), which GRDB
    /// would wrap with the statement.
    static func cause(of error: any Error) -> String {
        if let error = error as? TinCanError { return "\(error)" }
        if let error = error as? DatabaseError { return error.message ?? "SQLite error \(error.resultCode.rawValue)" }
        return TinCanError.cause(of: error)
    }

    /// The `synchronous` setting of the connection that writes (2 is FULL); for the tests.
    func synchronousSetting() async throws -> Int {
        try await self.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    // MARK: accounts

    package func account(named folded: String) async throws -> ChatAccountRecord? {
        try await self.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM account WHERE folded = ?", arguments: [folded]).map(Self.account)
        }
    }

    package func createAccount(_ account: ChatAccountRecord) async throws -> Bool {
        try await self.write { db in
            try db.execute(
                sql: """
                    INSERT INTO account (folded, name, passwordHash, created, lastSeen) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (folded) DO NOTHING
                    """,
                arguments: [account.folded, account.name, account.passwordHash, account.created, account.lastSeen]
            )
            return db.changesCount == 1
        }
    }

    package func setPasswordHash(_ hash: String, forAccount folded: String) async throws -> Bool {
        try await self.write { db in
            try db.execute(sql: "UPDATE account SET passwordHash = ? WHERE folded = ?", arguments: [hash, folded])
            return db.changesCount == 1
        }
    }

    package func deleteAccount(named folded: String) async throws -> Bool {
        try await self.write { db in
            // Contacts, read markers and offline rows go by cascade; private history by its key.
            try db.execute(
                sql: """
                    DELETE FROM message WHERE conversation > '@' AND conversation < 'A'
                    AND (substr(conversation, 2, instr(conversation, ' ') - 2) = :folded
                        OR substr(conversation, instr(conversation, ' ') + 1) = :folded)
                    """,
                arguments: ["folded": folded]
            )
            try db.execute(sql: "DELETE FROM account WHERE folded = ?", arguments: [folded])
            return db.changesCount == 1
        }
    }

    package func accounts() async throws -> [ChatAccountRecord] {
        try await self.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM account ORDER BY folded").map(Self.account)
        }
    }

    package func setLastSeen(_ time: Int64, forAccount folded: String) async throws {
        try await self.write { db in
            try db.execute(sql: "UPDATE account SET lastSeen = ? WHERE folded = ?", arguments: [time, folded])
        }
    }

    private static func account(_ row: Row) -> ChatAccountRecord {
        ChatAccountRecord(
            name: row["name"], folded: row["folded"], passwordHash: row["passwordHash"], created: row["created"],
            lastSeen: row["lastSeen"]
        )
    }

    // MARK: contacts

    package func contacts(ofAccount folded: String) async throws -> [String] {
        try await self.read { db in
            try String.fetchAll(db, sql: "SELECT nick FROM contact WHERE account = ? ORDER BY id", arguments: [folded])
        }
    }

    /// Removes first, then adds; `removing` holds folded nicks.
    package func updateContacts(ofAccount folded: String, adding: [ChatContact], removing: [String]) async throws {
        try await self.write { db in
            for contact in removing {
                try db.execute(sql: "DELETE FROM contact WHERE account = ? AND folded = ?", arguments: [folded, contact])
            }
            for contact in adding {
                try db.execute(
                    sql: "INSERT INTO contact (account, folded, nick) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    arguments: [folded, contact.folded, contact.nick]
                )
            }
        }
    }

    package func clearContacts(ofAccount folded: String) async throws {
        try await self.write { db in
            try db.execute(sql: "DELETE FROM contact WHERE account = ?", arguments: [folded])
        }
    }

    // MARK: messages

    package func append(_ messages: [ChatStoredMessage]) async throws {
        guard !messages.isEmpty else { return }
        try await self.write { db in
            for message in messages { _ = try Self.insert(message, db) }
        }
    }

    /// Inserts a message and returns its row id.
    private static func insert(_ message: ChatStoredMessage, _ db: Database) throws -> Int64 {
        // Compiled once per connection: every message of history comes through here.
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO message (msgid, time, source, sourceAccount, command, target, conversation, text)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """
        )
        try statement.execute(arguments: [
            message.msgid, message.time, message.source, message.sourceAccount, message.command, message.target,
            message.conversation, message.text,
        ])
        return db.lastInsertedRowID
    }

    package func storeOffline(_ batch: [ChatOfflineItem], boxLimit: Int) async throws -> [ChatOfflineResult] {
        guard !batch.isEmpty else { return [] }
        // Each count and insert in the transaction of the batch: two senders cannot both take the
        // last place, and the batch costs one sync.
        return try await self.write { db in
            // Per account in the batch: its name as registered and how many messages its box holds.
            var boxes: [String: (name: String, held: Int)] = [:]
            var results: [ChatOfflineResult] = []
            results.reserveCapacity(batch.count)
            for item in batch {
                let folded = item.account
                if boxes[folded] == nil {
                    guard let name = try String.fetchOne(db, sql: "SELECT name FROM account WHERE folded = ?", arguments: [folded]) else {
                        results.append(.noSuchAccount)
                        continue
                    }
                    let held = try Int.fetchOne(db, sql: "SELECT count(*) FROM offline WHERE account = ?", arguments: [folded]) ?? 0
                    boxes[folded] = (name, held)
                }
                guard let box = boxes[folded] else { continue }
                guard box.held < boxLimit else {
                    results.append(.boxFull(account: box.name))
                    continue
                }
                let id = try Self.insert(item.message, db)
                try db.execute(sql: "INSERT INTO offline (account, message) VALUES (?, ?)", arguments: [folded, id])
                boxes[folded]?.held += 1
                results.append(.stored(id, account: box.name))
            }
            return results
        }
    }

    package func offlineMessages(forAccount folded: String, limit: Int) async throws -> [ChatStoredMessage] {
        try await self.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT message.* FROM offline JOIN message ON message.id = offline.message
                    WHERE offline.account = ? ORDER BY message.time, message.id LIMIT ?
                    """,
                arguments: [folded, max(limit, 0)]
            ).map(Self.message)
        }
    }

    package func markDelivered(forAccount folded: String, through id: Int64) async throws {
        try await self.write { db in
            try db.execute(sql: "DELETE FROM offline WHERE account = ? AND message <= ?", arguments: [folded, id])
        }
    }

    private static func message(_ row: Row) -> ChatStoredMessage {
        ChatStoredMessage(
            id: row["id"], msgid: row["msgid"], time: row["time"], source: row["source"], sourceAccount: row["sourceAccount"],
            command: row["command"], target: row["target"], conversation: row["conversation"], text: row["text"]
        )
    }

    // MARK: history

    /// A place in a conversation's order, (time, row id). A time bound sits before every message
    /// of its millisecond when it bounds from above and after them all when it bounds from below,
    /// so that both kinds are exclusive.
    private struct Position: Comparable {
        var time: Int64
        var id: Int64

        static func < (a: Position, b: Position) -> Bool { (a.time, a.id) < (b.time, b.id) }
    }

    private enum Side { case lower, upper }

    /// Where `bound` sits in the conversation, or nil for a msgid the conversation does not hold.
    private static func position(_ bound: ChatHistoryBound, _ side: Side, in conversation: String, _ db: Database) throws
        -> Position?
    {
        switch bound {
        case .time(let time):
            return Position(time: time, id: side == .lower ? Int64.max : 0)
        case .msgid(let msgid):
            let row = try Row.fetchOne(
                db, sql: "SELECT time, id FROM message WHERE msgid = ? AND conversation = ?", arguments: [msgid, conversation]
            )
            return row.map { Position(time: $0["time"], id: $0["id"]) }
        }
    }

    /// Up to `limit` messages strictly between `lower` and `upper`: the first ones when
    /// `fromLower`, else the last ones; oldest first either way.
    private static func range(
        _ conversation: String, after lower: Position?, before upper: Position?, limit: Int, fromLower: Bool, _ db: Database
    ) throws -> [ChatStoredMessage] {
        guard limit > 0 else { return [] }
        var sql = "SELECT * FROM message WHERE conversation = ?"
        var arguments: StatementArguments = [conversation]
        if let lower {
            sql += " AND (time, id) > (?, ?)"
            arguments += [lower.time, lower.id]
        }
        if let upper {
            sql += " AND (time, id) < (?, ?)"
            arguments += [upper.time, upper.id]
        }
        sql += fromLower ? " ORDER BY time, id LIMIT ?" : " ORDER BY time DESC, id DESC LIMIT ?"
        arguments += [limit]
        let messages = try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.message)
        return fromLower ? messages : messages.reversed()
    }

    /// `around` takes about half the messages before the bound and the rest from it on: the
    /// bound's own message (a msgid), or those at its very time, are among them.
    package func history(_ query: ChatHistoryQuery) async throws -> [ChatStoredMessage] {
        let (conversation, limit) = (query.conversation, query.limit)
        guard limit > 0 else { return [] }
        return try await self.read { db in
            switch query.selector {
            case .latest(let after):
                var lower: Position?
                if let after {
                    guard let position = try Self.position(after, .lower, in: conversation, db) else { return [] }
                    lower = position
                }
                return try Self.range(conversation, after: lower, before: nil, limit: limit, fromLower: false, db)
            case .before(let bound):
                guard let upper = try Self.position(bound, .upper, in: conversation, db) else { return [] }
                return try Self.range(conversation, after: nil, before: upper, limit: limit, fromLower: false, db)
            case .after(let bound):
                guard let lower = try Self.position(bound, .lower, in: conversation, db) else { return [] }
                return try Self.range(conversation, after: lower, before: nil, limit: limit, fromLower: true, db)
            case .around(let bound):
                guard let upper = try Self.position(bound, .upper, in: conversation, db) else { return [] }
                // The bound is the centre and is included: a msgid's own message (limit 1 is that
                // message alone, as the spec has it), or the messages at that very time; the rest
                // is split before and after.
                var message = false
                if case .msgid = bound { message = true }
                let from = Position(time: upper.time, id: upper.id - 1)
                let before = try Self.range(conversation, after: nil, before: upper, limit: message ? (limit - 1) / 2 : limit / 2, fromLower: false, db)
                let after = try Self.range(conversation, after: from, before: nil, limit: limit - before.count, fromLower: true, db)
                return before + after
            case .between(let first, let second):
                // Which way the span runs decides which end the messages are counted from.
                guard let firstLow = try Self.position(first, .lower, in: conversation, db),
                    let firstHigh = try Self.position(first, .upper, in: conversation, db),
                    let secondLow = try Self.position(second, .lower, in: conversation, db),
                    let secondHigh = try Self.position(second, .upper, in: conversation, db)
                else { return [] }
                if firstLow <= secondLow {
                    return try Self.range(conversation, after: firstLow, before: secondHigh, limit: limit, fromLower: true, db)
                }
                return try Self.range(conversation, after: secondLow, before: firstHigh, limit: limit, fromLower: false, db)
            }
        }
    }

    /// A conversation is listed when its latest message falls in the span (one that has moved
    /// on since is not: TARGETS answers "what is new up to then").
    /// The span is open at both ends and may be given in either order: from the earlier time,
    /// the first `limit` conversations are counted; from the later, the last `limit`. Channels
    /// are given as their conversation keys and shown by them; a private conversation is shown by
    /// the other party's nick without `~` (folded, as the key holds it).
    package func targets(
        forAccount folded: String, channels: [String], from: Int64, to: Int64, limit: Int
    ) async throws -> [ChatHistoryTarget] {
        guard limit > 0 else { return [] }
        let (low, high) = (min(from, to), max(from, to))
        return try await self.read { db in
            var found: [ChatHistoryTarget] = []
            let partners = try Row.fetchAll(
                db,
                sql: """
                    SELECT conversation, max(time) AS latest FROM message
                    WHERE conversation > '@' AND conversation < 'A'
                    AND (substr(conversation, 2, instr(conversation, ' ') - 2) = :folded
                        OR substr(conversation, instr(conversation, ' ') + 1) = :folded)
                    GROUP BY conversation HAVING latest > :low AND latest < :high
                    """,
                arguments: ["low": low, "high": high, "folded": folded]
            )
            for row in partners {
                let conversation: String = row["conversation"]
                let parties = conversation.dropFirst().split(separator: " ", maxSplits: 1).map(String.init)
                guard parties.count == 2 else { continue }
                var partner = parties[0] == folded ? parties[1] : parties[0]
                if partner.hasPrefix("~") { partner.removeFirst() }
                found.append(ChatHistoryTarget(conversation: conversation, name: partner, latest: row["latest"]))
            }
            for channel in Set(channels) {
                let latest = try Int64.fetchOne(db, sql: "SELECT max(time) FROM message WHERE conversation = ?", arguments: [channel])
                if let latest, latest > low, latest < high { found.append(ChatHistoryTarget(conversation: channel, name: channel, latest: latest)) }
            }
            found.sort { ($0.latest, $0.conversation) < ($1.latest, $1.conversation) }
            return from <= to ? Array(found.prefix(limit)) : Array(found.suffix(limit))
        }
    }

    package func prune(before: Int64, perChannel: Int) async throws -> Int {
        try await self.write { db in
            // Offline rows go with their messages (cascade); SQLite's count leaves them out.
            try db.execute(sql: "DELETE FROM message WHERE time < ?", arguments: [before])
            var removed = db.changesCount
            let channels = try String.fetchAll(
                db, sql: "SELECT DISTINCT conversation FROM message WHERE conversation < '@' OR conversation >= 'A'"
            )
            for channel in channels {
                if perChannel > 0 {
                    // Everything older than the channel's newest `perChannel`-th message.
                    try db.execute(
                        sql: """
                            DELETE FROM message WHERE conversation = :channel AND (time, id) < (
                                SELECT time, id FROM message WHERE conversation = :channel
                                ORDER BY time DESC, id DESC LIMIT 1 OFFSET :keep)
                            """,
                        arguments: ["channel": channel, "keep": perChannel - 1]
                    )
                } else {
                    try db.execute(sql: "DELETE FROM message WHERE conversation = ?", arguments: [channel])
                }
                removed += db.changesCount
            }
            return removed
        }
    }

    // MARK: read markers

    package func readMarker(forAccount folded: String, conversation: String) async throws -> Int64? {
        try await self.read { db in
            try Int64.fetchOne(
                db, sql: "SELECT time FROM readMarker WHERE account = ? AND conversation = ?", arguments: [folded, conversation]
            )
        }
    }

    package func setReadMarker(_ time: Int64, forAccount folded: String, conversation: String) async throws -> Int64 {
        try await self.write { db in
            try Int64.fetchOne(
                db,
                sql: """
                    INSERT INTO readMarker (account, conversation, time) VALUES (?, ?, ?)
                    ON CONFLICT (account, conversation) DO UPDATE SET time = max(time, excluded.time)
                    RETURNING time
                    """,
                arguments: [folded, conversation, time]
            ) ?? time
        }
    }

    // MARK: files

    package func addFile(_ record: ChatFileRecord) async throws {
        try await self.write { db in
            try db.execute(
                sql: """
                    INSERT INTO file (id, name, contentType, size, sha256, owner, created, expires)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    record.id, record.name, record.contentType, record.size, record.sha256, record.owner, record.created,
                    record.expires,
                ]
            )
        }
    }

    package func file(id: String) async throws -> ChatFileRecord? {
        try await self.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM file WHERE id = ?", arguments: [id]).map(Self.file)
        }
    }

    /// Counts the files that expire now or later by the system clock (the expiry sweep,
    /// ``removeFiles(expiredBefore:)``, may not have run yet).
    package func bytesStored(byAccount folded: String) async throws -> Int64 {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        return try await self.read { db in
            try Int64.fetchOne(
                db, sql: "SELECT coalesce(sum(size), 0) FROM file WHERE owner = ? AND expires >= ?", arguments: [folded, now]
            ) ?? 0
        }
    }

    package func removeFiles(expiredBefore time: Int64) async throws -> [ChatFileRecord] {
        try await self.write { db in
            let expired = try Row.fetchAll(db, sql: "SELECT * FROM file WHERE expires < ? ORDER BY expires, id", arguments: [time])
                .map(Self.file)
            try db.execute(sql: "DELETE FROM file WHERE expires < ?", arguments: [time])
            return expired
        }
    }

    private static func file(_ row: Row) -> ChatFileRecord {
        ChatFileRecord(
            id: row["id"], name: row["name"], contentType: row["contentType"], size: row["size"], sha256: row["sha256"],
            owner: row["owner"], created: row["created"], expires: row["expires"]
        )
    }
}

/// What ``SQLiteChatStore`` refuses beyond SQLite's own errors.
package enum SQLiteChatStoreError: Error, Hashable, CustomStringConvertible {
    /// An offline message for an account that does not exist (its folded name).
    case noSuchAccount(String)

    package var description: String {
        switch self {
        case .noSuchAccount(let folded): "no account named \(folded)"
        }
    }
}
