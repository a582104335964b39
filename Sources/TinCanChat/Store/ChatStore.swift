/// Where the chat server keeps what must outlive a connection (accounts, and next offline
/// messages and history). Its calls never run on the event loop: the core asks with a
/// ``ChatEffect/ask(_:for:)`` effect, the server runs ``perform(_:)`` in a task, and the answer
/// comes back to the core on the loop as an event (``ChatCore/storeAnswered(_:for:)``). Until
/// then the asking session waits in a state of its own, so nobody else sees it half done.
package protocol ChatStore: Sendable {
    func perform(_ request: ChatStoreRequest) async throws -> ChatStoreAnswer
}

/// A question for the store.
package enum ChatStoreRequest: Sendable, Equatable {
    /// The account that owns this nick, if one does (asked at registration).
    case account(nick: String)
}

/// The store's answer to a ``ChatStoreRequest``.
package enum ChatStoreAnswer: Sendable, Equatable {
    /// The account's name, or nil for a nick nobody owns.
    case account(String?)
    /// The store could not answer; the text is for the log, not for the client.
    case failed(String)
}
