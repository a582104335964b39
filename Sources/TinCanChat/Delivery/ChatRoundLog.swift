import NIOCore
import TinCanIRC

/// Where some of a session's bytes are: `start..<end` of one of the round's logs.
struct ChatRun: Equatable {
    var log: Int
    var start: Int
    var end: Int
}

/// This round's bytes, each written once, in eight logs by variant (with or without the `time`
/// tag, with or without message tags, with or without the sender's `account` tag): a recipient notes where its bytes are
/// (``ChatSession/runs``), and the round ends with one write of those slices per session.
/// Everyone in a channel with the same capabilities gets one slice of one log, however many
/// messages the round had, and no copy.
///
/// A round ends when the event loop has handled everything that was ready, or sooner, after the
/// command that filled it (``isFull``). Ending it hands the logs and each session's runs to the
/// server (``take()``) and starts empty logs, so what the core writes while the server is still
/// writing the last round (a QUIT for a socket found reset) goes into the next.
struct ChatRoundLog {
    /// Log bytes past which the round is full: the most the logs hold at once, give or take one
    /// command's output, unless a socket that took only part of its slices keeps one alive.
    static let logLimit = 64 * 1024
    /// Runs one session can have before the round is full: bounds the list when private lines
    /// and channel lines alternate.
    static let runLimit = 32

    static let logCount = 8
    private(set) var logs = [ByteBuffer](repeating: ByteBuffer(), count: Self.logCount)
    private var dirty: [ChatSession] = []
    private var crowded = false

    /// Whether any session has bytes waiting.
    var hasBytes: Bool { !self.dirty.isEmpty }

    /// The round should end now, before the next command.
    var isFull: Bool {
        self.crowded || self.logs.contains { $0.writerIndex > Self.logLimit }
    }

    /// Writes one message to a log.
    mutating func write(_ message: IRCMessage, toLog log: Int) -> ChatRun {
        let start = self.logs[log].writerIndex
        self.logs[log].writeIRCMessage(message)
        return ChatRun(log: log, start: start, end: self.logs[log].writerIndex)
    }

    /// Notes that `run` is for `session`, after what it already has this round.
    mutating func deliver(_ run: ChatRun, to session: ChatSession) {
        if let last = session.runs.last, last.log == run.log, last.end == run.start {
            session.runs[session.runs.count - 1].end = run.end
        } else {
            session.runs.append(run)
            if session.runs.count >= Self.runLimit { self.crowded = true }
        }
        if !session.dirty {
            session.dirty = true
            self.dirty.append(session)
        }
    }

    /// Ends the round: its logs and who gets which parts of them. The logs start over (in new
    /// memory, since the server's slices share the old).
    mutating func take() -> ChatRound {
        var deliveries: [ChatDelivery] = []
        deliveries.reserveCapacity(self.dirty.count)
        for session in self.dirty {
            session.dirty = false
            // Moved, not copied; an idle session holds no list.
            deliveries.append(ChatDelivery(session: session, runs: session.runs))
            session.runs = []
        }
        self.dirty = []
        self.crowded = false
        let round = ChatRound(logs: self.logs, deliveries: deliveries)
        for log in self.logs.indices where self.logs[log].writerIndex > 0 {
            // A big round's memory goes back; a small one's capacity is asked for again.
            let capacity = self.logs[log].capacity > 16 * 1024 ? 0 : self.logs[log].capacity
            self.logs[log] = ByteBuffer()
            if capacity > 0 { self.logs[log].reserveCapacity(capacity) }
        }
        return round
    }
}

/// One session's share of a round.
struct ChatDelivery {
    let session: ChatSession
    let runs: [ChatRun]
}

/// A round that ended: its logs, and who gets which parts of them.
struct ChatRound {
    let logs: [ByteBuffer]
    let deliveries: [ChatDelivery]

    /// The bytes of `runs`, as slices of the logs (no copy).
    func slices(_ runs: [ChatRun]) -> some Sequence<ByteBuffer> {
        runs.lazy.map { run in
            // A run is always inside its log: ``ChatRoundLog`` made both.
            self.logs[run.log].getSlice(at: run.start, length: run.end - run.start)!
        }
    }

    /// The bytes of `runs` in one new buffer.
    func copy(_ runs: [ChatRun]) -> ByteBuffer {
        var copy = ByteBuffer()
        copy.reserveCapacity(runs.reduce(0) { $0 + $1.end - $1.start })
        for var slice in self.slices(runs) { copy.writeBuffer(&slice) }
        return copy
    }

    /// Everything `session` gets this round, as text (tests).
    func text(for session: ChatSession) -> String {
        self.deliveries.filter { $0.session === session }.map { String(buffer: self.copy($0.runs)) }.joined()
    }
}
