import NIOCore

/// Where a TFTP server's files come from and go to: a directory (``TFTPDirectory``), memory, or
/// content generated on the fly. Errors are ``TFTPError``s, which the server sends as they are.
public protocol TFTPFileSystem: Sendable {
    /// Opens `name` for a read request.
    func openForReading(_ name: String) async throws -> any TFTPFileReader
    /// Opens `name` for a write request; `expectedSize` is the client's `tsize`, when given.
    func openForWriting(_ name: String, expectedSize: Int?) async throws -> any TFTPFileWriter
}

/// A file being sent.
public protocol TFTPFileReader: Sendable {
    /// The size in bytes, when known (answered to `tsize`).
    var size: Int? { get }
    /// The next bytes of the file, at most `count`; an empty buffer at the end.
    func read(upTo count: Int) async throws -> ByteBuffer
    /// Releases the file.
    func close() async
}

/// A file being received. Nothing appears under the real name until ``commit()``.
public protocol TFTPFileWriter: Sendable {
    /// Appends `buffer`.
    func write(_ buffer: ByteBuffer) async throws
    /// Makes the file visible under its name, replacing any file there.
    func commit() async throws
    /// Throws away what was written.
    func abort() async
}
