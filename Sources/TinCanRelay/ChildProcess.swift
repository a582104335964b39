#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CTinCanShims
import Foundation
import NIOPosix
import TinCanCore

/// A `/bin/sh -c COMMAND` child whose standard input and output are pipes to us (``RelayEnds/exec(_:)``).
///
/// Its standard error is ours, so that a failing command's complaints reach the operator.
public struct ChildProcess: Sendable {
    /// The child's process id.
    public let pid: pid_t
    /// Our end of the pipe to the child's standard input (write to it).
    public let stdinFD: CInt
    /// Our end of the pipe from the child's standard output (read from it).
    public let stdoutFD: CInt

    /// Starts `/bin/sh -c command`.
    ///
    /// - Parameter environment: extra variables for the child, such as the peer's address.
    /// - Throws: ``TinCanError`` when the pipes or the process cannot be made.
    public static func spawn(_ command: String, environment: [String: String] = [:]) throws -> ChildProcess {
        var toChild: [CInt] = [0, 0]
        var fromChild: [CInt] = [0, 0]
        guard makePipe(&toChild) else {
            throw TinCanError(operation: "exec \(command)", cause: TinCanError.describeErrno(errno))
        }
        guard makePipe(&fromChild) else {
            let code = errno
            close(toChild[0])
            close(toChild[1])
            throw TinCanError(operation: "exec \(command)", cause: TinCanError.describeErrno(code))
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
        // Our sockets are not close-on-exec: the child must not hold other connections open.
        _ = ctincan_spawn_file_actions_addclosefrom(&actions, 3)

        // The child should die of SIGPIPE like any shell command would, even though we ignore it.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))

        var env = ProcessEnvironment.current
        for (key, value) in environment { env[key] = value }
        let argv = ["/bin/sh", "-c", command]
        let envp = env.map { "\($0.key)=\($0.value)" }

        var pid: pid_t = 0
        let rc = withCStrings(argv) { cArgv in
            withCStrings(envp) { cEnvp in
                posix_spawn(&pid, "/bin/sh", &actions, &attributes, cArgv, cEnvp)
            }
        }
        close(toChild[0])
        close(fromChild[1])
        guard rc == 0 else {
            close(toChild[1])
            close(fromChild[0])
            throw TinCanError(operation: "exec \(command)", cause: TinCanError.describeErrno(rc))
        }
        return ChildProcess(pid: pid, stdinFD: toChild[1], stdoutFD: fromChild[0])
    }

    /// Waits for the child to exit: after `graceSeconds` it gets SIGTERM, and SIGKILL after as
    /// long again. The waiting happens on a thread of its own, never on a shared pool.
    ///
    /// - Returns: the exit status, or 128 + signal number when a signal ended it.
    @discardableResult
    public func reap(graceSeconds: Double = 2) async -> Int32 {
        let pid = self.pid
        return await withCheckedContinuation { continuation in
            let thread = Thread {
                var status: CInt = 0
                var waited = 0.0
                var signalled: CInt = 0
                while true {
                    let r = waitpid(pid, &status, WNOHANG)
                    if r == pid { break }
                    if r < 0, errno != EINTR {
                        continuation.resume(returning: -1)
                        return
                    }
                    usleep(10_000)
                    waited += 0.01
                    if waited >= graceSeconds, signalled == 0 {
                        kill(pid, SIGTERM)
                        signalled = SIGTERM
                    } else if waited >= 2 * graceSeconds, signalled == SIGTERM {
                        kill(pid, SIGKILL)
                        signalled = SIGKILL
                    }
                }
                continuation.resume(returning: ChildProcess.decode(status))
            }
            thread.name = "tincan-reap-\(pid)"
            thread.start()
        }
    }

    private static func decode(_ status: CInt) -> Int32 {
        let signal = status & 0x7f
        if signal == 0 { return (status >> 8) & 0xff }
        return 128 + signal
    }
}

/// This process's environment as a dictionary.
enum ProcessEnvironment {
    static var current: [String: String] {
        var result: [String: String] = [:]
        var cursor = environ
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") {
                result[String(text[..<eq])] = String(text[text.index(after: eq)...])
            }
            cursor += 1
        }
        return result
    }
}

private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return body(pointers)
}

/// `pipe(2)` with both ends close-on-exec, so that other children never inherit them.
private func makePipe(_ fds: inout [CInt]) -> Bool {
    guard pipe(&fds) == 0 else { return false }
    _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
    _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
    return true
}
