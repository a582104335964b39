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
import TinCanCore

/// Writes `ByteBuffer`s to a file descriptor from a thread of its own, so that async code can send
/// to standard output (a terminal, a pipe, a regular file or `/dev/null`) without blocking an event
/// loop, and without changing the descriptor's flags.
///
/// At most `queueLimit` bytes wait in the queue; `write` suspends beyond that, which is how a slow
/// reader of our standard output slows the socket down instead of growing our memory.
///
/// Closing: the writer closes `fd` only when made with `closeWhenDone`, and then only as its
/// thread ends, which needs a call to ``finish()``: once everything queued has been written, or,
/// after a write has failed, at once (what was still queued is dropped). Without `closeWhenDone`
/// the descriptor stays open and is the caller's to close; without ``finish()`` the thread and the
/// descriptor stay until the process exits.
public final class FileDescriptorWriter: Sendable {
    /// Bytes that may wait to be written before `write` suspends.
    public static let defaultQueueLimit = 1 << 20

    private struct State {
        var queue: [ByteBuffer] = []
        var queuedBytes = 0
        var finished = false
        var failure: TinCanError?
        var spaceWaiters: [CheckedContinuation<Void, any Error>] = []
        var drainWaiters: [CheckedContinuation<Void, any Error>] = []
        var writing = false
    }

    private let fd: CInt
    private let closeWhenDone: Bool
    private let queueLimit: Int
    private let name: String
    /// Guards `state`; its value says whether the writing thread has work.
    private let hasWork = ConditionLock<Bool>(value: false)
    private nonisolated(unsafe) var state = State()

    /// Starts the writing thread.
    ///
    /// - Parameters:
    ///   - fd: the descriptor to write to.
    ///   - name: how errors name the descriptor, e.g. `standard output`.
    ///   - queueLimit: the bytes that may wait before `write` suspends.
    ///   - closeWhenDone: close `fd` when the thread ends: after ``finish()``, once the queue is
    ///     written or at once if a write has failed. Default false: the writer never closes `fd`.
    public init(
        fd: CInt,
        name: String = "standard output",
        queueLimit: Int = FileDescriptorWriter.defaultQueueLimit,
        closeWhenDone: Bool = false
    ) {
        self.fd = fd
        self.closeWhenDone = closeWhenDone
        self.name = name
        self.queueLimit = queueLimit
        let thread = Thread { [self] in self.run() }
        thread.name = "tincan-write-fd\(fd)"
        thread.start()
    }

    /// Queues `buffer`; suspends while the queue is over its limit.
    ///
    /// - Throws: ``TinCanError`` once a write to the descriptor has failed (for example `EPIPE`).
    public func write(_ buffer: ByteBuffer) async throws {
        guard buffer.readableBytes > 0 else { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            self.hasWork.lock()
            if let failure = self.state.failure {
                self.hasWork.unlock()
                continuation.resume(throwing: failure)
                return
            }
            self.state.queue.append(buffer)
            self.state.queuedBytes += buffer.readableBytes
            if self.state.queuedBytes > self.queueLimit {
                self.state.spaceWaiters.append(continuation)
                self.hasWork.unlock(withValue: true)
            } else {
                self.hasWork.unlock(withValue: true)
                continuation.resume()
            }
        }
    }

    /// Waits until everything queued so far is written.
    public func drain() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            self.hasWork.lock()
            if let failure = self.state.failure {
                self.hasWork.unlock()
                continuation.resume(throwing: failure)
            } else if self.state.queue.isEmpty, !self.state.writing {
                self.hasWork.unlock()
                continuation.resume()
            } else {
                self.state.drainWaiters.append(continuation)
                self.hasWork.unlock()
            }
        }
    }

    /// Lets the thread end once the queue is written (at once after a failed write), closing the
    /// descriptor then if the writer was made with `closeWhenDone`. Call it when the writer is no
    /// longer needed: a write after it is written only if it comes before the thread has ended, and
    /// is dropped without an error otherwise.
    public func finish() {
        self.hasWork.lock()
        self.state.finished = true
        self.hasWork.unlock(withValue: true)
    }

    private func run() {
        defer { if self.closeWhenDone { close(self.fd) } }
        // A reader that goes away must give this thread EPIPE, not kill the whole process with
        // SIGPIPE: an embedding program may not ignore it as the tincan command does.
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
        while true {
            self.hasWork.lock(whenValue: true)
            if self.state.queue.isEmpty, self.state.finished {
                self.hasWork.unlock()
                return
            }
            let batch = self.state.queue
            self.state.queue.removeAll(keepingCapacity: true)
            self.state.writing = true
            self.hasWork.unlock(withValue: false)

            var failure: TinCanError?
            var written = 0
            for buffer in batch where failure == nil {
                if let code = Self.writeAll(fd: self.fd, buffer) {
                    failure = TinCanError(operation: "write \(self.name)", cause: TinCanError.describeErrno(code), errno: code)
                } else {
                    written += buffer.readableBytes
                }
            }

            self.hasWork.lock()
            self.state.writing = false
            self.state.queuedBytes -= batch.reduce(0) { $0 + $1.readableBytes }
            var resume: [CheckedContinuation<Void, any Error>] = []
            if let failure {
                self.state.failure = failure
                resume = self.state.spaceWaiters + self.state.drainWaiters
                self.state.spaceWaiters.removeAll()
                self.state.drainWaiters.removeAll()
                self.state.queue.removeAll()
                self.state.queuedBytes = 0
            } else {
                if self.state.queuedBytes <= self.queueLimit {
                    resume += self.state.spaceWaiters
                    self.state.spaceWaiters.removeAll()
                }
                if self.state.queue.isEmpty {
                    resume += self.state.drainWaiters
                    self.state.drainWaiters.removeAll()
                }
            }
            let more = !self.state.queue.isEmpty || self.state.finished
            self.hasWork.unlock(withValue: more)
            for continuation in resume {
                if let failure { continuation.resume(throwing: failure) } else { continuation.resume() }
            }
            if failure != nil {
                // Keep the thread until finish() so that later writes get the error, not a hang.
                self.hasWork.lock()
                while !self.state.finished {
                    self.hasWork.unlock(withValue: false)
                    self.hasWork.lock(whenValue: true)
                    self.state.queue.removeAll()
                }
                self.hasWork.unlock()
                return
            }
        }
    }

    /// Writes all of `buffer`; returns the errno of a failure, or nil.
    private static func writeAll(fd: CInt, _ buffer: ByteBuffer) -> CInt? {
        buffer.withUnsafeReadableBytes { pointer -> CInt? in
            guard let base = pointer.baseAddress else { return nil }
            var offset = 0
            while offset < pointer.count {
                let n = Glibc.write(fd, base + offset, pointer.count - offset)
                if n > 0 {
                    offset += n
                    continue
                }
                let code = errno
                if n < 0, code == EINTR { continue }
                if n < 0, code == EAGAIN || code == EWOULDBLOCK {
                    var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&pfd, 1, -1)
                    continue
                }
                return n == 0 ? EIO : code
            }
            return nil
        }
    }
}
