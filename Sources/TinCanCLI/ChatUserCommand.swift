#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Foundation
import TinCanChat
import TinCanCore
import TinCanIRC

/// `tincan chat user`: the chat server's accounts, managed in its database file (SQLite's WAL
/// lets this run while the server runs).
struct ChatUserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Add, list and delete chat accounts, and set their passwords.",
        discussion: """
            The password is asked twice on the terminal, without echo.
            When standard input is not a terminal, its first line is the password:
              tincan chat user add ann
              printf '%s\\n' 'correct horse' | tincan chat user add bob
              tincan chat user list --db /var/lib/tincan/chat.sqlite
            """,
        subcommands: [Add.self, Passwd.self, Del.self, List.self]
    )

    /// The folded name as the chat server keys accounts.
    static func fold(_ name: String) -> String { IRCCaseMapping.rfc1459.fold(name) }

    /// Opens the store and builds the accounts over it (the default hasher's costs, as the server's).
    static func accounts(_ options: ChatStoreOptions) throws -> ChatAccounts {
        ChatAccounts(store: try options.open())
    }

    /// For `add` and `passwd`: checks the name, opens the store, checks that the account exists
    /// (or not, for `add`) before the password is typed, reads the password, and hands the three
    /// to `body`, which answers nil when done or the cause of its failure.
    static func withPassword(
        _ verb: String, _ name: String, _ store: ChatStoreOptions, exists: Bool,
        _ body: (ChatAccounts, _ folded: String, _ password: String) async throws -> String?
    ) async throws {
        try await reportingFailures {
            let operation = "chat user \(verb) \(name)"
            try Self.checkName(name, operation)
            let accounts = try Self.accounts(store)
            let folded = Self.fold(name)
            let found = try await accounts.store.account(named: folded) != nil
            if found != exists { throw TinCanError(operation: operation, cause: found ? "account exists" : "no such account") }
            let password = try PasswordReader.read(for: name, confirm: true, operation)
            if let cause = try await body(accounts, folded, password) { throw TinCanError(operation: operation, cause: cause) }
        }
    }

    /// `chat user add NAME`.
    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Create an account (a nick that only its owner may use).")

        @Argument(help: "The account's name: a nick.") var name: String
        @OptionGroup var store: ChatStoreOptions

        func run() async throws {
            try await ChatUserCommand.withPassword("add", self.name, self.store, exists: false) { accounts, folded, password in
                switch try await accounts.register(name: self.name, folded: folded, password: password) {
                case .created: nil
                case .exists: "account exists"
                case .weakPassword(let reason): "weak password: \(reason)"
                case .invalidName: ChatUserCommand.invalidName
                }
            }
        }
    }

    /// `chat user passwd NAME`.
    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "passwd", abstract: "Set an account's password.")

        @Argument(help: "The account's name.") var name: String
        @OptionGroup var store: ChatStoreOptions

        func run() async throws {
            try await ChatUserCommand.withPassword("passwd", self.name, self.store, exists: true) { accounts, folded, password in
                switch try await accounts.setPassword(folded: folded, password: password) {
                case .changed: nil
                case .noSuchAccount: "no such account"
                case .weakPassword(let reason): "weak password: \(reason)"
                }
            }
        }
    }

    /// `chat user del NAME`.
    struct Del: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "del",
            abstract: "Delete an account with its contacts, offline messages and private history."
        )

        @Argument(help: "The account's name.") var name: String
        @OptionGroup var store: ChatStoreOptions

        func run() async throws {
            try await reportingFailures {
                let operation = "chat user del \(self.name)"
                try ChatUserCommand.checkName(self.name, operation)
                guard try await ChatUserCommand.accounts(self.store).delete(folded: ChatUserCommand.fold(self.name)) else {
                    throw TinCanError(operation: operation, cause: "no such account")
                }
            }
        }
    }

    /// `chat user list`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "One account a line: its name, when it was created and when it was last seen (UTC)."
        )

        @OptionGroup var store: ChatStoreOptions

        func run() async throws {
            try await reportingFailures {
                var lines = ""
                for account in try await self.store.open().accounts() {
                    let seen = account.lastSeen.map(ChatUserCommand.date) ?? "never"
                    lines += "\(account.name)\tcreated \(ChatUserCommand.date(account.created))\tlast seen \(seen)\n"
                }
                FileHandle.standardOutput.write(Data(lines.utf8))
            }
        }
    }

    static let invalidName = "not a valid nick (a letter or one of []\\`_^{|} first, then those, digits and -; at most "
        + "\(ChatLimits().nickLength) bytes)"

    static func checkName(_ name: String, _ operation: String) throws {
        guard ChatNicks.isValid(name, limit: ChatLimits().nickLength) else {
            throw TinCanError(operation: operation, cause: Self.invalidName)
        }
    }

    /// `2026-01-15 08:00:00Z` for milliseconds since 1970.
    static func date(_ milliseconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withSpaceBetweenDateAndTime, .withTimeZone]
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }
}

/// Reads a password: from the terminal without echo, or the first line of standard input when
/// that is not a terminal (scripts, tests).
enum PasswordReader {
    static func read(for name: String, confirm: Bool, _ operation: String) throws -> String {
        guard isatty(STDIN_FILENO) == 1 else {
            guard let line = readLine(strippingNewline: true) else {
                throw TinCanError(operation: operation, cause: "no password on standard input (its first line is the password)")
            }
            return line.hasSuffix("\r") ? String(line.dropLast()) : line
        }
        let password = try self.ask("Password for \(name): ", operation)
        if confirm, try self.ask("Again: ", operation) != password {
            throw TinCanError(operation: operation, cause: "the passwords do not match")
        }
        return password
    }

    /// Turns echo off, prompts on stderr and reads one line from the terminal; the terminal's mode
    /// comes back afterwards, and on SIGINT or SIGTERM too (the handler restores it and exits 130).
    /// The prompt comes after the mode change, whose flush drops what was typed before it.
    private static func ask(_ prompt: String, _ operation: String) throws -> String {
        guard tcgetattr(STDIN_FILENO, &savedTerminal) == 0 else {
            throw TinCanError(operation: operation, cause: "read the terminal: \(TinCanError.describeErrno(errno))")
        }
        var quiet = savedTerminal
        quiet.c_lflag &= ~tcflag_t(ECHO)
        let restore: @convention(c) (CInt) -> Void = { _ in
            tcsetattr(STDIN_FILENO, TCSANOW, &savedTerminal)
            _ = write(STDERR_FILENO, "\n", 1)
            _exit(130)
        }
        let previousInt = signal(SIGINT, restore)
        let previousTerm = signal(SIGTERM, restore)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet)
        FileHandle.standardError.write(Data(prompt.utf8))
        let line = readLine(strippingNewline: true)
        tcsetattr(STDIN_FILENO, TCSANOW, &savedTerminal)
        signal(SIGINT, previousInt)
        signal(SIGTERM, previousTerm)
        FileHandle.standardError.write(Data("\n".utf8))
        guard let line else { throw TinCanError(operation: operation, cause: "no password given") }
        return line.hasSuffix("\r") ? String(line.dropLast()) : line
    }
}

/// The terminal's mode before echo went off, for the signal handler to put back. Written before
/// the handler is installed, read only by it and by the code that installed it.
nonisolated(unsafe) private var savedTerminal = termios()
