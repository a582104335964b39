import Crypto
import Foundation
import _CryptoExtras

/// Salted slow hashes of account passwords, with scrypt (RFC 7914).
///
/// The encoded form carries its own costs, `scrypt$N$r$p$salt$key` (salt and key in base64), so
/// the costs of new hashes can change without making old ones unreadable. Hashing is slow on
/// purpose (about 16 MiB and tens of milliseconds at the default costs): call it from a task, never on an
/// event loop. Passwords appear in no error and no log.
package struct ChatPasswordHasher: Sendable, Hashable {
    /// scrypt's cost parameter N (a power of two): memory and time grow with it.
    package var rounds: Int
    /// scrypt's block size r.
    package var blockSize: Int
    /// scrypt's parallelism p.
    package var parallelism: Int

    /// Bytes of random salt per hash.
    package static let saltBytes = 16
    /// Bytes of derived key.
    package static let keyBytes = 32
    /// The most memory a hash being verified may ask for (128 * N * r bytes): a corrupted or
    /// hostile row cannot make the server allocate more. The default costs need 16 MiB.
    package static let maxMemory = 64 * 1024 * 1024
    /// The most work a hash being verified may ask for (N * r * p), four times the default's.
    package static let maxWork = 4 * 16384 * 8

    /// N = 16384, r = 8, p = 1: the costs recommended for interactive logins.
    package init(rounds: Int = 16384, blockSize: Int = 8, parallelism: Int = 1) {
        self.rounds = rounds
        self.blockSize = blockSize
        self.parallelism = parallelism
    }

    /// N = 1024: sixteen times cheaper, for tests and benchmarks only (never for a server that
    /// keeps real passwords).
    package static let fast = ChatPasswordHasher(rounds: 1024)

    /// The encoded hash of `password` with a fresh random salt.
    ///
    /// - Throws: `ChatPasswordHasher.Failure` when the costs are out of bounds, the password is
    ///   empty, or scrypt fails; the password is not in it.
    package func hash(_ password: String) throws -> String {
        guard Self.acceptable(rounds: self.rounds, blockSize: self.blockSize, parallelism: self.parallelism) else {
            throw Failure(reason: "scrypt costs N=\(self.rounds) r=\(self.blockSize) p=\(self.parallelism) are out of bounds")
        }
        guard !password.isEmpty else { throw Failure(reason: "an empty password cannot be hashed") }
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<Self.saltBytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let key = try Self.derive(password, salt: salt, rounds: self.rounds, blockSize: self.blockSize, parallelism: self.parallelism)
        return ["scrypt", String(self.rounds), String(self.blockSize), String(self.parallelism),
            Data(salt).base64EncodedString(), Data(key).base64EncodedString()].joined(separator: "$")
    }

    /// Whether `password` is the one `encoded` was made from. The costs are read from `encoded`
    /// (and must be within ``maxMemory`` and ``maxWork``); the keys are compared in constant
    /// time. A malformed `encoded` is false.
    package func verify(_ password: String, against encoded: String) -> Bool {
        let fields = encoded.split(separator: "$", omittingEmptySubsequences: false)
        guard fields.count == 6, fields[0] == "scrypt", let rounds = Int(fields[1]), let blockSize = Int(fields[2]),
            let parallelism = Int(fields[3]), Self.acceptable(rounds: rounds, blockSize: blockSize, parallelism: parallelism),
            let salt = Data(base64Encoded: String(fields[4])), !salt.isEmpty,
            let expected = Data(base64Encoded: String(fields[5])), expected.count == Self.keyBytes,
            !password.isEmpty,
            let key = try? Self.derive(password, salt: Array(salt), rounds: rounds, blockSize: blockSize, parallelism: parallelism)
        else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(key, expected) { difference |= a ^ b }
        return difference == 0
    }

    /// Costs that scrypt accepts and that stay within this server's bounds.
    static func acceptable(rounds: Int, blockSize: Int, parallelism: Int) -> Bool {
        guard rounds >= 2, rounds & (rounds - 1) == 0, (1...64).contains(blockSize), (1...64).contains(parallelism) else {
            return false
        }
        let (memory, overflow) = (128 * blockSize).multipliedReportingOverflow(by: rounds)
        guard !overflow, memory <= Self.maxMemory else { return false }
        let (work, workOverflow) = (rounds * blockSize).multipliedReportingOverflow(by: parallelism)
        return !workOverflow && work <= Self.maxWork
    }

    private static func derive(_ password: String, salt: [UInt8], rounds: Int, blockSize: Int, parallelism: Int) throws -> [UInt8] {
        do {
            let key = try KDF.Scrypt.deriveKey(
                from: Array(password.utf8), salt: salt, outputByteCount: Self.keyBytes, rounds: rounds, blockSize: blockSize,
                parallelism: parallelism
            )
            return key.withUnsafeBytes { Array($0) }
        } catch {
            throw Failure(reason: "scrypt failed: \(error)")
        }
    }

    /// Why a hash could not be made. Never holds the password.
    package struct Failure: Error, Hashable, CustomStringConvertible {
        package var reason: String
        package var description: String { self.reason }
    }
}
