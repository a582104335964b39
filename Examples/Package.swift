// swift-tools-version:6.1
import PackageDescription

// Small programs built on tincan's libraries, one screen each; `Examples/check` runs them all.
// Linux only, like tincan (see ../Package.swift).
let package = Package(
    name: "tincan-examples",
    dependencies: [
        .package(name: "tincan", path: ".."),
        // For the TFTP examples: TFTPClient and TFTPServer take a swift-log `Logger`.
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        example("uppercase-server"),
        example("uppercase-client"),
        example("oneshot-server"),
        example("hello-client"),
        example("short-server"),
        example("tcp-chat"),
        example("udp-chat"),
        example("tftp-get", tftp: true),
        example("tftp-generated-server", tftp: true),
        example("time-bot"),
    ],
    swiftLanguageModes: [.v6]
)

/// An example: `Sources/<name>/main.swift`, built as the executable `<name>`.
func example(_ name: String, tftp: Bool = false) -> Target {
    var dependencies: [Target.Dependency] = [.product(name: "TinCan", package: "tincan")]
    if tftp {
        dependencies += [
            .product(name: "TinCanTFTP", package: "tincan"),
            .product(name: "Logging", package: "swift-log"),
        ]
    }
    return .executableTarget(name: name, dependencies: dependencies)
}
