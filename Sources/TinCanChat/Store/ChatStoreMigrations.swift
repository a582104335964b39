import GRDB

/// The chat store's schema, one migration a version. A migration that has shipped is never
/// edited: a change is a new migration, so that every database file moves forward the same way.
enum ChatStoreMigrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1", migrate: Self.v1)
        return migrator
    }

    /// Accounts, their contacts and read markers, messages (history) with the offline boxes that
    /// point into them, and file records.
    ///
    /// Private conversations are keyed `@a b` (``ChatConversation``), channel ones by the channel's
    /// folded name: `@` sorts between every channel prefix (`#`, `&`, `!`, `+`) and `A`, so the
    /// private conversations are the index range `conversation > '@' AND conversation < 'A'`.
    private static func v1(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE account (
                    folded TEXT PRIMARY KEY NOT NULL,
                    name TEXT NOT NULL,
                    passwordHash TEXT NOT NULL,
                    created INTEGER NOT NULL,
                    lastSeen INTEGER
                );

                -- The row id keeps the order in which contacts were added.
                CREATE TABLE contact (
                    id INTEGER PRIMARY KEY,
                    account TEXT NOT NULL REFERENCES account(folded) ON DELETE CASCADE,
                    folded TEXT NOT NULL,
                    nick TEXT NOT NULL,
                    UNIQUE (account, folded)
                );

                -- AUTOINCREMENT: a pruned message's id is never given again, so that markDelivered's
                -- "through id" cannot reach a newer message.
                CREATE TABLE message (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    msgid TEXT NOT NULL UNIQUE,
                    time INTEGER NOT NULL,
                    source TEXT NOT NULL,
                    sourceAccount TEXT,
                    command TEXT NOT NULL,
                    target TEXT NOT NULL,
                    conversation TEXT NOT NULL,
                    text TEXT NOT NULL
                );
                CREATE INDEX message_conversation_time ON message (conversation, time, id);
                CREATE INDEX message_time ON message (time);

                -- An offline box holds rows of message: what waits for an account is in history too.
                CREATE TABLE offline (
                    account TEXT NOT NULL REFERENCES account(folded) ON DELETE CASCADE,
                    message INTEGER NOT NULL REFERENCES message(id) ON DELETE CASCADE,
                    PRIMARY KEY (account, message)
                ) WITHOUT ROWID;
                CREATE INDEX offline_message ON offline (message);

                CREATE TABLE readMarker (
                    account TEXT NOT NULL REFERENCES account(folded) ON DELETE CASCADE,
                    conversation TEXT NOT NULL,
                    time INTEGER NOT NULL,
                    PRIMARY KEY (account, conversation)
                ) WITHOUT ROWID;

                -- No foreign key to account: a deleted account's files stay until they expire.
                CREATE TABLE file (
                    id TEXT PRIMARY KEY NOT NULL,
                    name TEXT NOT NULL,
                    contentType TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    sha256 TEXT NOT NULL,
                    owner TEXT NOT NULL,
                    created INTEGER NOT NULL,
                    expires INTEGER NOT NULL
                );
                CREATE INDEX file_owner ON file (owner, expires);
                CREATE INDEX file_expires ON file (expires);
                """
        )
    }
}
