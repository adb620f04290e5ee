import ByteStrings
import Foundation
import JobStore
import Policy
import Testing
import Workflow

@testable import Sluice

/// `on_success` / `on_failure`: read and checked from the configuration, and triggered from the
/// store's job events once per chain and job, authorized as the chain's roles.
@Suite struct ChainTests {
    static func config(publisherGrant: String = "{ pipelines: [\"publish\", \"alert\"], verbs: [\"trigger\"] }", extra: String = "")
        -> String
    {
        """
        {
          roles: {
            ops: { users: ["bob"], grants: [{ pipelines: ["*"], verbs: ["view", "trigger", "retry"] }] },
            publisher: { grants: [\(publisherGrant)] },
          },
          pipelines: {
            extract: {
              params: { date: { required: true }, token: { secret: true } },
              tasks: { run: { run: ["/bin/true", "{date}"] } },
              on_success: [{ trigger: "publish", params: { date: "{param.date}", upstream: "{job.id}" }, roles: ["publisher"] }],
              on_failure: [{ trigger: "alert", params: { what: "{job.pipeline} {job.id} {job.state} by {job.triggered_by}" }, roles: ["publisher"] }],
            },
            publish: { params: { date: { required: true }, upstream: {} }, tasks: { run: { run: ["/bin/true"] } } },
            alert: { params: { what: {} }, tasks: { run: { run: ["/bin/true"] } } },
            \(extra)
          },
        }
        """
    }

    static func finish(_ h: AppHarness, _ job: JobRecord, _ state: JobState) throws {
        try h.store.record(jobID: job.id, changes: [], jobState: .running)
        try h.store.record(
            jobID: job.id,
            changes: job.tasks.map { TaskChange(task: $0.name, state: state == .succeeded ? .succeeded : .failed, exitCode: 0) },
            jobState: state)
    }

    static func jobs(_ h: AppHarness, _ pipeline: String) throws -> [JobRecord] {
        try h.store.jobs(JobQuery(pipelines: [pipeline], limit: 100)).reversed()
    }

    @Test("A succeeded job triggers on_success once, as chain:<pipeline>, with mapped parameters; a failed one on_failure")
    func triggersOnce() throws {
        let h = try AppHarness(config: Self.config())
        defer { h.remove() }
        let dispatcher = ChainDispatcher(app: h.app)
        dispatcher.pass()  // a new reader starts at the latest event
        let first = try h.createJob(pipeline: "extract", params: ["date": "2026-05-01"])
        try Self.finish(h, first, .succeeded)
        dispatcher.pass()
        dispatcher.pass()
        ChainDispatcher(app: h.app).pass()  // a restart reads from the kept cursor
        let published = try Self.jobs(h, "publish")
        #expect(published.count == 1)
        #expect(published.first?.params == ["date": "2026-05-01", "upstream": "\(first.id)"])
        #expect(published.first?.triggeredBy == "chain:extract" && published.first?.identitySource == "chain")
        let audit = try #require(try h.store.auditRecords(AuditQuery()).first)
        #expect(audit.allowed && audit.user == "chain:extract" && audit.pipeline == "publish")
        #expect(audit.reason == "on_success[0] of job \(first.id) (extract): roles.publisher.grants[0]")

        let second = try h.createJob(pipeline: "extract", params: ["date": "2026-05-02"])
        try Self.finish(h, second, .failed)
        dispatcher.pass()
        #expect(try Self.jobs(h, "alert").map { $0.params["what"] } == ["extract \(second.id) failed by bob"])
        #expect(try Self.jobs(h, "publish").count == 1, "a failure does not publish")
    }

    @Test("A retried job that fails again triggers on_failure again, with the state it ended in")
    func eachEnd() throws {
        let h = try AppHarness(config: Self.config())
        defer { h.remove() }
        let dispatcher = ChainDispatcher(app: h.app)
        dispatcher.pass()
        let job = try h.createJob(pipeline: "extract", params: ["date": "2026-05-01"])
        try Self.finish(h, job, .failed)
        #expect(try h.store.retry(jobID: job.id) != nil)
        try h.store.record(
            jobID: job.id, changes: job.tasks.map { TaskChange(task: $0.name, state: .failed, exitCode: 1) }, jobState: .failed)
        dispatcher.pass()
        #expect(try Self.jobs(h, "alert").map { $0.params["what"] } == Array(repeating: "extract \(job.id) failed by bob", count: 2))
    }

    @Test("A chain holds exactly its roles: not the default role, nor a role that lists its principal")
    func exactlyItsRoles() throws {
        let publisher = Role(name: "publisher", grants: [Grant(pipelines: [GlobPattern("publish")], verbs: [.trigger])])
        let everyone = Role(
            name: "everyone", users: [ByteString("chain:extract")], grants: [Grant(pipelines: [GlobPattern("*")], verbs: [.trigger])])
        let policy = Policy(roles: [publisher, everyone], defaultRole: "everyone")
        let chain = PipelineChain(on: .succeeded, trigger: "publish", params: [], roles: ["publisher"], index: 0)
        let (subject, scoped) = ChainDispatcher.authority(of: chain, principal: "chain:extract", in: policy)
        #expect(scoped.decide(subject, .trigger, pipeline: "publish") == .allow(role: "publisher", grantIndex: 0))
        #expect(!scoped.decide(subject, .trigger, pipeline: "alert").isAllowed, "the default role or the user match leaked in")
        #expect(policy.decide(subject, .trigger, pipeline: "alert").isAllowed, "the unscoped policy allows it: the test shows something")
    }

    @Test("A crash after the chained job's commit and before the cursor moved triggers it once; history is not replayed")
    func crashAndHistory() throws {
        let h = try AppHarness(config: Self.config())
        defer { h.remove() }
        let old = try h.createJob(pipeline: "extract", params: ["date": "2026-04-30"])
        try Self.finish(h, old, .succeeded)
        let dispatcher = ChainDispatcher(app: h.app)
        dispatcher.pass()
        #expect(try Self.jobs(h, "publish").isEmpty, "a job that ended before the first reader is history")

        let job = try h.createJob(pipeline: "extract", params: ["date": "2026-05-01"])
        try Self.finish(h, job, .succeeded)
        let event = try #require(try h.store.jobEvents(after: 0, limit: 100).last)
        let snapshot = h.app.currentSnapshot
        let extract = try #require(snapshot.pipeline(named: "extract"))
        try dispatcher.trigger(extract.chains.filter { $0.on == .succeeded }, after: event, from: extract, snapshot: snapshot)
        dispatcher.pass()
        #expect(try Self.jobs(h, "publish").count == 1)
    }

    @Test("A chain its roles may not run, or whose parameters the target refuses, is audited as refused and skipped")
    func refused() throws {
        let h = try AppHarness(
            config: Self.config(
                publisherGrant: "{ pipelines: [\"publish\", \"alert\"], verbs: [\"trigger\"], params: { date: [\"2026-*\"] } }"))
        defer { h.remove() }
        let dispatcher = ChainDispatcher(app: h.app)
        dispatcher.pass()
        let job = try h.createJob(pipeline: "extract", params: ["date": "2027-01-01"])
        try Self.finish(h, job, .succeeded)
        dispatcher.pass()
        #expect(try Self.jobs(h, "publish").isEmpty)
        let audit = try #require(try h.store.auditRecords(AuditQuery()).first)
        #expect(!audit.allowed && audit.user == "chain:extract" && audit.reason.contains("may not trigger"))
        #expect(
            try h.store.eventCursor(ChainDispatcher.consumer) == h.store.jobEvents(after: 0, limit: 100).last?.id, "skipped, not retried")
    }

    @Test(
        "sluice check refuses chains to nowhere, undeclared or secret parameters, unknown roles, roles without the grant, and cycles",
        arguments: [
            (
                "x: { tasks: { t: { run: [\"/bin/true\"] } }, on_success: [{ trigger: \"nowhere\", roles: [\"publisher\"] }] },",
                "pipelines.x.on_success[0].trigger", "no pipeline"
            ),
            (
                "x: { tasks: { t: { run: [\"/bin/true\"] } }, on_success: [{ trigger: \"alert\", params: { nope: \"1\" }, roles: [\"publisher\"] }] },",
                "pipelines.x.on_success[0].params.nope", "not a parameter"
            ),
            (
                "x: { tasks: { t: { run: [\"/bin/true\"] } }, on_success: [{ trigger: \"alert\", params: { what: \"{param.date}\" }, roles: [\"publisher\"] }] },",
                "pipelines.x.on_success[0].params.what", "no stored parameter date"
            ),
            (
                "x: { params: { s: { secret: true } }, tasks: { t: { run: [\"/bin/true\"] } }, on_success: [{ trigger: \"alert\", params: { what: \"{param.s}\" }, roles: [\"publisher\"] }] },",
                "pipelines.x.on_success[0].params.what", "no stored parameter s"
            ),
            (
                "x: { tasks: { t: { run: [\"/bin/true\"] } }, on_success: [{ trigger: \"alert\", params: { what: \"{job.nope}\" }, roles: [\"publisher\"] }] },",
                "pipelines.x.on_success[0].params.what", "not a placeholder"
            ),
            (
                "x: { tasks: { t: { run: [\"/bin/true\"] } }, on_failure: [{ trigger: \"alert\", roles: [\"ghost\"] }] },",
                "pipelines.x.on_failure[0].roles", "no role is named ghost"
            ),
            (
                "x: { tasks: { t: { run: [\"/bin/true\"] } }, on_failure: [{ trigger: \"alert\" }] },", "pipelines.x.on_failure[0].roles",
                "required"
            ),
            (
                "x: { tasks: { t: { run: [\"/bin/true\"] } }, on_failure: [{ trigger: \"extract\", roles: [\"publisher\"] }] },",
                "pipelines.x.on_failure[0].roles", "may not trigger extract"
            ),
            (
                "x: { tasks: { t: { run: [\"/bin/true\"] } }, on_failure: [{ roles: [\"publisher\"] }] },",
                "pipelines.x.on_failure[0].trigger", "required"
            ),
            (
                "x: { tasks: { t: { run: [\"/bin/true\"] } }, on_success: [{ trigger: \"publish\", roles: [\"publisher\"] }] },",
                "pipelines.x.on_success[0].params", "publish requires date"
            ),
            (
                "x: { tasks: { t: { run: [\"/bin/true\"] } }, on_success: [{ trigger: \"x\", roles: [\"ops\"] }] },", "pipelines.x",
                "cycle: x → x"
            ),
        ])
    func checked(_ extra: String, _ path: String, _ says: String) {
        let problems = ConfigLoaderTests.problems(Self.config(extra: extra))
        ConfigLoaderTests.expectProblem(problems, at: path, containing: says)
    }

    @Test("A cycle through several pipelines is refused")
    func longCycle() {
        let config = Self.config(
            publisherGrant: "{ pipelines: [\"*\"], verbs: [\"trigger\"] }",
            extra: "alert2: { tasks: { t: { run: [\"/bin/true\"] } }, on_success: [{ trigger: \"extract\", roles: [\"publisher\"] }] },"
        ).replacingOccurrences(
            of: "alert: { params: { what: {} }, tasks: { run: { run: [\"/bin/true\"] } } },",
            with:
                "alert: { params: { what: {} }, tasks: { run: { run: [\"/bin/true\"] } }, on_success: [{ trigger: \"alert2\", roles: [\"publisher\"] }] },"
        )
        let problems = ConfigLoaderTests.problems(config)
        #expect(problems.contains { $0.message.contains("cycle: alert → alert2 → extract → alert") }, "\(problems)")
    }
}
