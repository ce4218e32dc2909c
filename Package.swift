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
        .library(name: "ReplogStorage", targets: ["ReplogStorage"]),
        .library(name: "ReplogConsensus", targets: ["ReplogConsensus"]),
        .library(name: "ReplogTestKit", targets: ["ReplogTestKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
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
        // MARK: Consensus core (pure state machines) and its deterministic simulator (issue 4)
        .target(
            name: "ReplogConsensus",
            dependencies: [
                "ReplogModel",
                "ReplogWire",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ReplogTestKit",
            dependencies: [
                "ReplogModel",
                "ReplogWire",
                "ReplogConsensus",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ReplogConsensusTests",
            dependencies: [
                "ReplogModel",
                "ReplogWire",
                "ReplogConsensus",
                "ReplogTestKit",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // MARK: Storage (issue 3)
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
        // MARK: The replica process (issue 6)
        .target(
            name: "ReplogReplica",
            dependencies: [
                .product(name: "CoreMetrics", package: "swift-metrics"),
                "ReplogModel",
                "ReplogWire",
                "ReplogConsensus",
                "ReplogStorage",
                "ReplogNet",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ReplogReplicaTests",
            dependencies: [
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                "ReplogReplica",
                "ReplogNet",
                "ReplogWire",
                .product(name: "Logging", package: "swift-log"),
                "ReplogConsensus",
                "ReplogStorage",
                "ReplogModel",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // MARK: The coordinator process (issue 6)
        .target(
            name: "ReplogCoordinator",
            dependencies: [
                .product(name: "CoreMetrics", package: "swift-metrics"),
                "ReplogModel",
                "ReplogWire",
                "ReplogConsensus",
                "ReplogNet",
                "ReplogBackup",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ReplogCoordinatorTests",
            dependencies: [
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                "ReplogCoordinator",
                "ReplogBackup",
                "ReplogReplica",
                "ReplogClient",
                "ReplogConsensus",
                "ReplogStorage",
                "ReplogNet",
                "ReplogWire",
                "ReplogModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // MARK: The system OpenSSL 3 (Debian libssl-dev): TLS, certificates, digests
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        // MARK: TLS on the system OpenSSL (issue 5)
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
                .product(name: "Metrics", package: "swift-metrics"),
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
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ReplogNetTLS",
            dependencies: [
                "ReplogModel",
                "ReplogNet",
                "ReplogTLS",
                "ReplogWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ReplogNetTLSTests",
            dependencies: [
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                "ReplogNetTLS",
                "ReplogNet",
                "ReplogTLS",
                "ReplogWire",
                "ReplogModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // MARK: end TLS
        // MARK: Backups (issue 7)
        .target(
            name: "ReplogBackup",
            dependencies: [
                "ReplogModel",
                "ReplogClient",
                "COpenSSL",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ReplogBackupTests",
            dependencies: [
                "ReplogBackup",
                "ReplogClient",
                "ReplogNet",
                "ReplogTestSupport",
                "ReplogModel",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // MARK: Connections and RPC (issue 5)
        .target(
            name: "ReplogNet",
            dependencies: [
                "ReplogModel",
                "ReplogWire",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ReplogNetTests",
            dependencies: [
                "ReplogNet",
                "ReplogModel",
                "ReplogWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // MARK: The client library (issue 6)
        .target(
            name: "ReplogClient",
            dependencies: [
                "ReplogModel",
                "ReplogWire",
                "ReplogNet",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Test doubles shared by test targets (never linked into the product).
        .target(
            name: "ReplogTestSupport",
            dependencies: [
                "ReplogModel",
                "ReplogWire",
                "ReplogNet",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/ReplogTestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ReplogClientTests",
            dependencies: [
                "ReplogTestSupport",
                "ReplogClient",
                "ReplogNet",
                "ReplogModel",
                "ReplogWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // MARK: Operating the processes (issue 6): logs, metrics, admin HTTP, configuration
        .target(
            name: "ReplogObservability",
            dependencies: [
                "ReplogModel",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ReplogAdmin",
            dependencies: [
                "ReplogObservability",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ReplogConfiguration",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ReplogOperationsTests",
            dependencies: [
                "ReplogObservability",
                "ReplogAdmin",
                "ReplogConfiguration",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ReplogCLITests",
            dependencies: [
                "ReplogTestSupport",
                "ReplogClient",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                "ReplogTLS",
                "ReplogNetTLS",
                "ReplogNet",
                "ReplogBackup",
                "ReplogModel",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "replog",
            dependencies: [
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                "ReplogModel",
                "ReplogReplica",
                "ReplogCoordinator",
                "ReplogAdmin",
                "ReplogStorage",
                "ReplogConsensus",
                "ReplogTestKit",
                "ReplogWire",
                "ReplogBackup",
                "ReplogObservability",
                "ReplogNet",
                "ReplogTLS",
                "ReplogNetTLS",
                "ReplogClient",
                "ReplogConfiguration",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
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
