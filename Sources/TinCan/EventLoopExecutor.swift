import NIOCore

/// A socket's event loop as a Swift `TaskExecutor`: a task that prefers it runs on the thread that
/// does the socket's I/O, so its receives and sends hand nothing to another thread.
///
/// Give it to `addTask(executorPreference:)` (or `withTaskExecutorPreference`) for the task that
/// serves a connection; see ``TCPConnection/executor``. The task must not block: it shares the thread
/// with every socket of that event loop. TinCan's sockets live on NIO's singleton event loop group,
/// which never shuts down; a job sent to a loop that had shut down would never run.
public final class EventLoopExecutor: TaskExecutor {
    /// The event loop the jobs run on.
    public let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        // The closure holds the executor until the job has run (the job names it unowned).
        self.eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
