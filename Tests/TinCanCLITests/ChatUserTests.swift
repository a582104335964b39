import Foundation
import Testing
import TinCanChat
import TinCanTestSupport

/// Runs `tincan chat user ARGUMENTS --db DB` with `input` as its standard input; returns the exit
/// status, stdout and stderr.
private func user(_ arguments: [String], db: String, input: String = "") async throws -> (Int32, String, String) {
    let process = try tincan(["chat", "user"] + arguments + ["--db", db], input: .pipe)
    try process.write(input)
    process.closeInput()
    let status = try await process.waitForExit()
    return (status, String(decoding: process.stdout, as: UTF8.self), process.stderr)
}

/// The database file of a fresh temporary directory (not created yet).
private func freshDatabase() throws -> String { try TestData.temporaryDirectory() + "/data/chat.sqlite" }

@Suite(.timeLimit(.minutes(2))) struct ChatUserCommandTests {
    @Test("add with the password on stdin, list shows it; the file holds a salted hash, not the password")
    func addAndList() async throws {
        let db = try freshDatabase()
        #expect(try await user(["add", "Ann"], db: db, input: "correct horse\n") == (0, "", ""))
        let (status, listed, errors) = try await user(["list"], db: db)
        #expect(status == 0 && errors.isEmpty)
        let fields = listed.split(separator: "\t").map(String.init)
        #expect(fields.count == 3 && fields[0] == "Ann" && fields[2] == "last seen never\n", "\(listed)")
        #expect(fields[1].hasPrefix("created 20") && fields[1].hasSuffix("Z"), "\(listed)")

        let account = try #require(try await SQLiteChatStore.open(path: db).account(named: "ann"))
        #expect(account.passwordHash.hasPrefix("scrypt$16384$8$1$"))
        #expect(ChatPasswordHasher().verify("correct horse", against: account.passwordHash))
        for file in [db, db + "-wal"] {
            guard let bytes = FileManager.default.contents(atPath: file) else { continue }
            #expect(bytes.range(of: Data("correct horse".utf8)) == nil, "\(file)")
        }
        #expect(try await user(["add", "bob"], db: db, input: "another password\n").0 == 0)
        #expect(try await user(["list"], db: db).1.split(separator: "\n").map { $0.split(separator: "\t")[0] } == ["Ann", "bob"])
    }

    @Test("passwd replaces the hash; del removes the account")
    func passwdAndDel() async throws {
        let db = try freshDatabase()
        #expect(try await user(["add", "ann"], db: db, input: "first password\n").0 == 0)
        #expect(try await user(["passwd", "ANN"], db: db, input: "second password\n") == (0, "", ""))
        let hash = try #require(try await SQLiteChatStore.open(path: db).account(named: "ann")?.passwordHash)
        #expect(ChatPasswordHasher().verify("second password", against: hash))
        #expect(!ChatPasswordHasher().verify("first password", against: hash))
        #expect(try await user(["del", "Ann"], db: db) == (0, "", ""))
        #expect(try await user(["list"], db: db) == (0, "", ""))
    }

    @Test("each failure is one line on stderr and exit status 1")
    func failures() async throws {
        let db = try freshDatabase()
        #expect(try await user(["add", "ann"], db: db, input: "first password\n").0 == 0)
        let cases: [([String], String, String)] = [
            (["add", "ann"], "first password\n", "tincan: chat user add ann: account exists"),
            (["add", "9lives"], "first password\n", "tincan: chat user add 9lives: " + ChatUserCommandTests.invalidName),
            (["add", "bob"], "short\n", "tincan: chat user add bob: weak password: a password needs at least 8 characters"),
            (["add", "bob"], "", "tincan: chat user add bob: no password on standard input (its first line is the password)"),
            (["passwd", "bob"], "long enough\n", "tincan: chat user passwd bob: no such account"),
            (["passwd", "ann"], "ann\n", "tincan: chat user passwd ann: weak password: a password needs at least 8 characters"),
            (["del", "bob"], "", "tincan: chat user del bob: no such account"),
        ]
        for (arguments, input, message) in cases {
            let (status, output, errors) = try await user(arguments, db: db, input: input)
            #expect(status == 1, "\(arguments)")
            #expect(output.isEmpty)
            #expect(errors == message + "\n", "\(arguments)")
        }
        let (status, _, errors) = try await user(["list"], db: "/dev/null/x/chat.sqlite")
        #expect(status == 1)
        #expect(errors == "tincan: open chat store /dev/null/x/chat.sqlite: create directory /dev/null/x: not a directory\n")
        #expect(try await user(["list"], db: db).1.hasPrefix("ann\t"))
    }

    static let invalidName = "not a valid nick (a letter or one of []\\`_^{|} first, then those, digits and -; at most 30 bytes)"

    @Test("on a terminal the password is asked twice without echo; two different answers are refused")
    func terminal() async throws {
        let db = try freshDatabase()
        func add(_ first: String, _ second: String) async throws -> TestProcess {
            let process = try tincan(["chat", "user", "add", "ann", "--db", db], input: .terminal)
            _ = try await process.waitForStderr("Password for ann: ")
            try process.write(first + "\n")
            _ = try await process.waitForStderr("Again: ")
            try process.write(second + "\n")
            return process
        }
        let mismatch = try await add("long enough", "long enougH")
        #expect(try await mismatch.waitForExit() == 1)
        #expect(mismatch.stderr.hasSuffix("tincan: chat user add ann: the passwords do not match\n"), "\(mismatch.stderr)")
        let matching = try await add("long enough", "long enough")
        #expect(try await matching.waitForExit() == 0, "\(matching.stderr)")
        #expect(!matching.stderr.contains("long enough"))
        let hash = try #require(try await SQLiteChatStore.open(path: db).account(named: "ann")?.passwordHash)
        #expect(ChatPasswordHasher().verify("long enough", against: hash))
    }

    @Test("chat serve --db creates the file and its directory; --registration takes open or closed")
    func serveCreatesTheDatabase() async throws {
        let db = try freshDatabase()
        let (server, _) = try await chatServer(["--db", db, "--registration", "closed"])
        defer { server.kill() }
        #expect(FileManager.default.fileExists(atPath: db))
        // The server holds the file open; the command line works on it meanwhile.
        #expect(try await user(["add", "ann"], db: db, input: "long enough\n") == (0, "", ""))
        let bad = try tincan(["chat", "serve", "--port", "0", "--db", db, "--registration", "sometimes"], input: .null)
        #expect(try await bad.waitForExit() == 64)
        #expect(bad.stderr.contains("--registration takes open or closed, not 'sometimes'"), "\(bad.stderr)")
    }
}
