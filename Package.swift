// swift-tools-version:6.0
// Spool: a durable, replicated message broker. See README.md and docs/.
//
// Dependencies point inward: SpoolCore and Raft know nothing of sockets or SQLite;
// SpoolProtocol parses and renders lines; SpoolStorage is the only SQLite importer (and stores
// the Raft log, so it depends on Raft);
// SpoolEngine owns partitions; SpoolServer owns NIO listeners; SpoolClient is the async client.
import PackageDescription

let package = Package(
    name: "Spool",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "spoold", targets: ["spoold"]),
        .executable(name: "spool", targets: ["spool"]),
        .executable(name: "spool-sim", targets: ["spool-sim"]),
        .executable(name: "spool-bench", targets: ["spool-bench"]),
        .library(name: "SpoolClient", targets: ["SpoolClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
    ],
    targets: [
        // MARK: SQLite through its C API (libsqlite3-dev).
        .systemLibrary(
            name: "CSQLite",
            path: "Sources/CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),

        // TEST-ONLY: a SQLite VFS that loses unsynced writes, for power-loss crash tests
        // (docs/testing.md). Registered only when spoold starts with SPOOL_TEST_VFS=powerloss.
        .target(name: "CSpoolTestVFS", dependencies: ["CSQLite"]),

        // MARK: Pure cores.
        .target(name: "SpoolCore"),
        .target(
            name: "SpoolProtocol",
            dependencies: ["SpoolCore", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .target(name: "SpoolGroups", dependencies: ["SpoolCore"]),
        .target(name: "Raft"),
        .target(name: "RaftSimulator", dependencies: ["Raft"]),
        // The cluster's pure parts: peer frame codec, placement, the metadata state machine.
        .target(
            name: "SpoolCluster",
            dependencies: ["SpoolCore", "SpoolGroups", "Raft", .product(name: "NIOCore", package: "swift-nio")]
        ),

        // MARK: Storage: the only module that imports SQLite. The schema lives in migrations/.
        .executableTarget(name: "spool-embed-migrations"),
        .plugin(
            name: "MigrationEmbedder",
            capability: .buildTool(),
            dependencies: ["spool-embed-migrations"]
        ),
        .target(
            name: "SpoolStorage",
            dependencies: ["SpoolCore", "Raft", "CSQLite", "CSpoolTestVFS"],
            plugins: ["MigrationEmbedder"]
        ),

        // MARK: Engine and network shells.
        .target(
            name: "SpoolEngine",
            dependencies: [
                "SpoolCore", "SpoolStorage", "SpoolReplication", "SpoolCluster", "Raft",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "SpoolServer",
            dependencies: [
                "SpoolCore", "SpoolProtocol", "SpoolEngine", "SpoolGroups", "SpoolCluster", "SpoolReplication", "Raft",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Broker-to-broker transport: one connection per pair, hello, coalesced Raft frames.
        .target(
            name: "SpoolPeer",
            dependencies: [
                "SpoolCluster", "SpoolCore", "Raft",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // One Raft group's replica run for real: the driver (RaftNode + RaftLogStore on a storage
        // thread, ticks, the Ready loop, proposals) and the router between drivers and the transport.
        .target(
            name: "SpoolReplication",
            dependencies: [
                "Raft", "SpoolCore", "SpoolStorage", "SpoolCluster", "SpoolPeer",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // TEST-ONLY: writes partition files as the broker before replication did (migration tests).
        .target(name: "SpoolLegacyFormat", dependencies: ["SpoolCore", "SpoolStorage"]),
        // Test support: a TCP proxy that cuts, stalls, delays or discards one peer link's bytes.
        .target(
            name: "SpoolFaultProxy",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .target(
            name: "SpoolClient",
            dependencies: [
                "SpoolCore", "SpoolProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),

        // MARK: Executables (thin).
        .executableTarget(
            name: "spoold",
            dependencies: [
                "SpoolServer", "SpoolStorage", "SpoolPeer", "SpoolCluster", "SpoolReplication", "Raft",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "spool",
            dependencies: [
                "SpoolClient", "SpoolCore", "SpoolProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "spool-sim", dependencies: ["RaftSimulator"]),
        // Load generator and the raw-SQLite reference it reports ratios against (docs/performance.md).
        .executableTarget(
            name: "spool-bench",
            dependencies: [
                "SpoolClient", "SpoolCore", "SpoolProtocol", "CSQLite",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .executableTarget(
            name: "spool-example",
            dependencies: ["SpoolClient"],
            path: "examples/swift"
        ),

        // MARK: Tests.
        .testTarget(name: "SpoolCoreTests", dependencies: ["SpoolCore"]),
        .testTarget(
            name: "SpoolProtocolTests",
            dependencies: ["SpoolProtocol", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(name: "SpoolStorageTests", dependencies: ["SpoolStorage", "Raft", "CSpoolTestVFS", "SpoolLegacyFormat"]),
        .testTarget(name: "SpoolEngineTests", dependencies: ["SpoolEngine"]),
        .testTarget(
            name: "SpoolIntegrationTests",
            dependencies: [
                "SpoolServer", "SpoolClient", "SpoolStorage", "SpoolProtocol", "SpoolCore", "SpoolFaultProxy", "SpoolLegacyFormat",
                // Tests run these binaries as child processes, so `swift test` must build them.
                "spoold", "spool", "spool-example", "spool-bench", "spool-sim",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // SpoolStorage: the storage contract suite also runs against the SQLite Raft log.
        .testTarget(name: "RaftTests", dependencies: ["Raft", "RaftSimulator", "SpoolStorage", "SpoolCore"]),
        .testTarget(
            name: "SpoolFaultProxyTests",
            dependencies: [
                "SpoolFaultProxy",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "SpoolPeerTests",
            dependencies: [
                "SpoolPeer", "SpoolCluster", "Raft", "SpoolFaultProxy",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "SpoolReplicationTests",
            dependencies: [
                "SpoolReplication", "SpoolStorage", "SpoolPeer", "SpoolFaultProxy", "SpoolCluster", "SpoolCore", "Raft",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "SpoolClusterTests",
            dependencies: ["SpoolCluster", "SpoolCore", "Raft", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(name: "SpoolGroupsTests", dependencies: ["SpoolGroups", "SpoolCore"]),
    ]
)
