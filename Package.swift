// swift-tools-version:6.2
import PackageDescription

/// Settings every Swift target shares: Swift 6 mode, and imports internal by default so that no
/// C type (or any other dependency's type) can leak through a public signature by accident.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("InternalImportsByDefault")
]

let package = Package(
    name: "Sluice",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sluice", targets: ["sluice"]),
        // The per-attempt supervisor (a small C program): installed next to `sluice`.
        .executable(name: "sluice-supervisor", targets: ["sluice-supervisor"]),
    ],
    targets: [
        // C libraries from Debian, each imported by exactly one Swift wrapper target.
        .systemLibrary(name: "CFastCGI", pkgConfig: "fcgi", providers: [.apt(["libfcgi-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CPostgres", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),

        // posix_spawn file actions that glibc only declares under _GNU_SOURCE.
        .target(name: "CSpawn"),
        // ThreadSanitizer annotations (weak symbols: no-ops unless built with --sanitize=thread).
        .target(name: "CSanitizer"),
        // `Locked`, the Mutex every target uses, visible to ThreadSanitizer.
        .target(name: "Locking", dependencies: ["CSanitizer"], swiftSettings: strict),
        .target(name: "ByteStrings", swiftSettings: strict),
        // EINTR retry and errno → SystemCallError for every target that makes system calls.
        .target(name: "SystemCalls", swiftSettings: strict),
        .target(name: "Logging", dependencies: ["JSON", "Locking"], swiftSettings: strict),
        .target(name: "JSON", swiftSettings: strict),
        .target(name: "HTTP", dependencies: ["ByteStrings"], swiftSettings: strict),
        .target(name: "FastCGI", dependencies: ["CFastCGI", "HTTP", "Logging", "SystemCalls"], swiftSettings: strict),
        .target(name: "Crypto", dependencies: ["CCrypto", "Locking"], swiftSettings: strict),
        .target(name: "Policy", dependencies: ["ByteStrings"], swiftSettings: strict),
        .target(name: "Identity", dependencies: ["ByteStrings", "Crypto", "HTTP", "JSON", "Locking", "Logging"], swiftSettings: strict),
        .target(name: "SQLite", dependencies: ["CSQLite"], swiftSettings: strict),
        .target(name: "Postgres", dependencies: ["CPostgres", "SystemCalls"], swiftSettings: strict),
        // The store model (protocol, records, shared rules and column encodings): no database.
        .target(name: "JobStore", dependencies: ["JSON"], swiftSettings: strict),
        // The SQLite implementation of JobStore (`SQLiteJobStore`), its schema and every SQL statement.
        .target(name: "SQLiteStore", dependencies: ["JobStore", "SQLite", "Locking", "SystemCalls"], swiftSettings: strict),
        // The PostgreSQL implementation of JobStore (`PostgresJobStore`), for several hosts on one database.
        .target(name: "PostgresStore", dependencies: ["JobStore", "Postgres", "Locking"], swiftSettings: strict),
        // Starting, watching, signalling and recognising task supervisors (the process layer).
        .target(name: "Supervisor", dependencies: ["CSpawn", "SystemCalls"], swiftSettings: strict),
        .target(
            name: "Workflow", dependencies: ["ByteStrings", "JobStore", "Locking", "Logging", "Scheduling", "Supervisor", "SystemCalls"],
            swiftSettings: strict),
        .target(name: "Pages", dependencies: ["HTTP"], swiftSettings: strict),
        // Cron expressions and when they fire in a time zone (pipeline schedules).
        .target(name: "Scheduling", swiftSettings: strict),
        // Prometheus metrics: counters, gauges, histograms and their text exposition.
        .target(name: "Metrics", dependencies: ["ByteStrings", "Locking"], swiftSettings: strict),
        .target(
            name: "Sluice",
            dependencies: [
                "ByteStrings", "SystemCalls", "HTTP", "FastCGI", "Crypto", "Identity", "Policy", "JobStore", "Workflow", "Pages", "Locking",
                "Logging", "JSON", "SQLiteStore", "PostgresStore", "Metrics", "Scheduling",
            ],
            swiftSettings: strict
        ),
        .executableTarget(name: "sluice", dependencies: ["Sluice"], swiftSettings: strict),
        // One process per task attempt, outside Sluice's process and session: starts the task in its
        // own process group, captures its log, enforces timeout and cancel, writes the outcome
        // durably. C, so that starting one costs about as much as starting the task itself.
        //
        // Linked by swiftc, which would add the Swift runtime (libswiftCore, libstdc++: about 2 ms
        // more per start): -nostartfiles leaves out swiftrt.o, the only object that needs it, and
        // in release builds -static-executable links glibc statically, so nothing of Swift is
        // loaded and no shared library either. Not in debug builds: `--sanitize=thread` (scripts/test
        // --tsan) needs a dynamic executable, and debug builds only have to work, not start fast.
        .executableTarget(
            name: "sluice-supervisor",
            cSettings: [.define("_GNU_SOURCE"), .unsafeFlags(["-Wall", "-Wextra"])],
            linkerSettings: [
                .unsafeFlags(["-nostartfiles"]),
                .unsafeFlags(["-static-executable"], .when(configuration: .release)),
            ]
        ),
        // Micro-benchmarks driven by scripts/bench; not installed.
        .executableTarget(
            name: "sluice-bench",
            dependencies: ["Crypto", "Workflow", "JobStore", "SQLiteStore", "PostgresStore", "Postgres", "Locking", "SystemCalls"],
            swiftSettings: strict),

        // Helpers every test target shares (temporary directories, polling, child processes, the
        // process table, a private umask, token minting); no package dependencies, never linked into sluice.
        .target(name: "TestSupport", dependencies: ["Locking"], path: "Tests/TestSupport", exclude: ["mint.py", "webhook_receiver.py"], swiftSettings: strict),

        .testTarget(name: "ByteStringsTests", dependencies: ["ByteStrings"]),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP"]),
        .testTarget(name: "FastCGITests", dependencies: ["FastCGI", "HTTP"]),
        .testTarget(name: "MetricsTests", dependencies: ["Metrics"]),
        .testTarget(name: "LoggingTests", dependencies: ["Logging"]),
        .testTarget(name: "CryptoTests", dependencies: ["Crypto", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "PolicyTests", dependencies: ["Policy", "ByteStrings"]),
        .testTarget(name: "SystemCallsTests", dependencies: ["SystemCalls"]),
        .testTarget(name: "SQLiteTests", dependencies: ["SQLite", "TestSupport"]),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "TestSupport"]),
        // The protocol suite runs against every store (`StoreKind`), plus the pure rules.
        .testTarget(
            name: "JobStoreTests",
            dependencies: ["JobStore", "SQLiteStore", "SQLite", "PostgresStore", "Postgres", "Locking", "TestSupport"]),
        .testTarget(name: "PostgresStoreTests", dependencies: ["PostgresStore", "JobStore", "Postgres", "Locking", "TestSupport"]),
        .testTarget(name: "SQLiteStoreTests", dependencies: ["SQLiteStore", "JobStore", "SQLite", "Locking", "TestSupport"]),
        .testTarget(
            name: "WorkflowTests",
            dependencies: [
                "Workflow", "Supervisor", "JobStore", "SQLiteStore", "PostgresStore", "Postgres", "ByteStrings", "Locking", "TestSupport",
            ]),
        .testTarget(name: "PagesTests", dependencies: ["Pages"]),
        .testTarget(name: "SchedulingTests", dependencies: ["Scheduling"]),
        .testTarget(
            name: "SluiceTests",
            dependencies: [
                "Sluice", "ByteStrings", "SQLite", "HTTP", "Policy", "Identity", "JobStore", "Workflow", "Pages", "JSON", "Locking",
                "TestSupport",
                "SQLiteStore",
            ]),
        .testTarget(name: "JSONTests", dependencies: ["JSON"]),
        .testTarget(name: "SupervisorTests", dependencies: ["TestSupport"]),
        .testTarget(name: "IdentityTests", dependencies: ["Identity", "Crypto", "HTTP", "JSON", "Locking", "TestSupport"]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["sluice", "JobStore", "SQLiteStore", "SQLite", "Postgres", "PostgresStore", "Supervisor", "TestSupport"]),
    ]
)
