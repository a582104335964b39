#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CTinCanShims
import Foundation
import Synchronization

/// A child process run by a test: its output captured as it comes, every wait bounded, and killed
/// when the test lets go of it, so no test leaves a process behind.
public final class TestProcess: Sendable {
    /// Where the child's standard input comes from.
    public enum Input: Sendable {
        /// A pipe the test writes with ``write(_:)`` and ends with ``closeInput()``.
        case pipe
        /// `/dev/null`: end of file at once.
        case null
        /// A file, read from the start.
        case file(String)
        /// The slave side of a new pseudo-terminal; the test holds the master (``write(_:)`` types).
        case terminal
    }

    /// Where the child's standard output goes.
    public enum Output: Sendable {
        /// Collected in memory (``stdout``).
        case capture
        /// Written to a file.
        case file(String)
    }

    public let pid: pid_t
    public let arguments: [String]
    private static let setpriv: String? = Programs.find("setpriv")
    /// Writing to the stdin of a child that has exited must fail with EPIPE, not kill the test runner.
    private static let ignoreSIGPIPE: Void = { signal(SIGPIPE, SIG_IGN) }()
    private let inputFD: Mutex<CInt>
    private let out = Capture()
    private let err = Capture()
    private let exitStatus = Mutex<Int32?>(nil)

    /// Starts `executable` (a path, or a name looked up on PATH) with `arguments`.
    public init(_ executable: String, _ arguments: [String], input: Input = .pipe, output: Output = .capture) throws {
        self.arguments = [executable] + arguments
        TestProcess.ignoreSIGPIPE
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var toClose: [CInt] = []
        var parentInput: CInt = -1

        switch input {
        case .pipe:
            var fds: [CInt] = [0, 0]
            guard pipe(&fds) == 0 else { throw posixError("pipe") }
            posix_spawn_file_actions_adddup2(&actions, fds[0], 0)
            toClose.append(fds[0])
            parentInput = fds[1]
        case .null:
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        case .file(let path):
            posix_spawn_file_actions_addopen(&actions, 0, path, O_RDONLY, 0)
        case .terminal:
            // posix_openpt and friends are not imported into Swift; these are the ioctls behind them.
            let master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
            var unlock: CInt = 0
            var number: CInt = 0
            guard master >= 0, ioctl(master, 0x4004_5431 /* TIOCSPTLCK */, &unlock) == 0,
                ioctl(master, 0x8004_5430 /* TIOCGPTN */, &number) == 0
            else {
                throw posixError("pseudo-terminal")
            }
            // Raw mode: no echo and no line editing, so bytes arrive as typed.
            let slave = open("/dev/pts/\(number)", O_RDWR | O_NOCTTY)
            guard slave >= 0 else { throw posixError("open pty") }
            var attributes = termios()
            tcgetattr(slave, &attributes)
            cfmakeraw(&attributes)
            tcsetattr(slave, TCSANOW, &attributes)
            posix_spawn_file_actions_adddup2(&actions, slave, 0)
            toClose.append(slave)
            parentInput = master
        }

        var outFDs: [CInt] = [0, 0]
        switch output {
        case .capture:
            guard pipe(&outFDs) == 0 else { throw posixError("pipe") }
            posix_spawn_file_actions_adddup2(&actions, outFDs[1], 1)
            toClose.append(outFDs[1])
        case .file(let path):
            posix_spawn_file_actions_addopen(&actions, 1, path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            outFDs = [-1, -1]
        }
        var errFDs: [CInt] = [0, 0]
        guard pipe(&errFDs) == 0 else { throw posixError("pipe") }
        posix_spawn_file_actions_adddup2(&actions, errFDs[1], 2)
        toClose.append(errFDs[1])
        // The child gets only 0, 1 and 2: neither our pipe ends nor the sockets of other tests.
        _ = ctincan_spawn_file_actions_addclosefrom(&actions, 3)
        for fd in [parentInput, outFDs[0], errFDs[0]] where fd >= 0 {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }

        // If the test runner dies (a crash, a kill), the child must not outlive it: setpriv asks the
        // kernel to kill it with its parent. posix_spawn cannot set that itself.
        var command = self.arguments
        if let setpriv = TestProcess.setpriv {
            command = [setpriv, "--pdeathsig", "KILL", "--"] + command
        }
        var pid: pid_t = 0
        let argv = command.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        // The child starts with no signal blocked and the usual dispositions: posix_spawn keeps the
        // calling thread's mask, and Swift's worker threads block SIGHUP, SIGINT, SIGTERM and
        // SIGCHLD, so a child would never see the SIGTERM a test sends it (a tmux server then
        // ignores kill-server).
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGHUP, SIGINT, SIGTERM, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let rc = posix_spawnp(&pid, command[0], &actions, &attributes, argv, environ)
        for fd in toClose { close(fd) }
        guard rc == 0 else {
            for fd in [parentInput, outFDs[0], errFDs[0]] where fd >= 0 { close(fd) }
            throw HarnessError("spawn \(executable): \(String(cString: strerror(rc)))")
        }
        self.pid = pid
        self.inputFD = Mutex(parentInput)
        if outFDs[0] >= 0 { self.out.start(fd: outFDs[0]) } else { self.out.markDone() }
        self.err.start(fd: errFDs[0])
    }

    deinit {
        if self.isRunning {
            Glibc.kill(self.pid, SIGKILL)
            var status: CInt = 0
            waitpid(self.pid, &status, 0)
        }
        self.inputFD.withLock { fd in if fd >= 0 { close(fd) } }
    }

    /// Writes to the child's standard input (the pipe, or the terminal's master side).
    public func write(_ data: Data) throws {
        let fd = self.inputFD.withLock { $0 }
        guard fd >= 0 else { throw HarnessError("standard input already closed") }
        try data.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, base + offset, buffer.count - offset)
                guard n > 0 else { throw posixError("write to child") }
                offset += n
            }
        }
    }

    public func write(_ text: String) throws { try self.write(Data(text.utf8)) }

    /// Ends the child's standard input (end of file for a pipe).
    public func closeInput() {
        self.inputFD.withLock { fd in
            if fd >= 0 { close(fd) }
            fd = -1
        }
    }

    /// Standard output so far.
    public var stdout: Data { self.out.data }
    /// Standard error so far, as text.
    public var stderr: String { String(decoding: self.err.data, as: UTF8.self) }

    /// Waits for the child to exit and for its output to be read; kills it after `timeout` seconds.
    @discardableResult
    public func waitForExit(timeout: Double = 20) async throws -> Int32 {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while self.isRunning {
            if ContinuousClock.now > deadline {
                self.kill()
                throw HarnessError("\(self.arguments.joined(separator: " ")) did not exit within \(timeout) s; stderr: \(self.stderr)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        try await self.out.waitDone(timeout: timeout)
        try await self.err.waitDone(timeout: timeout)
        return self.exitStatus.withLock { $0 } ?? -1
    }

    /// True while the child runs. Reaps the child (once) when it has exited.
    public var isRunning: Bool {
        self.exitStatus.withLock { exitStatus in
            if exitStatus != nil { return false }
            var status: CInt = 0
            guard waitpid(self.pid, &status, WNOHANG) == self.pid else { return true }
            let signal = status & 0x7f
            exitStatus = signal == 0 ? (status >> 8) & 0xff : 128 + signal
            return false
        }
    }

    /// Sends `signal` (SIGTERM by default).
    public func kill(_ signal: CInt = SIGKILL) {
        Glibc.kill(self.pid, signal)
    }

    /// Waits until standard error contains `text`; returns the whole of it.
    @discardableResult
    public func waitForStderr(_ text: String, timeout: Double = 10) async throws -> String {
        try await self.waitUntil(timeout: timeout, what: "'\(text)' on stderr") { self.stderr.contains(text) }
        return self.stderr
    }

    /// Waits until standard error contains `text` at least `count` times; returns the whole of it.
    @discardableResult
    public func waitForStderr(occurrences count: Int, of text: String, timeout: Double = 10) async throws -> String {
        try await self.waitUntil(timeout: timeout, what: "\(count) times '\(text)' on stderr") {
            self.stderr.components(separatedBy: text).count - 1 >= count
        }
        return self.stderr
    }

    /// Waits until standard output holds at least `count` bytes.
    public func waitForStdout(count: Int, timeout: Double = 10) async throws {
        try await self.waitUntil(timeout: timeout, what: "\(count) bytes on stdout") { self.stdout.count >= count }
    }

    /// Waits until the child has exited, without waiting for its output to close (a grandchild may
    /// hold it open); throws after `timeout` seconds.
    public func waitUntilExited(timeout: Double = 10) async throws {
        try await self.waitUntil(timeout: timeout, what: "the process to exit") { !self.isRunning }
    }

    /// Waits for the `listening on ADDRESS:PORT` line that `-v` prints, and returns the port.
    public func listeningPort(timeout: Double = 10) async throws -> Int {
        @Sendable func parse() -> Int? {
            let text = self.stderr
            guard let range = text.range(of: "listening on ") else { return nil }
            let rest = text[range.upperBound...]
            guard let space = rest.firstIndex(of: " "), let colon = rest[..<space].lastIndex(of: ":") else { return nil }
            return Int(rest[rest.index(after: colon)..<space])
        }
        try await self.waitUntil(timeout: timeout, what: "a 'listening on' line") { parse() != nil }
        guard let port = parse() else { throw HarnessError("no port in the 'listening on' line: \(self.stderr)") }
        return port
    }

    private func waitUntil(timeout: Double, what: String, _ condition: @escaping @Sendable () -> Bool) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while !condition() {
            if ContinuousClock.now > deadline {
                throw HarnessError("timed out waiting for \(what) from \(self.arguments.joined(separator: " ")); stderr: \(self.stderr)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}

/// Collects what a child writes to one pipe, on a thread of its own.
final class Capture: Sendable {
    private let state = Mutex<(data: Data, done: Bool)>((Data(), false))

    func start(fd: CInt) {
        let thread = Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = read(fd, &buffer, buffer.count)
                if n > 0 {
                    self.state.withLock { $0.data.append(contentsOf: buffer[0..<n]) }
                } else if n < 0, errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            close(fd)
            self.markDone()
        }
        thread.start()
    }

    func markDone() { self.state.withLock { $0.done = true } }

    var data: Data { self.state.withLock { $0.data } }

    func waitDone(timeout: Double) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while !self.state.withLock({ $0.done }) {
            if ContinuousClock.now > deadline { throw HarnessError("output pipe still open after exit") }
            try await Task.sleep(for: .milliseconds(2))
        }
    }
}
