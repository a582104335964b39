// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "tincan",
    // No `platforms:`: tincan is built and tested on Linux only (the code calls Glibc directly and
    // reads /proc), and `platforms:` speaks only of Apple systems. A macOS port would need
    // `.macOS(.v15)`, the first release with the Synchronization module's `Mutex` and `Atomic`.
    products: [
        .executable(name: "tincan", targets: ["tincan"]),
        .library(name: "TinCanCore", targets: ["TinCanCore"]),
        .library(name: "TinCan", targets: ["TinCan"]),
        .library(name: "TinCanRelay", targets: ["TinCanRelay"]),
        .library(name: "TinCanEcho", targets: ["TinCanEcho"]),
        .library(name: "TinCanTFTP", targets: ["TinCanTFTP"]),
        .library(name: "TinCanIRC", targets: ["TinCanIRC"]),
        .library(name: "TinCanChat", targets: ["TinCanChat"]),
        .library(name: "TinCanChatClient", targets: ["TinCanChatClient"]),
        .library(name: "TinCanTerminal", targets: ["TinCanTerminal"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        // Without its default traits: tincan reads no swift-configuration files.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        // NIOHTTPTypes for the HTTP port's own child channel (WebSocket upgrade in front of Hummingbird).
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
    ],
    targets: [
        .target(
            name: "TinCanCore",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "CTinCanShims"),
        // The simple async socket API for Swift programs (TCP, UDP, timeouts, backpressure).
        .target(
            name: "TinCan",
            dependencies: [
                "TinCanCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "TinCanRelay",
            dependencies: [
                "TinCanCore",
                "CTinCanShims",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "TinCanEcho",
            dependencies: [
                "TinCanCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "TinCanTFTP",
            dependencies: [
                "TinCanCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "TinCanIRC",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")]
        ),
        .target(
            name: "TinCanChat",
            dependencies: [
                "TinCanCore", "TinCanIRC",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
            ],
            // The chat page (HTML, CSS, ES modules), served from memory by ChatWebPage.
            resources: [.copy("Web")]
        ),
        // Full-screen terminal programs: keys, a line editor, display widths, frames drawn by
        // difference, raw mode and the alternate screen restored on every exit.
        .target(name: "TinCanTerminal"),
        .target(
            name: "TinCanChatClient",
            dependencies: [
                "TinCanCore", "TinCanIRC", "TinCanRelay",
                .product(name: "_NIOFileSystem", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "TinCanCLI",
            dependencies: [
                "TinCanCore",
                "TinCanRelay",
                "TinCanEcho",
                "TinCanTFTP",
                "TinCanChat",
                "TinCanChatClient",
                "TinCanTerminal",
                "TinCanIRC",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(name: "tincan", dependencies: ["TinCanCLI", "CTinCanShims"]),
        .target(
            name: "TinCanTestSupport",
            dependencies: [
                "CTinCanShims",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(name: "TinCanCoreTests", dependencies: ["TinCanCore", "TinCanTestSupport"]),
        .testTarget(
            name: "TinCanTests",
            dependencies: [
                "TinCan", "TinCanCore", "TinCanTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "TinCanRelayTests",
            dependencies: [
                "TinCanRelay", "TinCanCore", "TinCanTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "TinCanEchoTests",
            dependencies: [
                "TinCanEcho", "TinCanCore", "TinCanTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "TinCanTFTPTests",
            dependencies: [
                "TinCanTFTP", "TinCanCore", "TinCanTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "TinCanIRCTests",
            dependencies: [
                "TinCanIRC", "TinCanTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "TinCanChatTests",
            // TinCanChatClient: the client library against the real server (ChatClientLoopbackTests).
            dependencies: [
                "TinCanChat", "TinCanChatClient", "TinCanCore", "TinCanIRC", "TinCanTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(name: "TinCanTerminalTests", dependencies: ["TinCanTerminal"]),
        .testTarget(
            name: "TinCanChatClientTests",
            dependencies: [
                "TinCanChatClient", "TinCanChat", "TinCanIRC", "TinCanTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "TinCanCLITests",
            // `tincan` is not imported: the end-to-end tests run the built binary.
            dependencies: [
                "TinCanCLI", "TinCanChat", "TinCanTestSupport", "tincan",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
