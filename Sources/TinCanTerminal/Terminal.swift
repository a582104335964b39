import Foundation
import Glibc
import Synchronization

/// The errors of ``Terminal``.
public struct TerminalError: Error, CustomStringConvertible, Sendable {
    /// What was being done ("tcgetattr", "tcsetattr").
    public var operation: String
    /// The `errno` it failed with.
    public var code: Int32

    /// An error for `operation` failing with `errno` `code`.
    public init(operation: String, code: Int32) {
        self.operation = operation
        self.code = code
    }

    /// "tcgetattr: Inappropriate ioctl for device".
    public var description: String { "\(operation): \(String(cString: strerror(code)))" }
}

/// The real terminal: raw mode, the alternate screen, bracketed paste, key input, resizes, and restoring it
/// all on every way out.
///
/// Lifecycle: set ``onSignal`` if the program wants to shut down its own way, call ``enterFullScreen()``, read
/// ``keys()`` and ``resizes()``, write frames with ``write(_:)``, and call ``restore()`` on the way out (a
/// `defer` right after entering). ``restore()`` also runs from an `atexit` handler, so a program that calls
/// `exit()` elsewhere leaves the terminal as it found it.
///
/// While full screen, SIGINT, SIGTERM and SIGHUP are taken over (a `sigaction` handler that only writes the
/// signal's number to a pipe; a thread reads it and acts): with ``onSignal`` nil the terminal is restored and
/// the process exits with status 128 + signal; otherwise the hook is called (on that thread) and must itself
/// restore and end the program. With ISIG off, Ctrl+C arrives as a key (`.control("c")`), not as SIGINT.
/// A crash (SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE: a Swift trap, `fatalError`, `abort`) restores
/// the terminal too, with async-signal-safe calls only, before the previous action (Swift's backtracer or the
/// default) takes the signal. ``restore()`` puts every signal's previous action back.
///
/// Sendable: its mutable state (the saved termios, the signal sources, the hook) lives in a `Mutex`.
public final class Terminal: Sendable {
    /// The file descriptor keys are read from, and whose termios is changed.
    public let input: Int32
    /// The file descriptor the screen is written to.
    public let output: Int32

    private struct State: ~Copyable {
        var saved: termios?
        var onSignal: (@Sendable (Int32) -> Void)?
    }

    private let state = Mutex(State())

    /// The signals that end a full-screen program and must restore the terminal first.
    static let exitSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// What to do on SIGINT, SIGTERM or SIGHUP while full screen, instead of restoring and exiting with
    /// 128 + signal. Set it before ``enterFullScreen()``. Called with the signal number;
    /// it should end the program (and ``restore()`` the terminal) soon, and not block: it runs on the thread
    /// that relays signals.
    public var onSignal: (@Sendable (Int32) -> Void)? {
        get { state.withLock { $0.onSignal } }
        set { state.withLock { $0.onSignal = newValue } }
    }

    /// True when `fd` is a terminal (`isatty`).
    public static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

    /// A terminal reading keys from `input` and drawing on `output`; nothing changes until
    /// ``enterFullScreen()``. Throws when `input` is not a terminal.
    public init(input: Int32 = STDIN_FILENO, output: Int32 = STDOUT_FILENO) throws {
        var attributes = termios()
        guard tcgetattr(input, &attributes) == 0 else { throw TerminalError(operation: "tcgetattr", code: errno) }
        self.input = input
        self.output = output
    }

    /// The terminal's size from `TIOCGWINSZ` on the output (or the input), 24 x 80 when neither says.
    public func size() -> TerminalSize {
        for fd in [output, input] {
            var size = winsize()
            if ioctl(fd, UInt(TIOCGWINSZ), &size) == 0 && size.ws_row > 0 && size.ws_col > 0 {
                return TerminalSize(rows: Int(size.ws_row), columns: Int(size.ws_col))
            }
        }
        return TerminalSize(rows: 24, columns: 80)
    }

    /// Raw mode, the alternate screen and bracketed paste; SIGINT, SIGTERM and SIGHUP handled (see the type).
    ///
    /// Raw mode: no echo, no line editing (ICANON), no signals from keys (ISIG: Ctrl+C is a key), no
    /// flow control (IXON: Ctrl+S and Ctrl+Q are keys), no CR to LF translation (ICRNL: Enter is CR), no
    /// output processing (OPOST: the renderer never writes "\n"), 8-bit characters, reads return as soon as
    /// one byte is there. `ESC [ ? 1049 h` saves the cursor and switches to the alternate screen, which
    /// ``restore()`` leaves so that the shell's screen comes back as it was. Calling it twice does nothing.
    public func enterFullScreen() throws {
        let entered: Bool = try state.withLock { state in
            guard state.saved == nil else { return false }
            var original = termios()
            guard tcgetattr(input, &original) == 0 else {
                throw TerminalError(operation: "tcgetattr", code: errno)
            }
            var raw = original
            raw.c_iflag &= ~tcflag_t(BRKINT | ICRNL | INPCK | ISTRIP | IXON | IXOFF | INLCR | IGNCR)
            raw.c_oflag &= ~tcflag_t(OPOST)
            raw.c_cflag &= ~tcflag_t(CSIZE | PARENB)
            raw.c_cflag |= tcflag_t(CS8)
            raw.c_lflag &= ~tcflag_t(ECHO | ECHONL | ICANON | ISIG | IEXTEN)
            withUnsafeMutableBytes(of: &raw.c_cc) { cc in
                cc[Int(VMIN)] = 1
                cc[Int(VTIME)] = 0
            }
            guard tcsetattr(input, TCSAFLUSH, &raw) == 0 else {
                throw TerminalError(operation: "tcsetattr", code: errno)
            }
            state.saved = original
            Self.registerForExit(self)
            SignalRelay.watch(Self.exitSignals)
            CrashRestore.arm(input: input, output: output, saved: original)
            return true
        }
        if entered {
            write("\u{1B}[?1049h\u{1B}[?2004h\u{1B}[H\u{1B}[2J")
        }
    }

    /// Puts the terminal back as ``enterFullScreen()`` found it: bracketed paste off, style reset, cursor
    /// shown, alternate screen left (the cursor returns to where it was), the termios restored exactly, the
    /// signals' previous dispositions back. Idempotent and safe from any thread, a signal handler's queue
    /// included.
    public func restore() {
        let saved: termios? = state.withLock { state in
            guard let saved = state.saved else { return nil }
            state.saved = nil
            return saved
        }
        guard var saved else { return }
        write("\u{1B}[?2004l\u{1B}[0m\u{1B}[?25h\u{1B}[?1049l")
        // TCSADRAIN: the bytes above reach the terminal under the raw settings they were written in.
        _ = tcsetattr(input, TCSADRAIN, &saved)
        Self.unregisterForExit(self)
        SignalRelay.unwatch(Self.exitSignals)
        CrashRestore.disarm(input: input)
    }

    /// True between ``enterFullScreen()`` and ``restore()``.
    public var isFullScreen: Bool { state.withLock { $0.saved != nil } }

    /// Writes all of `text` to the output, retrying after EINTR, EAGAIN (waiting until writable) and partial
    /// writes; gives up silently on other errors (the terminal is gone: nobody is left to tell).
    public func write(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        bytes.withUnsafeMutableBytes { buffer in
            while offset < buffer.count {
                let written = Glibc.write(output, buffer.baseAddress! + offset, buffer.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else if written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                    var descriptor = pollfd(fd: output, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&descriptor, 1, 1000)
                } else {
                    return
                }
            }
        }
    }

    /// How long a lone ESC waits for the rest of a sequence before it counts as the Escape key.
    static let escapeTimeout: Int32 = 50
    /// How long an open bracketed paste waits for more bytes before it is taken as ended.
    static let pasteTimeout: Int32 = 2000

    /// The keys typed, read on a thread of their own (poll and read on the input) and decoded with
    /// ``TerminalKeyDecoder``. A lone ESC becomes `.escape` after 50 ms without more bytes. Finishes at end
    /// of input (the terminal closed) or on a read error; cancelling the consumer stops the thread. Call it
    /// once: two readers would share the bytes.
    public func keys() -> AsyncStream<TerminalKey> {
        let (stream, continuation) = AsyncStream.makeStream(of: TerminalKey.self, bufferingPolicy: .unbounded)
        var wake: [Int32] = [-1, -1]
        guard pipe(&wake) == 0 else {
            continuation.finish()
            return stream
        }
        let (wakeRead, wakeWrite) = (wake[0], wake[1])
        for fd in wake { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }  // a program started later must not hold them
        continuation.onTermination = { _ in
            var byte: UInt8 = 1
            _ = Glibc.write(wakeWrite, &byte, 1)
        }
        let input = self.input
        let thread = Thread {
            Self.readKeys(input: input, wake: wakeRead, into: continuation)
            close(wakeRead)
            close(wakeWrite)
        }
        thread.name = "TinCanTerminal keys"
        thread.start()
        return stream
    }

    private static func readKeys(input: Int32, wake: Int32, into continuation: AsyncStream<TerminalKey>.Continuation) {
        var decoder = TerminalKeyDecoder()
        var buffer = [UInt8](repeating: 0, count: 4096)
        func send(_ keys: [TerminalKey]) -> Bool {
            for key in keys {
                if case .terminated = continuation.yield(key) { return false }
            }
            return true
        }
        while true {
            var descriptors = [
                pollfd(fd: input, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wake, events: Int16(POLLIN), revents: 0),
            ]
            let timeout = decoder.isInPaste ? pasteTimeout : decoder.hasPending ? escapeTimeout : -1
            let ready = poll(&descriptors, 2, timeout)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            if descriptors[1].revents != 0 { break }
            if ready == 0 {
                guard send(decoder.isInPaste ? decoder.endPaste() : decoder.flush()) else { break }
                continue
            }
            let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress!, $0.count) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                break
            }
            if count == 0 { break }
            guard send(decoder.feed(buffer[..<count])) else { break }
        }
        _ = send(decoder.endPaste())
        continuation.finish()
    }

    /// The terminal's new size after each SIGWINCH. Finishes when the consumer stops.
    public func resizes() -> AsyncStream<TerminalSize> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: TerminalSize.self, bufferingPolicy: .bufferingNewest(1))
        let id = SignalRelay.subscribe(SIGWINCH) { [weak self] _ in
            guard let self else { return }
            continuation.yield(self.size())
        }
        continuation.onTermination = { _ in SignalRelay.unsubscribe(id, from: SIGWINCH) }
        return stream
    }

    /// SIGINT, SIGTERM or SIGHUP arrived (on the signal relay's thread) while some terminal was full screen.
    static func exitSignalArrived(_ signalNumber: Int32) {
        let terminals = fullScreenTerminals.withLock { Array($0.values) }
        guard !terminals.isEmpty else { return }
        let hooks = terminals.map(\.onSignal)
        if hooks.allSatisfy({ $0 != nil }) {
            for hook in hooks { hook?(signalNumber) }
            return
        }
        for terminal in terminals { terminal.restore() }
        exit(128 + signalNumber)
    }

    // MARK: - Restoring at exit

    /// Terminals in full screen, restored by the `atexit` handler when the program exits without restoring.
    private static let fullScreenTerminals = Mutex<[ObjectIdentifier: Terminal]>([:])
    private static let atexitInstalled = Atomic<Bool>(false)

    private static func registerForExit(_ terminal: Terminal) {
        fullScreenTerminals.withLock { $0[ObjectIdentifier(terminal)] = terminal }
        if atexitInstalled.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged {
            atexit {
                let terminals = Terminal.fullScreenTerminals.withLock { Array($0.values) }
                for terminal in terminals { terminal.restore() }
            }
        }
    }

    private static func unregisterForExit(_ terminal: Terminal) {
        fullScreenTerminals.withLock { _ = $0.removeValue(forKey: ObjectIdentifier(terminal)) }
    }
}

