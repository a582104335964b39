import NIOCore

/// A token bucket for one client's lines (ergo's defaults: a burst of 5, then 2 lines a second).
/// A client over its rate is not disconnected: its lines wait (the server stops reading from it),
/// so a paste is slowed down instead of lost, and a flooder cannot take the server's time from
/// everyone else.
///
/// Pure: time comes in with each call.
struct FloodBucket: Hashable, Sendable {
    let burst: Double
    let perSecond: Double
    private var tokens: Double
    private var last: NIODeadline?

    init(_ limit: ChatFloodLimit) {
        self.burst = Double(limit.burst)
        self.perSecond = limit.linesPerSecond
        self.tokens = Double(limit.burst)
    }

    /// Takes a token for one line: nil when the line may be handled now, otherwise how long until
    /// it may (nothing is taken then; ask again after that time).
    mutating func take(now: NIODeadline) -> TimeAmount? {
        if let last = self.last {
            let elapsed = Double((now - last).nanoseconds) / 1e9
            self.tokens = min(self.burst, self.tokens + elapsed * self.perSecond)
        }
        self.last = now
        if self.tokens >= 1 {
            self.tokens -= 1
            return nil
        }
        let wait = (1 - self.tokens) / self.perSecond
        return .nanoseconds(Int64((wait * 1e9).rounded(.up)))
    }
}

/// Lines a client may send before being slowed down, and the rate after that.
public struct ChatFloodLimit: Hashable, Sendable {
    /// Lines at once. Default 5.
    public var burst: Int
    /// Lines a second after the burst. Default 2.
    public var linesPerSecond: Double
    /// Lines that may wait their turn; a client with more is disconnected ("Excess Flood", as
    /// other servers say). Default 1000.
    public var maxWaitingLines: Int

    public init(burst: Int = 5, linesPerSecond: Double = 2, maxWaitingLines: Int = 1000) {
        self.burst = max(1, burst)
        self.linesPerSecond = max(0.01, linesPerSecond)
        self.maxWaitingLines = max(1, maxWaitingLines)
    }
}
