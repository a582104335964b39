// oneshot-server PORT
//
// Accepts one client, reads what it sends until it ends its side (EOF), prints it, answers
// "received", closes and exits. Port 0 lets the kernel choose; the server prints the port.
// Try it with hello-client, or `tincan connect --send hi localhost PORT`.
import Foundation
import TinCan

/// Prints one line on stderr and exits with status 1.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("oneshot-server: \(message)\n".utf8))
    exit(1)
}

guard CommandLine.arguments.count == 2, let port = Int(CommandLine.arguments[1]) else {
    fail("usage: oneshot-server PORT")
}

do {
    let server = try await TCPServer.bind(port: port)
    print("listening on \(server.port)")
    fflush(nil)  // stdout may be a pipe, which holds printed lines back until the buffer is full

    guard let client = try await server.accept() else { fail("the server was closed") }
    try await server.close()  // one client only: stop listening

    // Everything the client sends, until its FIN. A client that never sends one would keep us
    // waiting: short-server shows how a timeout (`SocketOptions.timeout`) bounds each wait.
    var message = ByteBuffer()
    for try await var chunk in client.chunks {
        message.writeBuffer(&chunk)
    }
    print("the client sent: \(String(buffer: message))")

    try await client.send("received\n")
    try await client.close()  // delivers "received" first
} catch {
    fail("\(error)")
}
