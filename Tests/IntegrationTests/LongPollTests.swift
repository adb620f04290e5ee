import Foundation
import Locking
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Long-polls (`GET /api/v1/jobs/{id}?wait=S`) through a real lighttpd: many more waiting
/// requests than Sluice has worker threads, all parked without a thread, while Sluice goes on
/// answering; all answered when the job changes.
@Suite("Long-polls hold no thread", .serialized, .timeLimit(.minutes(3)))
struct LongPollTests {
    /// Four worker threads; a pipeline whose task waits for a file to appear.
    static func sluiceConfig(directory: String) -> String {
        """
        {
          server: { base_path: "/sluice", data_dir: "\(directory)/data", threads: 4, metrics_peers: ["127.0.0.1"] },
          roles: { operator: { users: ["bob"], grants: [{ pipelines: ["*"], verbs: ["view", "trigger", "cancel"] }] } },
          pipelines: {
            gated: { tasks: { wait: { run: ["/bin/sh", "-c", "while [ ! -e \(directory)/release ]; do sleep 0.05; done"] } } },
            quick: { tasks: { only: { run: ["/bin/true"] } } },
          },
        }
        """
    }

    /// The value of an unlabelled gauge in Sluice's metrics.
    static func gauge(_ name: String, _ harness: LighttpdHarness) -> Double? {
        guard let text = try? harness.client.send("GET", "/sluice/metrics", as: "bob").text else { return nil }
        return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }
    }

    @Test("120 long-polls on 4 worker threads all wait, Sluice keeps answering, and all get the change")
    func manyWatchers() async throws {
        let harness = try await LighttpdHarness.start(sluiceConfig: Self.sluiceConfig)
        defer { harness.shutdown() }
        let client = harness.client
        let accepted = try client.postJSON("/sluice/api/v1/pipelines/gated/jobs", #"{"params":{}}"#, as: "bob")
        try #require(accepted.status == 202, "\(accepted)")
        let location = try #require(accepted.header("Location"))
        let running = try await harness.waitForJob(at: location, as: "bob") { $0.state == "running" }
        let current = try client.send("GET", location, as: "bob")
        let tag = try #require(current.header("ETag"))

        // Each watcher on a thread of its own (the client blocks until the answer).
        let watchers = 120
        let answers = Locked<[HTTPClient.Response]>([])
        let failures = Locked<[String]>([])
        let done = DispatchGroup()
        for _ in 0..<watchers {
            done.enter()
            Thread {
                do {
                    let response = try client.send("GET", location + "?wait=50", as: "bob", headers: [("If-None-Match", tag)])
                    answers.withLock { $0.append(response) }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
                done.leave()
            }.start()
        }
        // All of them park: far more than the 4 threads (the old rule let at most 2 wait).
        let parked = await Poll.until(within: .seconds(30), every: .milliseconds(100)) {
            (Self.gauge("sluice_long_polls_waiting", harness) ?? 0) >= Double(watchers)
        }
        #expect(
            parked,
            "waiting: \(Self.gauge("sluice_long_polls_waiting", harness) ?? -1); answered early: \(answers.withLock { $0.map(\.status) })")
        #expect(answers.withLock { $0.isEmpty }, "nobody is answered before the change")

        // Sluice goes on answering while they wait: health, reads, a trigger.
        for _ in 0..<20 { #expect(try client.send("GET", "/sluice/healthz").status == 200) }
        #expect(try client.send("GET", location, as: "bob").status == 200)
        let quick = try client.postJSON("/sluice/api/v1/pipelines/quick/jobs", #"{"params":{}}"#, as: "bob")
        #expect(quick.status == 202, "\(quick)")

        // The change: every watcher gets the new representation at once.
        try Data().write(to: URL(fileURLWithPath: harness.directory + "/release"))
        let finished = await Poll.until(within: .seconds(30), every: .milliseconds(100)) {
            answers.withLock { $0.count } + failures.withLock { $0.count } == watchers
        }
        #expect(finished, "answered: \(answers.withLock { $0.count }) of \(watchers)")
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        for response in answers.withLock({ $0 }) {
            #expect(response.status == 200 && response.header("ETag") != tag, "\(response)")
        }
        #expect(running.state == "running")
        #expect(await Poll.until(within: .seconds(10)) { Self.gauge("sluice_long_polls_waiting", harness) == 0 })
        _ = done.wait(timeout: .now() + 10)
    }

    @Test("A long-poll ends with 304 at its deadline, and one parked while Sluice stops is answered")
    func deadlineAndStop() async throws {
        let harness = try await LighttpdHarness.start(sluiceConfig: Self.sluiceConfig)
        defer { harness.shutdown() }
        let client = harness.client
        let accepted = try client.postJSON("/sluice/api/v1/pipelines/gated/jobs", #"{"params":{}}"#, as: "bob")
        let location = try #require(accepted.header("Location"))
        _ = try await harness.waitForJob(at: location, as: "bob") { $0.state == "running" }
        let tag = try #require(try client.send("GET", location, as: "bob").header("ETag"))
        let timedOut = try client.send("GET", location + "?wait=1", as: "bob", headers: [("If-None-Match", tag)])
        #expect(timedOut.status == 304, "\(timedOut)")

        // Parked, then Sluice gets SIGTERM: the watcher is answered (the current job, 304), not cut off.
        let answer = Locked<HTTPClient.Response?>(nil)
        Thread {
            let response = try? client.send("GET", location + "?wait=50", as: "bob", headers: [("If-None-Match", tag)])
            answer.withLock { $0 = response }
        }.start()
        #expect(await Poll.until(within: .seconds(20), every: .milliseconds(100)) { Self.gauge("sluice_long_polls_waiting", harness) == 1 })
        for pid in harness.sluiceProcessIDs() { kill(pid, SIGTERM) }
        let got = await Poll.value(within: .seconds(20), every: .milliseconds(100)) { answer.withLock { $0 } }
        #expect(got?.status == 304, "\(got.map { "\($0)" } ?? "no answer")")
    }
}
