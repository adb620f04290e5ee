import Foundation
import Scheduling
import Testing
import Workflow

@testable import Sluice

/// Pipelines' `schedules`: what is accepted, and every refusal `sluice check` reports with its path.
@Suite struct ConfigLoaderScheduleTests {
    static func config(
        _ schedules: String, params: String = "date: { required: true, pattern: \"[0-9]{4}-[0-9]{2}-[0-9]{2}\" }, token: { secret: true }",
        more: String = ""
    ) -> String {
        """
        {
          roles: { ops: { users: ["bob"], grants: [{ pipelines: ["*"], verbs: ["view", "trigger"] }] } },
          pipelines: {
            report: { params: { \(params) }, tasks: { run: { run: ["/bin/true", "{date}"] } }, schedules: { \(schedules) } },
            \(more)
          },
        }
        """
    }

    @Test("A schedule is read with its expression, zone, parameter templates and missed-run policy")
    func accepted() throws {
        let configuration = try ConfigLoaderTests.load(
            Self.config(
                """
                nightly: { cron: "30 2 * * *", time_zone: "Europe/Berlin", params: { date: "{date}" } },
                catchup: { cron: "@hourly", params: { date: "{year}-{month}-{day}" }, missed: "all", catch_up_limit: 24 },
                quiet: { cron: "0 9 * * mon-fri", time_zone: "America/New_York", params: { date: "{date}" }, missed: "none" },
                """))
        let schedules = try #require(configuration.pipelines["report"]?.schedules)
        #expect(schedules.map(\.name) == ["catchup", "nightly", "quiet"])
        #expect(schedules[0].missed == .all(limit: 24) && schedules[0].schedule.timeZone.identifier == "GMT")
        #expect(schedules[1].missed == .latest && schedules[1].schedule.timeZone.identifier == "Europe/Berlin")
        #expect(schedules[2].missed == MissedRuns.none && schedules[1].principal == "schedule:nightly")
        let at = try Date("2026-03-29T01:00:00Z", strategy: .iso8601)
        #expect(schedules[1].values(at: at) == ["date": "2026-03-29"])
    }

    @Test(
        "Refusals name the field: expression, zone, parameters, policy, names",
        arguments: [
            ("n: { cron: \"61 * * * *\", params: { date: \"{date}\" } }", "pipelines.report.schedules.n.cron", "out of range"),
            ("n: { params: { date: \"{date}\" } }", "pipelines.report.schedules.n.cron", "required"),
            ("n: { cron: \"@reboot\", params: { date: \"{date}\" } }", "pipelines.report.schedules.n.cron", "not a time"),
            (
                "n: { cron: \"@daily\", time_zone: \"europe/berlin\", params: { date: \"{date}\" } }",
                "pipelines.report.schedules.n.time_zone", "IANA"
            ),
            (
                "n: { cron: \"@daily\", time_zone: \"CEST\", params: { date: \"{date}\" } }", "pipelines.report.schedules.n.time_zone",
                "IANA"
            ),
            ("n: { cron: \"@daily\", params: { date: \"{dat}\" } }", "pipelines.report.schedules.n.params.date", "not a placeholder"),
            (
                "n: { cron: \"@daily\", params: { date: \"{date}\", nope: \"x\" } }", "pipelines.report.schedules.n.params.nope",
                "not a parameter"
            ),
            (
                "n: { cron: \"@daily\", params: { date: \"{date}\", \"\u{212A}\": \"x\" } }",
                "pipelines.report.schedules.n.params.\u{212A}", "not a parameter"
            ),
            (
                "n: { cron: \"@daily\", params: { date: \"{date}\", token: \"s3cret\" } }", "pipelines.report.schedules.n.params.token",
                "secret"
            ),
            ("n: { cron: \"@daily\" }", "pipelines.report.schedules.n.params", "would be refused: date"),
            ("n: { cron: \"@daily\", params: { date: \"{time}\" } }", "pipelines.report.schedules.n.params", "would be refused: date"),
            (
                "n: { cron: \"@daily\", params: { date: \"{date}\" }, missed: \"some\" }", "pipelines.report.schedules.n.missed",
                "unknown policy"
            ),
            (
                "n: { cron: \"@daily\", params: { date: \"{date}\" }, catch_up_limit: 5 }", "pipelines.report.schedules.n.catch_up_limit",
                "only with missed: all"
            ),
            (
                "n: { cron: \"@daily\", params: { date: \"{date}\" }, missed: \"all\", catch_up_limit: 0 }",
                "pipelines.report.schedules.n.catch_up_limit", "1 to 1000"
            ),
            ("n: { cron: \"@daily\", params: { date: \"{date}\" }, every: 5 }", "pipelines.report.schedules.n.every", "unknown key"),
            ("\"-bad\": { cron: \"@daily\", params: { date: \"{date}\" } }", "pipelines.report.schedules.-bad", "invalid schedule name"),
            ("n: \"@daily\"", "pipelines.report.schedules.n", "must be an object"),
        ])
    func refused(_ schedules: String, _ path: String, _ says: String) {
        let problems = ConfigLoaderTests.problems(Self.config(schedules))
        ConfigLoaderTests.expectProblem(problems, at: path, containing: says)
    }

    @Test("Schedule names are unique across pipelines: the name is the principal")
    func uniqueNames() {
        let problems = ConfigLoaderTests.problems(
            Self.config(
                "nightly: { cron: \"@daily\", params: { date: \"{date}\" } }",
                more: "other: { tasks: { t: { run: [\"/bin/true\"] } }, schedules: { nightly: { cron: \"@hourly\" } } },"))
        ConfigLoaderTests.expectProblem(problems, at: "pipelines.report.schedules.nightly", containing: "unique across pipelines")
    }
}
