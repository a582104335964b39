import ArgumentParser
import Foundation
import Logging
import NIOCore
import TinCanCore
import TinCanTFTP

/// `tincan tftp`: a TFTP server and client.
struct TFTPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tftp",
        abstract: "TFTP server and client (RFC 1350 with blksize, timeout, tsize and windowsize options).",
        subcommands: [TFTPServeCommand.self, TFTPGetCommand.self, TFTPPutCommand.self]
    )
}

/// `tincan tftp serve --root DIR`.
struct TFTPServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the files under a directory over TFTP.",
        discussion: """
            Read-only unless --allow-write (uploads may replace existing files) or --create (they may
            also create new ones). Uploads go to a temporary file renamed into place when complete.
            Names are confined to --root: '..', symlinks leading out, NUL bytes and over-long names are
            refused with ERROR 2; a leading '/' means the root, as with tftp-hpa's -s.
            One line is logged per transfer; -v logs every packet.
            """
    )

    @Option(help: "The directory served.")
    var root: String

    @Option(help: "Address to bind (default: every address, IPv6 and IPv4).")
    var host: String?

    @Option(help: "UDP port for requests (0: the kernel chooses).")
    var port: Int = TFTPServerConfiguration.defaultPort

    @Option(name: .customLong("port-range"), help: ArgumentHelp("Ports for transfer sockets (default: the kernel chooses).", valueName: "LOW:HIGH"))
    var portRange: String?

    @Flag(name: .customLong("allow-write"), help: "Let uploads replace existing files.")
    var allowWrite = false

    @Flag(help: "Let uploads create new files (implies --allow-write).")
    var create = false

    @Option(name: .customLong("max-transfers"), help: "Transfers at once; more get ERROR 0 'server busy'.")
    var maxTransfers = TFTPServerConfiguration.defaultMaxTransfers

    @Option(name: .customLong("max-transfers-per-address"), help: "Transfers at once from one client address; more get ERROR 0.")
    var maxTransfersPerAddress = TFTPServerConfiguration.defaultMaxTransfersPerAddress

    @Option(name: .customLong("max-blksize"), help: "Largest block size granted (8-65464; 1468 fits a 1500-byte MTU).")
    var maxBlockSize = TFTPOptionLimits.defaultMaxBlockSize

    @Option(name: .customLong("max-windowsize"), help: "Largest window granted (1-65535).")
    var maxWindowSize = TFTPOptionLimits.defaultMaxWindowSize

    @Option(help: "Seconds before the first retransmission, until a round trip is measured (then it adapts).")
    var timeout: Double = 1

    @Option(help: "Timeouts in a row before a transfer is abandoned.")
    var retries = TFTPTiming().maxRetries

    @Option(name: .customLong("max-file-size"), help: ArgumentHelp("Largest upload, in bytes (suffixes K, M, G); larger gets ERROR 3.", valueName: "SIZE"))
    var maxFileSize: String?

    @Flag(name: .shortAndLong, help: "Log every packet.")
    var verbose = false

    @Flag(help: "Log per-request details.")
    var debug = false

    func validate() throws {
        if !(0...65535).contains(self.port) { throw ValidationError("--port takes a port from 0 to 65535") }
        if let portRange { _ = try Self.parseRange(portRange) }
        if self.maxTransfers < 1 { throw ValidationError("--max-transfers must be at least 1") }
        if self.maxTransfersPerAddress < 1 { throw ValidationError("--max-transfers-per-address must be at least 1") }
        if !(TFTPWireLimits.minBlockSize...TFTPWireLimits.maxBlockSize).contains(self.maxBlockSize) {
            throw ValidationError("--max-blksize takes a size from 8 to 65464")
        }
        if !(1...65535).contains(self.maxWindowSize) { throw ValidationError("--max-windowsize takes 1 to 65535") }
        try validateSeconds(self.timeout, "--timeout")
        if self.timeout > 255 { throw ValidationError("--timeout takes at most 255 seconds") }
        if !(0...100).contains(self.retries) { throw ValidationError("--retries takes 0 to 100") }
        if let maxFileSize { _ = try parseSize(maxFileSize, "--max-file-size") }
        // And the library's own rules, for what the checks above do not cover.
        try validating(naming: { $0 }) { try self.serverConfiguration().0.validate() }
    }

    static func parseRange(_ text: String) throws -> ClosedRange<Int> {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let low = Int(parts[0]), let high = Int(parts[1]), 1 <= low, low <= high, high <= 65535 else {
            throw ValidationError("--port-range takes LOW:HIGH, two ports from 1 to 65535 with LOW <= HIGH")
        }
        return low...high
    }

    func serverConfiguration() throws -> (TFTPServerConfiguration, Int?) {
        let fileSize = try self.maxFileSize.map { try parseSize($0, "--max-file-size") }
        let timing = TFTPTiming.serverTiming(maxRetries: self.retries, initialTimeout: timeAmount(self.timeout))
        let configuration = TFTPServerConfiguration(
            host: self.host,
            port: self.port,
            transferPorts: try self.portRange.map(Self.parseRange),
            maxTransfers: self.maxTransfers,
            maxTransfersPerAddress: self.maxTransfersPerAddress,
            limits: TFTPOptionLimits(maxBlockSize: self.maxBlockSize, maxWindowSize: self.maxWindowSize, maxFileSize: fileSize),
            timing: timing,
            offload: tftpOffload()
        )
        return (configuration, fileSize)
    }

    func run() async throws {
        let logger = StderrLogHandler.logger(level: self.verbose ? .trace : (self.debug ? .debug : .info))
        try await reportingFailures {
            let (configuration, fileSize) = try self.serverConfiguration()
            let root: TFTPRoot
            do {
                root = try TFTPRoot(self.root)
            } catch let error as TFTPError {
                throw TinCanError(operation: "tftp serve --root \(self.root)", cause: error.message)
            }
            let directory = TFTPDirectory(root: root, allowWrite: self.allowWrite, allowCreate: self.create, maxFileSize: fileSize)
            let server = TFTPServer(configuration: configuration, fileSystem: directory, logger: logger)
            try await runServices([server], logger: logger)
        }
    }
}

/// Offload switched off by `TINCAN_NO_GSO` / `TINCAN_NO_GRO` (set to anything), to rule it out
/// when a network path misbehaves with it.
func tftpOffload() -> TFTPOffload {
    let environment = ProcessInfo.processInfo.environment
    return TFTPOffload(segmentation: environment["TINCAN_NO_GSO"] == nil, receive: environment["TINCAN_NO_GRO"] == nil)
}

/// "64M" → 67108864.
func parseSize(_ text: String, _ flag: String) throws -> Int {
    let multipliers: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
    var digits = Substring(text)
    var multiplier = 1
    if let last = text.last?.uppercased().first, let value = multipliers[last] {
        multiplier = value
        digits = digits.dropLast()
    }
    guard let number = Int(digits), number >= 0, number <= Int.max / multiplier else {
        throw ValidationError("\(flag) takes a size in bytes, with an optional K, M, G or T suffix")
    }
    return number * multiplier
}

/// Options shared by `get` and `put`.
struct TFTPClientCommandOptions: ParsableArguments {
    @Option(help: "Block size to ask for (8-65464; default 512, RFC 1350).")
    var blksize: Int?

    @Option(help: "Window size to ask for (1-65535; default 1, lock-step).")
    var windowsize: Int?

    @Option(help: "Retransmission timeout in seconds to ask the server to use (1-255; default: adaptive).")
    var timeout: Int?

    @Flag(inversion: .prefixedNo, help: "Ask for tsize (the transfer size, for the progress total and the server's size check).")
    var tsize = true

    @Option(help: "Transfer mode: octet or netascii.")
    var mode: String = "octet"

    @Option(help: "Timeouts in a row before giving up.")
    var retries = TFTPTiming().maxRetries

    @OptionGroup var family: FamilyOptions

    @Flag(name: .shortAndLong, help: "Print a summary line when done.")
    var verbose = false

    @Flag(help: "Log every packet.")
    var debug = false

    func validate() throws {
        if let blksize, !(TFTPWireLimits.minBlockSize...TFTPWireLimits.maxBlockSize).contains(blksize) {
            throw ValidationError("--blksize takes a size from 8 to 65464")
        }
        if let windowsize, !(1...65535).contains(windowsize) { throw ValidationError("--windowsize takes 1 to 65535") }
        if let timeout, !(1...255).contains(timeout) { throw ValidationError("--timeout takes 1 to 255 seconds") }
        if !["octet", "netascii"].contains(self.mode.lowercased()) {
            throw ValidationError("--mode takes octet or netascii")
        }
        if !(0...100).contains(self.retries) { throw ValidationError("--retries takes 0 to 100") }
        // And the library's own rules, for what the checks above do not cover.
        try validating(naming: { $0 }) { try self.clientOptions.validate() }
    }

    var clientOptions: TFTPClientOptions {
        var timing = TFTPTiming()
        timing.maxRetries = self.retries
        return TFTPClientOptions(
            blockSize: self.blksize,
            windowSize: self.windowsize,
            timeoutSeconds: self.timeout,
            transferSize: self.tsize,
            mode: TFTPMode(rawValue: self.mode),
            timing: timing,
            offload: tftpOffload()
        )
    }

    var logger: Logger { StderrLogHandler.logger(level: self.debug ? .trace : .warning) }

    func resolve(_ word: String) async throws -> SocketAddress {
        let endpoint: Endpoint
        do {
            endpoint = try Endpoint.parse(host: word, defaultPort: TFTPServerConfiguration.defaultPort)
        } catch {
            throw ValidationError(error.description)
        }
        return try await Resolver.resolve(endpoint, family: self.family.family, transport: .udp)[0]
    }

    /// Runs a transfer with a progress bar on a terminal, then the summary line with `-v`.
    func running(
        _ what: String,
        _ body: @Sendable (TFTPProgress) async throws -> TFTPTransferReport
    ) async throws {
        let progress = TFTPProgress()
        let drawing = ProgressDisplay.isTerminal && !self.debug
        let display: Task<Void, Never>? = drawing ? Task {
            var display = ProgressDisplay()
            while !Task.isCancelled {
                display.draw(bytes: progress.bytes, total: progress.total)
                try? await Task.sleep(for: .milliseconds(200))
            }
            display.draw(bytes: progress.bytes, total: progress.total)
            display.finish()
        } : nil
        defer { display?.cancel() }
        do {
            let report = try await body(progress)
            display?.cancel()
            await display?.value
            if self.verbose { StderrLogHandler.logger(level: .info).info("\(report)") }
        } catch let failure as TFTPClientError {
            display?.cancel()
            await display?.value
            throw TinCanError(operation: what, cause: failure.description)
        } catch {
            display?.cancel()
            await display?.value
            throw TinCanError(operation: what, underlying: error)
        }
    }
}

/// `tincan tftp get HOST[:PORT] REMOTE [LOCAL]`.
struct TFTPGetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Download a file from a TFTP server.",
        discussion: """
            LOCAL defaults to the last part of REMOTE; '-' writes to standard output. The file appears
            under LOCAL only when complete: a failed download leaves nothing there. Exit status 1 on
            any error, with the server's ERROR code and message or 'timed out after N retries'.
            """
    )

    @Argument(help: ArgumentHelp("The server, with an optional port (default 69).", valueName: "HOST[:PORT]"))
    var server: String

    @Argument(help: "The file's name on the server.")
    var remote: String

    @Argument(help: "Where to save it ('-': standard output).")
    var local: String?

    @OptionGroup var options: TFTPClientCommandOptions

    func validate() throws {
        if self.remote.isEmpty { throw ValidationError("REMOTE is empty") }
        if self.local == nil, Self.basename(self.remote).isEmpty {
            throw ValidationError("REMOTE '\(self.remote)' has no file name to save under: give LOCAL")
        }
    }

    static func basename(_ path: String) -> String {
        String(path.split(separator: "/", omittingEmptySubsequences: false).last ?? "")
    }

    func run() async throws {
        let local = self.local ?? Self.basename(self.remote)
        let options = self.options
        let remote = self.remote
        let what = "get \(remote) from \(self.server)"
        try await reportingFailures {
            let server = try await options.resolve(self.server)
            let writer: any TFTPFileWriter
            do {
                writer = try local == "-" ? TFTPLocalFile.standardOutput() : TFTPLocalFile.writer(path: local)
            } catch let error as TFTPError {
                throw TinCanError(operation: what, cause: error.message)
            }
            let client = TFTPClient(logger: options.logger)
            try await options.running(what) { progress in
                try await client.get(remote, from: server, into: writer, options: options.clientOptions, progress: progress)
            }
        }
    }
}

/// `tincan tftp put HOST[:PORT] LOCAL [REMOTE]`.
struct TFTPPutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put",
        abstract: "Upload a file to a TFTP server.",
        discussion: """
            REMOTE defaults to the last part of LOCAL; LOCAL '-' reads standard input (then REMOTE is
            required). Exit status 1 on any error.
            """
    )

    @Argument(help: ArgumentHelp("The server, with an optional port (default 69).", valueName: "HOST[:PORT]"))
    var server: String

    @Argument(help: "The file to send ('-': standard input).")
    var local: String

    @Argument(help: "The name to store it under on the server.")
    var remote: String?

    @OptionGroup var options: TFTPClientCommandOptions

    func validate() throws {
        if self.local == "-", self.remote == nil { throw ValidationError("reading standard input needs REMOTE") }
        if self.remote == nil, TFTPGetCommand.basename(self.local).isEmpty {
            throw ValidationError("LOCAL '\(self.local)' has no file name: give REMOTE")
        }
    }

    func run() async throws {
        let remote = self.remote ?? TFTPGetCommand.basename(self.local)
        let local = self.local
        let options = self.options
        let what = "put \(local) to \(self.server)"
        try await reportingFailures {
            let server = try await options.resolve(self.server)
            let reader: any TFTPFileReader
            do {
                reader = try local == "-" ? TFTPLocalFile.standardInput() : TFTPLocalFile.reader(path: local)
            } catch let error as TFTPError {
                throw TinCanError(operation: what, cause: error.message)
            }
            let client = TFTPClient(logger: options.logger)
            try await options.running(what) { progress in
                try await client.put(reader, to: server, as: remote, options: options.clientOptions, progress: progress)
            }
        }
    }
}
