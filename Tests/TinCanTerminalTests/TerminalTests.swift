import Foundation
import Glibc
import Synchronization
import Testing

@testable import TinCanTerminal

/// A pseudo-terminal pair: the test plays the terminal emulator on `master`; the program under test sees `slave`.
final class PseudoTerminal {
    let master: Int32
    let slave: Int32

    // Glibc's Swift module leaves out the X/Open pseudo-terminal calls (they need _XOPEN_SOURCE), so they are
    // looked up in the C library at run time.
    private typealias OpenPT = @convention(c) (Int32) -> Int32
    private typealias GrantPT = @convention(c) (Int32) -> Int32
    private typealias PTSName = @convention(c) (Int32) -> UnsafeMutablePointer<CChar>?

    private static func function<T>(_ name: String, as type: T.Type) -> T {
        let handle = dlopen(nil, RTLD_NOW)
        guard let symbol = dlsym(handle, name) else { fatalError("\(name) not found in the C library") }
        return unsafeBitCast(symbol, to: type)
    }

    init() throws {
        let posixOpenPT = Self.function("posix_openpt", as: OpenPT.self)
        let grantPT = Self.function("grantpt", as: GrantPT.self)
        let unlockPT = Self.function("unlockpt", as: GrantPT.self)
        let ptsName = Self.function("ptsname", as: PTSName.self)
        master = posixOpenPT(O_RDWR | O_NOCTTY)
        guard master >= 0, grantPT(master) == 0, unlockPT(master) == 0, let name = ptsName(master) else {
            throw TerminalError(operation: "posix_openpt", code: errno)
        }
        slave = open(name, O_RDWR | O_NOCTTY)
        guard slave >= 0 else { throw TerminalError(operation: "open slave", code: errno) }
    }

    deinit {
        close(slave)
        close(master)
    }

    func attributes() -> termios {
        var attributes = termios()
        _ = tcgetattr(slave, &attributes)
        return attributes
    }

    /// Everything the program wrote so far, read from the master until it stays quiet for 200 ms.
    func drain() -> String {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            var descriptor = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 200) > 0 else { break }
            let count = buffer.withUnsafeMutableBytes { read(master, $0.baseAddress!, $0.count) }
            guard count > 0 else { break }
            bytes += buffer[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    func type(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(master, $0.baseAddress!, $0.count) }
    }

    func setSize(rows: UInt16, columns: UInt16) {
        var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(master, UInt(TIOCSWINSZ), &size)
    }
}

/// Field by field: the struct's padding bytes are not part of the settings.
func sameSettings(_ a: termios, _ b: termios) -> Bool {
    var a = a
    var b = b
    let cc = withUnsafeBytes(of: &a.c_cc) { Array($0) } == withUnsafeBytes(of: &b.c_cc) { Array($0) }
    return a.c_iflag == b.c_iflag && a.c_oflag == b.c_oflag && a.c_cflag == b.c_cflag && a.c_lflag == b.c_lflag
        && a.c_line == b.c_line && cc && cfgetispeed(&a) == cfgetispeed(&b) && cfgetospeed(&a) == cfgetospeed(&b)
}

/// Serialized: these tests change process-wide signal dispositions.
@Suite(.serialized) struct TerminalTests {
    @Test func notATerminal() throws {
        var fds: [Int32] = [-1, -1]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        #expect(!Terminal.isTerminal(fds[0]))
        #expect(throws: TerminalError.self) { try Terminal(input: fds[0], output: fds[1]) }
    }

    @Test func fullScreenAndRestore() throws {
        let pty = try PseudoTerminal()
        #expect(Terminal.isTerminal(pty.slave))
        let before = pty.attributes()
        #expect(before.c_lflag & tcflag_t(ICANON) != 0)
        let terminal = try Terminal(input: pty.slave, output: pty.slave)
        try terminal.enterFullScreen()
        #expect(terminal.isFullScreen)
        let raw = pty.attributes()
        #expect(raw.c_lflag & tcflag_t(ICANON) == 0)
        #expect(raw.c_lflag & tcflag_t(ECHO) == 0)
        #expect(raw.c_lflag & tcflag_t(ISIG) == 0)
        #expect(raw.c_iflag & tcflag_t(IXON) == 0)
        #expect(raw.c_iflag & tcflag_t(ICRNL) == 0)
        let entered = pty.drain()
        #expect(entered.contains("\u{1B}[?1049h"))
        #expect(entered.contains("\u{1B}[?2004h"))

        try terminal.enterFullScreen()  // a second time changes nothing
        #expect(pty.drain() == "")

        terminal.restore()
        #expect(!terminal.isFullScreen)
        #expect(sameSettings(pty.attributes(), before))
        let left = pty.drain()
        #expect(left.contains("\u{1B}[?1049l"))
        #expect(left.contains("\u{1B}[?2004l"))
        #expect(left.contains("\u{1B}[?25h"))
        terminal.restore()  // idempotent
        #expect(pty.drain() == "")
        #expect(sameSettings(pty.attributes(), before))
    }

    @Test func sizeFromTheTerminal() throws {
        let pty = try PseudoTerminal()
        pty.setSize(rows: 33, columns: 101)
        let terminal = try Terminal(input: pty.slave, output: pty.slave)
        #expect(terminal.size() == TerminalSize(rows: 33, columns: 101))
        pty.setSize(rows: 0, columns: 0)
        #expect(terminal.size() == TerminalSize(rows: 24, columns: 80))
    }

    @Test(.timeLimit(.minutes(1))) func keysAreDecodedFromTheTerminal() async throws {
        let pty = try PseudoTerminal()
        let terminal = try Terminal(input: pty.slave, output: pty.slave)
        try terminal.enterFullScreen()
        defer { terminal.restore() }
        _ = pty.drain()
        var keys = terminal.keys().makeAsyncIterator()
        pty.type("hi\r\u{1B}[A\u{03}日")
        var received: [TerminalKey] = []
        while received.count < 6, let key = await keys.next() { received.append(key) }
        #expect(received == [.character("h"), .character("i"), .enter, .up, .control("c"), .character("日")])
        // A lone ESC is the Escape key once nothing follows it.
        pty.type("\u{1B}")
        #expect(await keys.next() == .escape)
        pty.type("\u{1B}[200~pasted\rtext\u{1B}[201~")
        #expect(await keys.next() == .paste("pasted\ntext"))
    }

    @Test(.timeLimit(.minutes(1))) func keysFinishWhenTheTerminalCloses() async throws {
        var pty: PseudoTerminal? = try PseudoTerminal()
        let slave = dup(pty!.slave)
        defer { close(slave) }
        let terminal = try Terminal(input: slave, output: slave)
        try terminal.enterFullScreen()
        defer { terminal.restore() }
        var keys = terminal.keys().makeAsyncIterator()
        pty!.type("x")
        #expect(await keys.next() == .character("x"))
        pty = nil  // closes the master: the slave reads EOF (or EIO)
        #expect(await keys.next() == nil)
    }

    /// The handler of `signalNumber` as a number (0 is SIG_DFL, 1 is SIG_IGN).
    static func disposition(_ signalNumber: Int32) -> Int {
        var action = sigaction()
        sigaction(signalNumber, nil, &action)
        return unsafeBitCast(action.__sigaction_handler.sa_handler, to: Int.self)
    }

    @Test(.timeLimit(.minutes(1))) func signalHookReplacesExitAndDispositionIsPutBack() async throws {
        // Ignored before, so ignored again after restore(): a SIGHUP still in flight then cannot end the test run.
        signal(SIGHUP, SIG_IGN)
        let pty = try PseudoTerminal()
        let terminal = try Terminal(input: pty.slave, output: pty.slave)
        let (signals, continuation) = AsyncStream.makeStream(of: Int32.self)
        terminal.onSignal = { continuation.yield($0) }
        var iterator = signals.makeAsyncIterator()
        // Twice: entering full screen again after a restore must take the signals again.
        for _ in 0..<2 {
            try terminal.enterFullScreen()
            #expect(Self.disposition(SIGHUP) > 1)
            kill(getpid(), SIGHUP)
            #expect(await iterator.next() == SIGHUP)
            #expect(terminal.isFullScreen)  // the hook decides; the terminal stays as it is until restore()
            terminal.restore()
            #expect(!terminal.isFullScreen)
            #expect(Self.disposition(SIGHUP) == 1)
            #expect(pty.drain().contains("\u{1B}[?1049l"))
        }
    }

    @Test(.timeLimit(.minutes(1))) func resizesReportTheNewSize() async throws {
        let pty = try PseudoTerminal()
        let terminal = try Terminal(input: pty.slave, output: pty.slave)
        var sizes = terminal.resizes().makeAsyncIterator()
        pty.setSize(rows: 40, columns: 120)
        // The pty is not our controlling terminal, so its SIGWINCH would not reach us: send it by hand, until
        // the asynchronously registered dispatch source has seen one.
        let sender = Task {
            while !Task.isCancelled {
                kill(getpid(), SIGWINCH)
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        let size = await sizes.next()
        sender.cancel()
        #expect(size == TerminalSize(rows: 40, columns: 120))
    }
}
