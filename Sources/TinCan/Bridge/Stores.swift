import NIOCore
import TinCanCore

/// What a task asks of a byte stream.
enum StreamRequest: Sendable {
    /// Whatever is there, at most this many bytes (`recv(n)`).
    case upTo(Int)
    /// Exactly this many bytes.
    case exactly(Int)
    /// One line, ended by LF (a CR before it is dropped too), of at most `maxLength` bytes without its end.
    case line(maxLength: Int)
}

/// The unread bytes of a TCP stream.
struct StreamStore: BridgeStore {
    private var bytes = ByteBuffer()

    var cost: Int { self.bytes.readableBytes }

    mutating func append(_ buffer: ByteBuffer) {
        if self.bytes.readableBytes == 0 {
            // The common case, where the reader keeps up: no copy.
            self.bytes = buffer
            return
        }
        if self.bytes.readerIndex > self.bytes.capacity / 2 { self.bytes.discardReadBytes() }
        var buffer = buffer
        self.bytes.writeBuffer(&buffer)
    }

    mutating func answer(_ request: StreamRequest, ended: Bool) -> BridgeAnswer<ByteBuffer> {
        let readable = self.bytes.readableBytes
        switch request {
        case .upTo(let count):
            if readable > 0 {
                // readSlice gives nil only when asked for more than is readable.
                return .value(self.bytes.readSlice(length: min(count, readable))!)
            }
            return ended ? .empty : .wait
        case .exactly(let count):
            if readable >= count {
                return .value(self.bytes.readSlice(length: count)!)
            }
            guard ended else { return .wait }
            return readable == 0 ? .empty : .incomplete(received: readable, needed: count)
        case .line(let maxLength):
            let view = self.bytes.readableBytesView
            // A line of maxLength bytes may be followed by CR LF; look no further than that.
            if let newline = view.prefix(maxLength + 2).firstIndex(of: UInt8(ascii: "\n")) {
                let length = newline - view.startIndex
                let hasCR = length > 0 && view[newline - 1] == UInt8(ascii: "\r")
                // A line over the limit is not consumed: the framing is lost either way, and the
                // same error for every later line is easier to reason about than a skipped one.
                guard length - (hasCR ? 1 : 0) <= maxLength else { return .failure(Self.lineTooLong(maxLength)) }
                var line = self.bytes.readSlice(length: length + 1)!
                line.moveWriterIndex(to: line.writerIndex - (hasCR ? 2 : 1))
                return .value(line)
            }
            if readable > maxLength + 1 {
                // No end within the limit: the line is too long whatever follows.
                return .failure(Self.lineTooLong(maxLength))
            }
            guard ended else { return .wait }
            if readable == 0 { return .empty }
            // The last line may lack its end.
            var line = self.bytes.readSlice(length: readable)!
            if line.readableBytesView.last == UInt8(ascii: "\r") { line.moveWriterIndex(to: line.writerIndex - 1) }
            return .value(line)
        }
    }

    func need(_ request: StreamRequest) -> Int {
        switch request {
        case .upTo: 1
        case .exactly(let count): count
        case .line(let maxLength): maxLength + 2
        }
    }

    mutating func discardAll() {
        // Bytes that arrived before a reset or our own close are still read first.
    }

    private static func lineTooLong(_ maxLength: Int) -> TinCanError {
        TinCanError(operation: "", cause: "line longer than \(maxLength) bytes", kind: .lineTooLong)
    }
}

/// Something a ``QueueStore`` holds, with its share of the queue's limit.
protocol QueueItem {
    /// The item's cost against the limit: bytes of memory for a datagram, 1 for a connection.
    var queueCost: Int { get }
    /// Releases the item when the queue is closed with it unread.
    func discard()
    /// The item as the queue keeps it: a datagram without the unused room of the buffer it was read
    /// into.
    func forStorage() -> Self
}

extension QueueItem {
    func forStorage() -> Self { self }
}

/// The next item of a ``QueueStore``.
struct NextItem: Sendable {}

/// Whole items in arrival order: datagrams, accepted connections.
struct QueueStore<Item: QueueItem & Sendable>: BridgeStore {
    private var items = CircularBuffer<Item>()
    private(set) var cost = 0

    mutating func append(_ item: Item) {
        let item = item.forStorage()
        self.items.append(item)
        self.cost += item.queueCost
    }

    mutating func answer(_ request: NextItem, ended: Bool) -> BridgeAnswer<Item> {
        guard let item = self.items.popFirst() else { return ended ? .empty : .wait }
        self.cost -= item.queueCost
        return .value(item)
    }

    func need(_ request: NextItem) -> Int { 1 }

    mutating func discardAll() {
        while let item = self.items.popFirst() { item.discard() }
        self.cost = 0
    }
}

extension AddressedEnvelope: QueueItem where DataType == ByteBuffer {
    /// The datagram's bytes: ``forStorage()`` has dropped the room around them.
    var queueCost: Int { self.data.readableBytes }
    func discard() {}

    /// A datagram that fills less than half of its buffer (every datagram is read into a 64 KiB one)
    /// is copied into one of its own size, so that a queue of small datagrams does not keep 64 KiB
    /// for each; a larger one keeps its buffer, which it mostly fills, and is not copied.
    func forStorage() -> Self {
        guard self.data.readableBytes <= self.data.capacity / 2 else { return self }
        var copy = self
        copy.data = ByteBufferAllocator().buffer(buffer: self.data)
        return copy
    }
}
