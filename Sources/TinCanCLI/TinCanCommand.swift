import ArgumentParser

/// The `tincan` command: TCP and UDP socket tools.
public struct TinCanCommand: AsyncParsableCommand {
    public static let version = "0.1.0"

    public static let configuration = CommandConfiguration(
        commandName: "tincan",
        abstract: "TCP and UDP socket tools: a netcat-class client and server, echo servers, TFTP, IRC chat.",
        discussion: """
            Run 'tincan serve' to start every server on its default unprivileged port, or one tool:
              tincan listen 5000              wait for one TCP connection, relay it to stdin/stdout
              tincan connect localhost 5000   connect and relay
              tincan echo --tcp 7007          a TCP echo server
              tincan tftp serve --root DIR    a TFTP server (tftp get/put: the client)
              tincan chat serve               an IRC chat server with a lobby on 6667
            """,
        version: TinCanCommand.version,
        subcommands: [ConnectCommand.self, ListenCommand.self, EchoCommand.self, TFTPCommand.self, ChatCommand.self, ServeCommand.self]
    )

    public init() {}
}

extension TinCanCommand {
    /// Parses the process's arguments, runs the chosen subcommand and exits with its status.
    public static func runFromCommandLine() async {
        let command: any ParsableCommand
        do {
            command = try TinCanCommand.parseAsRoot()
        } catch {
            TinCanCommand.exit(withError: error)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var syncCommand = command
                try syncCommand.run()
            }
        } catch {
            TinCanCommand.exit(withError: error)
        }
        TinCanCommand.exit()
    }
}
