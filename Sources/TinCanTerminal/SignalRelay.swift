import Foundation
import Glibc
import Synchronization

/// The write end of the relay's pipe, read by the signal handler (an atomic load is async-signal-safe).
private let relayPipeWrite = Atomic<Int32>(-1)

/// The signal handler: it only writes the signal's number to the pipe, which is all a handler may safely do.
private func relaySignal(_ signalNumber: Int32) {
    let savedErrno = errno
    var byte = UInt8(truncatingIfNeeded: signalNumber)
    _ = write(relayPipeWrite.load(ordering: .relaxed), &byte, 1)
    errno = savedErrno
}

/// Process-wide signal handling for the terminal: a `sigaction` handler installed while someone watches a
/// signal, with the previous action put back when the last watcher stops.
///
/// Why not dispatch signal sources: libdispatch on Linux installs its own handler the first time a signal
/// gets a source and never again, so once the previous disposition has been put back (as ``Terminal/restore()``
/// must do), a second source for the same signal never fires. Saving and restoring our own `sigaction` makes
/// entering and leaving full screen repeatable, and leaves whatever the program had before exactly in place.
enum SignalRelay {
    private struct Watch {
        var count = 0
        var previous = sigaction()
    }

    private struct State {
        var started = false
        var watches: [Int32: Watch] = [:]
        var subscribers: [Int32: [Int: @Sendable (Int32) -> Void]] = [:]
        var nextID = 0
    }

    private static let state = Mutex(State())

    /// Starts taking `signals` (nested calls count; each must be matched by ``unwatch(_:)``). An exit signal
    /// goes to ``Terminal/exitSignalArrived(_:)``, others to their subscribers.
    static func watch(_ signals: [Int32]) {
        state.withLock { state in
            startIfNeeded(&state)
            for signalNumber in signals {
                var watch = state.watches[signalNumber] ?? Watch()
                if watch.count == 0 {
                    var action = sigaction()
                    action.__sigaction_handler.sa_handler = relaySignal
                    sigemptyset(&action.sa_mask)
                    action.sa_flags = SA_RESTART
                    sigaction(signalNumber, &action, &watch.previous)
                }
                watch.count += 1
                state.watches[signalNumber] = watch
            }
        }
    }

    /// Stops taking `signals`: the last watcher of a signal puts its previous action back.
    static func unwatch(_ signals: [Int32]) {
        state.withLock { state in
            for signalNumber in signals {
                guard var watch = state.watches[signalNumber], watch.count > 0 else { continue }
                watch.count -= 1
                if watch.count == 0 { sigaction(signalNumber, &watch.previous, nil) }
                state.watches[signalNumber] = watch
            }
        }
    }

    /// Calls `handler` (on the relay's thread) for each `signalNumber` until ``unsubscribe(_:from:)``.
    static func subscribe(_ signalNumber: Int32, _ handler: @escaping @Sendable (Int32) -> Void) -> Int {
        let id = state.withLock { state in
            state.nextID += 1
            state.subscribers[signalNumber, default: [:]][state.nextID] = handler
            return state.nextID
        }
        watch([signalNumber])
        return id
    }

    /// Stops the handler `id` registered for `signalNumber`.
    static func unsubscribe(_ id: Int, from signalNumber: Int32) {
        let removed = state.withLock { state in
            state.subscribers[signalNumber]?.removeValue(forKey: id) != nil
        }
        if removed { unwatch([signalNumber]) }
    }

    /// Creates the pipe and the thread that reads it, once per process.
    private static func startIfNeeded(_ state: inout State) {
        guard !state.started else { return }
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        // A handler must never block: with the pipe full, a signal is dropped rather than hanging the process.
        _ = fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK)
        relayPipeWrite.store(fds[1], ordering: .relaxed)
        state.started = true
        let readEnd = fds[0]
        let thread = Thread {
            var byte: UInt8 = 0
            while true {
                let count = read(readEnd, &byte, 1)
                if count < 0 && errno == EINTR { continue }
                guard count == 1 else { return }
                deliver(Int32(byte))
            }
        }
        thread.name = "TinCanTerminal signals"
        thread.start()
    }

    private static func deliver(_ signalNumber: Int32) {
        if Terminal.exitSignals.contains(signalNumber) {
            Terminal.exitSignalArrived(signalNumber)
        }
        let handlers = state.withLock { state in Array((state.subscribers[signalNumber] ?? [:]).values) }
        for handler in handlers { handler(signalNumber) }
    }
}

// MARK: - Crashes

/// What the crash handler needs, in plain memory set before it is armed: a signal handler may not take locks
/// or allocate.
private nonisolated(unsafe) var crashTermios = termios()
private nonisolated(unsafe) var crashInput: Int32 = -1
private nonisolated(unsafe) var crashOutput: Int32 = -1
/// The actions the crash handler replaced, by signal number.
private nonisolated(unsafe) let crashPrevious = UnsafeMutablePointer<sigaction>.allocate(capacity: 65)
private let crashArmed = Atomic<Bool>(false)
private let crashLeaveScreen: StaticString = "\u{1B}[?2004l\u{1B}[0m\u{1B}[?25h\u{1B}[?1049l"

/// On a crash (a trap, a bad access, an abort): the terminal back as it was, with async-signal-safe calls only,
/// then the previous action (the default, or Swift's backtracer) takes the signal.
private func restoreOnCrash(
    _ signalNumber: Int32, _ info: UnsafeMutablePointer<siginfo_t>?, _: UnsafeMutableRawPointer?
) {
    if crashArmed.exchange(false, ordering: .relaxed) {
        _ = write(crashOutput, crashLeaveScreen.utf8Start, crashLeaveScreen.utf8CodeUnitCount)
        _ = tcsetattr(crashInput, TCSANOW, &crashTermios)
    }
    sigaction(signalNumber, crashPrevious + Int(signalNumber), nil)
    // A fault happens again when the instruction is retried on return; a signal that was sent (kill, raise,
    // abort) is sent again so that the previous action sees it.
    if (info?.pointee.si_code ?? 0) <= 0 { raise(signalNumber) }
}

/// Restores one terminal if the process crashes while it is full screen.
enum CrashRestore {
    static let signals: [Int32] = [SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE]
    private static let lock = Mutex(false)

    /// Arms the crash handlers for a terminal just put in raw mode (the last one armed wins).
    static func arm(input: Int32, output: Int32, saved: termios) {
        lock.withLock { installed in
            crashArmed.store(false, ordering: .relaxed)
            crashTermios = saved
            crashInput = input
            crashOutput = output
            if !installed {
                for signalNumber in signals {
                    var action = sigaction()
                    action.__sigaction_handler.sa_sigaction = restoreOnCrash
                    sigemptyset(&action.sa_mask)
                    action.sa_flags = SA_SIGINFO | SA_ONSTACK
                    sigaction(signalNumber, &action, crashPrevious + Int(signalNumber))
                }
                installed = true
            }
            crashArmed.store(true, ordering: .relaxed)
        }
    }

    /// Disarms them when the terminal was restored, putting the previous actions back.
    static func disarm(input: Int32) {
        lock.withLock { installed in
            guard installed, crashInput == input else { return }
            crashArmed.store(false, ordering: .relaxed)
            for signalNumber in signals { sigaction(signalNumber, crashPrevious + Int(signalNumber), nil) }
            installed = false
        }
    }
}
