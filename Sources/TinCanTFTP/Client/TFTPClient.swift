import Logging
import NIOCore
import NIOPosix
import TinCanCore

/// What a client asks the server for. Nil options are not requested.
public struct TFTPClientOptions: Sendable {
    /// `blksize` to request (RFC 2348). Default nil (512, RFC 1350).
    public var blockSize: Int?
    /// `windowsize` to request (RFC 7440). Default nil (1, lock-step).
    public var windowSize: Int?
    /// `timeout` in seconds to request (RFC 2349); nil keeps the adaptive timeout. Default nil.
    public var timeoutSeconds: Int?
    /// Ask for `tsize` (RFC 2349): on a get the server answers with the file's size (used for the
    /// progress total); on a put the local size is sent so the server can refuse a file too big
    /// before any data moves. Default true.
    public var transferSize: Bool
    /// `octet` or `netascii`. Default octet.
    public var mode: TFTPMode
    /// Retries, timeouts, rollover. Default ``TFTPTiming/init(maxRetries:initialTimeout:minTimeout:maxTimeout:rolloverTo:dally:giveUpAfter:)``:
    /// no fixed dally, so a client dallies four current timeouts and exits promptly.
    public var timing: TFTPTiming
    /// Kernel batching of datagrams for windowed transfers. Default: both on.
    public var offload: TFTPOffload

    public init(
        blockSize: Int? = nil,
        windowSize: Int? = nil,
        timeoutSeconds: Int? = nil,
        transferSize: Bool = true,
        mode: TFTPMode = .octet,
        timing: TFTPTiming = TFTPTiming(),
        offload: TFTPOffload = TFTPOffload()
    ) {
        self.blockSize = blockSize
        self.windowSize = windowSize
        self.timeoutSeconds = timeoutSeconds
        self.transferSize = transferSize
        self.mode = mode
        self.timing = timing
        self.offload = offload
    }

    func requestOptions(size: Int?) -> [TFTPOption] {
        var options: [TFTPOption] = []
        if let blockSize { options.append(TFTPOption(name: TFTPOptionName.blockSize, value: String(blockSize))) }
        if let windowSize { options.append(TFTPOption(name: TFTPOptionName.windowSize, value: String(windowSize))) }
        if let timeoutSeconds { options.append(TFTPOption(name: TFTPOptionName.timeout, value: String(timeoutSeconds))) }
        // netascii changes the size on the wire, so tsize is only exact for octet.
        if self.transferSize, self.mode == .octet {
            options.append(TFTPOption(name: TFTPOptionName.transferSize, value: String(size ?? 0)))
        }
        return options
    }
}

/// A transfer the client could not complete.
public struct TFTPClientError: Error, Sendable, CustomStringConvertible {
    /// The error: the server's ERROR packet, or this side's (a timeout, a local file error).
    public var error: TFTPError
    /// The error came from the server.
    public var fromServer: Bool
    /// What was moved before it failed.
    public var report: TFTPTransferReport

    public var description: String {
        if self.fromServer {
            return "server error \(self.error.code.rawValue) (\(self.error.code)): \(self.error.message)"
        }
        return self.error.message
    }
}

/// A TFTP client: downloads (`get`) and uploads (`put`) with options, falling back to plain
/// RFC 1350 when the server refuses them with ERROR 8 (a server that ignores them answers with DATA
/// or ACK 0, which the state machines accept as they are).
public struct TFTPClient: Sendable {
    private let group: any EventLoopGroup
    private let logger: Logger

    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) {
        self.group = group
        self.logger = logger
    }

    /// Downloads `remote` from `server` into `writer`, and commits it when every byte has arrived;
    /// on failure the writer is aborted.
    ///
    /// - Throws: ``TFTPClientError``.
    @discardableResult
    public func get(
        _ remote: String,
        from server: SocketAddress,
        into writer: any TFTPFileWriter,
        options: TFTPClientOptions = TFTPClientOptions(),
        progress: TFTPProgress? = nil
    ) async throws -> TFTPTransferReport {
        do {
            return try await self.withFallback(options) { requested in
                let request = TFTPRequest(filename: remote, mode: options.mode, options: requested)
                let machine = TFTPReceiverStateMachine(start: .sendRequest(request), options: TFTPTransferOptions(), timing: options.timing)
                return (.receiver(machine), .sink(writer, netascii: options.mode == .netascii), request)
            } run: { machine, file, request in
                try await self.run(machine, file: file, request: request, direction: .read, server: server, options: options, progress: progress)
            }
        } catch {
            await writer.abort()
            throw error
        }
    }

    /// Uploads what `reader` gives to `server` as `remote`.
    ///
    /// - Throws: ``TFTPClientError``.
    @discardableResult
    public func put(
        _ reader: any TFTPFileReader,
        to server: SocketAddress,
        as remote: String,
        options: TFTPClientOptions = TFTPClientOptions(),
        progress: TFTPProgress? = nil
    ) async throws -> TFTPTransferReport {
        progress?.set(total: options.mode == .octet ? reader.size : nil)
        // The first attempt reads ahead; a retry without options must see those bytes again.
        let replayable = ReplayableReader(reader)
        defer { Task { await reader.close() } }
        return try await self.withFallback(options, size: reader.size) { requested in
            let request = TFTPRequest(filename: remote, mode: options.mode, options: requested)
            let machine = TFTPSenderStateMachine(start: .sendRequest(request), options: TFTPTransferOptions(), timing: options.timing)
            replayable.rewind()
            return (.sender(machine), .source(replayable, netascii: options.mode == .netascii), request)
        } run: { machine, file, request in
            try await self.run(machine, file: file, request: request, direction: .write, server: server, options: options, progress: progress)
        }
    }

    /// Runs with the requested options; when the server answers them with ERROR 8 before any data
    /// moved, runs again without any.
    private func withFallback(
        _ options: TFTPClientOptions,
        size: Int? = nil,
        make: ([TFTPOption]) -> (TFTPTransferMachine, TFTPTransferFile, TFTPRequest),
        run: (TFTPTransferMachine, TFTPTransferFile, TFTPRequest) async throws -> TFTPTransferReport
    ) async throws -> TFTPTransferReport {
        let requested = options.requestOptions(size: size)
        let (machine, file, request) = make(requested)
        do {
            return try await run(machine, file, request)
        } catch let failure as TFTPClientError
            where failure.fromServer && failure.error.code == .optionNegotiationFailed && !requested.isEmpty
            && failure.report.stats.bytes == 0
        {
            self.logger.debug("server refused options (\(failure.error.message)); retrying without them")
            let (machine, file, request) = make([])
            return try await run(machine, file, request)
        }
    }

    private func run(
        _ machine: TFTPTransferMachine,
        file: TFTPTransferFile,
        request: TFTPRequest,
        direction: TFTPTransferReport.Direction,
        server: SocketAddress,
        options: TFTPClientOptions,
        progress: TFTPProgress?
    ) async throws -> TFTPTransferReport {
        let start = ContinuousClock.now
        let wildcard = try SocketAddress(ipAddress: server.protocol == .inet6 ? "::" : "0.0.0.0", port: 0)
        let channel: any Channel
        do {
            channel = try await TFTPTransferChannel.bind(to: wildcard, ports: nil, group: self.group)
        } catch {
            throw TinCanError(operation: "tftp: open a UDP socket", underlying: error)
        }
        var logger = self.logger
        logger[metadataKey: "server"] = "\(server.endpointDescription)"
        let outcome = await withTaskCancellationHandler {
            await TFTPTransferChannel.run(
                on: channel,
                machine: machine,
                file: file,
                peer: server,
                lockPortOnFirstReply: true,
                receiveBlockSize: options.blockSize ?? TFTPWireLimits.defaultBlockSize,
                windowSize: options.windowSize ?? 1,
                offload: options.offload,
                logger: logger,
                progress: progress,
                ownsFile: false
            )
        } onCancel: {
            channel.close(promise: nil)
        }
        if let total = outcome.options.transferSize, direction == .read { progress?.set(total: total) }
        // A receiver's socket dallies on after its final ACK (sent twice), answering a repeated last
        // block, and closes itself; the caller has its file now and does not wait for that. A
        // process that exits at once (the CLI) relies on the doubled ACK, as tftp-hpa's client and
        // curl rely on a single one.
        let report = TFTPTransferReport(
            peer: outcome.peer ?? server,
            filename: request.filename,
            direction: direction,
            mode: request.mode,
            options: outcome.options,
            stats: outcome.stats,
            duration: ContinuousClock.now - start,
            error: outcome.error,
            errorFromPeer: outcome.errorFromPeer,
            isClient: true
        )
        if let error = outcome.error {
            throw TFTPClientError(error: error, fromServer: outcome.errorFromPeer, report: report)
        }
        return report
    }
}
