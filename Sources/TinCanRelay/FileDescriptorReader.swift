#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Synchronization
import TinCanCore

/// Reads a file descriptor on a thread of its own and hands the bytes to async code as a sequence of
/// `ByteBuffer`s, with backpressure: the thread stops reading while the consumer is behind.
///
/// A dedicated blocking thread, rather than an event loop, because standard input may be a regular
/// file or `/dev/null` (which epoll refuses), and because putting an inherited terminal into
/// non-blocking mode would leak `O_NONBLOCK` into the user's shell after we exit.
public final class FileDescriptorReader: Sendable {
    public typealias Chunks = NIOThrowingAsyncSequenceProducer<
        ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, Demand
    >

    /// Largest single read. Large reads keep the per-chunk costs (thread hop, socket write) small.
    public static let defaultChunkSize = 256 * 1024

    private let fd: CInt
    private let name: String
    private let closeWhenDone: Bool
    private let chunkSize: Int
    private let demand: Demand
    private let source: Chunks.Source
    /// The chunks read; iterate it once.
    public let chunks: Chunks

    /// Starts reading `fd` at once.
    ///
    /// - Parameters:
    ///   - fd: the descriptor to read until end of file.
    ///   - chunkSize: the largest single read, and so the largest chunk handed out.
    ///   - name: how errors name the descriptor, e.g. `standard input`.
    ///   - closeWhenDone: close `fd` when reading ends (end of file, error, or the consumer gone).
    public init(
        fd: CInt,
        name: String = "standard input",
        chunkSize: Int = FileDescriptorReader.defaultChunkSize,
        closeWhenDone: Bool = false
    ) {
        self.fd = fd
        self.name = name
        self.closeWhenDone = closeWhenDone
        self.chunkSize = chunkSize
        let demand = Demand()
        self.demand = demand
        let sequence = Chunks.makeSequence(
            backPressureStrategy: .init(lowWatermark: 2, highWatermark: 4),
            finishOnDeinit: true,
            delegate: demand
        )
        self.source = sequence.source
        self.chunks = sequence.sequence
        let thread = Thread { [self] in self.run() }
        thread.name = "tincan-read-fd\(fd)"
        thread.start()
    }

    private func run() {
        defer { if self.closeWhenDone { close(self.fd) } }
        let allocator = ByteBufferAllocator()
        while self.demand.waitUntilWanted() {
            var buffer = allocator.buffer(capacity: self.chunkSize)
            let result = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: self.chunkSize) { pointer in
                FileDescriptorReader.readOnce(fd: self.fd, into: pointer)
            }
            switch FileDescriptorReader.lastOutcome(bytes: result) {
            case .data:
                self.demand.yield(buffer, to: self.source)
            case .endOfFile:
                self.source.finish()
                return
            case .failed(let code):
                self.source.finish(TinCanError(operation: "read \(self.name)", cause: TinCanError.describeErrno(code), errno: code))
                return
            }
        }
        self.source.finish()
    }

    private enum Outcome {
        case data
        case endOfFile
        case failed(CInt)
    }

    /// Returns the byte count, 0 at end of file, or `-errno`.
    private static func readOnce(fd: CInt, into pointer: UnsafeMutableRawBufferPointer) -> Int {
        while true {
            let n = read(fd, pointer.baseAddress, pointer.count)
            if n >= 0 { return n }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK {
                // Someone left the descriptor non-blocking; wait for it to be readable.
                var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                _ = poll(&pfd, 1, -1)
                continue
            }
            return -Int(code)
        }
    }

    private static func lastOutcome(bytes: Int) -> Outcome {
        if bytes > 0 { return .data }
        if bytes == 0 { return .endOfFile }
        return .failed(CInt(-bytes))
    }

    /// Tells the reading thread when the consumer wants more, and when it is gone.
    public final class Demand: NIOAsyncSequenceProducerDelegate, Sendable {
        /// `true` while the consumer has asked us to stop producing.
        private let paused = ConditionLock<Bool>(value: false)
        private let stopped = Atomic<Bool>(false)

        /// Blocks until the consumer wants data; false once it is gone.
        func waitUntilWanted() -> Bool {
            self.paused.lock(whenValue: false)
            self.paused.unlock()
            return !self.stopped.load(ordering: .acquiring)
        }

        /// Yields under the lock, so that a `produceMore` racing with a `stopProducing` answer cannot be lost.
        func yield(_ buffer: ByteBuffer, to source: Chunks.Source) {
            self.paused.lock()
            switch source.yield(buffer) {
            case .produceMore:
                self.paused.unlock()
            case .stopProducing:
                self.paused.unlock(withValue: true)
            case .dropped:
                self.stopped.store(true, ordering: .releasing)
                self.paused.unlock(withValue: false)
            }
        }

        public func produceMore() {
            self.paused.lock()
            self.paused.unlock(withValue: false)
        }

        public func didTerminate() {
            self.stopped.store(true, ordering: .releasing)
            self.paused.lock()
            self.paused.unlock(withValue: false)
        }
    }
}
