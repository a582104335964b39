import NIOCore
import Synchronization
import TinCanCore

// Why not NIOAsyncChannel: its inbound stream ends for good when a task waiting on it is cancelled,
// and a timeout is a cancellation. A socket library whose `receive(timeout:)` may run out and be
// called again (Python's `settimeout`, Go's deadlines) needs waits that can be abandoned and a stream
// that survives them. This handler keeps NIOAsyncChannel's other properties: reads stop while the
// consumer is behind (bounded buffering), and writers wait while the channel is not writable.

/// What a bridge buffers between the channel and the tasks that read: bytes of a stream, datagrams,
/// accepted connections. (`SendableMetatype`: the handle's closures name the store's type on the
/// event loop.)
protocol BridgeStore: SendableMetatype {
    associatedtype Element
    associatedtype Request: Sendable
    associatedtype Output: Sendable

    /// How much is buffered, in the unit of the bridge's limit (bytes, or items).
    var cost: Int { get }
    /// Adds what the channel read.
    mutating func append(_ element: Element)
    /// Answers a request from what is buffered; `ended` says that nothing more will come.
    mutating func answer(_ request: Request, ended: Bool) -> BridgeAnswer<Output>
    /// How much must be buffered before `request` can be answered (reads continue until then even
    /// past the bridge's limit).
    func need(_ request: Request) -> Int
    /// Drops what is buffered when the channel closes (closing queued connections, say).
    mutating func discardAll()
}

/// A store's answer to a request.
enum BridgeAnswer<Output> {
    /// Not yet: more input is needed.
    case wait
    /// The answer.
    case value(Output)
    /// Nothing is buffered and the input has ended.
    case empty
    /// The input ended partway through what the request needs (`received` of `needed`).
    case incomplete(received: Int, needed: Int)
    /// The request cannot be answered (a line over the limit).
    case failure(TinCanError)
}

/// Waiter ids, unique across all bridges, so that a cancellation that overtakes its registration is
/// recognised when the registration arrives.
private let waiterIDs = Atomic<Int>(0)

// The waiters are not nested in the generic `InboundBridge`: a nested type is generic too, and
// the specialized bridge then looked up its metadata at run time on every receive.

/// A task waiting in a bridge for an answer to `request`. A class: copying a generic struct made
/// the specialized bridge look its metadata up at run time (in code that the optimizer merged for
/// several types); a reference copies without.
private final class BridgeReadWaiter<Request, Output> {
    let id: Int
    let request: Request
    let continuation: CheckedContinuation<Output?, any Error>
    var timer: Scheduled<Void>?

    init(id: Int, request: Request, continuation: CheckedContinuation<Output?, any Error>, timer: Scheduled<Void>?) {
        self.id = id
        self.request = request
        self.continuation = continuation
        self.timer = timer
    }
}

/// A task waiting in a bridge after a write.
private struct WriteWaiter {
    var id: Int
    /// Waits for its own write to complete (resumed by the write's promise), rather than for the
    /// channel to become writable (resumed by writability).
    var untilWritten: Bool
    var continuation: CheckedContinuation<Void, any Error>
    var timer: Scheduled<Void>?
}

/// A channel handler that buffers what its channel reads, with a limit, and hands it to tasks that
/// wait with a timeout; and that lets tasks write and wait for the channel's writability.
///
/// Everything here runs on the channel's event loop; tasks reach it through ``BridgeHandle``.
///
/// The bridge is not itself the channel handler: NIO calls a handler through its protocol witnesses,
/// and those of a generic class run unspecialized (an echo server on TinCan spent a tenth of its
/// time looking up generic metadata). A ``BridgeChannelHandler`` of a concrete type forwards to it
/// instead, so the optimizer specializes the bridge for each store.
final class InboundBridge<Store: BridgeStore> {

    /// How the input ended.
    enum End {
        /// The peer's end of stream (TCP FIN).
        case eof
        /// An error ended it (a reset).
        case failed(any Error)
        /// We closed the channel.
        case closed
    }

    private typealias Waiter = BridgeReadWaiter<Store.Request, Store.Output>

    /// What a channel error means for the bridge.
    enum ErrorPolicy {
        /// It ends the input: receives then throw it (a connection's reset).
        case endsInput
        /// It is handed to one waiting receive and the input goes on (a UDP socket's ICMP port
        /// unreachable).
        case handedToOneReceive
        /// It is dropped and the input goes on: a listener's accept errors (`EMFILE`, `ENFILE`,
        /// `ENOBUFS`, `ENOMEM`, `ECONNABORTED`), after which NIO keeps the listener open. The last one
        /// is kept: when the channel then closes by itself, it is why.
        case dropped
    }


    private var store: Store
    private let limit: Int
    /// Reads are the store's elements (a connection, a datagram socket) rather than something to
    /// pass on (a server channel's accepted children, which its accept handler must still see).
    private let consumesReads: Bool
    /// What an error that reaches the bridge does.
    private let errorPolicy: ErrorPolicy

    private var context: ChannelHandlerContext?
    private var waiters = CircularBuffer<Waiter>()
    private var writeWaiters: [WriteWaiter] = []
    private var cancelledEarly: Set<Int> = []
    private var end: End?
    private var transientError: (any Error)?
    /// The last error dropped (``ErrorPolicy/dropped``).
    private var droppedError: (any Error)?
    private var writeFailure: (any Error)?
    private var readHeldBack = false
    private var closedLocally = false
    /// Runs once when the channel becomes active: an accepted connection is handed to the program
    /// only then, since NIO registers it after its initializer has run.
    var onActive: (() -> Void)?

    init(store: Store, limit: Int, consumesReads: Bool = true, errors: ErrorPolicy = .endsInput) {
        self.store = store
        self.limit = limit
        self.consumesReads = consumesReads
        self.errorPolicy = errors
    }

    // MARK: channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.finish(.closed)
        self.context = nil
        self.onActive = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        if let onActive = self.onActive {
            self.onActive = nil
            onActive()
        }
        context.fireChannelActive()
    }

    /// Whether `channelRead` should take the read (``append(_:)``) or pass it on.
    var takesReads: Bool { self.consumesReads }

    /// Takes one read of the channel.
    func append(_ element: Store.Element) {
        self.store.append(element)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.serve()
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            self.finish(.eof)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch self.errorPolicy {
        case .endsInput:
            self.finish(.failed(error))
        case .handedToOneReceive:
            self.transientError = error
            self.serve()
        case .dropped:
            self.droppedError = error
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        // A channel that closes with no error and not by our hand has ended cleanly: NIO closes a
        // stream whose two directions have both ended, without an input-closed event for the second.
        if let failure = self.writeFailure {
            self.finish(.failed(failure))
        } else if self.closedLocally {
            self.finish(.closed)
        } else if let error = self.droppedError {
            // A listener that NIO closed after an accept error it could not get over.
            self.finish(.failed(error))
        } else {
            self.finish(.eof)
        }
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            // Only the writers waiting for room: one waiting for its write to complete (close's
            // empty write, a datagram) is resumed by that write's promise, not by room in the queue.
            self.resumeWritersWaitingForRoom()
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if self.store.cost >= self.readLimit {
            self.readHeldBack = true
        } else {
            context.read()
        }
    }

    // MARK: from tasks (on the event loop)

    /// Answers `request` now if it can; otherwise registers a waiter until it can, or `timeout` runs out.
    func receive(
        _ request: Store.Request,
        id: Int,
        timeout: TimeAmount?,
        continuation: CheckedContinuation<Store.Output?, any Error>
    ) {
        if self.cancelledEarly.remove(id) != nil {
            continuation.resume(throwing: CancellationError())
            return
        }
        var timer: Scheduled<Void>?
        if let timeout, let loop = self.context?.eventLoop {
            timer = loop.assumeIsolated().scheduleTask(in: timeout) { [self] in
                self.timeOut(id, after: timeout)
            }
        }
        self.waiters.append(Waiter(id: id, request: request, continuation: continuation, timer: timer))
        self.serve()
        // A request that needs more than the limit reads on past it.
        self.readIfHeldBack()
    }

    /// Pushes an element that did not come from this channel's reads (an accepted connection).
    func push(_ element: Store.Element) {
        guard self.end == nil else {
            self.store.append(element)
            self.store.discardAll()
            return
        }
        self.store.append(element)
        self.serve()
    }

    /// Writes `data` and resumes `continuation` once the channel is writable again, or (with
    /// `awaitCompletion`) once the write itself has completed.
    func write(
        _ data: NIOAny,
        id: Int,
        timeout: TimeAmount?,
        awaitCompletion: Bool,
        continuation: CheckedContinuation<Void, any Error>
    ) {
        if self.cancelledEarly.remove(id) != nil {
            continuation.resume(throwing: CancellationError())
            return
        }
        guard let context = self.context, context.channel.isActive else {
            continuation.resume(throwing: self.writeFailure ?? ChannelError.ioOnClosedChannel)
            return
        }
        if let failure = self.writeFailure {
            continuation.resume(throwing: failure)
            return
        }
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(data, promise: promise)
        let written = promise.futureResult.assumeIsolated()
        if awaitCompletion {
            self.addWriteWaiter(id: id, untilWritten: true, timeout: timeout, continuation: continuation)
            written.whenComplete { [self] result in
                self.resumeWriter(id, with: result)
            }
            return
        }
        written.whenFailure { [self] error in
            // Writes after the first failure fail the same way; the connection is over.
            if self.writeFailure == nil { self.writeFailure = error }
            self.resumeWriters(with: .failure(error))
        }
        if let failure = self.writeFailure {
            // The write failed at once (the output is already shut down, say).
            continuation.resume(throwing: failure)
        } else if context.channel.isWritable {
            continuation.resume()
        } else {
            self.addWriteWaiter(id: id, untilWritten: false, timeout: timeout, continuation: continuation)
        }
    }

    /// The program is closing the channel: waiting receives end with "closed", not end-of-stream.
    func closeLocally() {
        self.closedLocally = true
    }

    /// A task stopped waiting (cancelled): its waiter, read or write, ends with `CancellationError`.
    func cancel(_ id: Int) {
        if let index = self.waiters.firstIndex(where: { $0.id == id }) {
            let waiter = self.waiters.remove(at: index)
            waiter.timer?.cancel()
            waiter.continuation.resume(throwing: CancellationError())
            self.readIfHeldBack()
        } else if let index = self.writeWaiters.firstIndex(where: { $0.id == id }) {
            let waiter = self.writeWaiters.remove(at: index)
            waiter.timer?.cancel()
            waiter.continuation.resume(throwing: CancellationError())
        } else {
            // The cancellation overtook the registration, or the waiter is already done. An id
            // left here by a finished waiter is never looked up again: ids are not reused.
            self.cancelledEarly.insert(id)
        }
    }

    // MARK: internals

    /// What the store holds, in the limit's unit.
    var bufferedCost: Int { self.store.cost }

    /// How many writers wait; for tests.
    var writeWaiterCount: Int { self.writeWaiters.count }

    private var readLimit: Int {
        max(self.limit, self.waiters.first.map { self.store.need($0.request) } ?? 0)
    }

    private func readIfHeldBack() {
        guard self.readHeldBack, self.store.cost < self.readLimit, let context = self.context else { return }
        self.readHeldBack = false
        context.read()
    }

    private func finish(_ end: End) {
        if self.end == nil { self.end = end }
        self.serve()
        if self.context?.channel.isActive != true {
            self.store.discardAll()
            self.resumeWriters(with: .failure(self.writeFailure ?? ChannelError.ioOnClosedChannel))
        }
    }

    /// Answers waiters, oldest first, for as long as the store can.
    private func serve() {
        while let waiter = self.waiters.first {
            let answer = self.store.answer(waiter.request, ended: self.end != nil)
            let result: Result<Store.Output?, any Error>
            switch answer {
            case .wait:
                guard let error = self.transientError else {
                    self.readIfHeldBack()
                    return
                }
                self.transientError = nil
                result = .failure(error)
            case .value(let output):
                result = .success(output)
            case .failure(let error):
                result = .failure(error)
            case .empty:
                switch self.end {
                case .eof, nil:
                    // After our own close, the end of the peer's stream is old news: the socket is
                    // closed, as a receive after close() always says.
                    result = self.closedLocally ? .failure(ChannelError.ioOnClosedChannel) : .success(nil)
                case .failed(let error): result = .failure(error)
                case .closed: result = .failure(ChannelError.ioOnClosedChannel)
                }
            case .incomplete(let received, let needed):
                if case .failed(let error) = self.end {
                    result = .failure(error)
                } else {
                    result = .failure(TinCanError(
                        operation: "", cause: "the peer ended the stream after \(received) of \(needed) bytes",
                        kind: .closed
                    ))
                }
            }
            self.waiters.removeFirst()
            waiter.timer?.cancel()
            waiter.continuation.resume(with: result)
        }
        self.readIfHeldBack()
    }

    private func timeOut(_ id: Int, after timeout: TimeAmount) {
        let cause = "timed out after \(TinCanError.seconds(timeout))"
        let error = TinCanError(operation: "", cause: cause, kind: .timedOut)
        if let index = self.waiters.firstIndex(where: { $0.id == id }) {
            self.waiters.remove(at: index).continuation.resume(throwing: error)
            self.readIfHeldBack()
        } else if let index = self.writeWaiters.firstIndex(where: { $0.id == id }) {
            self.writeWaiters.remove(at: index).continuation.resume(throwing: error)
        }
    }

    private func addWriteWaiter(
        id: Int,
        untilWritten: Bool,
        timeout: TimeAmount?,
        continuation: CheckedContinuation<Void, any Error>
    ) {
        var timer: Scheduled<Void>?
        if let timeout, let loop = self.context?.eventLoop {
            timer = loop.assumeIsolated().scheduleTask(in: timeout) { [self] in
                self.timeOut(id, after: timeout)
            }
        }
        self.writeWaiters.append(
            WriteWaiter(id: id, untilWritten: untilWritten, continuation: continuation, timer: timer)
        )
    }

    private func resumeWriter(_ id: Int, with result: Result<Void, any Error>) {
        guard let index = self.writeWaiters.firstIndex(where: { $0.id == id }) else { return }
        let waiter = self.writeWaiters.remove(at: index)
        waiter.timer?.cancel()
        waiter.continuation.resume(with: result)
    }

    private func resumeWritersWaitingForRoom() {
        var waiting: [WriteWaiter] = []
        var resumed: [WriteWaiter] = []
        for waiter in self.writeWaiters {
            if waiter.untilWritten { waiting.append(waiter) } else { resumed.append(waiter) }
        }
        self.writeWaiters = waiting
        for waiter in resumed {
            waiter.timer?.cancel()
            waiter.continuation.resume()
        }
    }

    private func resumeWriters(with result: Result<Void, any Error>) {
        let waiters = self.writeWaiters
        self.writeWaiters.removeAll()
        for waiter in waiters {
            waiter.timer?.cancel()
            waiter.continuation.resume(with: result)
        }
    }
}

@available(*, unavailable)
extension InboundBridge: Sendable {}

/// The channel handler in front of an ``InboundBridge``: a concrete class per store type
/// (``StreamBridgeHandler``, ``ListenerBridgeHandler``, ``DatagramBridgeHandler``), whose every
/// method forwards to the bridge.
protocol BridgeChannelHandler: ChannelDuplexHandler, RemovableChannelHandler
where InboundIn == Store.Element, OutboundIn == Any {
    associatedtype Store: BridgeStore
    var bridge: InboundBridge<Store> { get }
}

extension BridgeChannelHandler {
    func handlerAdded(context: ChannelHandlerContext) { self.bridge.handlerAdded(context: context) }
    func handlerRemoved(context: ChannelHandlerContext) { self.bridge.handlerRemoved(context: context) }
    func channelActive(context: ChannelHandlerContext) { self.bridge.channelActive(context: context) }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if self.bridge.takesReads {
            self.bridge.append(Self.unwrapInboundIn(data))
        } else {
            context.fireChannelRead(data)
        }
    }
    func channelReadComplete(context: ChannelHandlerContext) { self.bridge.channelReadComplete(context: context) }
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        self.bridge.userInboundEventTriggered(context: context, event: event)
    }
    func errorCaught(context: ChannelHandlerContext, error: any Error) { self.bridge.errorCaught(context: context, error: error) }
    func channelInactive(context: ChannelHandlerContext) { self.bridge.channelInactive(context: context) }
    func channelWritabilityChanged(context: ChannelHandlerContext) { self.bridge.channelWritabilityChanged(context: context) }
    func read(context: ChannelHandlerContext) { self.bridge.read(context: context) }
}

/// The handler of a TCP connection's bridge.
final class StreamBridgeHandler: BridgeChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = Any
    let bridge: InboundBridge<StreamStore>
    init(_ bridge: InboundBridge<StreamStore>) { self.bridge = bridge }
}

/// The handler of a listener's bridge (the accepted connections).
final class ListenerBridgeHandler: BridgeChannelHandler {
    /// Passed on, not taken: the accept handler after it makes connections of the children.
    typealias InboundIn = TCPConnection
    typealias OutboundIn = Any
    let bridge: InboundBridge<QueueStore<TCPConnection>>
    init(_ bridge: InboundBridge<QueueStore<TCPConnection>>) { self.bridge = bridge }
}

/// The handler of a UDP socket's bridge.
final class DatagramBridgeHandler: BridgeChannelHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundIn = Any
    let bridge: InboundBridge<QueueStore<AddressedEnvelope<ByteBuffer>>>
    init(_ bridge: InboundBridge<QueueStore<AddressedEnvelope<ByteBuffer>>>) { self.bridge = bridge }
}

@available(*, unavailable)
extension StreamBridgeHandler: Sendable {}
@available(*, unavailable)
extension DatagramBridgeHandler: Sendable {}
@available(*, unavailable)
extension ListenerBridgeHandler: Sendable {}

/// The bridge as tasks see it: every call hops to the channel's event loop.
struct BridgeHandle<Store: BridgeStore>: Sendable {
    let bridge: NIOLoopBound<InboundBridge<Store>>

    /// Wraps `bridge`; call on the channel's event loop.
    init(_ bridge: InboundBridge<Store>, eventLoop: any EventLoop) {
        self.bridge = NIOLoopBound(bridge, eventLoop: eventLoop)
    }

    var eventLoop: any EventLoop { self.bridge.eventLoop }

    /// Waits for the answer to `request`: nil when the input has ended.
    func receive(_ request: Store.Request, timeout: TimeAmount?) async throws -> Store.Output? {
        let id = waiterIDs.add(1, ordering: .relaxed).newValue
        let bridge = self.bridge
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Store.Output?, any Error>) in
                // A task on the event loop (see `EventLoopExecutor`) asks at once; any other hops there.
                if bridge.eventLoop.inEventLoop {
                    bridge.value.receive(request, id: id, timeout: timeout, continuation: continuation)
                } else {
                    bridge.eventLoop.execute {
                        bridge.value.receive(request, id: id, timeout: timeout, continuation: continuation)
                    }
                }
            }
        } onCancel: {
            // On the loop (a task already cancelled runs this first, there): at once, so that the
            // request finds its id cancelled, as it would arriving after a queued cancel.
            if bridge.eventLoop.inEventLoop {
                bridge.value.cancel(id)
            } else {
                bridge.eventLoop.execute { bridge.value.cancel(id) }
            }
        }
    }

    /// Writes `data`; returns when the channel can take more (or the write completed, with
    /// `awaitCompletion`).
    func write<Data: Sendable>(_ data: Data, timeout: TimeAmount?, awaitCompletion: Bool) async throws {
        let id = waiterIDs.add(1, ordering: .relaxed).newValue
        let bridge = self.bridge
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                if bridge.eventLoop.inEventLoop {
                    bridge.value.write(
                        NIOAny(data), id: id, timeout: timeout, awaitCompletion: awaitCompletion,
                        continuation: continuation
                    )
                } else {
                    bridge.eventLoop.execute {
                        bridge.value.write(
                            NIOAny(data), id: id, timeout: timeout, awaitCompletion: awaitCompletion,
                            continuation: continuation
                        )
                    }
                }
            }
        } onCancel: {
            // On the loop (a task already cancelled runs this first, there): at once, so that the
            // request finds its id cancelled, as it would arriving after a queued cancel.
            if bridge.eventLoop.inEventLoop {
                bridge.value.cancel(id)
            } else {
                bridge.eventLoop.execute { bridge.value.cancel(id) }
            }
        }
    }

    /// Writers waiting in the bridge (for room, or for their write to complete); for tests.
    func writeWaiterCount() async throws -> Int {
        let bridge = self.bridge
        return try await bridge.eventLoop.submit { bridge.value.writeWaiterCount }.get()
    }

    /// Marks the channel as closed by us, for a channel that has already closed by itself.
    func markClosedLocally() {
        let bridge = self.bridge
        bridge.eventLoop.execute { bridge.value.closeLocally() }
    }

    /// Closes the channel, after marking the close as ours (see ``InboundBridge/closeLocally()``).
    func close(_ channel: any Channel) async throws {
        let bridge = self.bridge
        bridge.eventLoop.execute { bridge.value.closeLocally() }
        try await channel.close()
    }

    /// Closes the channel without waiting, after marking the close as ours.
    func abort(_ channel: any Channel) {
        let bridge = self.bridge
        bridge.eventLoop.execute {
            bridge.value.closeLocally()
            channel.close(promise: nil)
        }
    }
}
