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

/// Copies bytes both ways between one TCP connection and a local input and output, ending each
/// direction on its own, as TCP's half-close means (see the end-of-stream table in the README):
///
/// - the input reaches end of file: send FIN and keep copying the peer's bytes until the peer's FIN;
/// - the peer's FIN arrives first: finish writing the output, and keep sending the input until its
///   end of file; unless the input is a terminal (a person is done once the peer has gone) or
///   there is no input (`--recv-only`);
/// - a send fails with a broken pipe or reset after the peer's FIN: the peer simply went away, which
///   ends the relay without error; before the peer's FIN it is an error.
enum ConnectionRelay {
    private enum Side: Sendable {
        case peerFinished
        case inputFinished
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

        do {
            try await withThrowingTaskGroup(of: Side.self) { group in
                group.addTask {
                    do {
                        for try await buffer in connection.inbound {
                            counters.received.add(buffer.readableBytes, ordering: .relaxed)
                            try await output.write(buffer)
                        }
                    } catch let error as IdleTimeoutError {
                        try? await output.end()
                        throw error
                    } catch let error as TinCanError {
                        throw error
                    } catch where TinCanError.errno(of: error) == EPIPE {
                        // Linux reports a reset that follows the peer's FIN as EPIPE: the peer had
                        // finished sending, then closed for good because we sent more. Its stream
                        // ended normally; the send side decides whether that is a failure.
                        logger.debug("receive from \(peerName) after its FIN: reset")
                    } catch {
                        // What arrived before the failure still reaches the output.
                        try? await output.end()
                        throw TinCanError(operation: "receive from \(peerName)", underlying: error)
                    }
                    counters.peerFinished.store(true, ordering: .relaxed)
                    logger.info("\(peerName) half-closed the connection (FIN received)")
                    try await output.end()
                    return .peerFinished
                }
                if hasInput {
                    group.addTask {
                        for try await buffer in input.makeChunks() {
                            do {
                                let count = buffer.readableBytes
                                try await channel.writeAndFlush(buffer)
                                counters.sent.add(count, ordering: .relaxed)
                            } catch {
                                throw SendFailure(error: error)
                            }
                        }
                        do {
                            try await channel.close(mode: .output)
                            logger.info("sent FIN to \(peerName) (end of input)")
                        } catch {
                            throw SendFailure(error: error)
                        }
                        return .inputFinished
                    }
                }

                var pending: Set<Side> = hasInput ? [.peerFinished, .inputFinished] : [.peerFinished]
                do {
                    while let side = try await group.next() {
                        pending.remove(side)
                        if pending.isEmpty { break }
                        if side == .peerFinished, options.inputIsTerminal {
                            break
                        }
                    }
                } catch let failure as SendFailure {
                    // The peer went away while we were still sending. After its FIN that is how a
                    // conversation ends; before, our data was cut off.
                    let code = TinCanError.errno(of: failure.error)
                    let peerGone = code == EPIPE || code == ECONNRESET || failure.error is ChannelError
                    if peerGone, !counters.peerFinished.load(ordering: .relaxed) {
                        // The FIN may have arrived but not been read yet (our output was slow):
                        // let the receiving side finish before judging.
                        while let side = try? await group.next(), side != .peerFinished {}
                    }
                    if !(peerGone && counters.peerFinished.load(ordering: .relaxed)) {
                        channel.close(promise: nil)
                        throw TinCanError(operation: "send to \(peerName)", underlying: failure.error)
                    }
                    logger.info("\(peerName) closed the connection while input remained")
                } catch {
                    channel.close(promise: nil)
                    throw error
                }
                group.cancelAll()
                // Closing unblocks a send that waits on a peer which stopped reading.
                try? await channel.close()
            }
        } catch is IdleTimeoutError {
            try? await channel.close()
            let limit = options.idleTimeout.map(TinCanError.seconds) ?? "?"
            throw TinCanError(operation: "connection with \(peerName)", cause: "idle for \(limit), closed (--idle-timeout)")
        } catch {
            try? await channel.close()
            throw error
        }
        let totals = counters.stats
        logger.info("closed connection with \(peerName): \(totals.sent) bytes sent, \(totals.received) bytes received")
        return totals
    }

    private struct SendFailure: Error {
        var error: any Error
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
