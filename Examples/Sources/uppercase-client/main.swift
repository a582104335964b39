// uppercase-client HOST PORT [TEXT...]
//
// Sends each line of stdin (or TEXT, as one line) to an upper-casing server such as
// uppercase-server or `tincan echo --upper`, and prints each line that comes back.
import Foundation
import TinCan

/// Prints one line on stderr and exits with status 1.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("uppercase-client: \(message)\n".utf8))
    exit(1)
}

let arguments = CommandLine.arguments
guard arguments.count >= 3, let port = Int(arguments[2]) else { fail("usage: uppercase-client HOST PORT [TEXT...]") }

// What to send: the words after the port as one line, or else stdin line by line.
let words = arguments.dropFirst(3)
let input = words.isEmpty ? AnyIterator { readLine() } : AnyIterator([words.joined(separator: " ")].makeIterator())

do {
    let connection = try await TCPClient.connect(host: arguments[1], port: port)
    while let line = input.next() {
        try await connection.send(line + "\n")
        // The reply may come in several pieces; receiveLine waits for the whole line.
        guard let reply = try await connection.receiveLine() else { fail("the server closed the connection") }
        FileHandle.standardOutput.write(Data((reply + "\n").utf8))  // at once, even into a pipe
    }
    try await connection.close()
} catch {
    fail("\(error)")
}
