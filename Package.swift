// swift-tools-version:6.0
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "replog",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "replog", targets: ["replog"]),
        .library(name: "ReplogModel", targets: ["ReplogModel"]),
        .library(name: "ReplogWire", targets: ["ReplogWire"]),
        .library(name: "ReplogTLS", targets: ["ReplogTLS"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .target(
            name: "ReplogModel",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ReplogWire",
            dependencies: [
                "ReplogModel",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // MARK: TLS on the system OpenSSL (issue 5)
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(
            name: "CReplogOpenSSLShims",
            dependencies: ["COpenSSL"]
        ),
        .target(
            name: "ReplogTLS",
            dependencies: [
                "COpenSSL",
                "CReplogOpenSSLShims",
                "ReplogModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ReplogTLSTests",
            dependencies: [
                "ReplogTLS",
                "ReplogModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // MARK: end TLS
        .executableTarget(
            name: "replog",
            dependencies: [
                "ReplogModel",
                "ReplogWire",
                "ReplogTLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "ReplogWireFuzzer",
            dependencies: [
                "ReplogWire",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Fuzz/ReplogWireFuzzer",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ReplogWireTests",
            dependencies: [
                "ReplogModel",
                "ReplogWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
