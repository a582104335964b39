import NIOCore

/// What the core decided must happen outside it, beyond the bytes in the round log. The core
/// appends effects while it handles an event; the server carries them out after the call has
/// returned (``ChatDriver``), so nothing the server does can call back into the middle of a
/// command.
enum ChatEffect {
    /// Close the connection once its bytes of this round are written. The core has already
    /// taken the session out of everything and told whoever had to know.
    case close(ChatSession)
    /// Stop (true) or resume (false) reading from every connection: the server is producing
    /// more than the network takes (``ChatCore/queued(_:bytes:writable:)``).
    case pauseReading(Bool)
    /// Ask the store, off the event loop; the answer comes back as
    /// ``ChatCore/storeAnswered(_:for:)``. Until then the session's lines are held.
    case ask(ChatStoreRequest, for: ChatSession)
    /// Write to the store, in order with the other writes, without an answer.
    case keep(ChatStoreWrite)
    /// Write to the store once this round's bytes for the session have been written to its
    /// socket (offline messages count as delivered only then).
    case keepOnceWritten(ChatStoreWrite, ChatSession)
    /// Call ``ChatCore/wake()`` at this time (a deadline the core is waiting for).
    case wake(at: NIODeadline)
}
