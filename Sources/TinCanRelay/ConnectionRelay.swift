#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOCore
import NIOPosix
import Synchronization
import TinCanCore

/// A connected TCP stream as the relay uses it.
public typealias RelayConnection = NIOAsyncChannel<ByteBuffer, ByteBuffer>

/// Copies bytes both ways between one TCP connection and a local input and output, and ends each
/// direction on its own as ``RelayStateMachine`` decides (the README's end-of-stream table).
///
/// Two child tasks copy, one per direction, and report only how their direction ended; this
/// function feeds those ends to the state machine and carries out its actions (send FIN, finish the
/// output, close, fail), so the rules live in one pure place and the copying loops stay bare.
enum ConnectionRelay {
    /// How one copying direction ended.
    private enum End: Sendable {
        /// Our input reached end of file.
        case inputEnded
        /// Reading our input failed.
        case inputFailed(any Error)
        /// A send to the peer failed.
        case sendFailed(any Error)
        /// The peer's stream ended with its FIN.
        case peerFinished
        /// Receiving from the peer failed.
        case receiveFailed(any Error)
        /// The connection idled past its limit.
        case idleTimedOut
        /// Writing our output failed.
        case outputFailed(any Error)
    }

    /// Runs the relay until both directions have ended, then closes the connection.
    ///
    /// - Throws: ``TinCanError`` naming `peerName` when the connection fails or idles out.
    static func run(
        _ connection: RelayConnection,
        input: RelayInput,
        output: RelayOutput,
        options: RelayOptions,
        peerName: String,
        logger: Logger
    ) async throws -> RelayStats {
        let channel = connection.channel
        let counters = RelayCounters()
        let hasInput: Bool = if case .none = input { false } else { true }
        var machine = RelayStateMachine(hasInput: hasInput, inputIsTerminal: options.inputIsTerminal)

        let result: Result<Void, TinCanError> = await withTaskGroup(of: End.self) { group in
            group.addTask {
                do {
                    for try await buffer in connection.inbound {
                        counters.received.add(buffer.readableBytes, ordering: .relaxed)
                        do {
                            try await output.write(buffer)
                        } catch {
                            return .outputFailed(error)
                        }
                    }
                    return .peerFinished
                } catch is IdleTimeoutError {
                    return .idleTimedOut
                } catch {
                    return .receiveFailed(error)
                }
            }
            if hasInput {
                group.addTask {
                    var chunks = input.makeChunks().makeAsyncIterator()
                    while true {
                        let next: ByteBuffer?
                        do {
                            next = try await chunks.next()
                        } catch {
                            return .inputFailed(error)
                        }
                        guard let buffer = next else { return .inputEnded }
                        do {
                            let count = buffer.readableBytes
                            try await channel.writeAndFlush(buffer)
                            counters.sent.add(count, ordering: .relaxed)
                        } catch {
                            return .sendFailed(error)
                        }
                    }
                }
            }

            // The error behind the latest failure event, for the message of a `.fail` action.
            var lastError: (any Error)?
            // A send failed because the peer went away, and the machine did not call it a failure.
            var peerWentAway = false
            var action = RelayStateMachine.Action.none
            while !machine.hasEnded {
                if case .none = action {
                    guard let end = await group.next() else { break }
                    switch end {
                    case .inputEnded:
                        action = machine.inputEnded()
                    case .inputFailed(let error):
                        lastError = error
                        action = machine.inputFailed()
                    case .sendFailed(let error):
                        lastError = error
                        action = machine.sendFailed(sendError(error))
                        peerWentAway = true
                        if case .none = action {
                            logger.debug("send to \(peerName) failed (\(TinCanError.cause(of: error))): waiting for its FIN")
                        }
                    case .peerFinished:
                        counters.peerFinished.store(true, ordering: .relaxed)
                        logger.info("\(peerName) half-closed the connection (FIN received)")
                        action = machine.peerFinished()
                    case .receiveFailed(let error):
                        let code = TinCanError.errno(of: error)
                        if code == EPIPE {
                            counters.peerFinished.store(true, ordering: .relaxed)
                            logger.debug("receive from \(peerName) after its FIN: reset")
                        } else {
                            lastError = error
                        }
                        action = machine.receiveFailed(errno: code)
                    case .idleTimedOut:
                        action = machine.idleTimedOut()
                    case .outputFailed(let error):
                        lastError = error
                        action = machine.outputFailed()
                    }
                }
                switch action {
                case .none:
                    continue
                case .sendFIN:
                    do {
                        try await channel.close(mode: .output)
                        logger.info("sent FIN to \(peerName) (end of input)")
                        action = machine.finSent()
                    } catch {
                        lastError = error
                        peerWentAway = true
                        action = machine.sendFailed(sendError(error))
                    }
                case .finishOutput:
                    do {
                        try await output.end()
                        action = machine.outputFinished()
                    } catch {
                        lastError = error
                        action = machine.outputFailed()
                    }
                case .close:
                    if peerWentAway {
                        logger.info("\(peerName) closed the connection while input remained")
                    }
                    group.cancelAll()
                    // Closing unblocks a send that waits on a peer which stopped reading.
                    try? await channel.close()
                    return .success(())
                case .fail(let failure):
                    group.cancelAll()
                    channel.close(promise: nil)
                    let limit = options.idleTimeout.map(TinCanError.seconds) ?? "?"
                    return .failure(failure.error(peerName: peerName, underlying: lastError, idleLimit: limit))
                }
            }
            group.cancelAll()
            try? await channel.close()
            return .success(())
        }
        try? await channel.close()
        try result.get()
        let totals = counters.stats
        logger.info("closed connection with \(peerName): \(totals.sent) bytes sent, \(totals.received) bytes received")
        return totals
    }

    /// A failed send as the state machine tells them apart.
    private static func sendError(_ error: any Error) -> RelayStateMachine.SendError {
        if let code = TinCanError.errno(of: error) { return .errno(code) }
        return error is ChannelError ? .channelClosed : .other
    }
}

/// Byte counts shared by the two directions of a relay.
final class RelayCounters: Sendable {
    let sent = Atomic<Int>(0)
    let received = Atomic<Int>(0)
    let peerFinished = Atomic<Bool>(false)

    var stats: RelayStats {
        RelayStats(
            sent: self.sent.load(ordering: .relaxed),
            received: self.received.load(ordering: .relaxed),
            peerFinished: self.peerFinished.load(ordering: .relaxed)
        )
    }
}

/// Raised into the pipeline when a connection has been idle for longer than its limit.
struct IdleTimeoutError: Error {}

/// Turns `IdleStateHandler`'s event into an error that ends the connection's inbound stream.
final class IdleTimeoutHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.fireErrorCaught(IdleTimeoutError())
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

@available(*, unavailable)
extension IdleTimeoutHandler: Sendable {}

extension Channel {
    /// Configures an accepted or connected stream for relaying: idle limit, then the async wrapper.
    func makeRelayConnection(idleTimeout: TimeAmount?) throws -> RelayConnection {
        if let idleTimeout {
            try self.pipeline.syncOperations.addHandlers([
                IdleStateHandler(allTimeout: idleTimeout),
                IdleTimeoutHandler(),
            ])
        }
        let connection = try RelayConnection(
            wrappingChannelSynchronously: self,
            configuration: .init(isOutboundHalfClosureEnabled: false)
        )
        // The relay writes with `Channel.writeAndFlush`, which any task may call and whose future
        // says when the kernel has the bytes; the async writer stays unused, and must be finished
        // so that dropping the connection (a refused client, say) is not mistaken for a leak.
        connection.outbound.finish()
        return connection
    }
}
