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
    /// `options` decide, through the state machine, whether `input` is read (not with
    /// `receiveOnly`) and whether the peer's bytes reach `output` (not with `sendOnly`).
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
        var machine = RelayStateMachine(options: options, hasInput: hasInput)
        let readsInput = machine.readsInput
        let source = readsInput ? input : .none
        let sink = machine.writesOutput ? output : .discard

        let result: Result<Void, TinCanError> = await withTaskGroup(of: End.self) { group in
            group.addTask {
                do {
                    for try await buffer in connection.inbound {
                        counters.received.add(buffer.readableBytes, ordering: .relaxed)
                        do {
                            try await sink.write(buffer)
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
            if readsInput {
                group.addTask {
                    var chunks = source.makeChunks().makeAsyncIterator()
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
            // Ends with the machine's `.close` or `.fail`, the last action it returns.
            while true {
                if case .none = action {
                    // Both directions reported, and the machine did not end: cannot happen, but
                    // end quietly rather than wait forever.
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
                        try await sink.end()
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

/// Closes a connection that has sent and received nothing for `limit`, raising
/// ``IdleTimeoutError`` first so that the relay's inbound stream ends with it.
///
/// Time comes from the channel's event loop (`EventLoop.now`), not the wall clock, so that tests
/// drive it with `EmbeddedEventLoop.advanceTime(by:)`; NIO's `IdleStateHandler` reads the wall clock
/// for its bookkeeping. Activity is noted once per read batch and once per write.
final class IdleTimeoutHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let limit: TimeAmount
    private var lastActivity = NIODeadline.distantPast
    private var timer: Scheduled<Void>?

    init(limit: TimeAmount) {
        self.limit = limit
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.start(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.stop()
    }

    func channelActive(context: ChannelHandlerContext) {
        if self.timer == nil { self.start(context) }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.stop()
        context.fireChannelInactive()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.lastActivity = context.eventLoop.now
        context.fireChannelReadComplete()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        self.lastActivity = context.eventLoop.now
        context.write(data, promise: promise)
    }

    private func start(_ context: ChannelHandlerContext) {
        self.lastActivity = context.eventLoop.now
        self.schedule(context, at: self.lastActivity + self.limit)
    }

    private func stop() {
        self.timer?.cancel()
        self.timer = nil
    }

    private func schedule(_ context: ChannelHandlerContext, at deadline: NIODeadline) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.timer = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = loopBound.value
            handler.check(context)
        }
    }

    private func check(_ context: ChannelHandlerContext) {
        guard self.timer != nil else { return }
        let quietUntil = self.lastActivity + self.limit
        if context.eventLoop.now < quietUntil {
            self.schedule(context, at: quietUntil)
            return
        }
        self.timer = nil
        context.fireErrorCaught(IdleTimeoutError())
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension IdleTimeoutHandler: Sendable {}

extension Channel {
    /// Configures an accepted or connected stream for relaying: idle limit, then the async wrapper.
    func makeRelayConnection(idleTimeout: TimeAmount?) throws -> RelayConnection {
        if let idleTimeout {
            try self.pipeline.syncOperations.addHandler(IdleTimeoutHandler(limit: idleTimeout))
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
