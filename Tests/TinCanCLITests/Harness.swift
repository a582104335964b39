import Foundation
import Testing
import TinCanTestSupport

/// Which side tincan plays in a test.
enum Mode: String, CaseIterable, CustomTestStringConvertible {
    case connect
    case listen
    var testDescription: String { self.rawValue }
}

/// Starts `tincan` with `arguments`.
func tincan(_ arguments: [String], input: TestProcess.Input = .pipe, output: TestProcess.Output = .capture) throws -> TestProcess {
    try TestProcess(Programs.tincan, arguments, input: input, output: output)
}

/// A tincan relay joined to a test socket: in `.connect` mode the test listens and tincan connects,
/// in `.listen` mode tincan listens on port 0 and the test connects.
func relaySession(
    _ mode: Mode,
    _ extra: [String] = [],
    input: TestProcess.Input = .pipe,
    output: TestProcess.Output = .capture,
    host: String = "127.0.0.1"
) async throws -> (TestProcess, TestSocket) {
    switch mode {
    case .connect:
        let server = try TestSocket.listen(host: host)
        let process = try tincan(["connect", "-v", host, String(server.port)] + extra, input: input, output: output)
        let peer = try await Blocking.run { try server.accept() }
        return (process, peer)
    case .listen:
        let process = try tincan(["listen", "-v", host, "0"] + extra, input: input, output: output)
        let port = try await process.listeningPort()
        let peer = try await Blocking.run { try TestSocket.connect(host: host, port: port) }
        return (process, peer)
    }
}

/// A port nothing listens on now (bound, then released).
func closedPort() throws -> Int {
    let socket = try TestSocket.listen()
    let port = socket.port
    socket.close()
    return port
}
