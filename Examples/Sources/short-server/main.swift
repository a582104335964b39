// short-server PORT
//
// A short-connection server: for each client in turn, prints what it sent (until its FIN),
// then closes the connection, and waits for the next. Port 0 lets the kernel choose; the server
// prints the port. Try it with `tincan connect --send hi localhost PORT`, or hello-client.
import Foundation
import TinCan

/// Prints one line on stderr.
func complain(_ message: String) {
    FileHandle.standardError.write(Data("short-server: \(message)\n".utf8))
}

guard CommandLine.arguments.count == 2, let port = Int(CommandLine.arguments[1]) else {
    complain("usage: short-server PORT")
    exit(1)
}

do {
    // Clients are served one at a time, so each gets 5 seconds to send and end its side: one that
    // never does cannot hold the others up for ever. Each receive throws `timedOut` past it.
    let server = try await TCPServer.bind(port: port, options: SocketOptions(timeout: .seconds(5)))
    print("listening on \(server.port)")
    fflush(nil)  // stdout may be a pipe, which holds printed lines back until the buffer is full

    var clients = 0
    for try await client in server.connections {
        clients += 1
        do {
            var message = ByteBuffer()
            for try await var chunk in client.chunks {
                message.writeBuffer(&chunk)
            }
            print("client \(clients) sent: \(String(buffer: message))")
            fflush(nil)
        } catch {
            complain("client \(clients): \(error)")  // it timed out or reset: on to the next one
        }
        try? await client.close()
    }
} catch {
    complain("\(error)")
    exit(1)
}
