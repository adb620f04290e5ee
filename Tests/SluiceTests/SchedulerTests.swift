import Foundation
import JobStore
import Scheduling
import Testing
import Workflow

@testable import Sluice

/// The scheduler against a real store, with the clock given: runs fire once, across restarts,
/// crashes between the job and the mark, and the missed-run policies.
@Suite struct SchedulerTests {
    static func utc(_ text: String) -> Date { try! Date(text + "Z", strategy: .iso8601) }

    static func config(_ schedule: String, pipeline extra: String = "") -> String {
        """
        {
          roles: { ops: { users: ["bob"], grants: [{ pipelines: ["*"], verbs: ["view", "trigger"] }] } },
          pipelines: {
            report: {
              params: { date: { required: true } }, \(extra)
              tasks: { run: { run: ["/bin/true", "{date}"] } },
              schedules: { nightly: { \(schedule) } },
            },
          },
        }
        """
    }

    static func jobs(_ h: AppHarness) throws -> [JobRecord] { try h.store.jobs(JobQuery(limit: 100)).reversed() }

    @Test(
        "02:30 Berlin: fires once at its time as schedule:nightly, audited; a restarted scheduler neither loses nor doubles it, and the DST gap fires at 03:00"
    )
    func firesOnceAcrossRestarts() throws {
        let h = try AppHarness(config: Self.config("cron: \"30 2 * * *\", time_zone: \"Europe/Berlin\", params: { date: \"{date}\" }"))
        defer { h.remove() }
        #expect(Scheduler(app: h.app).tick(now: Self.utc("2026-03-27T12:00:00")) == Self.utc("2026-03-28T01:30:00"))
        #expect(try Self.jobs(h).isEmpty, "a new schedule starts from now: nothing is caught up")
        #expect(try h.store.scheduleMarks().map(\.nextFireAt) == [Self.utc("2026-03-28T01:30:00")])

        // A restart across the fire time: a new scheduler, the mark from the store.
        let restarted = Scheduler(app: h.app)
        #expect(restarted.tick(now: Self.utc("2026-03-28T01:30:07")) == Self.utc("2026-03-29T01:00:00"))
        #expect(restarted.tick(now: Self.utc("2026-03-28T01:30:09")) == Self.utc("2026-03-29T01:00:00"))
        var jobs = try Self.jobs(h)
        #expect(jobs.count == 1, "once, though it ticked twice")
        #expect(jobs.first?.triggeredBy == "schedule:nightly" && jobs.first?.identitySource == "schedule")
        #expect(jobs.first?.params == ["date": "2026-03-28"])
        let audit = try h.store.auditRecords(AuditQuery()).first
        #expect(audit?.allowed == true && audit?.user == "schedule:nightly" && audit?.jobID == jobs.first?.id)
        #expect(audit?.reason == "schedule nightly at 2026-03-28T02:30:00+01:00")

        Scheduler(app: h.app).tick(now: Self.utc("2026-03-29T01:00:01"))
        jobs = try Self.jobs(h)
        #expect(jobs.map(\.params) == [["date": "2026-03-28"], ["date": "2026-03-29"]], "02:30 did not exist: it ran at 03:00")
    }

    @Test("A crash after the job's commit and before the mark moved triggers the run once")
    func crashBetweenJobAndMark() throws {
        let h = try AppHarness(config: Self.config("cron: \"0 * * * *\", params: { date: \"{datetime}\" }"))
        defer { h.remove() }
        let scheduler = Scheduler(app: h.app)
        scheduler.tick(now: Self.utc("2026-05-01T09:30:00"))
        // The run of 10:00 was committed, then the process died before moving the mark.
        let snapshot = h.app.currentSnapshot
        let pipeline = try #require(snapshot.configuration.pipelines["report"])
        try scheduler.fire(pipeline, pipeline.schedules[0], at: Self.utc("2026-05-01T10:00:00"), snapshot: snapshot)
        #expect(try h.store.scheduleMarks().first?.nextFireAt == Self.utc("2026-05-01T10:00:00"))
        Scheduler(app: h.app).tick(now: Self.utc("2026-05-01T10:00:30"))
        #expect(try Self.jobs(h).count == 1, "the idempotency key answers the second submission with the first job")
        #expect(try h.store.scheduleMarks().first?.nextFireAt == Self.utc("2026-05-01T11:00:00"))
    }

    @Test(
        "Missed runs after five hours down: latest fires the last, none nothing, all the last ones up to the limit",
        arguments: [
            ("", ["2026-05-01T15:00:00+00:00"]), ("missed: \"none\",", []),
            (
                "missed: \"all\", catch_up_limit: 3,",
                ["2026-05-01T13:00:00+00:00", "2026-05-01T14:00:00+00:00", "2026-05-01T15:00:00+00:00"]
            ),
        ])
    func missed(_ policy: String, _ expected: [String]) throws {
        let h = try AppHarness(config: Self.config("cron: \"0 * * * *\", \(policy) params: { date: \"{datetime}\" }"))
        defer { h.remove() }
        Scheduler(app: h.app).tick(now: Self.utc("2026-05-01T09:30:00"))
        Scheduler(app: h.app).tick(now: Self.utc("2026-05-01T15:20:00"))
        #expect(try Self.jobs(h).map { $0.params["date"] ?? "" } == expected)
        #expect(try h.store.scheduleMarks().first?.nextFireAt == Self.utc("2026-05-01T16:00:00"))
    }

    @Test("A changed expression starts from now; a refused run is audited and the schedule goes on")
    func changedAndRefused() throws {
        let h = try AppHarness(
            config: Self.config("cron: \"0 * * * *\", params: { date: \"x\" }", pipeline: "on_duplicate: \"reject\","))
        defer { h.remove() }
        // A mark kept for another definition (the configuration changed while down).
        #expect(
            try h.store.moveScheduleMark(
                from: nil, to: ScheduleMark(name: "nightly", nextFireAt: Self.utc("2026-05-01T00:00:00"), fingerprint: "@daily|UTC")))
        Scheduler(app: h.app).tick(now: Self.utc("2026-05-01T09:30:00"))
        #expect(try Self.jobs(h).isEmpty, "nothing caught up for a schedule that changed")
        #expect(try h.store.scheduleMarks().first?.nextFireAt == Self.utc("2026-05-01T10:00:00"))

        Scheduler(app: h.app).tick(now: Self.utc("2026-05-01T10:00:01"))
        #expect(try Self.jobs(h).count == 1)
        // The job has not finished: the next run is a duplicate, refused, audited, and skipped.
        Scheduler(app: h.app).tick(now: Self.utc("2026-05-01T11:00:01"))
        #expect(try Self.jobs(h).count == 1)
        let refusal = try #require(try h.store.auditRecords(AuditQuery()).first)
        #expect(!refusal.allowed && refusal.user == "schedule:nightly" && refusal.reason.contains("duplicate of unfinished job"))
        #expect(try h.store.scheduleMarks().first?.nextFireAt == Self.utc("2026-05-01T12:00:00"))
    }

    @Test("The pipeline page and its JSON list each schedule with its next runs, parameters and policy")
    func shown() throws {
        let h = try AppHarness(config: Self.config("cron: \"30 2 * * *\", time_zone: \"Europe/Berlin\", params: { date: \"<{date}>\" }"))
        defer { h.remove() }
        let page = AppHarness.text(h.send("GET", "/pipelines/report", user: "bob"))
        #expect(page.contains("<h2 id=\"schedules\">Schedules</h2>"))
        #expect(page.contains("<code>30 2 * * *</code> <small>Europe/Berlin</small>"))
        #expect(page.contains("<code>date=&lt;{date}&gt;</code>"), "escaped")
        #expect(page.contains("the latest fires once"))
        let rows = App.scheduleRows(try #require(h.configuration.pipelines["report"]), now: Self.utc("2026-03-27T12:00:00"))
        #expect(rows.first?.nextRuns == ["2026-03-28 02:30:00+01:00", "2026-03-29 03:00:00+02:00", "2026-03-30 02:30:00+02:00"])
        let json = AppHarness.text(h.send("GET", "/api/v1/pipelines/report", user: "bob"))
        #expect(json.contains("\"schedules\":[{"))
        #expect(
            json.contains("\"cron\":\"30 2 * * *\"") && json.contains("\"time_zone\":\"Europe\\/Berlin\"")
                || json.contains("\"time_zone\":\"Europe/Berlin\""))
        #expect(json.contains("\"principal\":\"schedule:nightly\"") && json.contains("\"missed\":\"latest\""))
        #expect(json.contains("\"next_runs\":[\""))
        let other = try AppHarness()
        defer { other.remove() }
        let plain = other.send("GET", "/api/v1/pipelines/etl-nightly", user: "bob")
        #expect(plain.status.code == 200 && !AppHarness.text(plain).contains("schedules"), "no schedules: no member")
    }

    @Test("A mark a clock ahead set is reset from now; a change of spelling only keeps the schedule's place")
    func clockAheadAndSpelling() throws {
        let h = try AppHarness(config: Self.config("cron: \"@hourly\", params: { date: \"{date}\" }"))
        defer { h.remove() }
        let schedule = try #require(h.configuration.pipelines["report"]?.schedules.first)
        // A host whose clock ran a year ahead moved the mark there.
        #expect(
            try h.store.moveScheduleMark(
                from: nil, to: ScheduleMark(name: "nightly", nextFireAt: Self.utc("2027-05-01T10:00:00"), fingerprint: schedule.fingerprint)
            ))
        #expect(Scheduler(app: h.app).tick(now: Self.utc("2026-05-01T09:30:00")) == Self.utc("2026-05-01T10:00:00"))
        #expect(try h.store.scheduleMarks().first?.nextFireAt == Self.utc("2026-05-01T10:00:00"))
        Scheduler(app: h.app).tick(now: Self.utc("2026-05-01T10:00:01"))
        #expect(try Self.jobs(h).count == 1, "it fires again on this clock")

        let spelled = try CronSchedule(expression: "0 */1 * * *", timeZone: "UTC")
        var respelled = schedule
        respelled.schedule = spelled
        #expect(respelled.fingerprint == schedule.fingerprint, "@hourly and 0 */1 * * * are one schedule")
        respelled.schedule = try CronSchedule(expression: "0 * * * *", timeZone: "Etc/UTC")
        #expect(respelled.fingerprint != schedule.fingerprint, "another zone name is another definition")
    }

    @Test("Without schedules the scheduler does nothing and asks for no wake-up")
    func none() throws {
        let h = try AppHarness()
        defer { h.remove() }
        #expect(Scheduler(app: h.app).tick() == nil)
        #expect(try h.store.scheduleMarks().isEmpty)
    }
}
