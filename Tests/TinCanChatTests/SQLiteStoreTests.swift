import Foundation
import NIOCore
import Testing
import TinCanCore
import TinCanIRC
import TinCanTestSupport

@testable import TinCanChat

/// A store on a fresh file in a temporary directory.
private func freshStore() async throws -> (SQLiteChatStore, String) {
    let path = try TestData.temporaryDirectory() + "/chat.sqlite"
    return (try await SQLiteChatStore.open(path: path), path)
}

private func account(_ name: String, created: Int64 = 1000) -> ChatAccountRecord {
    ChatAccountRecord(name: name, folded: IRCCaseMapping.rfc1459.fold(name), passwordHash: "scrypt$hash-of-" + name, created: created)
}

private func message(_ msgid: String, _ time: Int64, in conversation: String, text: String? = nil) -> ChatStoredMessage {
    ChatStoredMessage(
        msgid: msgid, time: time, source: "ann!~ann@192.0.2.1", sourceAccount: "ann", command: "PRIVMSG",
        target: conversation.hasPrefix("@") ? "bob" : conversation, conversation: conversation, text: text ?? "text of " + msgid
    )
}

@Suite struct SQLiteStoreTests {
    @Test("accounts: create once per folded name, read, list by folded name, new hash, last seen, delete")
    func accounts() async throws {
        let (store, _) = try await freshStore()
        #expect(try await store.createAccount(account("Zed")))
        #expect(try await store.createAccount(account("ann")))
        var clash = account("ANN")
        clash.passwordHash = "other"
        #expect(try await !store.createAccount(clash))
        #expect(try await store.account(named: "ann") == account("ann"))
        #expect(try await store.account(named: "nobody") == nil)
        #expect(try await store.accounts().map(\.name) == ["ann", "Zed"])
        #expect(try await store.setPasswordHash("scrypt$new", forAccount: "ann"))
        #expect(try await !store.setPasswordHash("scrypt$new", forAccount: "nobody"))
        try await store.setLastSeen(5000, forAccount: "ann")
        try await store.setLastSeen(5000, forAccount: "nobody")
        let ann = try #require(try await store.account(named: "ann"))
        #expect(ann.passwordHash == "scrypt$new" && ann.lastSeen == 5000 && ann.created == 1000)
        #expect(try await store.deleteAccount(named: "zed"))
        #expect(try await !store.deleteAccount(named: "zed"))
        #expect(try await store.accounts().map(\.name) == ["ann"])
    }

    @Test("contacts: kept as given, in the order added, keyed by the folded nick; remove and clear")
    func contacts() async throws {
        let (store, _) = try await freshStore()
        _ = try await store.createAccount(account("ann"))
        let contacts = ["Bob", "cat", "[Dan]"].map { ChatContact(nick: $0, folded: IRCCaseMapping.rfc1459.fold($0)) }
        try await store.updateContacts(ofAccount: "ann", adding: contacts, removing: [])
        try await store.updateContacts(ofAccount: "ann", adding: [ChatContact(nick: "BOB", folded: "bob")], removing: ["cat"])
        #expect(try await store.contacts(ofAccount: "ann") == ["Bob", "[Dan]"])
        try await store.updateContacts(ofAccount: "ann", adding: [ChatContact(nick: "Cat", folded: "cat")], removing: ["{dan}"])
        #expect(try await store.contacts(ofAccount: "ann") == ["Bob", "Cat"])
        try await store.clearContacts(ofAccount: "ann")
        #expect(try await store.contacts(ofAccount: "ann").isEmpty)
    }

    /// Six messages of #lobby, three of them in the same millisecond, and one elsewhere.
    static func lobby(_ store: SQLiteChatStore) async throws {
        try await store.append([
            message("m1", 100, in: "#lobby"), message("m2", 200, in: "#lobby"), message("m3", 200, in: "#lobby"),
            message("other", 200, in: "#other"),
            message("m4", 200, in: "#lobby"), message("m5", 300, in: "#lobby"), message("m6", 400, in: "#lobby"),
        ])
    }

    @Test("history: each selector with exclusive bounds (AROUND's msgid is its centre), oldest first, ties in a millisecond by row id", arguments: [
        (ChatHistoryQuery.Selector.latest(after: nil), 3, ["m4", "m5", "m6"]),
        (.latest(after: .msgid("m3")), 10, ["m4", "m5", "m6"]),
        (.latest(after: .msgid("m3")), 2, ["m5", "m6"]),
        (.latest(after: .time(200)), 10, ["m5", "m6"]),
        (.before(.msgid("m4")), 2, ["m2", "m3"]),
        (.before(.time(200)), 10, ["m1"]),
        (.before(.time(201)), 2, ["m3", "m4"]),
        (.after(.msgid("m2")), 2, ["m3", "m4"]),
        (.after(.time(200)), 10, ["m5", "m6"]),
        (.after(.time(199)), 1, ["m2"]),
        (.around(.msgid("m3")), 4, ["m2", "m3", "m4", "m5"]),
        (.around(.msgid("m3")), 3, ["m2", "m3", "m4"]),
        (.around(.msgid("m3")), 1, ["m3"]),
        (.around(.time(250)), 2, ["m4", "m5"]),
        (.around(.time(200)), 3, ["m1", "m2", "m3"]),
        (.between(.msgid("m1"), .msgid("m5")), 2, ["m2", "m3"]),
        (.between(.msgid("m5"), .msgid("m1")), 2, ["m3", "m4"]),
        (.between(.time(100), .time(400)), 10, ["m2", "m3", "m4", "m5"]),
        (.between(.time(400), .time(100)), 10, ["m2", "m3", "m4", "m5"]),
        (.between(.time(200), .time(200)), 10, []),
        (.between(.msgid("m2"), .msgid("m4")), 10, ["m3"]),
        (.latest(after: nil), 0, []),
    ])
    func history(selector: ChatHistoryQuery.Selector, limit: Int, expected: [String]) async throws {
        let (store, _) = try await freshStore()
        try await Self.lobby(store)
        let found = try await store.history(ChatHistoryQuery(conversation: "#lobby", selector: selector, limit: limit))
        #expect(found.map(\.msgid) == expected)
        #expect(found.allSatisfy { $0.id > 0 && $0.conversation == "#lobby" && $0.text == "text of " + $0.msgid })
    }

    @Test("history: a msgid the conversation does not hold selects nothing, whatever the selector", arguments: [
        ChatHistoryQuery.Selector.latest(after: .msgid("other")), .before(.msgid("other")), .after(.msgid("nope")),
        .around(.msgid("other")), .between(.msgid("m1"), .msgid("other")), .between(.msgid("nope"), .time(1000)),
    ])
    func historyForeignBound(selector: ChatHistoryQuery.Selector) async throws {
        let (store, _) = try await freshStore()
        try await Self.lobby(store)
        #expect(try await store.history(ChatHistoryQuery(conversation: "#lobby", selector: selector, limit: 10)).isEmpty)
    }

    @Test("a stored message comes back as it went in, with its row id")
    func roundTrip() async throws {
        let (store, _) = try await freshStore()
        let sent = ChatStoredMessage(
            msgid: "x1", time: 42, source: "g!~g@h", sourceAccount: nil, command: "NOTICE", target: "Bob",
            conversation: "@bob ~g", text: "héllo \u{1}ACTION waves\u{1}"
        )
        try await store.append([sent])
        let found = try await store.history(ChatHistoryQuery(conversation: "@bob ~g", selector: .latest(after: nil), limit: 5))
        var expected = sent
        expected.id = try #require(found.first?.id)
        #expect(found == [expected])
    }

    @Test("offline box: in history too, oldest first, the limit checked with the insert, delivered through an id")
    func offline() async throws {
        let (store, _) = try await freshStore()
        _ = try await store.createAccount(account("bob"))
        #expect(try await store.storeOffline(message("o1", 10, in: "@ann bob"), forAccount: "bob", boxLimit: 2))
        #expect(try await store.storeOffline(message("o2", 5, in: "@ann bob"), forAccount: "bob", boxLimit: 2))
        #expect(try await !store.storeOffline(message("o3", 20, in: "@ann bob"), forAccount: "bob", boxLimit: 2))
        let box = try await store.offlineMessages(forAccount: "bob", limit: 10)
        #expect(box.map(\.msgid) == ["o2", "o1"])
        #expect(try await store.offlineMessages(forAccount: "bob", limit: 1).map(\.msgid) == ["o2"])
        let history = try await store.history(ChatHistoryQuery(conversation: "@ann bob", selector: .latest(after: nil), limit: 10))
        #expect(history.map(\.msgid) == ["o2", "o1"])
        // Delivering through the first one's id leaves the later one (by row id) in the box.
        try await store.markDelivered(forAccount: "bob", through: box[1].id)
        #expect(try await store.offlineMessages(forAccount: "bob", limit: 10).map(\.msgid) == ["o2"])
        #expect(try await store.storeOffline(message("o3", 20, in: "@ann bob"), forAccount: "bob", boxLimit: 2))
        try await store.markDelivered(forAccount: "bob", through: Int64.max)
        #expect(try await store.offlineMessages(forAccount: "bob", limit: 10).isEmpty)
        #expect(try await store.history(ChatHistoryQuery(conversation: "@ann bob", selector: .latest(after: nil), limit: 10)).count == 3)
        await #expect(throws: SQLiteChatStoreError.noSuchAccount("nobody")) {
            try await store.storeOffline(message("o4", 30, in: "@ann nobody"), forAccount: "nobody", boxLimit: 2)
        }
        #expect(try await store.history(ChatHistoryQuery(conversation: "@ann nobody", selector: .latest(after: nil), limit: 10)).isEmpty)
    }

    @Test("offline box: senders racing for the last place, exactly the limit is kept")
    func offlineRace() async throws {
        let (store, _) = try await freshStore()
        _ = try await store.createAccount(account("bob"))
        let kept = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<20 {
                group.addTask { try await store.storeOffline(message("r\(index)", Int64(index), in: "@ann bob"), forAccount: "bob", boxLimit: 7) }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(kept == 7)
        #expect(try await store.offlineMessages(forAccount: "bob", limit: 100).count == 7)
    }

    @Test("targets: private partners (without ~) and the given channels whose latest message is in the span, oldest first, limited")
    func targets() async throws {
        let (store, _) = try await freshStore()
        try await store.append([
            message("a", 100, in: "@ann bob"), message("b", 150, in: "@ann bob"),
            message("c", 120, in: "@ann ~guest"),
            message("d", 130, in: "#lobby"), message("e", 140, in: "#other"), message("f", 110, in: "#quiet"),
            message("g", 160, in: "@bob cat"),
            message("h", 170, in: "@ann dan"), message("i", 900, in: "@ann eve"),
            message("j", 125, in: "@[x] ann"),
        ])
        let all = try await store.targets(forAccount: "ann", channels: ["#lobby", "#quiet", "#none"], from: 100, to: 500, limit: 10)
        #expect(all == [
            ChatHistoryTarget(conversation: "#quiet", name: "#quiet", latest: 110),
            ChatHistoryTarget(conversation: "@ann ~guest", name: "guest", latest: 120),
            ChatHistoryTarget(conversation: "@[x] ann", name: "[x]", latest: 125),
            ChatHistoryTarget(conversation: "#lobby", name: "#lobby", latest: 130),
            ChatHistoryTarget(conversation: "@ann bob", name: "bob", latest: 150),
            ChatHistoryTarget(conversation: "@ann dan", name: "dan", latest: 170),
        ])
        // Counted from the first bound; the span is open at both ends.
        let early = try await store.targets(forAccount: "ann", channels: ["#lobby", "#quiet"], from: 100, to: 500, limit: 2)
        #expect(early.map(\.name) == ["#quiet", "guest"])
        let late = try await store.targets(forAccount: "ann", channels: ["#lobby", "#quiet"], from: 500, to: 100, limit: 2)
        #expect(late.map(\.name) == ["bob", "dan"])
        // A conversation is listed when its latest message of all is in the span: bob's (150) is
        // not, though an earlier one (100) is (irctest's "excludes updated targets").
        let open = try await store.targets(forAccount: "ann", channels: ["#quiet"], from: 99, to: 150, limit: 10)
        #expect(open.map(\.name) == ["#quiet", "guest", "[x]"])
        #expect(open.first?.latest == 110)
    }

    @Test("prune: messages older than the cut go, offline rows with them; each channel keeps its newest, private ones are not counted")
    func prune() async throws {
        let (store, _) = try await freshStore()
        _ = try await store.createAccount(account("bob"))
        try await store.append((1...6).map { message("l\($0)", 100 + Int64($0), in: "#lobby") })
        try await store.append([message("q1", 50, in: "#quiet"), message("q2", 150, in: "#quiet")])
        try await store.append((1...5).map { message("p\($0)", 200 + Int64($0), in: "@ann cat") })
        _ = try await store.storeOffline(message("old", 60, in: "@ann bob"), forAccount: "bob", boxLimit: 10)
        _ = try await store.storeOffline(message("new", 160, in: "@ann bob"), forAccount: "bob", boxLimit: 10)
        // Gone: q1 and old by age, l1-l3 by count (3 kept per channel).
        #expect(try await store.prune(before: 100, perChannel: 3) == 5)
        func ids(_ conversation: String) async throws -> [String] {
            try await store.history(ChatHistoryQuery(conversation: conversation, selector: .latest(after: nil), limit: 100)).map(\.msgid)
        }
        #expect(try await ids("#lobby") == ["l4", "l5", "l6"])
        #expect(try await ids("#quiet") == ["q2"])
        #expect(try await ids("@ann cat").count == 5)
        #expect(try await store.offlineMessages(forAccount: "bob", limit: 10).map(\.msgid) == ["new"])
        #expect(try await store.prune(before: 100, perChannel: 3) == 0)
        #expect(try await store.prune(before: 0, perChannel: 0) == 4)
        #expect(try await ids("#lobby").isEmpty)
    }

    @Test("read markers move forward only and come back as stored")
    func readMarkers() async throws {
        let (store, _) = try await freshStore()
        _ = try await store.createAccount(account("ann"))
        #expect(try await store.readMarker(forAccount: "ann", conversation: "#lobby") == nil)
        #expect(try await store.setReadMarker(500, forAccount: "ann", conversation: "#lobby") == 500)
        #expect(try await store.setReadMarker(400, forAccount: "ann", conversation: "#lobby") == 500)
        #expect(try await store.setReadMarker(600, forAccount: "ann", conversation: "#lobby") == 600)
        #expect(try await store.readMarker(forAccount: "ann", conversation: "#lobby") == 600)
        #expect(try await store.readMarker(forAccount: "ann", conversation: "@ann bob") == nil)
    }

    @Test("files: recorded, found by id, counted for the quota until they expire, removed and returned when expired")
    func files() async throws {
        let (store, _) = try await freshStore()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        func file(_ id: String, size: Int64, owner: String = "ann", expires: Int64) -> ChatFileRecord {
            ChatFileRecord(id: id, name: id + ".txt", contentType: "text/plain", size: size, sha256: "00", owner: owner, created: 1, expires: expires)
        }
        let (old, live, other) = (file("f1", size: 10, expires: 1000), file("f2", size: 20, expires: now + 3_600_000),
            file("f3", size: 40, owner: "bob", expires: now + 3_600_000))
        for record in [old, live, other] { try await store.addFile(record) }
        #expect(try await store.file(id: "f2") == live)
        #expect(try await store.file(id: "none") == nil)
        #expect(try await store.bytesStored(byAccount: "ann") == 20)
        #expect(try await store.bytesStored(byAccount: "nobody") == 0)
        #expect(try await store.removeFiles(expiredBefore: now) == [old])
        #expect(try await store.file(id: "f1") == nil)
        #expect(try await store.removeFiles(expiredBefore: now).isEmpty)
    }

    @Test("deleting an account takes its contacts, markers, offline box and private history; channels, guests' nick and files stay")
    func cascade() async throws {
        let (store, _) = try await freshStore()
        for name in ["ann", "bob", "cat"] { _ = try await store.createAccount(account(name)) }
        try await store.updateContacts(ofAccount: "ann", adding: [ChatContact(nick: "bob", folded: "bob")], removing: [])
        _ = try await store.setReadMarker(5, forAccount: "ann", conversation: "#lobby")
        _ = try await store.storeOffline(message("box", 1, in: "@ann bob"), forAccount: "ann", boxLimit: 10)
        try await store.append([
            message("ab", 2, in: "@ann bob"), message("ag", 3, in: "@ann ~guest"), message("xa", 4, in: "@[x] ann"),
            message("bc", 5, in: "@bob cat"), message("guestann", 6, in: "@bob ~ann"), message("lobby", 7, in: "#lobby"),
        ])
        try await store.addFile(ChatFileRecord(id: "f", name: "f", contentType: "text/plain", size: 1, sha256: "00", owner: "ann", created: 1, expires: .max))
        #expect(try await store.deleteAccount(named: "ann"))
        #expect(try await store.contacts(ofAccount: "ann").isEmpty)
        #expect(try await store.readMarker(forAccount: "ann", conversation: "#lobby") == nil)
        #expect(try await store.offlineMessages(forAccount: "ann", limit: 10).isEmpty)
        func count(_ conversation: String) async throws -> Int {
            try await store.history(ChatHistoryQuery(conversation: conversation, selector: .latest(after: nil), limit: 10)).count
        }
        for gone in ["@ann bob", "@ann ~guest", "@[x] ann"] { #expect(try await count(gone) == 0, "\(gone)") }
        for kept in ["@bob cat", "@bob ~ann", "#lobby"] { #expect(try await count(kept) == 1, "\(kept)") }
        #expect(try await store.file(id: "f") != nil)
        #expect(try await store.accounts().map(\.name) == ["bob", "cat"])
    }

    @Test("a file: WAL mode, synchronous FULL, and everything there after reopening")
    func persistence() async throws {
        let (store, path) = try await freshStore()
        #expect(try await store.synchronousSetting() == 2)
        _ = try await store.createAccount(account("ann"))
        try await store.append([message("m1", 1, in: "#lobby")])
        _ = try await store.setReadMarker(9, forAccount: "ann", conversation: "#lobby")
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
        let header = try #require(FileManager.default.contents(atPath: path)?.prefix(20))
        // Bytes 18 and 19 of the header: 2 and 2 for WAL.
        #expect(Array(header.suffix(2)) == [2, 2])
        let reopened = try await SQLiteChatStore.open(path: path)
        #expect(try await reopened.account(named: "ann") == account("ann"))
        #expect(try await reopened.readMarker(forAccount: "ann", conversation: "#lobby") == 9)
        #expect(try await reopened.history(ChatHistoryQuery(conversation: "#lobby", selector: .latest(after: nil), limit: 5)).map(\.msgid) == ["m1"])
    }

    @Test("two stores open on one file at once (the server and the command line): each sees what the other commits")
    func concurrentOpen() async throws {
        let (server, path) = try await freshStore()
        let commandLine = try await SQLiteChatStore.open(path: path)
        #expect(try await commandLine.createAccount(account("ann")))
        #expect(try await server.account(named: "ann") != nil)
        try await server.append([message("m1", 1, in: "#lobby")])
        #expect(try await commandLine.history(ChatHistoryQuery(conversation: "#lobby", selector: .latest(after: nil), limit: 5)).count == 1)
        #expect(try await !server.createAccount(account("Ann")))
        #expect(try await commandLine.deleteAccount(named: "ann"))
        #expect(try await server.account(named: "ann") == nil)
    }

    @Test("':memory:' keeps nothing: each store is its own, empty")
    func inMemory() async throws {
        let first = try await SQLiteChatStore.open(path: ":memory:")
        #expect(try await first.createAccount(account("ann")))
        #expect(try await first.account(named: "ann") != nil)
        #expect(try await first.storeOffline(message("o", 1, in: "@ann bob"), forAccount: "ann", boxLimit: 1))
        let second = try await SQLiteChatStore.open(path: ":memory:")
        #expect(try await second.accounts().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: ":memory:"))
    }

    @Test("missing directories are made, mode 0700; a path that cannot be opened names itself and the cause")
    func opening() throws {
        let directory = try TestData.temporaryDirectory()
        let path = directory + "/a/b/chat.sqlite"
        _ = try SQLiteChatStore(path: path)
        for made in [directory + "/a", directory + "/a/b"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: made)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o700, "\(made)")
        }
        #expect(throws: TinCanError.self) { try SQLiteChatStore(path: "/dev/null/x/chat.sqlite") }
        do {
            _ = try SQLiteChatStore(path: "/dev/null/x/chat.sqlite")
        } catch {
            #expect("\(error)" == "open chat store /dev/null/x/chat.sqlite: create directory /dev/null/x: not a directory")
        }
        let garbage = directory + "/garbage.sqlite"
        try Data(repeating: 0x41, count: 4096).write(to: URL(fileURLWithPath: garbage))
        do {
            _ = try SQLiteChatStore(path: garbage)
            Issue.record("a file that is not a database opened")
        } catch {
            #expect("\(error)" == "open chat store \(garbage): file is not a database")
        }
    }
}

@Suite struct PasswordHasherTests {
    @Test("a hash verifies its password and no other; it names its costs, and its salt makes every hash different")
    func roundTrip() throws {
        let hasher = ChatPasswordHasher.fast
        let encoded = try hasher.hash("correct horse")
        let fields = encoded.split(separator: "$").map(String.init)
        #expect(fields.count == 6 && fields[0] == "scrypt" && fields[1] == "1024" && fields[2] == "8" && fields[3] == "1")
        #expect(Data(base64Encoded: fields[4])?.count == ChatPasswordHasher.saltBytes)
        #expect(Data(base64Encoded: fields[5])?.count == ChatPasswordHasher.keyBytes)
        #expect(!encoded.contains("correct horse"))
        #expect(hasher.verify("correct horse", against: encoded))
        #expect(!hasher.verify("correct horsE", against: encoded))
        #expect(!hasher.verify("", against: encoded))
        #expect(try hasher.hash("correct horse") != encoded)
        #expect(throws: ChatPasswordHasher.Failure.self) { try hasher.hash("") }
    }

    @Test("the costs are read from the hash: one made at other costs verifies, and RFC 7914's vector matches")
    func costsFromTheHash() throws {
        let old = try ChatPasswordHasher(rounds: 2048, blockSize: 4, parallelism: 2).hash("pässwörd")
        #expect(ChatPasswordHasher().verify("pässwörd", against: old))
        #expect(ChatPasswordHasher.fast.verify("pässwörd", against: old))
        // RFC 7914 section 12, "password" and "NaCl" at N=1024 r=8 p=16: the first 32 bytes.
        let vector = "scrypt$1024$8$16$TmFDbA==$/bq+HJ00cgB4VucZDQHp/nxq18vII3gw53N2Y0s3MWI="
        #expect(ChatPasswordHasher.fast.verify("password", against: vector))
        #expect(!ChatPasswordHasher.fast.verify("Password", against: vector))
    }

    @Test("a malformed hash or one asking for too much memory or work is false, without trying", arguments: [
        "", "plain", "bcrypt$1024$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$1073741824$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$1024$1000000$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$16384$8$8$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$1000$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$-1024$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$1024$8$1$not base64$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$1024$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA",
        "scrypt$1024$8$1$AAAAAAAAAAAAAAAAAAAAAA==",
    ])
    func rejects(encoded: String) {
        #expect(!ChatPasswordHasher.fast.verify("password", against: encoded))
    }

    @Test("costs beyond the bounds are refused for new hashes too, with a reason that holds no password")
    func boundedCosts() {
        #expect(!ChatPasswordHasher.acceptable(rounds: 1 << 20, blockSize: 8, parallelism: 1))
        #expect(ChatPasswordHasher.acceptable(rounds: 16384, blockSize: 8, parallelism: 1))
        #expect(ChatPasswordHasher.acceptable(rounds: 1024, blockSize: 8, parallelism: 16))
        do {
            _ = try ChatPasswordHasher(rounds: 1 << 24).hash("secret-password")
            Issue.record("hashed with N = 2^24")
        } catch {
            #expect(!"\(error)".contains("secret-password"))
            #expect("\(error)".contains("N=16777216"))
        }
    }
}

@Suite struct LoginThrottleTests {
    static let settings = ChatAccountSettings(failureDelay: .seconds(1), failureDelayMax: .seconds(30))

    @Test("the delay doubles with each failure of an account, up to the maximum")
    func doubling() async {
        let throttle = ChatLoginThrottle(settings: Self.settings)
        let start = ContinuousClock.now
        var delays: [Duration] = []
        for index in 0..<8 {
            // Each from another address: the account's count decides.
            delays.append(await throttle.failed(account: "ann", address: "192.0.2.\(index)", at: start))
        }
        #expect(delays == [1, 2, 4, 8, 16, 30, 30, 30].map { Duration.seconds($0) })
        #expect(await throttle.failures(ofAccount: "ann", at: start) == 8)
    }

    @Test("one address guessing many accounts is slowed as much; the larger count decides")
    func perAddress() async {
        let throttle = ChatLoginThrottle(settings: Self.settings)
        let start = ContinuousClock.now
        var delays: [Duration] = []
        for name in ["a", "b", "c", "d"] { delays.append(await throttle.failed(account: name, address: "198.51.100.7", at: start)) }
        #expect(delays == [1, 2, 4, 8].map { Duration.seconds($0) })
        // A fresh address guessing "d": d has 1 failure before, so 2 now.
        #expect(await throttle.failed(account: "d", address: "203.0.113.1", at: start) == .seconds(2))
    }

    @Test("a success clears the account and the address; counts are forgotten after a while")
    func clearing() async {
        let throttle = ChatLoginThrottle(settings: Self.settings)
        let start = ContinuousClock.now
        for _ in 0..<3 { _ = await throttle.failed(account: "ann", address: "192.0.2.1", at: start) }
        await throttle.succeeded(account: "ann", address: "192.0.2.1")
        #expect(await throttle.failures(ofAccount: "ann", at: start) == 0)
        #expect(await throttle.failures(fromAddress: "192.0.2.1", at: start) == 0)
        #expect(await throttle.failed(account: "ann", address: "192.0.2.1", at: start) == .seconds(1))
        _ = await throttle.failed(account: "ann", address: "192.0.2.1", at: start)
        let later = start.advanced(by: ChatLoginThrottle.forgetAfter)
        #expect(await throttle.failures(ofAccount: "ann", at: later) == 0)
        #expect(await throttle.failed(account: "ann", address: "192.0.2.1", at: later) == .seconds(1))
    }

    @Test("the table is bounded: past its capacity the least recently failed go first")
    func bounded() async {
        #expect(ChatLoginThrottle.maxEntries == 10_000)
        let throttle = ChatLoginThrottle(settings: Self.settings, capacity: 16)
        let start = ContinuousClock.now
        for index in 0..<100 {
            _ = await throttle.failed(account: "u\(index)", address: "a\(index)", at: start.advanced(by: .milliseconds(index)))
            #expect(await throttle.count <= 16)
        }
        let end = start.advanced(by: .milliseconds(100))
        #expect(await throttle.failures(ofAccount: "u99", at: end) == 1)
        #expect(await throttle.failures(ofAccount: "u0", at: end) == 0)
    }
}

@Suite struct AccountsTests {
    /// Accounts on a fresh file, with the fast hasher, no failure delay and a fixed clock.
    static func accounts(failureDelay: TimeAmount = .zero) async throws -> ChatAccounts {
        let (store, _) = try await freshStore()
        return ChatAccounts(
            store: store, hasher: .fast, settings: ChatAccountSettings(failureDelay: failureDelay, failureDelayMax: failureDelay),
            now: { 1_800_000_000_000 }
        )
    }

    @Test("register: created with a hash of the password, then exists (in any case); weak passwords and bad names refused")
    func register() async throws {
        let accounts = try await Self.accounts()
        guard case .created(let ann) = try await accounts.register(name: "Ann", folded: "ann", password: "long enough") else {
            Issue.record("not created")
            return
        }
        #expect(ann.name == "Ann" && ann.folded == "ann" && ann.created == 1_800_000_000_000 && ann.lastSeen == nil)
        #expect(ann.passwordHash.hasPrefix("scrypt$1024$8$1$") && !ann.passwordHash.contains("long enough"))
        #expect(try await accounts.store.account(named: "ann") == ann)
        #expect(try await accounts.register(name: "ANN", folded: "ann", password: "long enough") == .exists)
        #expect(try await accounts.register(name: "bob", folded: "bob", password: "short") == .weakPassword("a password needs at least 8 characters"))
        #expect(try await accounts.register(name: "Bobby123", folded: "bobby123", password: "bobby123") == .weakPassword("a password must not be the account's name"))
        #expect(try await accounts.register(name: "9lives", folded: "9lives", password: "long enough") == .invalidName)
        #expect(try await accounts.register(name: String(repeating: "a", count: 31), folded: String(repeating: "a", count: 31), password: "long enough") == .invalidName)
        #expect(try await accounts.store.accounts().map(\.name) == ["Ann"])
    }

    @Test("login: the right password succeeds and notes the time; a wrong one and an unknown name are the same failure")
    func login() async throws {
        let accounts = try await Self.accounts()
        _ = try await accounts.register(name: "ann", folded: "ann", password: "long enough")
        #expect(try await accounts.login(name: "ann", folded: "ann", password: "wrong password", address: "192.0.2.1") == .failed)
        #expect(try await accounts.login(name: "nobody", folded: "nobody", password: "long enough", address: "192.0.2.1") == .failed)
        #expect(await accounts.throttle.failures(fromAddress: "192.0.2.1") == 2)
        #expect(await accounts.throttle.failures(ofAccount: "nobody") == 1)
        guard case .success(let ann) = try await accounts.login(name: "ANN", folded: "ann", password: "long enough", address: "192.0.2.1") else {
            Issue.record("no success")
            return
        }
        #expect(ann.lastSeen == 1_800_000_000_000)
        #expect(try await accounts.store.account(named: "ann")?.lastSeen == 1_800_000_000_000)
        #expect(await accounts.throttle.failures(fromAddress: "192.0.2.1") == 0)
    }

    @Test("setPassword: the new one works, the old one no longer; weak ones and unknown accounts refused; delete")
    func passwordAndDelete() async throws {
        let accounts = try await Self.accounts()
        _ = try await accounts.register(name: "ann", folded: "ann", password: "first password")
        #expect(try await accounts.setPassword(folded: "ann", password: "second password") == .changed)
        #expect(try await accounts.setPassword(folded: "ann", password: "ANN") == .weakPassword("a password needs at least 8 characters"))
        #expect(try await accounts.setPassword(folded: "nobody", password: "second password") == .noSuchAccount)
        #expect(try await accounts.login(name: "ann", folded: "ann", password: "first password", address: "a") == .failed)
        guard case .success = try await accounts.login(name: "ann", folded: "ann", password: "second password", address: "a") else {
            Issue.record("the new password does not work")
            return
        }
        #expect(try await accounts.delete(folded: "ann"))
        #expect(try await !accounts.delete(folded: "ann"))
        #expect(try await accounts.login(name: "ann", folded: "ann", password: "second password", address: "a") == .failed)
    }
}
