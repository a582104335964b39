import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import Testing
import TinCanCore
import TinCanIRC
import TinCanTestSupport

@testable import TinCanChat

/// An IRC client over a real socket, reading line by line.
final class LineClient: Sendable {
    let socket: TestSocket
    private let pending = Mutex<[UInt8]>([])

    init(port: Int, host: String = "127.0.0.1", receiveBuffer: Int? = nil) throws {
        self.socket = try TestSocket.connect(host: host, port: port, receiveBuffer: receiveBuffer)
        // A bound on each wait for a line that must come, not a speed: long, because the heavy
        // tests (megabytes fanned out by a debug build) share two cores with the rest of the run.
        // Checks that nothing comes use a PING instead (expectNothingElse).
        self.socket.setTimeout(30)
    }

    func send(_ lines: String...) throws {
        try self.socket.send(lines.map { $0 + "\r\n" }.joined())
    }

    /// The next line without CR LF; nil at end of stream.
    func line() async throws -> String? {
        while true {
            let line: String? = self.pending.withLock { buffer in
                guard let newline = buffer.firstIndex(of: 0x0A) else { return nil }
                let end = newline > 0 && buffer[newline - 1] == 0x0D ? newline - 1 : newline
                let text = String(decoding: buffer[..<end], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return text
            }
            if let line { return line }
            let socket = self.socket
            guard let chunk = try await Blocking.run({ try socket.receiveSome() }) else { return nil }
            self.pending.withLock { $0.append(contentsOf: chunk) }
        }
    }

    /// Reads until a line contains `text`; returns the lines read, that one last.
    @discardableResult
    func read(until text: String) async throws -> [String] {
        var lines: [String] = []
        while let line = try await self.line() {
            lines.append(line)
            if line.contains(text) { return lines }
        }
        throw HarnessError("connection closed before a line with '\(text)'; read: \(lines.suffix(5))")
    }

    /// "ann" and "bob" registered, and ann past bob's JOIN.
    static func annAndBob(port: Int) async throws -> (LineClient, LineClient) {
        let ann = try LineClient(port: port)
        try await ann.register("ann")
        let bob = try LineClient(port: port)
        try await bob.register("bob")
        try await ann.read(until: "bob!~bob@127.0.0.1 JOIN")
        return (ann, bob)
    }

    /// QUIT, and read up to the server's ERROR: the session is gone (a QUIT sent while the store
    /// answers the session's last question waits for it, like every line).
    func quit() async throws {
        try self.send("QUIT")
        _ = try await self.read(until: "ERROR :Closing Link")
    }

    /// Registers as `nick` and reads through the lobby's NAMES.
    func register(_ nick: String) async throws {
        try self.send("NICK \(nick)", "USER \(nick) 0 * :\(nick)")
        try await self.read(until: " 366 \(nick) ")
    }

    /// Reads past JOIN and QUIT lines (presence of others) up to the PONG of a PING sent now; no
    /// other line may come.
    func expectNothingElseAfterPresence() async throws {
        try self.send("PING :sentinel")
        while let line = try await self.line() {
            if line.hasSuffix("PONG tincan.test :sentinel") { return }
            #expect(line.contains(" JOIN #lobby") || line.contains(" QUIT :"), "unexpected: \(line)")
        }
        Issue.record("connection closed")
    }

    /// Proves nothing else was queued for this client: PING, and the next line must be its PONG.
    func expectNothingElse() async throws {
        try self.send("PING :sentinel")
        let next = try await self.line()
        #expect(next?.hasSuffix("PONG tincan.test :sentinel") == true, "unexpected: \(next ?? "EOF")")
    }
}

func withChatServer<T: Sendable>(
    _ configuration: ChatServerConfiguration = ChatServerConfiguration(name: "tincan.test"),
    store: (any ChatStore)? = nil,
    hasher: ChatPasswordHasher = .fast,
    ownLoop: Bool = false,
    _ body: @Sendable (Int) async throws -> T
) async throws -> T {
    // A heavy server (megabytes to write, thousands of clients) gets an event loop of its own, so
    // that the servers of tests running beside it on the shared loops are not kept waiting.
    let own = ownLoop ? MultiThreadedEventLoopGroup(numberOfThreads: 1) : nil
    var configuration = configuration
    configuration.host = "127.0.0.1"
    configuration.port = 0
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    let server = ChatServer(
        configuration: configuration,
        store: store,
        hasher: hasher,
        group: own ?? MultiThreadedEventLoopGroup.singleton,
        logger: Logger(label: "chat") { _ in SwiftLogNoOpLogHandler() },
        onServerRunning: { continuation.yield($0.plain.port!) }
    )
    let result: Result<T, any Error>
    do {
        result = .success(
            try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask {
                    try await server.run()
                    return nil
                }
                var iterator = ports.makeAsyncIterator()
                let port = await iterator.next()!
                let result = try await body(port)
                group.cancelAll()
                return result
            }
        )
    } catch {
        result = .failure(error)
    }
    try? await own?.shutdownGracefully()
    return try result.get()
}

@Suite(.timeLimit(.minutes(2))) struct LoopbackTests {
    @Test("30 clients in the lobby: each sees the others join, one message reaches all 29 others once, the sender none")
    func lobbyFanOut() async throws {
        try await withChatServer { port in
            var clients: [LineClient] = []
            for index in 0..<30 {
                let client = try LineClient(port: port)
                try await client.register("user\(index)")
                clients.append(client)
            }
            // Each sees every later joiner's JOIN, in order.
            for (index, client) in clients.enumerated() {
                for later in (index + 1)..<30 {
                    #expect(try await client.line() == ":user\(later)!~user\(later)@127.0.0.1 JOIN #lobby")
                }
            }
            try clients[7].send("PRIVMSG #lobby :hello from seven")
            for (index, client) in clients.enumerated() where index != 7 {
                #expect(try await client.line() == ":user7!~user7@127.0.0.1 PRIVMSG #lobby :hello from seven")
            }
            for client in clients { try await client.expectNothingElse() }
        }
    }

    @Test("a private message reaches its target alone; presence: QUIT reaches the lobby with the reason")
    func privateAndPresence() async throws {
        try await withChatServer { port in
            let ann = try LineClient(port: port)
            try await ann.register("ann")
            let bob = try LineClient(port: port)
            try await bob.register("bob")
            let cat = try LineClient(port: port)
            try await cat.register("cat")
            try await ann.read(until: "cat!~cat@127.0.0.1 JOIN")
            try await bob.read(until: "cat!~cat@127.0.0.1 JOIN")
            try ann.send("PRIVMSG bob :just for you")
            #expect(try await bob.line() == ":ann!~ann@127.0.0.1 PRIVMSG bob :just for you")
            try await cat.expectNothingElse()
            try await ann.expectNothingElse()
            try bob.send("QUIT :gone fishing")
            #expect(try await bob.line() == "ERROR :Closing Link: 127.0.0.1 (Quit: gone fishing)")
            #expect(try await bob.line() == nil)
            #expect(try await ann.line() == ":bob!~bob@127.0.0.1 QUIT :Quit: gone fishing")
            #expect(try await cat.line() == ":bob!~bob@127.0.0.1 QUIT :Quit: gone fishing")
            // A connection that just drops is a QUIT too.
            cat.socket.reset()
            #expect(try await ann.line() == ":cat!~cat@127.0.0.1 QUIT :Connection reset by peer")
        }
    }

    @Test("a 600-byte line gets 417 and the connection stays; an endless line without LF is dropped, the client stays")
    func longLines() async throws {
        try await withChatServer { port in
            let ann = try LineClient(port: port)
            try await ann.register("ann")
            try ann.send("PRIVMSG #lobby :" + String(repeating: "x", count: 600))
            #expect(try await ann.line() == ":tincan.test 417 ann :Input line was too long")
            try ann.socket.send(String(repeating: "y", count: 100_000))
            try ann.send("")
            #expect(try await ann.line() == ":tincan.test 417 ann :Input line was too long")
            try await ann.expectNothingElse()
        }
    }

    @Test("a client that never reads is disconnected with SendQ exceeded; the others go on")
    func slowReader() async throws {
        var configuration = ChatServerConfiguration(name: "tincan.test")
        configuration.limits.sendQueueBytes = 256 * 1024
        configuration.floodLimit = nil
        try await withChatServer(configuration, ownLoop: true) { port in
            let sleeper = try LineClient(port: port)
            try await sleeper.register("sleeper")
            let talker = try LineClient(port: port)
            try await talker.register("talker")
            // About 40 MB for the sleeper: more than its socket buffers and its send queue hold.
            let line = "PRIVMSG #lobby :" + String(repeating: "z", count: 400) + "\r\n"
            let batch = String(repeating: line, count: 1000)
            let socket = talker.socket
            let sender = Task {
                try await Blocking.run {
                    for _ in 0..<100 { try socket.send(batch) }
                }
            }
            try await talker.read(until: ":sleeper!~sleeper@127.0.0.1 QUIT :SendQ exceeded")
            try await sender.value
            try await talker.expectNothingElse()
        }
    }

    @Test("clients that never read cannot hold the server: past the drain deadline they go, and the others are read again")
    func hostages() async throws {
        var configuration = ChatServerConfiguration(name: "tincan.test")
        configuration.floodLimit = nil
        configuration.limits.sendQueueBytes = 64 << 20  // far: only the drain deadline can free the server
        configuration.drainDeadline = .seconds(1)
        try await withChatServer(configuration, ownLoop: true) { port in
            let talker = try LineClient(port: port)
            try await talker.register("talker")
            var hostages: [LineClient] = []
            for index in 0..<10 {
                let hostage = try LineClient(port: port, receiveBuffer: 4096)
                try await hostage.register("h\(index)")
                hostages.append(hostage)
            }
            try await talker.read(until: ":h9!~h9@127.0.0.1 JOIN #lobby")
            // About 8 MB said in the lobby, more than the kernel's socket buffers take for a
            // client (Linux grows a loopback socket's send buffer to 4 MB); the hostages read none
            // of it. Then a PING: its PONG comes once the server has read all that, which it
            // cannot while the hostages hold it paused.
            let line = "PRIVMSG #lobby :" + String(repeating: "z", count: 400) + "\r\n"
            let socket = talker.socket
            let sender = Task {
                try await Blocking.run {
                    for _ in 0..<20 { try socket.send(String(repeating: line, count: 1000)) }
                    try socket.send("PING :done\r\n")
                }
            }
            let seen = try await talker.read(until: "PONG tincan.test :done")
            try await sender.value
            // Enough of them were let go to end the pause: of 10 backed up, at most 4 (half the
            // overload mark of 8) may stay; those are slow readers like any other, which pause
            // nobody.
            let dropped = seen.filter { $0.hasSuffix(" QUIT :SendQ exceeded") }
            #expect(dropped.count >= 6, "\(seen.suffix(12))")
            #expect(dropped.allSatisfy { $0.hasPrefix(":h") })
            let newcomer = try LineClient(port: port)
            try newcomer.send("NICK newcomer", "USER newcomer 0 * :n")
            try await newcomer.read(until: " 366 newcomer ")
        }
    }

    @Test("1,000 clients: past the quiet mark, a newcomer gets as many lines as the one before, and the members none")
    func registrationStaysLinear() async throws {
        var configuration = ChatServerConfiguration(name: "tincan.test")
        configuration.limits.quietPresence = 100
        configuration.limits.maxClientsPerAddress = 5000
        try await withChatServer(configuration, ownLoop: true) { port in
            let member = try LineClient(port: port)
            try await member.register("member")
            // On one thread, with plain blocking reads: a few thousand registrations in a row
            // should not load the machine more than they must (other tests run beside this one).
            let (linesPerNewcomer, clients) = try await Blocking.run { () throws -> ([Int], [TestSocket]) in
                var counts: [Int] = []
                var sockets: [TestSocket] = []
                for index in 0..<1000 {
                    let socket = try TestSocket.connect(port: port)
                    socket.setTimeout(30)
                    try socket.send("NICK u\(index)\r\nUSER u 0 * :u\r\n")
                    // In a quiet lobby the registration ends with the notice that says so.
                    let last = index < 99 ? " 366 u\(index) " : " NOTICE u\(index) :#lobby has "
                    var text = ""
                    while !text.contains(last) || !text.hasSuffix("\r\n") {
                        guard let chunk = try socket.receiveSome() else { throw HarnessError("u\(index) was closed") }
                        text += String(decoding: chunk, as: UTF8.self)
                    }
                    counts.append(text.split(separator: "\r\n").count)
                    sockets.append(socket)
                }
                return (counts, sockets)
            }
            defer { for socket in clients { socket.close() } }
            // The lobby turned quiet at its 101st member (u99): from then on every newcomer's
            // registration is the same number of lines, and nobody else gets any.
            #expect(Set(linesPerNewcomer[99...]).count == 1, "\(Set(linesPerNewcomer[99...]))")
            try member.send("PING :sentinel")
            let told = try await member.read(until: "PONG tincan.test :sentinel")
            #expect(told.count == 99 + 1, "JOINs of u0...u98, then the PONG")
            #expect(told.dropLast().allSatisfy { $0.hasSuffix(" JOIN #lobby") })
        }
    }

    @Test("hosts in masks: a dual-stack IPv4 client shows as IPv4; ::1 is written 0::1", arguments: [
        ("::ffff:127.0.0.1", "127.0.0.1"), ("::1", "0::1"), ("2001:db8::1", "2001:db8::1"), ("192.0.2.7", "192.0.2.7"),
    ])
    func hostText(address: String, host: String) {
        #expect(ChatConnectionHandler.hostText(address) == host)
    }

    // The loopback tests with a store (registration waiting for it, a store that fails) run on
    // SQLiteChatStore: see StoreLoopbackTests.

    @Test("a server runs once: a second run() throws and says why")
    func runsOnce() async throws {
        let server = ChatServer(
            configuration: ChatServerConfiguration(host: "127.0.0.1", port: 0, name: "tincan.test"),
            logger: Logger(label: "chat") { _ in SwiftLogNoOpLogHandler() }
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            group.cancelAll()
            try await group.waitForAll()
        }
        await #expect(throws: TinCanError.self) { try await server.run() }
        do {
            try await server.run()
        } catch {
            #expect("\(error)" == "chat server: it has already run; a server runs once")
        }
    }

    @Test("a configuration the server cannot serve stops it before it listens: a lobby longer than a channel name may be")
    func invalidConfiguration() async throws {
        let lobby = "#" + String(repeating: "l", count: 60)
        let server = ChatServer(
            configuration: ChatServerConfiguration(host: "127.0.0.1", port: 0, lobby: lobby),
            logger: Logger(label: "chat") { _ in SwiftLogNoOpLogHandler() },
            onServerRunning: { _ in Issue.record("it listened") }
        )
        await #expect(throws: ConfigurationError.self) { try await server.run() }
        #expect(throws: ConfigurationError.self) { try ChatServerConfiguration(lobby: lobby).validate() }
        var longer = ChatServerConfiguration(lobby: lobby)
        longer.limits.channelLength = 64
        #expect(throws: Never.self) { try longer.validate() }
    }

    @Test("IPv6: a client over ::1 registers and its mask uses 0::1")
    func ipv6() async throws {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let server = ChatServer(
            configuration: ChatServerConfiguration(host: "::1", port: 0, name: "tincan.test"),
            logger: Logger(label: "chat") { _ in SwiftLogNoOpLogHandler() },
            onServerRunning: { continuation.yield($0.plain.port!) }
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            var iterator = ports.makeAsyncIterator()
            let port = await iterator.next()!
            let ann = try LineClient(port: port, host: "::1")
            try ann.send("NICK ann", "USER ann 0 * :Ann")
            let lines = try await ann.read(until: " 366 ann ")
            #expect(lines.contains(":ann!~ann@0::1 JOIN #lobby"), "\(lines)")
            group.cancelAll()
        }
    }

    @Test("flood control: 12 lines at once all arrive, in order, before the PONG sent after them; nothing is lost")
    func floodIsSlowedNotLost() async throws {
        var configuration = ChatServerConfiguration(name: "tincan.test")
        configuration.floodLimit = ChatFloodLimit(burst: 5, linesPerSecond: 20)
        try await withChatServer(configuration) { port in
            let (ann, bob) = try await LineClient.annAndBob(port: port)
            try ann.socket.send((1...12).map { "PRIVMSG #lobby :line \($0)\r\n" }.joined() + "PING :after\r\n")
            for index in 1...12 {
                #expect(try await bob.line() == ":ann!~ann@127.0.0.1 PRIVMSG #lobby :line \(index)")
            }
            #expect(try await ann.line() == ":tincan.test PONG tincan.test :after")
        }
    }

    @Test("flood control: more lines waiting than maxWaitingLines is Excess Flood; the others are told")
    func excessFlood() async throws {
        var configuration = ChatServerConfiguration(name: "tincan.test")
        configuration.floodLimit = ChatFloodLimit(burst: 5, linesPerSecond: 1, maxWaitingLines: 20)
        try await withChatServer(configuration) { port in
            let (ann, bob) = try await LineClient.annAndBob(port: port)
            try bob.socket.send((1...100).map { "PRIVMSG #lobby :\($0)\r\n" }.joined())
            try await bob.read(until: "ERROR :Closing Link: 127.0.0.1 (Excess Flood)")
            let seen = try await ann.read(until: ":bob!~bob@127.0.0.1 QUIT :Excess Flood")
            #expect(seen.count == 6, "the burst of 5, then the QUIT: \(seen)")
        }
    }

    @Test("200 connect-then-reset cycles, some mid-registration: the server keeps serving")
    func connectResetCycles() async throws {
        try await withChatServer { port in
            let ann = try LineClient(port: port)
            try await ann.register("ann")
            for cycle in 0..<200 {
                let socket = try TestSocket.connect(port: port)
                if cycle % 2 == 1 { try socket.send("NICK n\(cycle)\r\nUSER n 0 * :n\r\n") }
                socket.reset()
            }
            // Those that got to register joined and left: the lobby may see their JOINs and QUITs.
            try await ann.expectNothingElseAfterPresence()
            let late = try LineClient(port: port)
            try await late.register("late")
            #expect(try await ann.read(until: ":late!~late@127.0.0.1 JOIN #lobby").last == ":late!~late@127.0.0.1 JOIN #lobby")
        }
    }

    @Test("over --max-clients a connection gets ERROR with the reason and is closed")
    func maxClients() async throws {
        var configuration = ChatServerConfiguration(name: "tincan.test")
        configuration.limits.maxClients = 2
        try await withChatServer(configuration) { port in
            let a = try LineClient(port: port)
            let b = try LineClient(port: port)
            try await a.register("a")
            try await b.register("b")
            let c = try LineClient(port: port)
            #expect(try await c.line() == "ERROR :Closing Link: 127.0.0.1 (Server is full (2 clients))")
            #expect(try await c.line() == nil)
            #expect(try await a.line() == ":b!~b@127.0.0.1 JOIN #lobby")
            try await a.expectNothingElse()
        }
    }

    @Test("an idle client is PINGed and dropped with 'Ping timeout' when it does not answer; one that answers stays")
    func pingTimeout() async throws {
        var configuration = ChatServerConfiguration(name: "tincan.test")
        configuration.pingInterval = .milliseconds(500)
        configuration.pingTimeout = .seconds(5)
        try await withChatServer(configuration) { port in
            // The lively one first, so that it is in the lobby to see the silent one go, however
            // slow the machine is.
            let lively = try LineClient(port: port)
            try await lively.register("lively")
            let silent = try LineClient(port: port)
            try await silent.register("silent")
            // The lively client answers every PING from a thread of its own (no hops through the
            // test's task pool, which lags on a loaded machine), until the silent one is gone.
            let socket = lively.socket
            let seen = try await Blocking.run { () throws -> [String] in
                var lines: [String] = []
                var pending = ""
                while true {
                    guard let chunk = try socket.receiveSome() else { return lines }
                    pending += String(decoding: chunk, as: UTF8.self)
                    while let end = pending.range(of: "\r\n") {
                        let line = String(pending[..<end.lowerBound])
                        pending.removeSubrange(..<end.upperBound)
                        lines.append(line)
                        if line == "PING tincan.test" { try socket.send("PONG tincan.test\r\n") }
                        if line.hasPrefix(":silent!~silent@127.0.0.1 QUIT :Ping timeout") || line.hasPrefix("ERROR") { return lines }
                    }
                }
            }
            #expect(seen.contains("PING tincan.test"))
            #expect(seen.last?.hasPrefix(":silent!~silent@127.0.0.1 QUIT :Ping timeout") == true, "\(seen.suffix(3))")
            try await silent.read(until: "ERROR :Closing Link: 127.0.0.1 (Ping timeout")
        }
    }
}
