// tcp-chat listen PORT
// tcp-chat connect HOST PORT
//
// One-to-one chat over TCP: each line you type goes to the peer, each line the peer sends is
// printed. At the end of your input (Ctrl-D) the peer is told with a FIN; when the peer's side
// ends, the chat ends. `listen` takes one peer, and with port 0 lets the kernel choose a port.
// Status lines go to stderr, so stdout holds only the conversation.
import Foundation
import TinCan

/// Prints one line on stderr.
func status(_ message: String) {
    FileHandle.standardError.write(Data("tcp-chat: \(message)\n".utf8))
}

let arguments = CommandLine.arguments
do {
    let connection: TCPConnection
    switch (arguments.dropFirst().first, arguments.count, Int(arguments.last ?? "")) {
    case ("listen", 3, let port?):
        let server = try await TCPServer.bind(port: port)
        status("listening on \(server.port)")
        guard let peer = try await server.accept() else { exit(1) }  // nil only after server.close()
        try await server.close()  // one peer only
        connection = peer
    case ("connect", 4, let port?):
        connection = try await TCPClient.connect(host: arguments[2], port: port)
    default:
        status("usage: tcp-chat listen PORT | tcp-chat connect HOST PORT")
        exit(1)
    }
    status("connected to \(connection.peerAddress?.ipAddress ?? "?")")

    // The peer's lines, printed by a task of its own: detached, so that it does not run on the
    // main actor, whose thread readLine below blocks. The peer's end of stream ends the chat.
    let receiving = Task.detached {
        do {
            for try await line in connection.lines {
                // Written at once, even into a pipe. (Not print and fflush: fflush waits for the
                // lock of stdin, which readLine holds while it waits for input.)
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
            }
            try await connection.close()  // what we sent is delivered before the socket closes
            exit(0)
        } catch {
            status("\(error)")
            exit(1)
        }
    }
    // Our lines to the peer; at the end of stdin, a FIN. The peer then ends its side too.
    while let line = readLine() {
        try await connection.send(line + "\n")
    }
    try await connection.shutdownWrite()
    await receiving.value  // which never returns: the task exits the program
} catch {
    status("\(error)")
    exit(1)
}
