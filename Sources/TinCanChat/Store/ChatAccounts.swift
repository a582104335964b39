import Foundation
import NIOPosix

/// Accounts as people use them: log in, register, change a password, delete. Holds the store,
/// the password hasher and the login throttle.
///
/// Every call hashes on SwiftNIO's thread pool for blocking work, never on an event loop or one of
/// Swift's cooperative threads (SASL, REGISTER and NickServ reach it from a task of the driver; the
/// command line from its own). Names come with
/// their folded form under the server's case mapping (`IRCCaseMapping.rfc1459.fold`), since the
/// store knows no case mapping.
package struct ChatAccounts: Sendable {
    package let store: any ChatStore
    package let hasher: ChatPasswordHasher
    package let throttle: ChatLoginThrottle
    package let settings: ChatAccountSettings
    /// The longest name an account may have (the server's ``ChatLimits/nickLength``).
    package let nickLength: Int
    /// Milliseconds since 1970 (created and last-seen times).
    private let now: @Sendable () -> Int64
    /// A hash in the hasher's costs that no password matches: a login for an account that does
    /// not exist verifies against it, so that it costs what a wrong password costs.
    private let decoy: String

    package init(
        store: any ChatStore,
        hasher: ChatPasswordHasher = ChatPasswordHasher(),
        settings: ChatAccountSettings = ChatAccountSettings(),
        throttle: ChatLoginThrottle? = nil,
        nickLength: Int = ChatLimits().nickLength,
        now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }
    ) {
        self.store = store
        self.hasher = hasher
        self.settings = settings
        self.throttle = throttle ?? ChatLoginThrottle(settings: settings)
        self.nickLength = nickLength
        self.now = now
        let zeros = { (count: Int) in Data(count: count).base64EncodedString() }
        self.decoy = "scrypt$\(hasher.rounds)$\(hasher.blockSize)$\(hasher.parallelism)$"
            + zeros(ChatPasswordHasher.saltBytes) + "$" + zeros(ChatPasswordHasher.keyBytes)
    }

    /// Checks the password of the account `folded` for a login from `address`.
    ///
    /// A wrong password and a name nobody owns are the same `.failed`, after the same work and
    /// after the throttle's delay (``ChatLoginThrottle``), so that the answer tells nothing about
    /// which names exist. A success notes the time as the account's last seen.
    package func login(name: String, folded: String, password: String, address: String) async throws -> ChatLoginOutcome {
        let account = try await self.store.account(named: folded)
        let matches = try await self.verify(password, against: account?.passwordHash ?? self.decoy)
        guard var account, matches else {
            let delay = await self.throttle.failed(account: folded, address: address)
            try await Task.sleep(for: delay)
            return .failed
        }
        await self.throttle.succeeded(account: folded, address: address)
        let now = self.now()
        try await self.store.setLastSeen(now, forAccount: folded)
        account.lastSeen = now
        return .success(account)
    }

    /// Creates the account `name` (folded `folded`) with `password`.
    package func register(name: String, folded: String, password: String) async throws -> ChatRegisterOutcome {
        guard ChatNicks.isValid(name, limit: self.nickLength) else { return .invalidName }
        if let weakness = self.weakness(of: password, name: name) { return .weakPassword(weakness) }
        if try await self.store.account(named: folded) != nil { return .exists }
        let account = ChatAccountRecord(name: name, folded: folded, passwordHash: try await self.hash(password), created: self.now())
        // Someone may have taken the name while the password was hashed: the store decides.
        return try await self.store.createAccount(account) ? .created(account) : .exists
    }

    /// Gives the account a new password (hashed afresh with the hasher's costs).
    package func setPassword(folded: String, password: String) async throws -> ChatPasswordOutcome {
        guard let account = try await self.store.account(named: folded) else { return .noSuchAccount }
        if let weakness = self.weakness(of: password, name: account.name) { return .weakPassword(weakness) }
        return try await self.store.setPasswordHash(try await self.hash(password), forAccount: folded) ? .changed : .noSuchAccount
    }

    /// Deletes the account and what the store keeps for it; false when there was none.
    package func delete(folded: String) async throws -> Bool {
        try await self.store.deleteAccount(named: folded)
    }

    /// Why `password` will not do for the account `name`, or nil when it will.
    // A hash takes tens of milliseconds of a core (scrypt, N=16384): on SwiftNIO's thread pool for
    // blocking work, so that logins never hold Swift's few cooperative threads, which the store's
    // other questions share.

    private func hash(_ password: String) async throws -> String {
        let hasher = self.hasher
        return try await NIOThreadPool.singleton.runIfActive { try hasher.hash(password) }
    }

    private func verify(_ password: String, against encoded: String) async throws -> Bool {
        let hasher = self.hasher
        return try await NIOThreadPool.singleton.runIfActive { hasher.verify(password, against: encoded) }
    }

    package func weakness(of password: String, name: String) -> String? {
        let minimum = self.settings.minimumPasswordLength
        if password.count < minimum { return "a password needs at least \(minimum) characters" }
        if password.lowercased() == name.lowercased() { return "a password must not be the account's name" }
        return nil
    }
}

/// The answer to ``ChatAccounts/login(name:folded:password:address:)``.
package enum ChatLoginOutcome: Sendable, Hashable {
    /// The password is right: the account, with its new last-seen time.
    case success(ChatAccountRecord)
    /// A wrong password or no such account: deliberately the same answer.
    case failed
}

/// The answer to ``ChatAccounts/register(name:folded:password:)``.
package enum ChatRegisterOutcome: Sendable, Hashable {
    case created(ChatAccountRecord)
    /// The folded name has an account already.
    case exists
    /// The password will not do; the text says why (never what the password was).
    case weakPassword(String)
    /// The name is not a valid nick (``ChatNicks/isValid(_:limit:)``).
    case invalidName
}

/// The answer to ``ChatAccounts/setPassword(folded:password:)``.
package enum ChatPasswordOutcome: Sendable, Hashable {
    case changed
    case noSuchAccount
    case weakPassword(String)
}
