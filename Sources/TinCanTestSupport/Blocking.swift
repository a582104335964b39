import NIOPosix

/// Runs blocking test code (sockets with timeouts, waiting for processes) off the cooperative
/// thread pool, which has only as many threads as cores and must not be blocked.
public enum Blocking {
    private static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 64)
        pool.start()
        return pool
    }()

    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(body)
    }
}

/// A failure of the test harness itself (a timeout, a process that would not start).
public struct HarnessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
