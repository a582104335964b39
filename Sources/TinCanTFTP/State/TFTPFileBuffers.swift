import NIOCore

/// The file read ahead of a sender's need, so that a lock-step transfer asks the disk once per
/// ``chunk`` instead of once per block. Pure: says when to read and how much; the driver reads.
///
/// The sender's `.read(count)` becomes ``want(_:)``; ``take()`` hands over the bytes once they are
/// here (or the file has ended); ``nextRead()`` says whether to start a read and of what size; the
/// driver reports what the read gave with ``readFinished(_:)``. Netascii is encoded as it comes in.
struct TFTPReadAhead {
    /// Bytes of the file read at once (more when the sender waits for more than half of it).
    static let chunk = 256 * 1024

    private let netascii: Bool
    private let encoder = NetasciiEncoder()
    /// Read (and encoded) but not yet handed to the sender.
    private var buffer = ByteBuffer()
    private(set) var readInFlight = false
    /// The file has no more bytes (a read gave none).
    private(set) var atEnd = false
    /// What the sender asked for and has not had yet.
    private var wanted: Int?

    init(netascii: Bool) {
        self.netascii = netascii
    }

    /// Bytes read and waiting for the sender.
    var buffered: Int { self.buffer.readableBytes }

    /// The sender waits for bytes it asked for.
    var isWanted: Bool { self.wanted != nil }

    /// The sender asked for `count` bytes.
    mutating func want(_ count: Int) {
        self.wanted = count
    }

    /// The bytes the sender asked for, once they are all here or the file has ended (then fewer,
    /// and `endOfFile` is set when nothing is left).
    mutating func take() -> (data: ByteBuffer, endOfFile: Bool)? {
        guard let count = self.wanted, self.buffer.readableBytes >= count || self.atEnd else { return nil }
        self.wanted = nil
        let length = min(count, self.buffer.readableBytes)
        // Cannot fail: no more than is readable.
        let data = self.buffer.readSlice(length: length)!
        return (data, self.atEnd && self.buffer.readableBytes == 0)
    }

    /// The size of the read to start now, if one should start: none runs, the file has not ended,
    /// and less than half a chunk is buffered, or less than the sender waits for (a large window
    /// asks for more than half a chunk at once). The read is then in flight.
    mutating func nextRead() -> Int? {
        let wanted = self.wanted ?? 0
        let chunk = max(Self.chunk, 2 * wanted)
        guard !self.readInFlight, !self.atEnd, self.buffer.readableBytes < max(chunk / 2, wanted) else { return nil }
        self.readInFlight = true
        return chunk
    }

    /// The read in flight gave `data`; none means the end of the file.
    mutating func readFinished(_ data: ByteBuffer) {
        self.readInFlight = false
        if data.readableBytes == 0 {
            self.atEnd = true
        } else if self.netascii {
            self.buffer.discardReadBytes()
            self.encoder.encode(data, into: &self.buffer)
        } else if self.buffer.readableBytes == 0 {
            // Take the read's storage as it is: no copy.
            self.buffer = data
        } else {
            var data = data
            self.buffer.discardReadBytes()
            self.buffer.writeBuffer(&data)
        }
    }

    /// The read in flight failed (the transfer ends).
    mutating func readFailed() {
        self.readInFlight = false
    }
}

/// Received bytes gathered into large writes, one at a time and in order, then the commit once
/// everything is written. Pure: says what to write and when to commit; the driver does it.
///
/// While more than ``maxBuffered`` bytes wait for the disk, ``isFull`` tells the driver to drop
/// DATA, so a slow disk slows the sender (it retransmits) instead of growing memory. Netascii is
/// decoded as it comes in.
struct TFTPWriteBehind {
    /// Received bytes gathered before a write is started.
    static let chunk = 256 * 1024
    /// Received bytes that may wait for the disk before DATA is dropped.
    static let maxBuffered = 8 * 1024 * 1024

    /// What the driver should start now.
    enum Step: Equatable {
        case none
        /// Write these bytes, then call ``writeFinished()``.
        case write(ByteBuffer)
        /// Everything is written: commit the file.
        case commit
    }

    private let netascii: Bool
    private var decoder = NetasciiDecoder()
    /// Received (and decoded) but not yet handed to a write.
    private var buffer = ByteBuffer()
    private(set) var writeInFlight = false
    /// The last byte is in: what remains is written, then the file is committed.
    private(set) var finishing = false
    private(set) var commitStarted = false

    init(netascii: Bool) {
        self.netascii = netascii
    }

    /// Bytes received and waiting for a write.
    var buffered: Int { self.buffer.readableBytes }

    /// Too much waits for the disk: incoming DATA should be dropped.
    var isFull: Bool { self.buffer.readableBytes > Self.maxBuffered }

    /// A block's payload, in order.
    mutating func append(_ payload: ByteBuffer) {
        if self.netascii {
            self.decoder.decode(payload, into: &self.buffer)
        } else {
            var payload = payload
            self.buffer.writeBuffer(&payload)
        }
    }

    /// Every block is in: what remains is to be written, then committed.
    mutating func finish() {
        guard !self.finishing else { return }
        self.finishing = true
        if self.netascii { self.decoder.finish(into: &self.buffer) }
    }

    /// What to start now: a write of everything gathered once a chunk is gathered (or at the end),
    /// the commit once everything is written, or nothing while a write or the commit runs.
    mutating func next() -> Step {
        guard !self.writeInFlight, !self.commitStarted else { return .none }
        if self.buffer.readableBytes >= Self.chunk || (self.finishing && self.buffer.readableBytes > 0) {
            let chunk = self.buffer
            self.buffer = ByteBuffer()
            self.writeInFlight = true
            return .write(chunk)
        }
        guard self.finishing else { return .none }
        self.commitStarted = true
        return .commit
    }

    /// The write in flight is done.
    mutating func writeFinished() {
        self.writeInFlight = false
    }
}
