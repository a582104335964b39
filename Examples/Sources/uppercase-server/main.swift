// uppercase-server PORT
//
// A TCP echo server that answers in upper case, the classic first socket program. It serves many
// clients at once, each in a task of its own, until the client ends its side (EOF).
// Port 0 lets the kernel choose; the server prints the port it listens on.
import Foundation
import TinCan

/// Prints one line on stderr.
func complain(_ message: String) {
    FileHandle.standardError.write(Data("uppercase-server: \(message)\n".utf8))
}

guard CommandLine.arguments.count == 2, let port = Int(CommandLine.arguments[1]) else {
    complain("usage: uppercase-server PORT")
    exit(1)
}

do {
    // Every address, IPv6 and IPv4.
    let server = try await TCPServer.bind(port: port)
    print("listening on \(server.port)")
    fflush(nil)  // stdout may be a pipe, which holds printed lines back until the buffer is full

    // The discarding group forgets each client's task as soon as it ends.
    try await withThrowingDiscardingTaskGroup { group in
        for try await connection in server.connections {
            // The client's task runs on the thread that does its connection's I/O: no thread switch
            // per receive and send (about 1.7 times the round trips on Swift's global executor).
            group.addTask(executorPreference: connection.executor) {
                do {
                    // Chunk by chunk, as the bytes arrive: no need to wait for a whole line.
                    for try await var chunk in connection.chunks {
                        chunk.withUnsafeMutableReadableBytes { bytes in
                            for i in bytes.indices where (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(bytes[i]) {
                                bytes[i] -= 0x20  // ASCII: "a" - "A"
                            }
                        }
                        // Waits while the client is not reading: a client cannot make us buffer without end.
                        try await connection.send(chunk)
                    }
                } catch {
                    complain("\(error)")  // a reset, say: it ends this client, not the server
                }
                // Sends what is still queued, then closes.
                try? await connection.close()
            }
        }
    }
} catch {
    complain("\(error)")
    exit(1)
}
