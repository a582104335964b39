import Foundation
import NIOCore
import TinCanChatClient
import TinCanCore
import TinCanIRC
import TinCanTerminal

/// Everything the chat client's loop reacts to, from any source, one at a time.
enum ChatClientEvent: Sendable {
    /// A connection is up: what is written to `sender` goes to the server.
    case opened(sender: AsyncStream<ByteBuffer>.Continuation)
    case server(IRCMessage)
    /// The connection ended (the server closed it, or it broke).
    case disconnected(String)
    /// Connecting again failed.
    case unreachable(String)
    /// Time to connect again.
    case reconnect
    /// A line typed (line mode), or the end of the input.
    case input(String)
    case inputEnded
    /// Full screen: a key, a new size.
    case key(TerminalKey)
    case resize(TerminalSize)
    case fileInfo(number: Int, info: ChatFileTransfer.Info?)
    case progress(id: Int, done: Int64, total: Int64?)
    /// A transfer ended: an upload's link (then sent to its target) or a download's path; or why it failed.
    case finished(id: Int, result: Result<String, ChatFileTransfer.Failure>)
    /// Once a second: the clock on screen, and read markers.
    case tick
}

/// A file going up or down, for the views.
struct ChatTransfer: Sendable {
    enum Kind: Sendable {
        case upload(target: String)
        case download
    }

    let id: Int
    let kind: Kind
    let name: String
    var done: Int64 = 0
    var total: Int64?

    var percent: Int? { self.total.flatMap { $0 > 0 ? Int(self.done * 100 / $0) : 100 } }
}

/// What a way of showing the chat (line mode, full screen) does with the session.
protocol ChatClientView {
    /// Starts its input: its events go to `events` (lines, keys, sizes).
    mutating func start(_ events: AsyncStream<ChatClientEvent>.Continuation, in group: inout ThrowingDiscardingTaskGroup<any Error>)
    /// The session changed: `actions` are what the core just did (lines added, presence, ...).
    mutating func show(_ session: ChatClientState, actions: [ChatClientAction])
    /// A key (full screen): its effect on the view; a line it submits is returned.
    mutating func key(_ key: TerminalKey, _ session: inout ChatClientState) -> ChatClientKeyOutcome
    mutating func resize(_ size: TerminalSize)
    /// Whether a lost connection is made again (full screen: a person is there to wait; line
    /// mode: a script is better told, by the exit status).
    var reconnects: Bool { get }
    /// The conversations whose lines it has shown, so they count as read (full screen: the open
    /// one; line mode: all, as every line was printed).
    func read(_ model: ChatClientModel) -> [Int]
    /// The view is going away (the terminal comes back).
    mutating func stop()
}

enum ChatClientKeyOutcome {
    case none
    case submit(String)
    case show(Int)
    case quit
}

/// The session as the views see it: the core (conversations, people) and the transfers.
struct ChatClientState {
    var core: ChatClientCore
    var transfers: [ChatTransfer] = []
    var connected = false
    /// When the login was done (milliseconds): lines older than it arrived while you were away.
    var loggedInAt: Int64?
    var server: String
}

/// Runs one chat session: the connection, the core, the transfers and a view, in one loop that
/// handles one event at a time (no shared mutable state: the loop owns the core).
struct ChatClientSession {
    let endpoint: Endpoint
    let options: ChatClientOptions
    let login: ChatLogin
    let downloads: String
    let operation: String

    /// Runs until the person quits (status 0), or the login is refused or the connection is lost
    /// (an error, one line on stderr).
    func run(view: inout some ChatClientView) async throws {
        let first = try await ChatClientConnection.connect(to: self.endpoint, tls: self.options.tlsConfiguration)
        var state = ChatClientState(core: ChatClientCore(login: self.login), server: "\(self.endpoint)")
        let transfer = ChatFileTransfer(account: self.login.account, password: self.login.secret, tls: self.options.tlsConfiguration ?? .makeClientConfiguration())
        let (events, continuation) = AsyncStream<ChatClientEvent>.makeStream()
        var failure: TinCanError?
        let (endpoint, tls) = (self.endpoint, self.options.tlsConfiguration)
        do {
            try await withThrowingDiscardingTaskGroup { group in
                /// A connection's task: it says when it is open, hands the server's lines to the
                /// loop, writes what the loop sends, and says when it ends.
                func open(_ ready: ChatClientConnection?) {
                    group.addTask {
                        let connection: ChatClientConnection
                        do {
                            if let ready { connection = ready } else { connection = try await ChatClientConnection.connect(to: endpoint, tls: tls) }
                        } catch {
                            continuation.yield(.unreachable(TinCanError.cause(of: error)))
                            return
                        }
                        try? await connection.channel.executeThenClose { inbound, outbound in
                            let (outgoing, sender) = AsyncStream<ByteBuffer>.makeStream()
                            continuation.yield(.opened(sender: sender))
                            await withThrowingTaskGroup(of: Void.self) { writing in
                                writing.addTask {
                                    for await bytes in outgoing { try await outbound.write(bytes) }
                                }
                                do {
                                    for try await line in inbound {
                                        if case .message(let message) = line { continuation.yield(.server(message)) }
                                    }
                                    continuation.yield(.disconnected("the server closed the connection"))
                                } catch {
                                    continuation.yield(.disconnected(TinCanError.cause(of: error)))
                                }
                                sender.finish()
                                writing.cancelAll()
                            }
                        }
                    }
                }
                open(first)
                var outgoing: AsyncStream<ByteBuffer>.Continuation?
                // A lost connection is made again after 1 s, then 2, 4, ... up to 30 s.
                var retryDelay = 1
                var reconnected = false
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(1))
                        continuation.yield(.tick)
                    }
                }
                view.start(continuation, in: &group)
                var nextTransfer = 0
                var quitting = false

                func perform(_ actions: [ChatClientAction]) async throws {
                    for action in actions {
                        switch action {
                        case .send(let message):
                            outgoing?.yield(message.wireBytes)
                        case .refused(let sentence):
                            failure = TinCanError(operation: self.operation, cause: sentence)
                        case .ready:
                            if state.loggedInAt != nil { reconnected = true }
                            state.connected = true
                            state.loggedInAt = Self.now()
                            retryDelay = 1
                        case .quit:
                            quitting = true
                        case .lookUpFile(let offer):
                            group.addTask {
                                continuation.yield(.fileInfo(number: offer.number, info: try? await transfer.info(offer.url)))
                            }
                        case .upload(let path, let target, let url):
                            nextTransfer += 1
                            let id = nextTransfer
                            state.transfers.append(ChatTransfer(id: id, kind: .upload(target: target), name: (path as NSString).lastPathComponent))
                            group.addTask {
                                do {
                                    let link = try await transfer.upload(path, to: url) { done, total in
                                        continuation.yield(.progress(id: id, done: done, total: total))
                                    }
                                    continuation.yield(.finished(id: id, result: .success(link)))
                                } catch {
                                    continuation.yield(.finished(id: id, result: .failure(Self.failure(error))))
                                }
                            }
                        case .download(let offer):
                            nextTransfer += 1
                            let id = nextTransfer
                            state.transfers.append(ChatTransfer(id: id, kind: .download, name: offer.name ?? "file \(offer.number)", total: offer.size))
                            let directory = self.downloads
                            group.addTask {
                                do {
                                    let path = try await transfer.download(offer.url, into: directory) { done, total in
                                        continuation.yield(.progress(id: id, done: done, total: total))
                                    }
                                    continuation.yield(.finished(id: id, result: .success(path)))
                                } catch {
                                    continuation.yield(.finished(id: id, result: .failure(Self.failure(error))))
                                }
                            }
                        case .line, .presence:
                            break
                        }
                    }
                    view.show(state, actions: actions)
                }

                // Lines read before the lobby is open (a pipe is quick) wait for it: for the login,
                // then for the lobby's JOIN, or two seconds on a server without a lobby.
                var early: [ChatClientEvent] = []
                var welcomed: Int64?
                // After the input's end: quit once the server has been quiet for a second (answers
                // that wait on its store come after the echo) and the transfers are done.
                var ending = false
                var heard = Self.now()
                func inputOpen(_ now: Int64) -> Bool {
                    guard state.core.registered else { return false }
                    let since = welcomed ?? now
                    welcomed = since
                    return state.core.model.lobby != nil || now - since >= 2000
                }
                func take(_ event: ChatClientEvent, _ now: Int64) async throws {
                    switch event {
                    case .input(let line): try await perform(state.core.submitted(line, now: now))
                    default: ending = true
                    }
                }
                loop: for await event in events {
                    let now = Self.now()
                    switch event {
                    case .opened(let sender):
                        outgoing = sender
                        try await perform(state.core.connected())
                    case .server(let message):
                        heard = now
                        try await perform(state.core.received(message, now: now))
                    case .input, .inputEnded:
                        if inputOpen(now), early.isEmpty { try await take(event, now) } else { early.append(event) }
                    case .disconnected(let reason) where !quitting && failure == nil && view.reconnects && state.loggedInAt != nil:
                        // Logged in before: wait, then connect and log in again (channels are joined again).
                        outgoing = nil
                        state.connected = false
                        try await perform(state.core.disconnected(now: now))
                        try await perform(state.core.note("Disconnected: \(reason). Connecting again in \(retryDelay) s…", now: now))
                        Self.retry(after: retryDelay, &group, continuation)
                    case .disconnected(let reason):
                        if !quitting { failure = failure ?? TinCanError(operation: self.operation, cause: reason) }
                        break loop
                    case .unreachable(let reason):
                        retryDelay = min(retryDelay * 2, 30)
                        try await perform(state.core.note("Still no connection: \(reason). Trying again in \(retryDelay) s…", now: now))
                        Self.retry(after: retryDelay, &group, continuation)
                    case .reconnect:
                        open(nil)
                    case .key(let key):
                        switch view.key(key, &state) {
                        case .none: view.show(state, actions: [])
                        case .submit(let line): try await perform(state.core.submitted(line, now: now))
                        case .show(let index): try await perform(state.core.show(index))
                        case .quit: try await perform(state.core.submitted("/quit", now: now))
                        }
                    case .resize(let size):
                        view.resize(size)
                        view.show(state, actions: [])
                    case .fileInfo(let number, let info):
                        if let info { try await perform(state.core.fileInfo(number, name: info.name, size: info.size, now: now)) }
                    case .progress(let id, let done, let total):
                        if let index = state.transfers.firstIndex(where: { $0.id == id }) {
                            state.transfers[index].done = done
                            state.transfers[index].total = total ?? state.transfers[index].total
                        }
                        view.show(state, actions: [])
                    case .finished(let id, let result):
                        guard let index = state.transfers.firstIndex(where: { $0.id == id }) else { continue }
                        let finished = state.transfers.remove(at: index)
                        switch (finished.kind, result) {
                        case (.upload(let target), .success(let link)):
                            try await perform(state.core.note("Sent \(finished.name) to \(target).", now: now))
                            try await perform(state.core.submitted("/msg \(target) \(link)", now: now))
                        case (.download, .success(let path)):
                            try await perform(state.core.note("Saved \(finished.name) as \(path).", now: now))
                        case (.upload, .failure(let error)):
                            try await perform(state.core.note("Not sent: \(finished.name): \(error)", now: now))
                        case (.download, .failure(let error)):
                            try await perform(state.core.note("Not saved: \(finished.name): \(error)", now: now))
                        }
                    case .tick:
                        let read = state.core.registered ? view.read(state.core.model) : []
                        if read.isEmpty { view.show(state, actions: []) }
                        for index in read { try await perform(state.core.markRead(index)) }
                        if ending, !quitting, now - heard >= 1000, state.transfers.isEmpty {
                            try await perform(state.core.submitted("/quit", now: now))
                        }
                    }
                    if reconnected {
                        reconnected = false
                        try await perform(state.core.note("Connected again to \(state.server).", now: now))
                    }
                    if !early.isEmpty, inputOpen(now) {
                        for event in early { try await take(event, now) }
                        early = []
                    }
                    if failure != nil { break }
                }
                view.stop()
                group.cancelAll()
            }
        } catch {
            view.stop()
            throw error
        }
        if let failure { throw failure }
    }

    private static func retry(after seconds: Int, _ group: inout ThrowingDiscardingTaskGroup<any Error>, _ events: AsyncStream<ChatClientEvent>.Continuation) {
        group.addTask {
            try? await Task.sleep(for: .seconds(seconds))
            events.yield(.reconnect)
        }
    }

    static func now() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    static func failure(_ error: any Error) -> ChatFileTransfer.Failure {
        (error as? ChatFileTransfer.Failure) ?? ChatFileTransfer.Failure(TinCanError.cause(of: error))
    }
}

extension ChatLogin {
    /// The account uploads are made as: the nick of a login or a sign-up.
    var account: String? { if case .guest = self.mode { nil } else { self.nick } }
    var secret: String? {
        switch self.mode {
        case .logIn(let password), .register(let password): password
        case .guest: nil
        }
    }
}
