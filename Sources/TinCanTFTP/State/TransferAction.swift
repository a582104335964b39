import NIOCore

/// What a transfer state machine asks its driver to carry out, in order.
enum TFTPTransferAction: Hashable, Sendable {
    /// Send this packet to the peer.
    case send(TFTPPacket)
    /// Read up to this many more bytes of the file, then call `supply` once with what was read (or
    /// `fileFailed`).
    case read(Int)
    /// Append this payload to the file being received (a failed write: call `fileFailed`).
    case write(ByteBuffer)
    /// Make the received file permanent once every `write` before it is done, then call
    /// `committed` (or `fileFailed`). The receiver's final ACK waits for it: that ACK tells the
    /// sender the file is safe.
    case commit
    /// (Re)arm the transfer's one timer; `timerFired` is due at this time.
    case setTimer(NIODeadline)
    /// Every byte has arrived and been committed (receiver) or been acknowledged (sender). A
    /// receiver keeps answering a repeated final block until `close`.
    case complete(TFTPTransferStats)
    /// The transfer is over: release its socket and timer.
    case close
    /// The transfer failed. When `sendToPeer` is set, send the error to the peer first.
    case fail(TFTPError, sendToPeer: Bool)
}

extension TFTPTransferAction {
    /// What both sides do when `maxRetries` timeouts in a row have passed: tell the peer, and stop.
    static func timedOut(after maxRetries: Int) -> [TFTPTransferAction] {
        [.fail(TFTPError(.notDefined, "timed out after \(maxRetries) retries"), sendToPeer: true), .close]
    }
}

/// Counters of one transfer, for the log line and the stats hook.
public struct TFTPTransferStats: Hashable, Sendable {
    /// File bytes transferred (before netascii translation on the receiving side).
    public var bytes: Int = 0
    /// DATA blocks in the file.
    public var blocks: Int = 0
    /// Packets sent again after a timeout or a gap.
    public var retransmissions: Int = 0
    /// Timeouts that fired.
    public var timeouts: Int = 0

    public init(bytes: Int = 0, blocks: Int = 0, retransmissions: Int = 0, timeouts: Int = 0) {
        self.bytes = bytes
        self.blocks = blocks
        self.retransmissions = retransmissions
        self.timeouts = timeouts
    }
}
