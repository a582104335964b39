#if canImport(Glibc)
import Glibc
#endif
import NIOCore

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
    func timeTag() -> String {
        let ms = self.wallMilliseconds()
        var seconds = time_t(ms / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let two = Self.twoDigits
        let millis = ms % 1000
        let three = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(three)Z"
    }

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
