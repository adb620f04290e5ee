import Foundation
import TestSupport
import Testing

/// A schedule fired by the real `sluice serve` behind lighttpd: the scheduler thread, the store's
/// mark and the runner, end to end. (When runs fire across clock changes, restarts and crashes is
/// SchedulerTests' part, with the clock given.)
@Suite("Schedules in a real sluice serve", .serialized, .timeLimit(.minutes(3)))
struct ScheduleTests {
    @Test("An every-minute schedule triggers its pipeline at the next minute, once, as schedule:every-minute, and the job runs")
    func firesAtTheMinute() async throws {
        let harness = try await LighttpdHarness.start { directory in
            """
            {
              server: { base_path: "/sluice", data_dir: "\(directory)/data", threads: 2 },
              roles: { admin: { users: ["alice"], grants: [{ pipelines: ["*"], verbs: ["view", "trigger", "logs"] }] } },
              pipelines: {
                stamp: {
                  params: { at: { required: true } },
                  tasks: { write: { run: ["/bin/sh", "-c", "echo $1 >> \(directory)/stamps", "sh", "{at}"] } },
                  schedules: { "every-minute": { cron: "* * * * *", params: { at: "{datetime}" } } },
                },
              },
            }
            """
        }
        defer { harness.shutdown() }
        let client = harness.client
        let checked = try ChildProcess.run(try LighttpdHarness.findSluiceBinary(), ["check", harness.directory + "/sluice.json5"])
        #expect(checked.status == 0 && checked.stdout.contains("  schedule every-minute (stamp): * * * * * in UTC, next "), "\(checked)")
        let pipeline = try client.send("GET", "/sluice/api/v1/pipelines/stamp", as: "alice")
        #expect(pipeline.status == 200)
        #expect(String(decoding: pipeline.body, as: UTF8.self).contains("\"next_runs\":[\""))
        // The first run is the next whole minute after the start: at most 60 s, plus the tick.
        let deadline = Date().addingTimeInterval(80)
        var listing = ""
        while Date() < deadline {
            listing = String(decoding: try client.send("GET", "/sluice/api/v1/jobs?pipeline=stamp", as: "alice").body, as: UTF8.self)
            if listing.contains("\"state\":\"succeeded\"") { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(listing.contains("\"triggered_by\":\"schedule:every-minute\""), "\(listing.prefix(400))\n\(harness.logs())")
        #expect(listing.contains("\"identity_source\":\"schedule\""))
        #expect(listing.contains("\"state\":\"succeeded\""))
        #expect(listing.components(separatedBy: "\"id\":").count - 1 == 1, "one run for one minute: \(listing.prefix(400))")
        let stamps = try String(contentsOfFile: harness.directory + "/stamps", encoding: .utf8)
        #expect(stamps.hasSuffix(":00+00:00\n"), "the run's parameter is its fire time: \(stamps)")
    }
}
