// swift-tools-version:6.1
// The floor under any UDP echo server built on SwiftNIO's DatagramChannel: see Sources/NIOFloor.
import PackageDescription

let package = Package(
    name: "nio-floor",
    dependencies: [.package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2")],
    targets: [
        .executableTarget(
            name: "NIOFloor",
            dependencies: [.product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")]
        )
    ]
)
