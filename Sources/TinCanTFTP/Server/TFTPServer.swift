import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import TinCanCore

/// A TFTP server (RFC 1350 with options: RFC 2347, 2348, 2349, 7440) as a lifecycle service.
///
/// Requests arrive on one socket; each transfer then runs on a socket of its own (the RFC's
/// transfer ID), so a stalled or hostile client holds only its own transfer. Files come from a
/// ``TFTPFileSystem``: a directory (``TFTPDirectory``), memory, or generated content.
///
/// - Malformed requests and stray packets on the request port get ERROR 4 (an ERROR is never
///   answered), and the server goes on.
/// - A client repeating its request while its transfer runs is ignored (the transfer answers it).
/// - Over ``TFTPServerConfiguration/maxTransfers`` a request gets ERROR 0 "server busy".
/// - Graceful shutdown stops taking requests, lets running transfers finish, and cuts dallies short.
/// - Each transfer is logged in one line at `info` (failures at `notice`), and reported to
///   `onTransfer`; `trace` logs every packet.
public final class TFTPServer: Service, Sendable {
    private let configuration: TFTPServerConfiguration
    private let fileSystem: any TFTPFileSystem
    private let group: any EventLoopGroup
    private let logger: Logger
    private let onTransfer: @Sendable (TFTPTransferReport) -> Void
    private let onServerRunning: @Sendable (SocketAddress) async -> Void
    private let active = Mutex<ActiveTransfers>(ActiveTransfers())

    /// Running transfers, by request and by client address.
    private struct ActiveTransfers {
        var keys: Set<String> = []
        var perHost: [String: Int] = [:]
        var count: Int { self.keys.count }
    }

    /// - Parameters:
    ///   - onTransfer: called once per transfer when it ends, successfully or not.
    ///   - onServerRunning: called once the request socket is bound, with its address (tests learn
    ///     which port 0 became).
    public init(
        configuration: TFTPServerConfiguration,
        fileSystem: any TFTPFileSystem,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger,
        onTransfer: @escaping @Sendable (TFTPTransferReport) -> Void = { _ in },
        onServerRunning: @escaping @Sendable (SocketAddress) async -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.fileSystem = fileSystem
        self.group = group
        self.logger = logger
        self.onTransfer = onTransfer
        self.onServerRunning = onServerRunning
    }

    /// Transfers running now.
    public var transferCount: Int { self.active.withLock { $0.count } }

    public func run() async throws {
        let endpoint = Endpoint(host: self.configuration.host, port: self.configuration.port)
        let listener: NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>
        do {
            let address = try await Resolver.resolve(endpoint, family: .any, transport: .udp)[0]
            listener = try await DatagramBootstrap(group: self.group)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                // One byte over the largest request, so an oversized one is seen as such.
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 2048))
                .bind(to: address) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(
                            wrappingChannelSynchronously: channel
                        )
                    }
                }
        } catch {
            throw TinCanError(operation: "tftp listen on \(endpoint) (udp)", underlying: error)
        }
        guard let local = listener.channel.localAddress else {
            throw TinCanError(operation: "tftp listen on \(endpoint) (udp)", cause: "the socket has no local address")
        }
        self.logger.info("tftp listening on \(local.endpointDescription) (udp)")
        await self.onServerRunning(local)

        try await withTaskCancellationOrGracefulShutdownHandler {
            try await listener.executeThenClose { inbound, outbound in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await envelope in inbound {
                        guard let request = await self.admit(envelope, outbound: outbound) else { continue }
                        group.addTask {
                            await self.serve(request, local: local)
                        }
                    }
                }
            }
        } onCancelOrGracefulShutdown: {
            self.logger.debug("tftp stopped taking requests")
            listener.channel.close(promise: nil)
        }
        self.logger.info("tftp stopped")
    }

    // MARK: requests

    private struct Admitted: Sendable {
        var key: String
        var host: String
        var peer: SocketAddress
        var isRead: Bool
        var request: TFTPRequest
        var start: ContinuousClock.Instant
    }

    /// Checks a datagram on the request port; answers what is refused there.
    private func admit(
        _ envelope: AddressedEnvelope<ByteBuffer>,
        outbound: NIOAsyncChannelOutboundWriter<AddressedEnvelope<ByteBuffer>>
    ) async -> Admitted? {
        let peer = envelope.remoteAddress
        var data = envelope.data
        let refuse: TFTPError
        if data.readableBytes > TFTPWireLimits.maxRequestBytes {
            refuse = TFTPError(.illegalOperation, "request longer than \(TFTPWireLimits.maxRequestBytes) bytes")
        } else {
            do {
                let packet = try data.readTFTPPacket()
                switch packet {
                case .error:
                    return nil
                case .readRequest(let request), .writeRequest(let request):
                    switch self.check(request, isRead: packet.opcode == .readRequest, from: peer) {
                    case .success(let admitted): return admitted
                    case .failure(let error): refuse = error
                    }
                default:
                    refuse = TFTPError(.illegalOperation, "expected a read or write request, got \(packet.opcode)")
                }
            } catch {
                refuse = error.tftpError
            }
        }
        self.logger.debug("refused a datagram", metadata: ["peer": "\(peer.endpointDescription)", "error": "\(refuse)"])
        var buffer = ByteBuffer()
        buffer.writeTFTPPacket(.error(refuse))
        try? await outbound.write(AddressedEnvelope(remoteAddress: peer, data: buffer))
        return nil
    }

    /// Admits a well-formed request, or says why not; `.success(nil)` for a repeat of a running one.
    private func check(_ request: TFTPRequest, isRead: Bool, from peer: SocketAddress) -> Result<Admitted?, TFTPError> {
        if request.mode == .mail {
            return .failure(TFTPError(.illegalOperation, "mail mode is not supported"))
        }
        guard request.mode == .octet || request.mode == .netascii else {
            return .failure(TFTPError(.illegalOperation, "unknown transfer mode '\(request.mode)'"))
        }
        // A repeat is the same request (options included) from the same address and port.
        let key = "\(peer) \(isRead ? TFTPPacket.readRequest(request) : TFTPPacket.writeRequest(request))"
        let limit = self.configuration.maxTransfers
        let perHostLimit = self.configuration.maxTransfersPerAddress
        let host = peer.ipAddress ?? "\(peer)"
        enum Verdict { case admitted, duplicate, busy, hostBusy }
        let verdict: Verdict = self.active.withLock { active in
            if active.keys.contains(key) { return .duplicate }
            if active.count >= limit { return .busy }
            if active.perHost[host, default: 0] >= perHostLimit { return .hostBusy }
            active.keys.insert(key)
            active.perHost[host, default: 0] += 1
            return .admitted
        }
        switch verdict {
        case .admitted:
            return .success(Admitted(key: key, host: host, peer: peer, isRead: isRead, request: request, start: .now))
        case .duplicate:
            self.logger.debug("repeated request ignored", metadata: ["peer": "\(peer.endpointDescription)"])
            return .success(nil)
        case .busy:
            self.logger.notice("refused \(peer.endpointDescription): \(limit) transfers running (maxTransfers)")
            return .failure(TFTPError(.notDefined, "server busy: \(limit) transfers running, try again later"))
        case .hostBusy:
            self.logger.notice("refused \(peer.endpointDescription): \(perHostLimit) transfers running for \(host) (maxTransfersPerAddress)")
            return .failure(TFTPError(.notDefined, "too many transfers from \(host): \(perHostLimit) running, try again later"))
        }
    }

    // MARK: transfers

    private func serve(_ admitted: Admitted, local: SocketAddress) async {
        defer {
            self.active.withLock { active in
                active.keys.remove(admitted.key)
                active.perHost[admitted.host, default: 1] -= 1
                if active.perHost[admitted.host] == 0 { active.perHost[admitted.host] = nil }
            }
        }
        let logger = self.transferLogger(admitted)
        let channel: any Channel
        do {
            channel = try await TFTPTransferChannel.bind(to: local, ports: self.configuration.transferPorts, group: self.group)
        } catch {
            self.logger.error("\(admitted.key): no transfer socket: \(error)")
            return
        }
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                    let (outcome, options) = await self.transfer(admitted, on: channel, logger: logger)
                    let report = TFTPTransferReport(
                        peer: admitted.peer,
                        filename: admitted.request.filename,
                        direction: admitted.isRead ? .read : .write,
                        mode: admitted.request.mode,
                        options: outcome.error == nil ? outcome.options : options,
                        stats: outcome.stats,
                        duration: ContinuousClock.now - admitted.start,
                        error: outcome.error,
                        errorFromPeer: outcome.errorFromPeer
                    )
                    if outcome.error == nil {
                        self.logger.info("\(report)")
                    } else {
                        self.logger.notice("\(report)")
                    }
                    self.onTransfer(report)
                    // A receiver dallies on its final ACK before the socket closes, unless the
                    // server is shutting down (a transfer that finished after shutdown began was
                    // not dallying when the handler below ran).
                    if Task.isShuttingDownGracefully { channel.close(promise: nil) }
                    try? await channel.closeFuture.get()
            } onGracefulShutdown: {
                // Running transfers finish; one that has reported (dallying on its final ACK) is
                // cut short. Closing before the handler is added means the file was never opened.
                channel.eventLoop.execute {
                    if (try? channel.pipeline.syncOperations.handler(type: TFTPTransferHandler.self))?.isDallying ?? true {
                        channel.close(promise: nil)
                    }
                }
            }
        } onCancel: {
            channel.close(promise: nil)
        }
    }

    /// Opens the file, negotiates and runs the transfer; an error before the transfer starts is
    /// sent from the transfer socket, as the RFC's transfer IDs ask.
    private func transfer(
        _ admitted: Admitted,
        on channel: any Channel,
        logger: Logger
    ) async -> (TFTPTransferOutcome, TFTPTransferOptions) {
        let request = admitted.request
        let netascii = request.mode == .netascii
        let limits = self.configuration.limits
        let timing = self.configuration.timing
        do {
            let machine: TFTPTransferMachine
            let file: TFTPTransferFile
            let options: TFTPTransferOptions
            if admitted.isRead {
                let reader = try await self.fileSystem.openForReading(request.filename)
                // A netascii file's size on the wire is not known without reading it all.
                let negotiated = TFTPNegotiation.negotiate(request.options, isRead: true, fileSize: netascii ? nil : reader.size, limits: limits)
                let acknowledged: [TFTPOption]
                let negotiatedOptions: TFTPTransferOptions
                switch negotiated {
                case .success(let result): (acknowledged, negotiatedOptions) = result
                case .failure(let error):
                    await reader.close()
                    throw error
                }
                options = negotiatedOptions
                let start: TFTPSenderStateMachine.Start = acknowledged.isEmpty ? .sendData : .sendOptionAck(acknowledged)
                machine = .sender(TFTPSenderStateMachine(start: start, options: options, timing: timing))
                file = .source(reader, netascii: netascii)
            } else {
                let negotiated = TFTPNegotiation.negotiate(request.options, isRead: false, fileSize: nil, limits: limits)
                let (acknowledged, negotiatedOptions) = try negotiated.get()
                options = negotiatedOptions
                let writer = try await self.fileSystem.openForWriting(request.filename, expectedSize: options.transferSize)
                let start: TFTPReceiverStateMachine.Start = acknowledged.isEmpty ? .sendAck : .sendOptionAck(acknowledged)
                machine = .receiver(TFTPReceiverStateMachine(start: start, options: options, timing: timing))
                file = .sink(writer, netascii: netascii)
            }
            let outcome = await TFTPTransferChannel.run(
                on: channel,
                machine: machine,
                file: file,
                peer: admitted.peer,
                lockPortOnFirstReply: false,
                receiveBlockSize: options.blockSize,
                windowSize: options.windowSize,
                offload: self.configuration.offload,
                logger: logger,
                progress: nil
            )
            return (outcome, options)
        } catch {
            let tftpError = error as? TFTPError ?? TFTPError(.notDefined, "\(error)")
            var buffer = channel.allocator.buffer(capacity: 64)
            buffer.writeTFTPPacket(.error(tftpError))
            try? await channel.writeAndFlush(AddressedEnvelope(remoteAddress: admitted.peer, data: buffer))
            try? await channel.close()
            let outcome = TFTPTransferOutcome(error: tftpError, errorFromPeer: false, options: TFTPTransferOptions(), stats: TFTPTransferStats(), peer: admitted.peer)
            return (outcome, TFTPTransferOptions())
        }
    }

    private func transferLogger(_ admitted: Admitted) -> Logger {
        var logger = self.logger
        logger[metadataKey: "peer"] = "\(admitted.peer.endpointDescription)"
        logger[metadataKey: "file"] = "\(admitted.request.filename)"
        return logger
    }
}
