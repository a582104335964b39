import Foundation
import NIOCore
import Testing
import TinCanTestSupport

@testable import TinCanTFTP

@Suite struct DirectoryTests {
    func makeRoot() throws -> (String, TFTPRoot) {
        let base = try TestData.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: base + "/sub", withIntermediateDirectories: true)
        try Data("old contents".utf8).write(to: URL(fileURLWithPath: base + "/sub/existing"))
        return (base, try TFTPRoot(base))
    }

    func entries(_ base: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: base + "/sub").sorted()
    }

    @Test func readsAFileInChunks() async throws {
        let (base, root) = try self.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let data = TestData.random(count: 100_000, seed: 51)
        try data.write(to: URL(fileURLWithPath: base + "/sub/big"))
        let reader = try await TFTPDirectory(root: root).openForReading("/sub/big")
        #expect(reader.size == 100_000)
        var all = Data()
        while true {
            let chunk = try await reader.read(upTo: 7_000)
            if chunk.readableBytes == 0 { break }
            all.append(contentsOf: chunk.readableBytesView)
        }
        await reader.close()
        #expect(all == data)
    }

    @Test func readOnlyByDefault() async throws {
        let (base, root) = try self.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: base) }
        await #expect(throws: TFTPError(.accessViolation, "uploads are not enabled on this server")) {
            _ = try await TFTPDirectory(root: root).openForWriting("sub/existing", expectedSize: nil)
        }
    }

    @Test func replacingNeedsAllowWriteAndCreatingNeedsCreate() async throws {
        let (base, root) = try self.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let writable = TFTPDirectory(root: root, allowWrite: true)
        await #expect(throws: TFTPError(.fileNotFound, "'sub/new' does not exist, and this server does not create files")) {
            _ = try await writable.openForWriting("sub/new", expectedSize: nil)
        }
        let writer = try await writable.openForWriting("sub/existing", expectedSize: nil)
        try await writer.write(ByteBuffer(string: "new "))
        try await writer.write(ByteBuffer(string: "contents"))
        // Until the commit the old file is untouched.
        #expect(try String(contentsOfFile: base + "/sub/existing", encoding: .utf8) == "old contents")
        try await writer.commit()
        #expect(try String(contentsOfFile: base + "/sub/existing", encoding: .utf8) == "new contents")
        #expect(try self.entries(base) == ["existing"])

        let creator = try await TFTPDirectory(root: root, allowCreate: true).openForWriting("sub/new", expectedSize: 3)
        try await creator.write(ByteBuffer(string: "abc"))
        try await creator.commit()
        #expect(try self.entries(base) == ["existing", "new"])
    }

    @Test func anAbortedOrOversizedUploadLeavesNothing() async throws {
        let (base, root) = try self.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let directory = TFTPDirectory(root: root, allowCreate: true, maxFileSize: 10)
        let aborted = try await directory.openForWriting("sub/partial", expectedSize: nil)
        try await aborted.write(ByteBuffer(string: "half"))
        await aborted.abort()
        #expect(try self.entries(base) == ["existing"])

        await #expect(throws: TFTPError(.diskFull, "file of 11 bytes exceeds the limit of 10 bytes")) {
            _ = try await directory.openForWriting("sub/big", expectedSize: 11)
        }
        let growing = try await directory.openForWriting("sub/big", expectedSize: nil)
        try await growing.write(ByteBuffer(string: "0123456789"))
        await #expect(throws: TFTPError(.diskFull, "upload exceeds the limit of 10 bytes")) {
            try await growing.write(ByteBuffer(string: "!"))
        }
        await growing.abort()
        #expect(try self.entries(base) == ["existing"])
    }

    @Test func theJailAppliesToWrites() async throws {
        let (base, root) = try self.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: base) }
        await #expect {
            _ = try await TFTPDirectory(root: root, allowCreate: true).openForWriting("../escape", expectedSize: nil)
        } throws: { ($0 as? TFTPError)?.code == .accessViolation }
    }
}
