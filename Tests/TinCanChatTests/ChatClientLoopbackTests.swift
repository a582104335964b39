import Foundation
import Logging
import NIOCore
import NIOSSL
import Synchronization
import Testing
import TinCanCore
import TinCanIRC
import TinCanTestSupport

@testable import TinCanChat
@testable import TinCanChatClient

/// The client library against the real chat server over loopback: signing up, logging in,
/// talking, and a file up and down through FILEHOST.
@Suite(.timeLimit(.minutes(2))) struct ChatClientLoopbackTests {
    /// A session driven by hand: lines in, actions carried out (sends written), until `until` holds.
    final class Driver {
        var core: ChatClientCore
        let channel: ChatClientConnection.Channel
        var actions: [ChatClientAction] = []
        private var inbound: NIOAsyncChannelInboundStream<IRCInboundLine>.AsyncIterator
        private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>

        init(_ login: ChatLogin, port: Int, host: String = "127.0.0.1", tls: TLSConfiguration? = nil) async throws {
            let connection = try await ChatClientConnection.connect(to: Endpoint(host: host, port: port), tls: tls)
            self.channel = connection.channel
            self.core = ChatClientCore(login: login)
            // The test owns the channel until it closes it (close()).
            let (inbound, outbound) = (connection.channel.inbound, connection.channel.outbound)
            self.inbound = inbound.makeAsyncIterator()
            self.outbound = outbound
            try await self.perform(self.core.connected())
        }

        func perform(_ actions: [ChatClientAction]) async throws {
            self.actions += actions
            for case .send(let message) in actions { try await self.outbound.write(message.wireBytes) }
        }

        func submit(_ text: String) async throws {
            try await self.perform(self.core.submitted(text, now: Self.now()))
        }

        /// Reads until `condition` holds (20 s at most).
        func until(_ what: String, _ condition: (ChatClientCore, [ChatClientAction]) -> Bool) async throws {
            let deadline = ContinuousClock.now + .seconds(20)
            while !condition(self.core, self.actions) {
                guard ContinuousClock.now < deadline else { throw HarnessError("no \(what) within 20 s") }
                guard case .message(let message)? = try await self.inbound.next() else { throw HarnessError("closed before \(what)") }
                try await self.perform(self.core.received(message, now: Self.now()))
            }
        }

        func close() {
            self.outbound.finish()
            self.channel.channel.close(promise: nil)
        }

        static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
    }

    /// Quick failures, as the file host's tests have them.
    static var configuration: ChatServerConfiguration { ChatFileHostTests.configuration }

    @Test("sign up, log in (a second session), talk in the lobby and privately; a wrong password is refused in a sentence")
    func talk() async throws {
        let store = try await SQLiteChatStore.open(path: ":memory:")
        try await withHTTPChatServer(Self.configuration, store: store) { addresses in
            let port = addresses.plain.port!
            let ann = try await Driver(ChatLogin(nick: "ann", mode: .register(password: "ann-password-1")), port: port)
            defer { ann.close() }
            try await ann.until("ann's lobby") { core, _ in core.model.lobby != nil }
            let bob = try await Driver(ChatLogin(nick: "bob", mode: .register(password: "bob-password-1")), port: port)
            defer { bob.close() }
            try await bob.until("bob's lobby") { core, _ in core.model.lobby != nil }
            try await ann.until("bob in the lobby") { core, _ in core.model.presence(of: "bob") == .online }

            try await bob.submit("hello ann")
            try await ann.until("bob's line") { core, _ in core.model.currentConversation.lines.contains { $0.from == "bob" && $0.text == "hello ann" } }
            try await ann.submit("/msg bob just between us")
            try await bob.until("ann's private line") { core, _ in
                core.model.index(of: "ann").map { core.model.conversations[$0].lines.contains { $0.text == "just between us" } } ?? false
            }
            #expect(bob.core.model.conversations[bob.core.model.index(of: "ann")!].kind == .direct)

            let wrong = try await Driver(ChatLogin(nick: "ann", mode: .logIn(password: "not it")), port: port)
            defer { wrong.close() }
            try await wrong.until("the refusal") { _, actions in actions.contains(.refused("Wrong nick or password.")) }
        }
    }

    @Test("over TLS: the server's name is checked against its certificate, then the login and a line go through", .enabled(if: Programs.available("openssl")))
    func tls() async throws {
        let (cert, key) = try await TestData.localhostCertificate()
        var configuration = Self.configuration
        configuration.tlsPort = 0
        configuration.tls = ChatTLSFiles(certificate: cert, privateKey: key)
        let store = try await SQLiteChatStore.open(path: ":memory:")
        try await withHTTPChatServer(configuration, store: store) { addresses in
            let port = try #require(addresses.tls?.port)
            var trusting = TLSConfiguration.makeClientConfiguration()
            trusting.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(cert))
            let ann = try await Driver(ChatLogin(nick: "ann", mode: .register(password: "ann-password-1")), port: port, host: "localhost", tls: trusting)
            defer { ann.close() }
            try await ann.until("ann's lobby over TLS") { core, _ in core.model.lobby != nil }
            try await ann.submit("hello over TLS")
            try await ann.until("the echo") { core, _ in core.model.currentConversation.lines.contains { $0.text == "hello over TLS" && $0.mine } }
            // Without the certificate among its trust roots, the client refuses the server.
            await #expect(throws: (any Error).self) {
                let stranger = try await Driver(ChatLogin(nick: "bob", mode: .guest), port: port, host: "localhost", tls: .makeClientConfiguration())
                defer { stranger.close() }
                try await stranger.until("a welcome it must not get") { core, _ in core.registered }
            }
        }
    }

    @Test("a file goes up with progress, is announced as a link, looked up (name, size) and downloaded under a fresh name, byte for byte")
    func files() async throws {
        let store = try await SQLiteChatStore.open(path: ":memory:")
        try await withHTTPChatServer(Self.configuration, store: store) { addresses in
            let port = addresses.plain.port!
            let ann = try await Driver(ChatLogin(nick: "ann", mode: .register(password: "ann-password-1")), port: port)
            defer { ann.close() }
            try await ann.until("ann's FILEHOST") { core, _ in core.model.lobby != nil }
            let host = try #require(ann.core.model.fileHost)
            #expect(host == "http://127.0.0.1:\(addresses.http!.port!)/upload")

            let directory = try TestData.temporaryDirectory()
            let data = TestData.random(count: 300_000)
            let path = directory + "/report 2026.bin"
            try data.write(to: URL(fileURLWithPath: path))
            let transfer = ChatFileTransfer(account: "ann", password: "ann-password-1")
            let progress = ProgressLog()
            let link = try await transfer.upload(path, to: host) { done, total in progress.add(done, total) }
            #expect(progress.last?.0 == 300_000 && progress.last?.1 == 300_000)
            try await ann.submit("/msg #lobby \(link)")
            try await ann.until("the file offer") { core, _ in !core.model.files.isEmpty }
            let offer = ann.core.model.files[0]
            #expect(offer.url == link && offer.from == "ann")
            let info = try await transfer.info(offer.url)
            #expect(info.name == "report 2026.bin" && info.size == 300_000)

            let downloads = directory + "/downloads"
            let first = try await transfer.download(offer.url, into: downloads)
            let second = try await transfer.download(offer.url, into: downloads)
            #expect(first == downloads + "/report 2026.bin" && second == downloads + "/report 2026 (1).bin")
            #expect(FileManager.default.contents(atPath: first) == data && FileManager.default.contents(atPath: second) == data)

            let refused = ChatFileTransfer(account: "ann", password: "wrong")
            await #expect(throws: ChatFileTransfer.Failure.self) { try await refused.upload(path, to: host) }
            await #expect(throws: ChatFileTransfer.Failure.self) { try await transfer.download(offer.url + "00", into: downloads) }
        }
    }
}

/// Progress calls, kept for the test to look at.
final class ProgressLog: Sendable {
    private let calls = Mutex<[(Int64, Int64?)]>([])
    func add(_ done: Int64, _ total: Int64?) { self.calls.withLock { $0.append((done, total)) } }
    var last: (Int64, Int64?)? { self.calls.withLock { $0.last } }
}
