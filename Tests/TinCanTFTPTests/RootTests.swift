import Foundation
import Testing
import TinCanTestSupport

@testable import TinCanTFTP

@Suite struct RootTests {
    /// root/ with boot/pxelinux.0, a symlink inside (alias -> boot), one out (escape -> /etc),
    /// and outside/secret next to the root.
    func makeTree() throws -> (base: String, root: TFTPRoot) {
        let base = try TestData.temporaryDirectory()
        let fm = FileManager.default
        try fm.createDirectory(atPath: base + "/root/boot", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: base + "/outside", withIntermediateDirectories: true)
        try Data("kernel".utf8).write(to: URL(fileURLWithPath: base + "/root/boot/pxelinux.0"))
        try Data("secret".utf8).write(to: URL(fileURLWithPath: base + "/outside/secret"))
        try fm.createSymbolicLink(atPath: base + "/root/alias", withDestinationPath: "boot")
        try fm.createSymbolicLink(atPath: base + "/root/escape", withDestinationPath: "/etc")
        try fm.createSymbolicLink(atPath: base + "/root/up", withDestinationPath: "../outside/secret")
        try fm.createSymbolicLink(atPath: base + "/root/dangling", withDestinationPath: "nowhere")
        return (base, try TFTPRoot(base + "/root"))
    }

    @Test func namesInsideTheRootResolve() throws {
        let (base, root) = try self.makeTree()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let expected = root.path + "/boot/pxelinux.0"
        #expect(try root.resolve("boot/pxelinux.0") == expected)
        #expect(try root.resolve("/boot/pxelinux.0") == expected)
        #expect(try root.resolve("//boot/./pxelinux.0") == expected)
        #expect(try root.resolve(root.path + "/boot/pxelinux.0") == expected)
        #expect(try root.resolve("alias/pxelinux.0") == expected)
    }

    @Test(arguments: [
        ("../outside/secret", "'..' is not allowed"),
        ("boot/../../outside/secret", "'..' is not allowed"),
        ("escape/passwd", "outside the served directory"),
        ("up", "outside the served directory"),
        ("dangling", "dangling symlink"),
        ("boot", "names a directory"),
        ("/", "names a directory"),
        ("", "empty file name"),
        ("a\u{0}b", "NUL byte"),
        (String(repeating: "a", count: 1025), "longer than 1024 bytes"),
    ])
    func refused(name: String, reason: String) throws {
        let (base, root) = try self.makeTree()
        defer { try? FileManager.default.removeItem(atPath: base) }
        #expect {
            try root.resolve(name)
        } throws: { error in
            let error = error as! TFTPError
            return error.code == .accessViolation && error.message.contains(reason)
        }
    }

    @Test func missingFilesAreNotFoundUnlessWriting() throws {
        let (base, root) = try self.makeTree()
        defer { try? FileManager.default.removeItem(atPath: base) }
        #expect(throws: TFTPError(.fileNotFound, "'boot/new.img' not found")) { try root.resolve("boot/new.img") }
        #expect(try root.resolve("boot/new.img", forWriting: true) == root.path + "/boot/new.img")
        #expect(try root.resolve("new.img", forWriting: true) == root.path + "/new.img")
        #expect(throws: TFTPError(.fileNotFound, "directory of 'nodir/new.img' not found")) {
            try root.resolve("nodir/new.img", forWriting: true)
        }
        #expect {
            try root.resolve("escape/new", forWriting: true)
        } throws: { ($0 as! TFTPError).code == .accessViolation }
    }
}
