// hello-client HOST PORT
//
// Sends "hello", ends its side of the connection, and prints the server's answer (all of it,
// until the server closes). Try it with oneshot-server.
import Foundation
import TinCan

/// Prints one line on stderr and exits with status 1.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("hello-client: \(message)\n".utf8))
    exit(1)
}

let arguments = CommandLine.arguments
guard arguments.count == 3, let port = Int(arguments[2]) else { fail("usage: hello-client HOST PORT") }

do {
    let connection = try await TCPClient.connect(host: arguments[1], port: port, timeout: .seconds(10))
    try await connection.send("hello")
    // A FIN: the server reads the end of our message, and can still answer.
    try await connection.shutdownWrite()

    var answer = ByteBuffer()
    for try await var chunk in connection.chunks {
        answer.writeBuffer(&chunk)
    }
    print(String(buffer: answer), terminator: "")
    try await connection.close()
} catch {
    fail("\(error)")
}
