// tftp-get HOST PORT FILE [DEST]
//
// Downloads FILE from a TFTP server (`tincan tftp serve`, tftp-generated-server, any other) to
// DEST: by default the last part of FILE, in the current directory; "-" for stdout.
// The file appears under DEST only when complete: a failed download leaves nothing there.
import Foundation
import Logging
import TinCanTFTP

/// Prints one line on stderr and exits with status 1.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("tftp-get: \(message)\n".utf8))
    exit(1)
}

let arguments = CommandLine.arguments
guard (4...5).contains(arguments.count), let port = Int(arguments[2]) else {
    fail("usage: tftp-get HOST PORT FILE [DEST]")
}
let (host, file) = (arguments[1], arguments[3])
let destination = arguments.count == 5 ? arguments[4] : String(file.split(separator: "/").last ?? "download")
guard let server = try? SocketAddress.makeAddressResolvingHost(host, port: port) else { fail("unknown host \(host)") }

do {
    let writer = try destination == "-" ? TFTPLocalFile.standardOutput() : TFTPLocalFile.writer(path: destination)
    // The client reports failures by throwing; its log (per-packet details at trace) is not needed.
    let client = TFTPClient(logger: Logger(label: "tftp-get") { _ in SwiftLogNoOpLogHandler() })

    // Ask for bigger blocks, and a window of several blocks per acknowledgement. A server may
    // ignore or refuse options: the transfer is then plain RFC 1350 (512-byte blocks, lock-step).
    let options = TFTPClientOptions(blockSize: 1428, windowSize: 8)
    let report = try await client.get(file, from: server, into: writer, options: options)
    if destination != "-" {
        print("\(destination): \(report.stats.bytes) bytes")
    }
} catch {
    // TFTPClientError: the server's ERROR packet ("server error 1 (file not found): ...") or a
    // timeout; TFTPError for a local file that cannot be written.
    fail("\(error)")
}
