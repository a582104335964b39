import ArgumentParser
import Foundation
import NIOCore
import NIOSSL
import TinCanChatClient
import TinCanCore

/// What `tincan chat HOST` and `tincan chat send` share: where, who, and how to log in.
struct ChatClientOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("The chat server: HOST, HOST:PORT or [IPv6]:PORT (port 6667, or 6697 with --tls).", valueName: "host[:port]"))
    var server: String

    @Option(help: "Your nick (default: your login name). With a password it is also the account's name.")
    var nick: String?

    @Flag(help: "Connect with TLS.")
    var tls = false

    @Flag(help: "With --tls, accept any certificate (a test server's own); the connection is encrypted but not authenticated.")
    var insecure = false

    @Option(name: .customLong("password-file"), help: ArgumentHelp("Read the password from the first line of FILE.", valueName: "FILE"))
    var passwordFile: String?

    @Flag(help: "Sign up: create the account (named after the nick) with the password, then log in.")
    var register = false

    static let passwordVariable = "TINCAN_CHAT_PASSWORD"

    var endpoint: Endpoint {
        get throws {
            do {
                return try Endpoint.parse(host: self.server, defaultPort: self.tls ? 6697 : 6667)
            } catch {
                throw ValidationError("\(self.server): \(error)")
            }
        }
    }

    var nickname: String {
        if let nick { return nick }
        if let user = ProcessInfo.processInfo.environment["USER"], !user.isEmpty { return user }
        if let entry = getpwuid(getuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return "guest"
    }

    func validate() throws {
        _ = try self.endpoint
        if self.insecure, !self.tls { throw ValidationError("--insecure is for --tls") }
        if let nick, nick.isEmpty || nick.contains(" ") { throw ValidationError("--nick: '\(nick)' is not a nick") }
    }

    var tlsConfiguration: TLSConfiguration? {
        guard self.tls else { return nil }
        var configuration = TLSConfiguration.makeClientConfiguration()
        if self.insecure { configuration.certificateVerification = .none }
        return configuration
    }

    /// The password, never from the command line: `--password-file`, then `TINCAN_CHAT_PASSWORD`,
    /// then a prompt when `prompt` and standard input is a terminal; nil for none (a guest).
    func password(prompt: Bool, _ operation: String) throws -> String? {
        if let file = self.passwordFile {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw TinCanError(operation: operation, cause: "cannot read the password file \(file)")
            }
            let line = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let password = line.hasSuffix("\r") ? String(line.dropLast()) : line
            guard !password.isEmpty else { throw TinCanError(operation: operation, cause: "the password file \(file) is empty") }
            return password
        }
        if let password = ProcessInfo.processInfo.environment[Self.passwordVariable], !password.isEmpty { return password }
        if prompt, isatty(STDIN_FILENO) == 1 {
            return try PasswordReader.read(for: self.nickname, confirm: self.register, operation)
        }
        if self.register { throw TinCanError(operation: operation, cause: "--register needs a password (--password-file or \(Self.passwordVariable))") }
        return nil
    }

    func login(prompt: Bool, _ operation: String) throws -> ChatLogin {
        let password = try self.password(prompt: prompt, operation)
        switch (password, self.register) {
        case (let password?, true): return ChatLogin(nick: self.nickname, mode: .register(password: password))
        case (let password?, false): return ChatLogin(nick: self.nickname, mode: .logIn(password: password))
        case (nil, _): return ChatLogin(nick: self.nickname, mode: .guest)
        }
    }
}
