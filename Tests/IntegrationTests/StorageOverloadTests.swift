import Foundation
import JobStore
import SQLite
import SQLiteStore
import Synchronization
import TestSupport
import Testing

/// Through real lighttpd: while another process holds the database's write lock, triggers get
/// honest 503s with Retry-After (never 500), `/healthz` keeps answering fast, and every
/// acknowledged job has its audit record once the lock is gone.
@Suite("A locked job store under load, through lighttpd", .serialized)
struct StorageOverloadTests {
    static func sluiceConfig(directory: String) -> String {
        """
        {
          server: { base_path: "/sluice", data_dir: "\(directory)/data", threads: 8, parallelism: 2 },
          roles: { operator: { users: ["bob"], grants: [{ pipelines: ["*"], verbs: ["view", "trigger"] }] } },
          pipelines: { quick: { params: { n: { default: "0" } }, tasks: { t: { kind: "noop" } } } },
        }
        """
    }

    final class Results: Sendable {
        let triggers = Mutex<[(status: Int, retryAfter: String?, id: Int64?)]>([])
        let health = Mutex<[(status: Int, milliseconds: Double)]>([])
    }

    @Test(
        "Triggers behind a held write lock are 202 or 503 with Retry-After; /healthz stays fast; acknowledged jobs keep their audit records"
    )
    func lockedStore() async throws {
        let harness = try await LighttpdHarness.start(sluiceConfig: Self.sluiceConfig)
        defer { harness.shutdown() }
        let client = harness.client
        let first = try client.postJSON("/sluice/api/v1/pipelines/quick/jobs", #"{"params":{"n":"first"}}"#, as: "bob")
        try #require(first.status == 202, "\(first)")

        // Another process (here: this test's own connection) holds the write lock for 6 s.
        let holder = try Connection(path: harness.directory + "/data/sluice.db")
        try holder.execute(
            "BEGIN EXCLUSIVE; INSERT INTO audit (at, event, decision, reason, config_hash) VALUES (0, 'x', 'deny', 'r', 'h');")
        let results = Results()
        let stop = Atomic<Bool>(false)
        let group = DispatchGroup()
        for client in 0..<8 {
            group.enter()
            Thread {
                defer { group.leave() }
                var round = 0
                while !stop.load(ordering: .relaxed) {
                    round += 1
                    guard
                        let response = try? harness.client.postJSON(
                            "/sluice/api/v1/pipelines/quick/jobs", #"{"params":{"n":"\#(client)-\#(round)"}}"#, as: "bob")
                    else { continue }
                    let id = (try? response.jsonObject())?["id"] as? Int
                    results.triggers.withLock { $0.append((response.status, response.header("Retry-After"), id.map(Int64.init))) }
                    if response.status == 503 { Thread.sleep(forTimeInterval: 0.05) }
                }
            }.start()
        }
        group.enter()
        Thread {
            defer { group.leave() }
            while !stop.load(ordering: .relaxed) {
                let start = ContinuousClock.now
                let status = (try? harness.client.send("GET", "/sluice/healthz"))?.status ?? 0
                let elapsed = ContinuousClock.now - start
                let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
                results.health.withLock { $0.append((status, ms)) }
                Thread.sleep(forTimeInterval: 0.02)
            }
        }.start()
        try await Task.sleep(for: .seconds(6))
        try holder.execute("ROLLBACK;")
        stop.store(true, ordering: .relaxed)
        group.wait()

        let triggers = results.triggers.withLock { $0 }
        let health = results.health.withLock { $0 }
        #expect(!triggers.isEmpty)
        #expect(triggers.allSatisfy { $0.status == 202 || $0.status == 503 }, "\(triggers.map(\.status))")
        #expect(triggers.contains { $0.status == 503 })
        #expect(triggers.filter { $0.status == 503 }.allSatisfy { $0.retryAfter != nil })
        #expect(health.allSatisfy { $0.status == 200 }, "\(health.map(\.status))")
        let sorted = health.map(\.milliseconds).sorted()
        let p99 = sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))]
        // Without the write gate every worker thread waited on the lock and /healthz took seconds;
        // the bound here is generous for a shared 2-core machine (the issue's goal is 50 ms).
        #expect(p99 < 250, "healthz p99 \(p99) ms over \(health.count) probes")
        print(
            "StorageOverloadTests: /healthz p99 \(String(format: "%.1f", p99)) ms over \(health.count) probes; triggers \(triggers.count), 503s \(triggers.filter { $0.status == 503 }.count)"
        )

        // Every acknowledged job exists, with its audit record.
        let store = try SQLiteJobStore(path: harness.directory + "/data/sluice.db")
        let audited = Set(try store.auditRecords(AuditQuery(event: "trigger", limit: 10_000)).compactMap(\.jobID))
        for id in triggers.compactMap({ $0.status == 202 ? $0.id : nil }) {
            #expect(try store.job(id: id) != nil, "acknowledged job \(id) is missing")
            #expect(audited.contains(id), "acknowledged job \(id) has no audit record")
        }
    }
}
