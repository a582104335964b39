// tftp-generated-server PORT
//
// A TFTP server whose files are made on request by a `TFTPFileSystem` of our own:
// `count-N` is the numbers 1 to N, one a line; `zeros-N` is N zero bytes (N up to 1,000,000).
// Uploads are refused. Port 0 lets the kernel choose; the server prints the port.
// Try it with `tincan tftp get localhost:PORT count-10 -`, or tftp-get.
import Foundation
import Logging
import Synchronization
import TinCanTFTP

struct GeneratedFiles: TFTPFileSystem {
    func openForReading(_ name: String) async throws -> any TFTPFileReader {
        let parts = name.split(separator: "-")
        switch (parts.first, parts.count == 2 ? Int(parts[1]) : nil) {
        case ("count", let n?) where (0...1_000_000).contains(n):
            return BufferReader(ByteBuffer(string: (0..<n).map { "\($0 + 1)\n" }.joined()))
        case ("zeros", let n?) where (0...1_000_000).contains(n):
            return BufferReader(ByteBuffer(repeating: 0, count: n))
        default:  // a TFTPError goes to the client as it is, here as ERROR 1
            throw TFTPError(.fileNotFound, "no file \(name): try count-N or zeros-N")
        }
    }

    func openForWriting(_ name: String, expectedSize: Int?) async throws -> any TFTPFileWriter {
        throw TFTPError(.accessViolation, "this server's files are generated: it takes no uploads")
    }
}

/// A file being sent: the bytes of a buffer, as many at a time as the server asks for.
final class BufferReader: TFTPFileReader {
    let size: Int?  // for a client that asks for the size first (tsize)
    private let rest: Mutex<ByteBuffer>  // the server may call from any thread

    init(_ contents: ByteBuffer) {
        self.size = contents.readableBytes
        self.rest = Mutex(contents)
    }

    func read(upTo count: Int) async throws -> ByteBuffer {
        self.rest.withLock { $0.readSlice(length: min(count, $0.readableBytes))! }  // empty at the end
    }

    func close() async {}
}

guard CommandLine.arguments.count == 2, let port = Int(CommandLine.arguments[1]) else {
    FileHandle.standardError.write(Data("usage: tftp-generated-server PORT\n".utf8))
    exit(1)
}
// The server logs one line per transfer; on stderr here.
let logger = Logger(label: "tftp-generated-server") { StreamLogHandler.standardError(label: $0) }
let server = TFTPServer(
    configuration: TFTPServerConfiguration(port: port), fileSystem: GeneratedFiles(), logger: logger,
    onServerRunning: { address in
        print("listening on \(address.port ?? 0)")
        fflush(nil)  // stdout may be a pipe, which holds printed lines back until the buffer is full
    }
)
do {
    try await server.run()  // until the process is stopped
} catch {
    FileHandle.standardError.write(Data("tftp-generated-server: \(error)\n".utf8))
    exit(1)
}
