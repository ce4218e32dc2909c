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
        .library(name: "ReplogStorage", targets: ["ReplogStorage"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
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
        // MARK: storage (issue 3)
        .target(name: "CReplogCRC32C"),
        .target(
            name: "ReplogStorage",
            dependencies: [
                "ReplogModel",
                "CReplogCRC32C",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ReplogStorageTests",
            dependencies: [
                "ReplogModel",
                "ReplogStorage",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        // MARK: end storage
        .executableTarget(
            name: "replog",
            dependencies: [
                "ReplogModel",
                "ReplogWire",
                "ReplogStorage",
                .product(name: "NIOCore", package: "swift-nio"),
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
