// udp-chat PORT [PEER_HOST PEER_PORT]
//
// One-to-one chat over UDP: each line you type is one datagram to the peer; each datagram that
// comes is printed. Start one side without a peer: it learns its peer from the first datagram
// (port 0 lets the kernel choose; the port is printed). UDP has no end of stream, so at the end
// of your input (Ctrl-D) an empty datagram tells the peer, and both sides exit.
// Status lines go to stderr, so stdout holds only the conversation.
import Foundation
import TinCan

/// Prints one line on stderr.
func status(_ message: String) {
    FileHandle.standardError.write(Data("udp-chat: \(message)\n".utf8))
}

/// Prints a datagram from the peer; an empty one means the peer has left.
func show(_ datagram: ByteBuffer) {
    guard datagram.readableBytes > 0 else { exit(0) }
    // Written at once, even into a pipe. (Not print and fflush: fflush waits for the lock of
    // stdin, which readLine holds while it waits for input.)
    FileHandle.standardOutput.write(Data(datagram.readableBytesView))
}

let arguments = CommandLine.arguments
guard arguments.count == 2 || arguments.count == 4, let port = Int(arguments[1]),
    arguments.count == 2 || Int(arguments[3]) != nil
else {
    status("usage: udp-chat PORT [PEER_HOST PEER_PORT]")
    exit(1)
}

do {
    let socket = try await UDPSocket.bind(port: port)
    if arguments.count == 4 {
        try await socket.connect(host: arguments[2], port: Int(arguments[3])!)
    } else {
        status("listening on \(socket.port)")
        let (first, sender) = try await socket.receiveFrom()
        // Connected, the socket sends to the peer and hears from nobody else.
        try await socket.connect(to: sender)
        show(first)
    }

    // The peer's datagrams, printed by a task of its own: detached, so that it does not run on
    // the main actor, whose thread readLine below blocks.
    Task.detached {
        do {
            for try await (datagram, _) in socket.datagrams { show(datagram) }
        } catch {
            status("\(error)")  // `refused`: nothing listens at the peer's address
            exit(1)
        }
    }
    while let line = readLine() {
        try await socket.send(line + "\n")
    }
    try await socket.send(ByteBuffer())  // goodbye
} catch {
    status("\(error)")
    exit(1)
}
