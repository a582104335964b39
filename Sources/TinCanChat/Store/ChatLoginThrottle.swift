import NIOCore

/// Slows down password guessing: counts recent failed logins per account and per address, and
/// says how long to wait before answering a failure.
///
/// The delay is ``ChatAccountSettings/failureDelay`` for a first failure, doubled for each further
/// failure of the same account or from the same address (the larger count decides), at most
/// ``ChatAccountSettings/failureDelayMax``. A success clears the account's count and the
/// address's. A count is forgotten ``forgetAfter`` after its last failure, and the table holds
/// at most ``maxEntries`` counts: past it, the least recently failed go first. Time comes in as
/// an argument, so that tests need no clock.
package actor ChatLoginThrottle {
    /// Counts kept at most (accounts and addresses together).
    package static let maxEntries = 10_000
    /// How long after its last failure a count is forgotten.
    package static let forgetAfter: Duration = .seconds(15 * 60)

    private enum Key: Hashable {
        case account(String)
        case address(String)
    }

    private struct Entry {
        var failures: Int
        var last: ContinuousClock.Instant
    }

    private let base: Duration
    private let maximum: Duration
    private let capacity: Int
    private var entries: [Key: Entry] = [:]

    /// - Parameters:
    ///   - capacity: counts kept at most; ``maxEntries`` unless a test wants a small table.
    package init(settings: ChatAccountSettings, capacity: Int = ChatLoginThrottle.maxEntries) {
        self.base = .nanoseconds(settings.failureDelay.nanoseconds)
        self.maximum = .nanoseconds(settings.failureDelayMax.nanoseconds)
        self.capacity = max(capacity, 2)
    }

    /// Counts a failed login of `account` (folded) from `address` and returns how long to wait
    /// before answering it.
    package func failed(account: String, address: String, at now: ContinuousClock.Instant = .now) -> Duration {
        let failures = max(self.countFailure(.account(account), now), self.countFailure(.address(address), now))
        var delay = self.base
        for _ in 1..<failures {
            guard delay < self.maximum else { break }
            delay *= 2
        }
        return min(delay, self.maximum)
    }

    /// A successful login: the account's and the address's counts start again.
    package func succeeded(account: String, address: String) {
        self.entries[.account(account)] = nil
        self.entries[.address(address)] = nil
    }

    /// The failures counted now for the account (for tests and logs).
    package func failures(ofAccount account: String, at now: ContinuousClock.Instant = .now) -> Int {
        self.current(.account(account), now)?.failures ?? 0
    }

    /// The failures counted now from the address.
    package func failures(fromAddress address: String, at now: ContinuousClock.Instant = .now) -> Int {
        self.current(.address(address), now)?.failures ?? 0
    }

    /// Counts kept now.
    package var count: Int { self.entries.count }

    private func current(_ key: Key, _ now: ContinuousClock.Instant) -> Entry? {
        guard let entry = self.entries[key], now - entry.last < Self.forgetAfter else { return nil }
        return entry
    }

    /// Adds one failure to `key` and returns its count.
    private func countFailure(_ key: Key, _ now: ContinuousClock.Instant) -> Int {
        var entry = self.current(key, now) ?? Entry(failures: 0, last: now)
        entry.failures += 1
        entry.last = now
        if self.entries[key] == nil, self.entries.count >= self.capacity { self.makeRoom(now) }
        self.entries[key] = entry
        return entry.failures
    }

    /// Drops the forgotten counts, and when that is not enough, the least recently failed
    /// eighth of the table: one sort for many insertions.
    private func makeRoom(_ now: ContinuousClock.Instant) {
        self.entries = self.entries.filter { now - $0.value.last < Self.forgetAfter }
        guard self.entries.count >= self.capacity else { return }
        let oldest = self.entries.sorted { $0.value.last < $1.value.last }.prefix(max(self.capacity / 8, 1))
        for (key, _) in oldest { self.entries[key] = nil }
    }
}
