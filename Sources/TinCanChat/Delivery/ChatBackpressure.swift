import NIOCore

/// Backpressure and SendQ: what the core decides when sockets fall behind.
///
/// One session backed up is a slow reader: its queue grows to ``ChatLimits/sendQueueBytes`` and
/// it is disconnected. Many backed up at once is the server producing faster than the network
/// takes (a burst fanned out to many): then reading from every connection pauses until half of
/// them have drained, so the backlog stays bounded instead of growing with the burst, and nobody
/// is disconnected for the server's own overload.
extension ChatCore {
    /// The session's socket holds `bytes` the kernel has not taken, and is under its
    /// high-water mark (`writable`) or over it. The server says so when writability changes and
    /// after each write to a socket that is over the mark.
    func queued(_ session: ChatSession, bytes: Int, writable: Bool) {
        guard !session.closing else { return }
        if writable {
            guard self.backedUp.remove(session.id) != nil else { return }
            session.backedUpSince = nil
        } else {
            if bytes > self.limits.sendQueueBytes { return self.sendQueueExceeded(session) }
            guard self.backedUp.insert(session.id).inserted else { return }
            session.backedUpSince = self.clock.now()
        }
        self.updateOverload()
    }

    /// Sessions backed up at once that mean overload rather than a few slow readers.
    private var overloadThreshold: Int { max(8, self.directory.connectedCount / 20) }

    func updateOverload() {
        if !self.overloaded, self.backedUp.count >= self.overloadThreshold {
            self.overloaded = true
            self.logger.debug("overloaded: reading paused", metadata: ["backed-up": "\(self.backedUp.count)"])
            self.effect(.pauseReading(true))
            self.effect(.wake(at: self.clock.now() + self.configuration.drainDeadline))
        } else if self.overloaded, self.backedUp.count <= self.overloadThreshold / 2 {
            self.overloaded = false
            self.logger.debug("backlog drained: reading resumed")
            self.effect(.pauseReading(false))
        }
    }

    /// A deadline the core asked for has come (``ChatEffect/wake(at:)``): sessions whose grace on
    /// a registered nick ran out are renamed; while reading is paused,
    /// sessions backed up for the whole drain deadline are not reading, and must not hold
    /// everyone's input: they are disconnected, and the pause ends once the rest have drained.
    func wake() {
        if !self.graceSessions.isEmpty { self.endGraces() }
        guard self.overloaded else { return }
        let now = self.clock.now()
        let deadline = self.configuration.drainDeadline
        var next: NIODeadline?
        for id in self.backedUp {
            guard let session = self.directory.sessions[id], let since = session.backedUpSince else { continue }
            if now - since >= deadline {
                self.logger.notice("not reading while the server waits: SendQ exceeded", metadata: ["client": "\(session.mask)"])
                self.sendQueueExceeded(session)
            } else {
                next = min(next ?? since + deadline, since + deadline)
            }
        }
        if self.overloaded, let next { self.effect(.wake(at: next)) }
    }

    /// A session that does not read let more than ``ChatLimits/sendQueueBytes`` pile up, or held
    /// up everyone past the drain deadline: it is cut loose before the server's memory grows.
    private func sendQueueExceeded(_ session: ChatSession) {
        self.logger.notice("SendQ exceeded", metadata: ["client": "\(session.mask)"])
        self.disconnected(session, reason: "SendQ exceeded")
        self.effect(.close(session))
    }
}
