import Logging
import Synchronization

/// Carries out the core's questions (``ChatStoreRequest``) with the store and the accounts
/// (password hashing and the login throttle), in a task off the event loop (``ChatDriver``), and
/// turns each outcome into the answer the core gets back (``ChatStoreAnswer``). A store that
/// throws is an answer too (``ChatStoreAnswer/failed(_:)``): the live chat goes on without it.
struct ChatPersistence: Sendable {
    let store: any ChatStore
    let accounts: ChatAccounts

    func perform(_ request: ChatStoreRequest) async -> ChatStoreAnswer {
        do {
            switch request {
            case .nickOwner(let folded):
                return .nickOwner(try await self.store.account(named: folded)?.name)
            case .login(let name, let folded, let password, let address, _):
                switch try await self.accounts.login(name: name, folded: folded, password: password, address: address) {
                case .success(let record): return .login(record)
                case .failed: return .login(nil)
                }
            case .register(let name, let folded, let password, _):
                return .register(try await self.accounts.register(name: name, folded: folded, password: password))
            case .setPassword(let folded, let password):
                switch try await self.accounts.setPassword(folded: folded, password: password) {
                case .changed: return .done(true)
                case .noSuchAccount: return .done(false)
                case .weakPassword(let why): return .weakPassword(why)
                }
            case .dropAccount(let folded):
                return .done(try await self.accounts.delete(folded: folded))
            case .accountInfo(let folded):
                return .accountInfo(try await self.store.account(named: folded))
            case .offlineMessage:
                return try await self.storeOffline([request]).first ?? .failed("no answer")
            case .offlineBox(let folded, let limit):
                return .messages(try await self.store.offlineMessages(forAccount: folded, limit: limit))
            case .history(let query):
                return .messages(try await self.store.history(query))
            case .targets(let folded, let channels, let from, let to, let limit):
                return .targets(try await self.store.targets(forAccount: folded, channels: channels, from: from, to: to, limit: limit))
            case .contacts(let folded):
                return .contacts(try await self.store.contacts(ofAccount: folded))
            case .readMarker(let folded, let conversation):
                return .marker(try await self.store.readMarker(forAccount: folded, conversation: conversation))
            case .setReadMarker(let folded, let conversation, let time):
                return .marker(try await self.store.setReadMarker(time, forAccount: folded, conversation: conversation))
            }
        } catch {
            return .failed("\(error)")
        }
    }

    /// Carries out questions in order: a run of offline messages in one transaction (group
    /// commit), the rest one by one.
    func perform(_ requests: [ChatStoreRequest]) async -> [ChatStoreAnswer] {
        if requests.count > 1, requests.allSatisfy({ if case .offlineMessage = $0 { true } else { false } }) {
            do {
                return try await self.storeOffline(requests)
            } catch {
                return requests.map { _ in .failed("\(error)") }
            }
        }
        var answers: [ChatStoreAnswer] = []
        for request in requests { answers.append(await self.perform(request)) }
        return answers
    }

    /// Offline messages (``ChatStoreRequest/offlineMessage(_:recipient:boxLimit:)``), kept in one
    /// transaction; each answer names the account as registered. A name that is no account's is
    /// answered in the same pass, so a single message costs one trip to the store.
    private func storeOffline(_ requests: [ChatStoreRequest]) async throws -> [ChatStoreAnswer] {
        var items: [ChatOfflineItem] = []
        var boxLimit = 0
        for case .offlineMessage(let message, let recipient, let limit) in requests {
            items.append(ChatOfflineItem(message, for: recipient))
            boxLimit = limit
        }
        return try await self.store.storeOffline(items, boxLimit: boxLimit).map { result in
            switch result {
            case .stored(let id, let name): .offline(.stored(account: name, id: id))
            case .boxFull(let name): .offline(.boxFull(account: name))
            case .noSuchAccount: .offline(.noAccount)
            }
        }
    }

    /// Carries out writes in order; consecutive history appends go in one call (one transaction).
    func keep(_ writes: [ChatStoreWrite]) async throws {
        var pending: [ChatStoredMessage] = []
        for write in writes {
            if case .append(let messages) = write {
                pending += messages
                continue
            }
            if !pending.isEmpty {
                try await self.store.append(pending)
                pending = []
            }
            switch write {
            case .append:
                break
            case .markDelivered(let folded, let id):
                try await self.store.markDelivered(forAccount: folded, through: id)
            case .updateContacts(let folded, let adding, let removing):
                try await self.store.updateContacts(ofAccount: folded, adding: adding, removing: removing)
            case .clearContacts(let folded):
                try await self.store.clearContacts(ofAccount: folded)
            case .lastSeen(let folded, let time):
                try await self.store.setLastSeen(time, forAccount: folded)
            }
        }
        if !pending.isEmpty { try await self.store.append(pending) }
    }
}

/// The store's writes that need no answer (``ChatStoreWrite``), kept in order and carried out by
/// one task at a time, off the event loop: what piles up while a write runs goes in the next
/// batch, so history appends share transactions when messages come fast. Bounded: past
/// ``queueLimit`` waiting writes, new ones are dropped and counted in the log (live delivery
/// never waits for the disk).
final class ChatStoreWriter: Sendable {
    /// Writes waiting at most.
    static let queueLimit = 100_000

    private struct State {
        var queue: [ChatStoreWrite] = []
        var running = false
        var dropped = 0
        /// Writes accepted, and writes carried out (or failed), since the start.
        var accepted = 0
        var done = 0
    }

    private let persistence: ChatPersistence
    private let logger: Logger
    private let state = Mutex(State())

    init(persistence: ChatPersistence, logger: Logger) {
        self.persistence = persistence
        self.logger = logger
    }

    func enqueue(_ write: ChatStoreWrite) {
        let start = self.state.withLock { state -> Bool in
            guard state.queue.count < Self.queueLimit else {
                state.dropped += 1
                return false
            }
            state.queue.append(write)
            state.accepted += 1
            defer { state.running = true }
            return !state.running
        }
        guard start else { return }
        Task { await self.drain() }
    }

    /// How many writes have been accepted so far: a mark for ``written(through:within:)``.
    func mark() -> Int { self.state.withLock { $0.accepted } }

    /// Waits until the writes accepted up to `mark` are carried out, for at most `deadline`:
    /// a history question sees the messages sent before it (read your own writes).
    func written(through mark: Int, within deadline: Duration = .seconds(2)) async {
        let end = ContinuousClock.now + deadline
        while self.state.withLock({ $0.done < mark }), ContinuousClock.now < end {
            try? await Task.sleep(for: .milliseconds(1))
        }
    }

    /// Waits until every write enqueued so far is done, for at most `deadline` (graceful
    /// shutdown: the last messages of a run are kept too).
    func finish(within deadline: Duration) async {
        let end = ContinuousClock.now + deadline
        while ContinuousClock.now < end {
            if self.state.withLock({ !$0.running && $0.queue.isEmpty }) { return }
            try? await Task.sleep(for: .milliseconds(10))
        }
        self.logger.error("store writes still pending at shutdown")
    }

    /// How long a writer that was idle waits for company before it writes: the messages of a
    /// busy moment share one transaction (one sync) instead of one each.
    static let gathering = Duration.milliseconds(5)

    private func drain() async {
        try? await Task.sleep(for: Self.gathering)
        while true {
            let (batch, dropped) = self.state.withLock { state in
                let taken = (state.queue, state.dropped)
                state.queue = []
                state.dropped = 0
                if taken.0.isEmpty { state.running = false }
                return taken
            }
            if dropped > 0 { self.logger.error("store writes dropped: the store is too slow", metadata: ["dropped": "\(dropped)"]) }
            guard !batch.isEmpty else { return }
            do {
                try await self.persistence.keep(batch)
            } catch {
                self.logger.error("store write failed", metadata: ["error": "\(error)", "writes": "\(batch.count)"])
            }
            self.state.withLock { $0.done += batch.count }
        }
    }
}
