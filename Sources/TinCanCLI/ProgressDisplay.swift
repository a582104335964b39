#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TinCanCore

/// A one-line progress bar on stderr, redrawn in place: bytes, rate, and (with a known total) a
/// bar and the time left. Only for a terminal; callers check ``isTerminal``.
struct ProgressDisplay {
    static var isTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    private let start = ContinuousClock.now
    private var lastLength = 0

    /// Redraws the line.
    mutating func draw(bytes: Int, total: Int?) {
        let elapsed = Self.seconds(ContinuousClock.now - self.start)
        let rate = elapsed > 0 ? Double(bytes) / elapsed : 0
        var line = ""
        if let total, total > 0 {
            let fraction = min(1, Double(bytes) / Double(total))
            let width = 24
            let filled = Int(fraction * Double(width))
            line += "[" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "] "
            line += "\(Int(fraction * 100))% \(Self.size(bytes)) of \(Self.size(total))"
            if rate > 0, bytes < total {
                line += "  \(Self.size(Int(rate)))/s  ETA \(Self.clock(Double(total - bytes) / rate))"
            } else {
                line += "  \(Self.size(Int(rate)))/s"
            }
        } else {
            line += "\(Self.size(bytes))  \(Self.size(Int(rate)))/s  \(Self.clock(elapsed))"
        }
        let padding = max(0, self.lastLength - line.count)
        self.lastLength = line.count
        Self.write("\r" + line + String(repeating: " ", count: padding))
    }

    /// Leaves the line and moves to the next.
    func finish() { Self.write("\n") }

    static func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes in _ = Glibc.write(STDERR_FILENO, bytes.baseAddress, bytes.count) }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// 1536 → "1.5 KiB".
    static func size(_ bytes: Int) -> String { ByteCount.text(Int64(bytes)) }

    /// 75 → "1:15".
    static func clock(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "--:--" }
        let total = Int(seconds.rounded())
        let (hours, minutes, secs) = (total / 3600, (total / 60) % 60, total % 60)
        let two = { (n: Int) in n < 10 ? "0\(n)" : "\(n)" }
        return hours > 0 ? "\(hours):\(two(minutes)):\(two(secs))" : "\(minutes):\(two(secs))"
    }
}
