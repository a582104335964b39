// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "tincan",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tincan", targets: ["tincan"]),
        .library(name: "TinCanCore", targets: ["TinCanCore"]),
        .library(name: "TinCanRelay", targets: ["TinCanRelay"]),
        .library(name: "TinCanEcho", targets: ["TinCanEcho"]),
        .library(name: "TinCanTFTP", targets: ["TinCanTFTP"]),
        .library(name: "TinCanIRC", targets: ["TinCanIRC"]),
        .library(name: "TinCanChat", targets: ["TinCanChat"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        .target(
            name: "TinCanCore",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(name: "CTinCanShims"),
        .target(
            name: "TinCanRelay",
            dependencies: [
                "TinCanCore",
                "CTinCanShims",
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
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(name: "tincan", dependencies: ["TinCanCLI"]),
        .target(
            name: "TinCanTestSupport",
            dependencies: [
                "TinCanCore",
                "CTinCanShims",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(name: "TinCanCoreTests", dependencies: ["TinCanCore", "TinCanTestSupport"]),
        .testTarget(
            name: "TinCanRelayTests",
            dependencies: [
                "TinCanRelay", "TinCanTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "TinCanEchoTests",
            dependencies: [
                "TinCanEcho", "TinCanTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "TinCanTFTPTests",
            dependencies: [
                "TinCanTFTP", "TinCanTestSupport",
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
            dependencies: [
                "TinCanChat", "TinCanIRC", "TinCanTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "TinCanCLITests",
            dependencies: ["TinCanCLI", "TinCanTestSupport", "tincan"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
