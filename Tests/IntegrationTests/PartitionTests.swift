import Foundation
import Postgres
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A host cut off from PostgreSQL by a real network partition.
///
/// scripts/test makes a network namespace joined to this one by a veth pair and lets the private
/// PostgreSQL cluster listen on this side's address (`setup_partition_netns`). Host `h1` runs as
/// usual (unix socket to PostgreSQL); host `h2` runs inside the namespace (`ip netns exec`) and
/// reaches PostgreSQL over TCP across the link. Both sit behind one lighttpd
/// (`MultiBackendTests.Front`; their FastCGI sockets are files, which a network namespace does not
/// separate). The test takes the link down, so that h2's packets vanish without an answer (no
/// reset, no refusal: what a cut cable or a dead switch does), and later up again.
@Suite(
    "A host cut off from PostgreSQL (network namespace)", .serialized, .timeLimit(.minutes(3)),
    .enabled(if: TestPostgres.isEnabled, Comment(rawValue: TestPostgres.disabledReason)),
    .enabled(if: PartitionNetwork.namespace != nil, Comment(rawValue: PartitionNetwork.disabledReason)))
struct PartitionTests {
    @Test(
        "h2 loses PostgreSQL mid-job: its lease expires, it kills its tasks while still cut off, h1 rescues its jobs; reconnected, h2 records nothing over the rescue, registers anew, and every job ends once with the rescuer's attempt"
    )
    func partition() async throws {
        let namespace = try #require(PartitionNetwork.namespace)
        let link = try #require(PartitionNetwork.environment["SLUICE_TEST_NETNS_LINK"])
        let address = try #require(PartitionNetwork.environment["SLUICE_TEST_POSTGRES_TCP_HOST"])
        let lease = 3
        // h2's connection string: the same database and schema, over TCP to the link address.
        let front = try await MultiBackendTests.Front.start(
            backends: ["h1", "h2"], balance: "round-robin", leaseSeconds: lease,
            connections: ["h2": { Self.overTCP($0, host: address) }],
            launchers: ["h2": ["/usr/bin/env", "ip", "netns", "exec", namespace]])
        defer {
            Self.setLink(link, up: true)
            front.shutdown()
        }
        let db = try PostgresConnection(front.connection, password: TestPostgres.password)
        defer { db.close() }
        let h2 = front.backends[1]

        // h2 really goes over the link: the server sees connections from the namespace's address.
        let peer = address.split(separator: ".").dropLast().joined(separator: ".") + ".2"
        let fromNamespace =
            try db.execute("SELECT count(*) FROM pg_stat_activity WHERE host(client_addr) = $1", [.text(peer)])
            .first?.int64(0) ?? 0
        #expect(fromNamespace > 0, "no connection from \(peer) in pg_stat_activity")

        // Eight gated jobs: each host runs four (parallelism 4 each), and they wait.
        var jobs: [Int64] = []
        for _ in 0..<8 { jobs.append(try front.trigger("gated")) }
        try await front.poll("all eight jobs' work to start", timeout: .seconds(20)) {
            Set(front.runs().filter { jobs.contains($0.job) && $0.task == "work" }.map(\.job)).count == 8
        }
        let firstRuns = front.runs().filter { jobs.contains($0.job) && $0.task == "work" && $0.attempt == 1 }
        let onH2 = firstRuns.filter { $0.host == "h2" }.map(\.job)
        let onH1 = firstRuns.filter { $0.host == "h1" }.map(\.job)
        print("PartitionTests: h1 runs jobs \(onH1), h2 runs jobs \(onH2)")
        try #require(!onH2.isEmpty, "h2 claimed nothing: \(firstRuns)\n\(front.logs())")
        // h1's own jobs end, so that it has room to rescue h2's.
        for job in onH1 { front.openGate(job: job) }
        try await front.poll("h1's jobs to succeed", timeout: .seconds(20)) {
            try MultiBackendTests.states(of: onH1, in: db) == ["succeeded": onH1.count]
        }
        let h2Tasks = h2.processesOfItsTasks()
        #expect(!h2Tasks.isEmpty, "h2's task processes")
        let epochBefore = try Self.epoch(of: "h2", in: db)

        // The cut.
        Self.setLink(link, up: false)
        let cut = ContinuousClock.now
        var h2TasksGoneAfter: Duration?
        var leaseNoneAfter: Duration?
        var rescueStartedAfter: Duration?
        let rescued = await Poll.until(within: .seconds(lease + 20), every: .milliseconds(50)) {
            let elapsed = ContinuousClock.now - cut
            if h2TasksGoneAfter == nil && h2.processesOfItsTasks().isEmpty { h2TasksGoneAfter = elapsed }
            if leaseNoneAfter == nil, Self.lease(of: h2, through: front) == "none" { leaseNoneAfter = elapsed }
            let secondAttempts = front.runs().filter { onH2.contains($0.job) && $0.task == "work" && $0.attempt == 2 && $0.host == "h1" }
            if rescueStartedAfter == nil && Set(secondAttempts.map(\.job)).count == onH2.count { rescueStartedAfter = elapsed }
            return h2TasksGoneAfter != nil && rescueStartedAfter != nil && leaseNoneAfter != nil
        }
        print(
            "PartitionTests: after the cut (lease \(lease) s): h2's /healthz said lease none after \(leaseNoneAfter.map { "\($0)" } ?? "never"), "
                + "h2's task processes were gone after \(h2TasksGoneAfter.map { "\($0)" } ?? "never"), "
                + "h1 had started all \(onH2.count) rescued attempts after \(rescueStartedAfter.map { "\($0)" } ?? "never")")
        #expect(rescued, "\(front.logs())")
        // No task ran twice: h2 killed its tasks (a sixth of the lease before its lease could
        // expire) before h1 rescued its jobs. By the two hosts' own log times (one machine, one
        // clock, milliseconds), not by this test's polling, which a loaded machine slows.
        let killedAt = Self.logTime(of: "lease ran out unrenewed", in: h2.log())
        let rescuedAt = Self.logTime(of: "rescued the jobs of a host whose lease expired", in: front.backends[0].log())
        print("PartitionTests: h2 killed its tasks at \(killedAt ?? "?"), h1 rescued h2's jobs at \(rescuedAt ?? "?")")
        #expect(killedAt != nil && rescuedAt != nil && killedAt! < rescuedAt!, "h2's tasks were still running when h1 rescued its jobs")
        #expect(h2.log().contains("lease lost"), "h2 did not log the lost lease\n\(h2.log().suffix(4000))")
        #expect(h2.process.isRunning, "h2 exited while cut off\n\(h2.log().suffix(4000))")

        // Some time cut off with the rescue in place: h2 starts nothing meanwhile.
        try await Task.sleep(for: .seconds(1))
        let h2RunsWhileCut = front.runs().filter { $0.host == "h2" }.count

        // Mended: h2 registers anew (a later epoch) and is back.
        Self.setLink(link, up: true)
        let mended = ContinuousClock.now
        try await front.poll("h2 to hold a lease again", timeout: .seconds(30)) { Self.lease(of: h2, through: front) == "held" }
        let epochAfter = try Self.epoch(of: "h2", in: db)
        print(
            "PartitionTests: h2 held a lease again \(ContinuousClock.now - mended) after the link came back (epoch \(epochBefore) → \(epochAfter))"
        )
        #expect(epochAfter > epochBefore)
        #expect(front.runs().filter { $0.host == "h2" }.count == h2RunsWhileCut, "h2 started tasks while cut off")

        // The rescued jobs finish on h1; nothing of h2's first attempts is recorded over them.
        for job in onH2 { front.openGate(job: job) }
        try await front.poll("all jobs to succeed", timeout: .seconds(20)) {
            try MultiBackendTests.states(of: jobs, in: db) == ["succeeded": jobs.count]
        }
        for job in onH2 {
            let runs = front.runs().filter { $0.job == job }.map(\.description)
            #expect(runs == ["\(job) work 1 h2", "\(job) work 2 h1", "\(job) after 1 h1"], "\(runs)")
            let work = try db.execute("SELECT state, attempt FROM tasks WHERE job_id = $1 AND name = 'work'", [.int64(job)]).first
            #expect(try work?.string(0) == "succeeded" && work?.int64(1) == 2, "job \(job)'s work: \(String(describing: work))")
        }
        #expect(h2.processesOfItsTasks().isEmpty)

        // And the group works on: new jobs all succeed (whichever host claims them).
        var after: [Int64] = []
        for _ in 0..<6 { after.append(try front.trigger("fan")) }
        try await front.poll("the jobs triggered after the mend to succeed", timeout: .seconds(20)) {
            try MultiBackendTests.states(of: after, in: db) == ["succeeded": after.count]
        }
    }
}

extension PartitionTests {
    /// `base` with its `host=` replaced by a TCP address (the cluster's port stays).
    static func overTCP(_ base: String, host: String) -> String {
        var parts = base.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        if let index = parts.firstIndex(where: { $0.hasPrefix("host=") }) {
            parts[index] = "host=" + host
        } else {
            parts.insert("host=" + host, at: 0)
        }
        return parts.joined(separator: " ")
    }

    /// The `ts` of the first log line with message `message` (ISO 8601 with milliseconds, so
    /// that two of them compare as text).
    static func logTime(of message: String, in log: String) -> String? {
        guard let line = log.split(separator: "\n").first(where: { $0.contains("\"msg\":\"\(message)") }),
            let range = line.range(of: #""ts":""#)
        else { return nil }
        return String(line[range.upperBound...].prefix(23))
    }

    /// Takes this side of the link down or up (`ip link set`).
    static func setLink(_ link: String, up: Bool) {
        let result = try? ChildProcess.run("/usr/bin/env", ["ip", "link", "set", link, up ? "up" : "down"], timeout: .seconds(10))
        if result?.succeeded != true {
            print("PartitionTests: ip link set \(link) \(up ? "up" : "down") failed: \(String(describing: result))")
        }
    }

    /// The lease h2's /healthz reports (through lighttpd's per-backend route), or nil.
    static func lease(of backend: MultiBackendTests.Backend, through front: MultiBackendTests.Front) -> String? {
        guard let response = try? front.client.send("GET", "/sluice/healthz", headers: [("X-Sluice-Backend", backend.name)]),
            response.status == 200
        else { return nil }
        return ((try? response.jsonObject())?["host"] as? [String: Any])?["lease"] as? String
    }

    /// The host's epoch in the store.
    static func epoch(of host: String, in db: PostgresConnection) throws -> Int64 {
        try db.execute("SELECT epoch FROM hosts WHERE id = $1", [.text(host)]).first?.int64(0) ?? -1
    }
}

/// What scripts/test exported about the network namespace (`setup_partition_netns`).
enum PartitionNetwork {
    static let environment = ProcessInfo.processInfo.environment
    /// The namespace scripts/test made, if it could.
    static let namespace = environment["SLUICE_TEST_NETNS"]
    static let disabledReason =
        "SLUICE_TEST_NETNS is not set: scripts/test creates the network namespace when it runs as root and the kernel allows it (see its output)"
}
