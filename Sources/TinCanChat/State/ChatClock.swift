#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import TinCanIRC

/// The chat server's clocks: monotonic for timeouts, wall-clock for `server-time` tags and WHOIS.
/// Tests fix both.
struct ChatClock: Sendable {
    var now: @Sendable () -> NIODeadline = { .now() }
    /// Wall-clock time in milliseconds since 1970.
    var wallMilliseconds: @Sendable () -> Int = {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return spec.tv_sec * 1000 + spec.tv_nsec / 1_000_000
    }

    func wallSeconds() -> Int { self.wallMilliseconds() / 1000 }

    /// `2026-11-22T10:00:00.000Z` (IRCv3 server-time).
    func timeTag() -> String { Self.timeTag(milliseconds: self.wallMilliseconds()) }

    /// The `server-time` form of a time in milliseconds since 1970.
    static func timeTag(milliseconds: Int) -> String { IRCServerTime.format(milliseconds: Int64(milliseconds)) }

    /// Reads `2026-11-22T10:00:00.000Z` (the fraction optional) as milliseconds since 1970; nil
    /// for anything else (CHATHISTORY's `timestamp=` bounds).
    static func milliseconds(timeTag text: String) -> Int? { IRCServerTime.milliseconds(text).map(Int.init) }

    private static func twoDigits(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }

    /// `2026-11-22 10:00:00 UTC`, for RPL_CREATED.
    static func dateText(seconds: Int) -> String {
        var value = time_t(seconds)
        var parts = tm()
        gmtime_r(&value, &parts)
        let two = Self.twoDigits
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) UTC"
    }
}
