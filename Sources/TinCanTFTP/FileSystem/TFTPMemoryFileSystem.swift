import NIOCore
import Synchronization

/// Files kept in memory: for tests, and for programs that serve generated or embedded content.
/// Uploads appear only when complete, like ``TFTPDirectory``'s.
public final class TFTPMemoryFileSystem: TFTPFileSystem {
    private let files: Mutex<[String: ByteBuffer]>
    /// Write requests may store files. Default true.
    public let allowWrite: Bool
    /// The largest file an upload may write; nil for no limit. Default nil.
    public let maxFileSize: Int?

    public init(files: [String: ByteBuffer] = [:], allowWrite: Bool = true, maxFileSize: Int? = nil) {
        self.files = Mutex(files)
        self.allowWrite = allowWrite
        self.maxFileSize = maxFileSize
    }

    /// The file stored under `name`, if any.
    public subscript(name: String) -> ByteBuffer? {
        get { self.files.withLock { $0[name] } }
        set { self.files.withLock { $0[name] = newValue } }
    }

    public func openForReading(_ name: String) async throws -> any TFTPFileReader {
        guard let contents = self[name] else { throw TFTPError(.fileNotFound, "'\(name)' not found") }
        return Reader(contents)
    }

    public func openForWriting(_ name: String, expectedSize: Int?) async throws -> any TFTPFileWriter {
        guard self.allowWrite else { throw TFTPError(.accessViolation, "uploads are not enabled on this server") }
        if let limit = self.maxFileSize, let expectedSize, expectedSize > limit {
            throw TFTPError(.diskFull, "file of \(expectedSize) bytes exceeds the limit of \(limit) bytes")
        }
        return Writer(name: name, limit: self.maxFileSize, into: self)
    }

    private final class Reader: TFTPFileReader {
        let size: Int?
        private let remaining: Mutex<ByteBuffer>

        init(_ contents: ByteBuffer) {
            self.size = contents.readableBytes
            self.remaining = Mutex(contents)
        }

        func read(upTo count: Int) async throws -> ByteBuffer {
            // Cannot fail: never more than is readable.
            self.remaining.withLock { $0.readSlice(length: min(count, $0.readableBytes))! }
        }

        func close() async {}
    }

    private final class Writer: TFTPFileWriter {
        private let name: String
        private let limit: Int?
        private let fileSystem: TFTPMemoryFileSystem
        private let buffer = Mutex(ByteBuffer())

        init(name: String, limit: Int?, into fileSystem: TFTPMemoryFileSystem) {
            self.name = name
            self.limit = limit
            self.fileSystem = fileSystem
        }

        func write(_ data: ByteBuffer) async throws {
            let limit = self.limit
            try self.buffer.withLock { (buffer) throws(TFTPError) in
                if let limit, buffer.readableBytes + data.readableBytes > limit {
                    throw TFTPError(.diskFull, "upload exceeds the limit of \(limit) bytes")
                }
                var data = data
                buffer.writeBuffer(&data)
            }
        }

        func commit() async throws {
            self.fileSystem[self.name] = self.buffer.withLock { $0 }
        }

        func abort() async {}
    }
}
