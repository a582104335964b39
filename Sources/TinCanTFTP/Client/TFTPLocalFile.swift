#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix
import Synchronization

/// Local files for a client: a path, or standard input and output (`-`).
public enum TFTPLocalFile {
    /// Opens `path` to be sent. Its size is known when it is a regular file.
    public static func reader(path: String, threadPool: NIOThreadPool = TFTPDirectory.fileThreads) throws -> any TFTPFileReader {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw TFTPError(.fileNotFound, "\(path): \(String(cString: strerror(errno)))") }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            close(fd)
            throw TFTPError(.notDefined, "\(path): \(String(cString: strerror(errno)))")
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            close(fd)
            throw TFTPError(.notDefined, "\(path): is a directory")
        }
        return DescriptorReader(fd: fd, size: (info.st_mode & S_IFMT) == S_IFREG ? Int(info.st_size) : nil, pool: threadPool)
    }

    /// Standard input, size unknown.
    public static func standardInput(threadPool: NIOThreadPool = TFTPDirectory.fileThreads) -> any TFTPFileReader {
        DescriptorReader(fd: dup(STDIN_FILENO), size: nil, pool: threadPool)
    }

    /// A file to be received at `path`: written to a temporary file beside it and renamed into
    /// place only when complete, so a failed download leaves nothing under `path`.
    ///
    /// A target that exists and is not a regular file (`/dev/null`, a FIFO, a terminal) is written
    /// directly: renaming over it would replace a device with a file.
    public static func writer(path: String, threadPool: NIOThreadPool = TFTPDirectory.fileThreads) throws -> any TFTPFileWriter {
        var info = stat()
        if stat(path, &info) == 0 {
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                break
            case S_IFDIR:
                throw TFTPError(.notDefined, "\(path): is a directory")
            default:
                let fd = open(path, O_WRONLY | O_CLOEXEC)
                guard fd >= 0 else { throw TFTPError(.notDefined, "\(path): \(String(cString: strerror(errno)))") }
                return DirectWriter(fd: fd, name: path, pool: threadPool)
            }
        }
        guard let writer = DescriptorWriter(replacing: path, name: path, limit: nil, durable: false, pool: threadPool) else {
            throw TFTPError(.notDefined, "\(path): \(String(cString: strerror(errno)))")
        }
        return writer
    }

    /// Standard output: bytes go out as they arrive, so a failure cannot take them back.
    public static func standardOutput(threadPool: NIOThreadPool = TFTPDirectory.fileThreads) -> any TFTPFileWriter {
        DirectWriter(fd: STDOUT_FILENO, name: "standard output", ownsDescriptor: false, pool: threadPool)
    }
}

/// Writes straight to a descriptor that is not a regular file (standard output, a device, a FIFO):
/// bytes go out as they arrive, so a failure cannot take them back.
final class DirectWriter: TFTPFileWriter {
    private let fd: CInt
    private let name: String
    private let ownsDescriptor: Bool
    private let pool: NIOThreadPool
    private let closed = Atomic<Bool>(false)

    init(fd: CInt, name: String, ownsDescriptor: Bool = true, pool: NIOThreadPool) {
        self.fd = fd
        self.name = name
        self.ownsDescriptor = ownsDescriptor
        self.pool = pool
    }

    func write(_ buffer: ByteBuffer) async throws {
        let (fd, name) = (self.fd, self.name)
        try await self.pool.runIfActive {
            let code = writeAll(buffer, to: fd)
            if code != 0 { throw TFTPError(.notDefined, "\(name): \(String(cString: strerror(code)))") }
        }
    }

    func commit() async throws { self.release() }
    func abort() async { self.release() }

    private func release() {
        if self.ownsDescriptor, !self.closed.exchange(true, ordering: .relaxed) { Glibc.close(self.fd) }
    }

    deinit { self.release() }
}

/// Keeps what was read until the transfer is under way, so a retry without options (after the
/// server's ERROR 8) can send the same bytes again. Recording stops after ``limit`` bytes; after
/// that a rewind is not possible and is not asked for (a fallback only follows a refused request).
final class ReplayableReader: TFTPFileReader {
    static let limit = 4 * 1024 * 1024

    private let base: any TFTPFileReader
    private struct State {
        var recorded = ByteBuffer()
        var replay: ByteBuffer?
        var recording = true
    }
    private let state = Mutex(State())

    init(_ base: any TFTPFileReader) { self.base = base }

    var size: Int? { self.base.size }

    func rewind() {
        self.state.withLock { state in
            guard state.recorded.readableBytes > 0 else { return }
            state.replay = state.recorded
        }
    }

    func read(upTo count: Int) async throws -> ByteBuffer {
        let replayed: ByteBuffer? = self.state.withLock { state in
            guard var replay = state.replay, replay.readableBytes > 0 else { return nil }
            let slice = replay.readSlice(length: min(count, replay.readableBytes))
            state.replay = replay.readableBytes > 0 ? replay : nil
            return slice
        }
        if let replayed { return replayed }
        let data = try await self.base.read(upTo: count)
        self.state.withLock { state in
            guard state.recording else { return }
            if state.recorded.readableBytes + data.readableBytes > Self.limit {
                state.recording = false
                state.recorded = ByteBuffer()
            } else {
                var copy = data
                state.recorded.writeBuffer(&copy)
            }
        }
        return data
    }

    /// The client closes the real file once, after its last attempt.
    func close() async {}
}
