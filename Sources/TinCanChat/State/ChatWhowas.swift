/// Who held a nick before: one entry each time a registered session left (QUIT, a drop) or
/// changed its nick, for WHOWAS (RFC 2812 3.6.3).
///
/// Bounded twice, both limits passed in with each record (``ChatLimits/whowasEntries``,
/// ``ChatLimits/whowasPerNick``): a nick keeps its most recent entries, and the whole history
/// keeps the most recent ones overall; the oldest go first. Recording and looking up cost the
/// same however long the history is (a nick has a handful of entries, the order of all of them is
/// a queue).
struct ChatWhowas {
    struct Entry: Equatable {
        var nick: String
        var user: String
        var host: String
        var realName: String
        var account: String?
        /// Its place in the order of all entries: older ones have smaller numbers (set by
        /// ``ChatWhowas/record(_:folded:total:perNick:)``).
        var sequence = 0
    }

    /// Each folded nick's entries, oldest first.
    private var byNick: [String: [Entry]] = [:]
    /// Every entry recorded, as (folded nick, sequence), oldest first from `head`; entries a nick
    /// already dropped stay here until the queue reaches them.
    private var order: [(folded: String, sequence: Int)] = []
    private var head = 0
    private var nextSequence = 0

    /// Entries held (for tests and limits).
    private(set) var count = 0

    /// Remembers `entry` under its folded nick, dropping the nick's oldest past `perNick` and
    /// the oldest of all past `total`.
    mutating func record(_ entry: Entry, folded: String, total: Int, perNick: Int) {
        guard total > 0, perNick > 0 else { return }
        var entry = entry
        entry.sequence = self.nextSequence
        self.nextSequence += 1
        var entries = self.byNick[folded, default: []]
        entries.append(entry)
        self.count += 1
        while entries.count > perNick {
            entries.removeFirst()
            self.count -= 1
        }
        self.byNick[folded] = entries
        self.order.append((folded, entry.sequence))
        // The queue holds at most `total` places, so the entries held are at most that too.
        while self.order.count - self.head > total { self.dropOldest() }
        if self.head > 64, self.head * 2 > self.order.count {
            self.order.removeFirst(self.head)
            self.head = 0
        }
    }

    /// The folded nick's entries, newest first; at most `limit` of them when given.
    func lookup(_ folded: String, limit: Int? = nil) -> [Entry] {
        let newestFirst = (self.byNick[folded] ?? []).reversed()
        guard let limit else { return Array(newestFirst) }
        return Array(newestFirst.prefix(max(0, limit)))
    }

    /// The entries of every folded nick `matches` accepts (a WHOWAS mask): each nick's newest
    /// first, nicks in order, at most `limit` per nick when given and `cap` in all. It visits each
    /// nick in the history once: at most ``ChatLimits/whowasEntries`` of them.
    func lookup(where matches: (String) -> Bool, limit: Int?, cap: Int) -> [Entry] {
        var found: [Entry] = []
        for folded in self.byNick.keys.sorted() where matches(folded) {
            found += self.lookup(folded, limit: limit)
            if found.count >= cap { return Array(found.prefix(cap)) }
        }
        return found
    }

    private mutating func dropOldest() {
        let (folded, sequence) = self.order[self.head]
        self.head += 1
        // A nick's entries are in sequence order: the oldest place in the queue, if the nick
        // still has it, is its first entry.
        guard var entries = self.byNick[folded], entries.first?.sequence == sequence else { return }
        entries.removeFirst()
        self.count -= 1
        self.byNick[folded] = entries.isEmpty ? nil : entries
    }
}
