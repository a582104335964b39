import ArgumentParser
import Foundation
import NIOCore
import TinCanChatClient
import TinCanCore
import TinCanIRC
import TinCanTerminal

/// `tincan chat HOST[:PORT]`: the chat client, full screen on a terminal, line by line otherwise.
struct ChatConnectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connect",
        abstract: "Chat: 'tincan chat HOST[:PORT]' logs in and opens the lobby (full screen on a terminal, line mode otherwise).",
        discussion: """
            tincan chat localhost                      log in as your login name (asks the password)
            tincan chat chat.example.org --tls --nick ann
            tincan chat localhost --register           sign up first
            TINCAN_CHAT_PASSWORD=... tincan chat localhost < script.txt   line mode
            The password comes from a prompt, --password-file or TINCAN_CHAT_PASSWORD, never from
            the command line; without one you are a guest. Type /help in the chat for the commands.
            Without a terminal (a pipe), or with --line-mode (under expect, which gives it a
            terminal), each event is one line on stdout and each line read is a message to the
            lobby (or the conversation /query opened) or a command.
            """
    )

    @OptionGroup var options: ChatClientOptions

    @Option(help: ArgumentHelp("Where /get saves files (default ~/Downloads/tincan).", valueName: "DIR"))
    var downloads: String?

    @Flag(name: .customLong("line-mode"), help: "Line mode even on a terminal.")
    var lineMode = false

    func run() async throws {
        try await reportingFailures { try await self.chat() }
    }

    private func chat() async throws {
        let endpoint = try self.options.endpoint
        let operation = "chat with \(endpoint)"
        let login = try self.options.login(prompt: true, operation)
        let home = ProcessInfo.processInfo.environment["HOME"] ?? FileManager.default.homeDirectoryForCurrentUser.path
        let session = ChatClientSession(
            endpoint: endpoint, options: self.options, login: login, downloads: self.downloads ?? home + "/Downloads/tincan", operation: operation
        )
        if !self.lineMode, Terminal.isTerminal(STDIN_FILENO), Terminal.isTerminal(STDOUT_FILENO) {
            var view = try ChatScreenView()
            try await session.run(view: &view)
        } else {
            var view = ChatLineView()
            try await session.run(view: &view)
        }
    }
}

/// `tincan chat send HOST --to NICK|#CHANNEL [TEXT]`: one message (or stdin's lines, or a file)
/// for scripts and cron, exit status 0 once the server has taken every line.
struct ChatSendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Send a message (TEXT, or standard input line by line) or a file, then quit; status 0 once the server took it.",
        discussion: """
            tincan chat send localhost --to ann "the backup finished"
            df -h | tincan chat send localhost --to '#ops'
            tincan chat send localhost --to ann --file report.pdf
            It logs in as --nick (default: your login name) with --password-file or
            TINCAN_CHAT_PASSWORD, or as a guest without one (where the server allows it).
            A message to someone offline is kept for them (the server says so) and counts as
            taken; an unknown nick, a full mailbox or a refused login exits 1 with the reason.
            """
    )

    @OptionGroup var options: ChatClientOptions

    @Option(help: ArgumentHelp("Whom to send to: a nick, or a #channel (joined first).", valueName: "NICK|#CHANNEL"))
    var to: String

    @Option(help: ArgumentHelp("Upload FILE through the server's FILEHOST and send its link.", valueName: "PATH"))
    var file: String?

    @Option(help: ArgumentHelp("Give up after this many seconds without the server's answer.", valueName: "SECONDS"))
    var timeout: Double = 30

    @Argument(help: "The message (default: standard input, each line one message).")
    var text: [String] = []

    func validate() throws {
        guard !self.to.isEmpty, !self.to.contains(" "), !self.to.contains(",") else { throw ValidationError("--to: one nick or #channel") }
        guard self.timeout > 0 else { throw ValidationError("--timeout must be more than 0") }
    }

    func run() async throws {
        try await reportingFailures { try await self.send() }
    }

    private func send() async throws {
        let endpoint = try self.options.endpoint
        let operation = "chat send to \(self.to) via \(endpoint)"
        let login = try self.options.login(prompt: false, operation)
        var lines: [String] = []
        if !self.text.isEmpty {
            lines = [self.text.joined(separator: " ")]
        } else if self.file == nil {
            while let line = readLine(strippingNewline: true) {
                let clean = line.hasSuffix("\r") ? String(line.dropLast()) : line
                if !clean.isEmpty { lines.append(clean) }
            }
        }
        if lines.isEmpty, self.file == nil { throw TinCanError(operation: operation, cause: "nothing to send (no TEXT, nothing on standard input)") }
        let sender = ChatSender(
            endpoint: endpoint, tls: self.options.tlsConfiguration, login: login, target: self.to, timeout: .milliseconds(Int64(self.timeout * 1000)),
            operation: operation
        )
        try await sender.send(lines, file: self.file)
    }
}
