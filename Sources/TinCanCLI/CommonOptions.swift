#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Logging
import NIOCore
import TinCanCore
import TinCanRelay

/// `-v` and `--debug`, shared by every subcommand.
struct LoggingOptions: ParsableArguments {
    @Flag(name: .shortAndLong, help: "Report connection events on stderr (listening, accepted, half-closed, closed, byte counts).")
    var verbose = false

    @Flag(help: "Report everything -v does and per-attempt details.")
    var debug = false

    func logger(default level: Logger.Level = .warning) -> Logger {
        let chosen: Logger.Level = self.debug ? .debug : (self.verbose ? .info : level)
        return StderrLogHandler.logger(level: chosen, nameSetting: optionName(forSetting:))
    }
}

/// The command-line option for a library setting, by the setting's property name (the libraries
/// name settings, never options); a setting without an option keeps its own name.
@Sendable func optionName(forSetting setting: String) -> String {
    switch setting {
    case "sendOnly": "--send-only"
    case "receiveOnly": "--recv-only"
    case "idleTimeout": "--idle-timeout"
    case "wait": "--wait"
    case "backlog": "--backlog"
    case "maxClients": "--max-clients"
    case "slowClientTimeout": "--slow-client-timeout"
    case "broker": "--broker"
    case "exec": "--exec"
    case "maxConnections": "--max-connections"
    case "tcpPort": "--tcp"
    case "udpPort": "--udp"
    case "host": "--host"
    default: setting
    }
}

/// Runs a library's `validate()`, turning its ``ConfigurationError`` into a usage error that names
/// this command's options (`naming` maps a setting to its option; the relay's by default).
func validating(naming: (String) -> String = optionName(forSetting:), _ validate: () throws -> Void) throws {
    do {
        try validate()
    } catch let error as ConfigurationError {
        throw ValidationError(error.description(namingSetting: naming))
    }
}

/// `-4` and `-6`.
struct FamilyOptions: ParsableArguments {
    @Flag(name: .customShort("4"), help: "Use IPv4 only.")
    var ipv4Only = false

    @Flag(name: .customShort("6"), help: "Use IPv6 only.")
    var ipv6Only = false

    var family: AddressFamily { self.ipv4Only ? .ipv4 : (self.ipv6Only ? .ipv6 : .any) }

    func validate() throws {
        if self.ipv4Only, self.ipv6Only { throw ValidationError("-4 and -6 cannot be used together") }
    }
}

/// What the relay sends instead of standard input, and which directions it uses.
struct RelayIOOptions: ParsableArguments {
    @Option(name: .customLong("send"), help: ArgumentHelp("Send TEXT (as is, no newline added) instead of reading stdin, then half-close.", valueName: "TEXT"))
    var sendText: String?

    @Option(name: .customLong("send-file"), help: ArgumentHelp("Send the file at PATH instead of reading stdin, then half-close.", valueName: "PATH"))
    var sendFile: String?

    @Flag(name: .customLong("send-only"), help: "Only send: read and drop whatever the peer sends.")
    var sendOnly = false

    @Flag(name: .customLong("recv-only"), help: "Only receive: never read stdin and never half-close first.")
    var receiveOnly = false

    @Option(name: .customLong("exec"), help: ArgumentHelp("Join each connection to '/bin/sh -c CMD' (its stdin and stdout). Anyone who connects runs CMD: use with care.", valueName: "CMD"))
    var exec: String?

    @Option(name: [.customShort("i"), .customLong("idle-timeout")], help: ArgumentHelp("Close a connection idle for SECONDS (nothing sent or received).", valueName: "SECONDS"))
    var idleTimeout: Double?

    func validate() throws {
        if self.sendText != nil, self.sendFile != nil { throw ValidationError("--send and --send-file cannot be used together") }
        if self.exec != nil, self.sendText != nil || self.sendFile != nil {
            throw ValidationError("--exec cannot be combined with --send or --send-file")
        }
        if let exec, exec.allSatisfy(\.isWhitespace) { throw ValidationError("--exec needs a command") }
        if let idleTimeout { try validateSeconds(idleTimeout, "--idle-timeout") }
        try validating { try self.relayOptions.validate() }
    }

    var relayOptions: RelayOptions {
        RelayOptions(
            sendOnly: self.sendOnly,
            receiveOnly: self.receiveOnly,
            inputIsTerminal: self.sendText == nil && self.sendFile == nil && isatty(0) == 1,
            idleTimeout: self.idleTimeout.map(timeAmount)
        )
    }

    /// The ends of the relay: a command, or stdin (or the --send text or file) and stdout.
    ///
    /// - Parameter chunkSize: the largest read from the input (datagram size for UDP).
    func makeEnds(chunkSize: Int = FileDescriptorReader.defaultChunkSize) throws -> RelayEnds {
        if let exec { return .exec(exec) }
        let input: RelayInput
        if self.receiveOnly {
            input = .none
        } else if let sendText {
            input = .bytes(ByteBuffer(string: sendText))
        } else if let sendFile {
            let fd = open(sendFile, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw TinCanError(operation: "open \(sendFile)", cause: TinCanError.describeErrno(errno))
            }
            input = .reader(FileDescriptorReader(fd: fd, name: sendFile, chunkSize: chunkSize, closeWhenDone: true))
        } else {
            input = .reader(FileDescriptorReader(fd: 0, chunkSize: chunkSize))
        }
        return .local(input: input, output: RelayOutput(writer: FileDescriptorWriter(fd: 1)))
    }
}

/// Checks that `value` converts to a `TimeAmount` (``timeAmount(_:)`` traps on infinity or NaN);
/// the libraries' `validate()` then apply their own rules to the duration.
func validateSeconds(_ value: Double, _ flag: String) throws {
    guard value.isFinite, value > 0, value <= 86_400 * 365 else {
        throw ValidationError("\(flag) takes a number of seconds greater than 0")
    }
}

/// `seconds` as a `TimeAmount`; a value that no `Int64` of nanoseconds holds (infinite, NaN, or
/// centuries) becomes the largest amount, for `validate()` to reject, instead of trapping.
func timeAmount(_ seconds: Double) -> TimeAmount {
    let nanoseconds = seconds * 1_000_000_000
    guard nanoseconds.isFinite, abs(nanoseconds) < 9.2e18 else { return .nanoseconds(.max) }
    return .nanoseconds(Int64(nanoseconds))
}

/// Runs `body`; a failure becomes one `tincan: ...` line on stderr and exit status 1.
func reportingFailures(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ExitCode {
        throw error
    } catch let error as CleanExit {
        throw error
    } catch is CancellationError {
        throw ExitCode(130)
    } catch let error as TinCanError {
        StderrLogHandler.logger(level: .error).error("\(error.description(namingSetting: optionName(forSetting:)))")
        throw ExitCode.failure
    } catch let error as ConfigurationError {
        StderrLogHandler.logger(level: .error).error("\(error.description(namingSetting: optionName(forSetting:)))")
        throw ExitCode.failure
    } catch {
        StderrLogHandler.logger(level: .error).error("\(error)")
        throw ExitCode.failure
    }
}
