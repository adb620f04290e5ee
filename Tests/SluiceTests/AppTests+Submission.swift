import Foundation
import HTTP
import JobStore
import Testing

@testable import Sluice

/// How a trigger is committed: Idempotency-Key, on_duplicate, queue_limit, secret parameters,
/// and the per-attempt logs, through the app with no runner.
extension AppTests {
    /// Pipelines for every duplicate rule, a bounded queue, and one with a secret. bob and carol
    /// operate everything; aud reads the audit log.
    static let submissionConfig = """
        {
          server: { base_path: "/sluice" },
          roles: {
            operator: { users: ["bob", "carol"], grants: [{ pipelines: ["*"], verbs: ["view", "trigger", "cancel", "retry", "logs"] }] },
            auditor: { users: ["aud"], grants: [{ pipelines: ["*"], verbs: ["audit"] }] },
          },
          pipelines: {
            plain: {
              params: { date: { required: true }, note: { significant: false } },
              tasks: { go: { run: ["/bin/echo", "{date}"] } },
            },
            "dup-reject": {
              on_duplicate: "reject",
              params: { date: { required: true }, note: { significant: false } },
              tasks: { go: { run: ["/bin/echo", "{date}"] } },
            },
            "dup-existing": {
              on_duplicate: "return_existing",
              params: { date: { required: true }, note: { significant: false } },
              tasks: { go: { run: ["/bin/echo", "{date}"] } },
            },
            "dup-allow": {
              on_duplicate: "allow",
              params: { date: { required: true }, note: { significant: false } },
              tasks: { go: { run: ["/bin/echo", "{date}"] } },
            },
            "dup-queue": {
              on_duplicate: "queue",
              params: { date: { required: true }, note: { significant: false } },
              tasks: { go: { run: ["/bin/echo", "{date}"] } },
            },
            bounded: {
              concurrency: 1, queue_limit: 1,
              params: { date: { required: true } },
              tasks: { go: { run: ["/bin/echo", "{date}"] } },
            },
            vault: {
              params: { token: { secret: true }, date: { default: "2024-05-01" } },
              tasks: {
                use: { run: ["/bin/use", "--date={date}"], env: { DAY: "{date}" } },
                after: { kind: "noop", needs: ["use"] },
              },
            },
          },
        }
        """

    /// Triggers `pipeline` with `{"params": <params>}`, optionally with an Idempotency-Key.
    static func submit(
        _ h: AppHarness, _ pipeline: String, _ params: String = #"{"date": "2024-05-01"}"#, user: String = "bob", key: String? = nil
    ) -> HTTPResponse {
        h.send(
            "POST", "/api/v1/pipelines/\(pipeline)/jobs", user: user, body: #"{"params": \#(params)}"#, contentType: "application/json",
            params: key.map { ["HTTP_IDEMPOTENCY_KEY": $0] } ?? [:])
    }

    /// The job id in a job response.
    static func jobID(_ response: HTTPResponse, sourceLocation: SourceLocation = #_sourceLocation) throws -> Int64 {
        Int64(try #require(try AppHarness.json(response, sourceLocation: sourceLocation)["id"] as? Int, sourceLocation: sourceLocation))
    }

    /// Marks the stored job `id` finished.
    static func finish(_ h: AppHarness, _ id: Int64, as state: TaskState = .succeeded, jobState: JobState = .succeeded) throws {
        try h.finish(try #require(try h.store.job(id: id)), as: state, jobState: jobState)
    }

    // MARK: - Idempotency-Key

    @Test("The same Idempotency-Key with the same request answers 200 with the first job")
    func idempotentReplay() throws {
        let h = try AppHarness(config: Self.submissionConfig)
        defer { h.remove() }
        let first = Self.submit(h, "plain", #"{"date": "2024-05-01", "note": "x"}"#, key: "order-42")
        #expect(first.status.code == 202)
        #expect(first.header("Sluice-Existing-Job") == nil)
        let id = try Self.jobID(first)
        // The same request with members in another order is the same request.
        let again = Self.submit(h, "plain", #"{"note": "x", "date": "2024-05-01"}"#, key: "order-42")
        #expect(again.status.code == 200)
        #expect(try Self.jobID(again) == id)
        #expect(again.header("Sluice-Existing-Job") == "idempotency_key")
        #expect(again.header("Location") == "/sluice/api/v1/jobs/\(id)")
        #expect(try h.store.jobs(.init()).count == 1)
        // Still the same job after it finished.
        try Self.finish(h, id)
        let late = Self.submit(h, "plain", #"{"date": "2024-05-01", "note": "x"}"#, key: "order-42")
        #expect(late.status.code == 200)
        #expect(try Self.jobID(late) == id)
        #expect(try AppHarness.json(late)["state"] as? String == "succeeded")
        #expect(try h.store.jobs(.init()).count == 1)
        let triggers = try h.store.auditRecords(AuditQuery()).filter { $0.event == "trigger" && $0.allowed }
        #expect(triggers.first?.jobID == id)
    }

    @Test("The same Idempotency-Key with other parameters, or for another pipeline, is 422 and creates nothing")
    func idempotencyKeyReused() throws {
        let h = try AppHarness(config: Self.submissionConfig)
        defer { h.remove() }
        let id = try Self.jobID(Self.submit(h, "plain", key: "k1"))
        let other = Self.submit(h, "plain", #"{"date": "2024-05-02"}"#, key: "k1")
        #expect(other.status.code == 422)
        let error = try AppHarness.jsonError(other)
        #expect((error["message"] as? String)?.contains("Idempotency-Key") == true)
        #expect((error["message"] as? String)?.contains("job \(id)") == true)
        #expect(other.header("Sluice-Existing-Job") == nil)
        let elsewhere = Self.submit(h, "dup-allow", key: "k1")
        #expect(elsewhere.status.code == 422)
        _ = try AppHarness.jsonError(elsewhere)
        #expect(try h.store.jobs(.init()).map(\.id) == [id])
    }

    @Test("An Idempotency-Key belongs to its user: another user's same key creates a new job")
    func idempotencyKeyPerUser() throws {
        let h = try AppHarness(config: Self.submissionConfig)
        defer { h.remove() }
        let bob = try Self.jobID(Self.submit(h, "plain", key: "shared"))
        let carolFirst = Self.submit(h, "plain", user: "carol", key: "shared")
        #expect(carolFirst.status.code == 202)
        let carol = try Self.jobID(carolFirst)
        #expect(carol != bob)
        #expect(try h.store.job(id: carol)?.triggeredBy == "carol")
        let carolAgain = Self.submit(h, "plain", user: "carol", key: "shared")
        #expect(carolAgain.status.code == 200)
        #expect(try Self.jobID(carolAgain) == carol)
        let bobAgain = Self.submit(h, "plain", key: "shared")
        #expect(try Self.jobID(bobAgain) == bob)
        #expect(try h.store.jobs(.init()).count == 2)
    }

    @Test(
        "An invalid Idempotency-Key is 400 and creates nothing",
        arguments: [
            "", String(repeating: "k", count: 256), "a b", " ", "key\u{1}", "\u{7f}", "tab\there", "ключ", "naïve", "emoji-🔑",
            "line\nbreak",
        ])
    func invalidIdempotencyKey(key: String) throws {
        let h = try AppHarness(config: Self.submissionConfig)
        defer { h.remove() }
        let response = Self.submit(h, "plain", key: key)
        #expect(response.status.code == 400)
        #expect((try AppHarness.jsonError(response)["message"] as? String)?.contains("Idempotency-Key") == true)
        #expect(try h.store.jobs(.init()).isEmpty)
    }

    @Test("Idempotency-Keys of 1 and 255 printable characters are accepted")
    func longestIdempotencyKey() throws {
        let h = try AppHarness(config: Self.submissionConfig)
        defer { h.remove() }
        for key in ["x", String(repeating: "~", count: 255), "!\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~"] {
            let first = Self.submit(h, "dup-allow", key: key)
            #expect(first.status.code == 202)
            let again = Self.submit(h, "dup-allow", key: key)
            #expect(again.status.code == 200)
            #expect(try Self.jobID(again) == Self.jobID(first))
        }
        #expect(try h.store.jobs(.init()).count == 3)
    }

    /// The request digest is made from `pipeline.identity(stored)`, which leaves out parameters
    /// marked `significant: false`, so a reused key with another value of such a parameter
    /// silently answers with a job that was made with a different value.
    @Test("The same Idempotency-Key with another value of a non-significant parameter is 422")
    func idempotencyKeyCoversNonSignificantParameters() throws {
        let h = try AppHarness(config: Self.submissionConfig)
        defer { h.remove() }
        let id = try Self.jobID(Self.submit(h, "plain", #"{"date": "2024-05-01", "note": "first"}"#, key: "k-note"))
        let other = Self.submit(h, "plain", #"{"date": "2024-05-01", "note": "second"}"#, key: "k-note")
        #expect(other.status.code == 422, "answered \(other.status.code) with job \((try? Self.jobID(other)) ?? -1), made with note=first")
        #expect(try h.store.job(id: id)?.params["note"] == "first")
    }

    // MARK: - on_duplicate

    @Test("on_duplicate reject: 409 while the same job is unfinished, 202 once it finished")
    func duplicateReject() throws {
        let h = try AppHarness(config: Self.submissionConfig)
        defer { h.remove() }
        let first = Self.submit(h, "dup-reject")
        #expect(first.status.code == 202)
        let id = try Self.jobID(first)
        let second = Self.submit(h, "dup-reject")
        #expect(second.status.code == 409)
        let message = try #require(try AppHarness.jsonError(second)["message"] as? String)
        #expect(message.contains("job \(id)") && message.contains("on_duplicate: reject"))
        // A non-significant parameter does not make it a different job; a significant one does.
        #expect(Self.submit(h, "dup-reject", #"{"date": "2024-05-01", "note": "other"}"#).status.code == 409)
        let otherDate = Self.submit(h, "dup-reject", #"{"date": "2024-05-02"}"#)
        #expect(otherDate.status.code == 202)
        #expect(try h.store.jobs(.init()).count == 2)
        // A running job still counts as unfinished.
        try h.start(try #require(try h.store.job(id: id)), task: "go")
        #expect(Self.submit(h, "dup-reject").status.code == 409)
        try Self.finish(h, id)
        let third = Self.submit(h, "dup-reject")
        #expect(third.status.code == 202)
        #expect(try Self.jobID(third) != id)
        #expect(try h.store.jobs(.init()).count == 3)
    }

    @Test("on_duplicate reject: a failed or cancelled job counts as finished")
    func duplicateRejectAfterFailure() throws {
        let h = try AppHarness(config: Self.submissionConfig)
        defer { h.remove() }
        let id = try Self.jobID(Self.submit(h, "dup-reject"))
        try Self.finish(h, id, as: .failed, jobState: .failed)
        let next = try Self.jobID(Self.submit(h, "dup-reject"))
        try Self.finish(h, next, as: .cancelled, jobState: .cancelled)
        #expect(Self.submit(h, "dup-reject").status.code == 202)
    }

    @Test("on_duplicate return_existing: 200 with the unfinished job and Sluice-Existing-Job: duplicate")
    func duplicateReturnExisting() throws {
        let h = try AppHarness(config: Self.submissionConfig)
        defer { h.remove() }
        let id = try Self.jobID(Self.submit(h, "dup-existing", #"{"date": "2024-05-01", "note": "a"}"#))
        let again = Self.submit(h, "dup-existing", #"{"date": "2024-05-01", "note": "b"}"#)
        #expect(again.status.code == 200)
        #expect(again.header("Sluice-Existing-Job") == "duplicate")
        #expect(again.header("Location") == "/sluice/api/v1/jobs/\(id)")
        let json = try AppHarness.json(again)
        #expect(json["id"] as? Int == Int(id))
        #expect(json["params"] as? [String: String] == ["date": "2024-05-01", "note": "a"])
        #expect(try h.store.jobs(.init()).count == 1)
        // Another date is another job.
        #expect(Self.submit(h, "dup-existing", #"{"date": "2024-05-02"}"#).status.code == 202)
        try Self.finish(h, id)
        let fresh = Self.submit(h, "dup-existing")
        #expect(fresh.status.code == 202)
        #expect(fresh.header("Sluice-Existing-Job") == nil)
        #expect(try Self.jobID(fresh) != id)
    }

    @Test("on_duplicate allow, and no on_duplicate at all, create a job each time")
    func duplicateAllow() throws {
        let h = try AppHarness(config: Self.submissionConfig)
        defer { h.remove() }
        for pipeline in ["dup-allow", "plain"] {
            let a = Self.submit(h, pipeline)
            let b = Self.submit(h, pipeline)
            #expect(a.status.code == 202 && b.status.code == 202)
            #expect(a.header("Sluice-Existing-Job") == nil && b.header("Sluice-Existing-Job") == nil)
            #expect(try Self.jobID(a) != Self.jobID(b))
            let jobs = try h.store.jobs(.init(pipelines: [pipeline]))
            #expect(jobs.count == 2)
            #expect(jobs.allSatisfy { !$0.waitsForIdentity })
        }
    }

    @Test("on_duplicate queue: 202 and a second job with the same identity that waits for the first")
    func duplicateQueue() throws {
        let h = try AppHarness(config: Self.submissionConfig)
        defer { h.remove() }
        let a = Self.submit(h, "dup-queue", #"{"date": "2024-05-01", "note": "a"}"#)
        let b = Self.submit(h, "dup-queue", #"{"date": "2024-05-01", "note": "b"}"#)
        let c = Self.submit(h, "dup-queue", #"{"date": "2024-05-02"}"#)
        #expect([a, b, c].map(\.status.code) == [202, 202, 202])
        #expect(b.header("Sluice-Existing-Job") == nil)
        let first = try #require(try h.store.job(id: Self.jobID(a)))
        let second = try #require(try h.store.job(id: Self.jobID(b)))
        let other = try #require(try h.store.job(id: Self.jobID(c)))
        #expect(first.id != second.id)
        #expect(!first.identity.isEmpty)
        #expect(first.identity == second.identity, "a non-significant parameter is not part of the identity")
        #expect(other.identity != first.identity)
        #expect(second.waitsForIdentity)
        #expect(second.state == .queued)
    }

    // MARK: - queue_limit

    @Test("queue_limit: with concurrency 1 and queue_limit 1 the third unfinished job is 429 with Retry-After, and audited")
    func queueLimit() throws {
        let h = try AppHarness(config: Self.submissionConfig)
        defer { h.remove() }
        let first = Self.submit(h, "bounded", #"{"date": "d1"}"#)
        #expect(first.status.code == 202)
        #expect(Self.submit(h, "bounded", #"{"date": "d2"}"#).status.code == 202)
        let third = Self.submit(h, "bounded", #"{"date": "d3"}"#)
        #expect(third.status.code == 429)
        let retryAfter = try #require(third.header("Retry-After"))
        #expect((Int(retryAfter) ?? 0) > 0)
        #expect((try AppHarness.jsonError(third)["message"] as? String)?.contains("unfinished") == true)
        #expect(try h.store.jobs(.init()).count == 2)
        let refusal = try #require(
            try h.store.auditRecords(AuditQuery()).first { $0.event == "trigger" && !$0.allowed && $0.pipeline == "bounded" })
        #expect(refusal.user == "bob")
        #expect(refusal.reason.contains("queue full"))
        #expect(refusal.jobID == nil)
        #expect(refusal.configHash == h.configuration.hash)
        // The refusal is visible to an auditor through the API too.
        let records = try #require(
            try AppHarness.json(h.send("GET", "/api/v1/audit?pipeline=bounded", user: "aud"))["records"] as? [[String: Any]])
        #expect(records.contains { ($0["reason"] as? String)?.contains("queue full") == true })
        // Another pipeline is not affected.
        #expect(Self.submit(h, "plain").status.code == 202)
        // Once a job finished there is room again.
        try Self.finish(h, try Self.jobID(first))
        #expect(Self.submit(h, "bounded", #"{"date": "d3"}"#).status.code == 202)
        #expect(Self.submit(h, "bounded", #"{"date": "d4"}"#).status.code == 429)
    }

    @Test("queue_limit: a replay of an Idempotency-Key is answered even when the queue is full")
    func queueLimitIdempotentReplay() throws {
        let h = try AppHarness(config: Self.submissionConfig)
        defer { h.remove() }
        let id = try Self.jobID(Self.submit(h, "bounded", #"{"date": "d1"}"#, key: "once"))
        #expect(Self.submit(h, "bounded", #"{"date": "d2"}"#).status.code == 202)
        #expect(Self.submit(h, "bounded", #"{"date": "d3"}"#).status.code == 429)
        let replay = Self.submit(h, "bounded", #"{"date": "d1"}"#, key: "once")
        #expect(replay.status.code == 200)
        #expect(try Self.jobID(replay) == id)
    }

    /// `maxUnfinished = (concurrency ?? 0) + queue_limit`: without `concurrency`, `queue_limit: 0`
    /// means "at most 0 unfinished jobs", so every trigger is refused, and the loader accepts it.
    @Test("queue_limit 0 without concurrency is either refused by the loader or still lets a first job in")
    func queueLimitZeroWithoutConcurrency() throws {
        let config = Self.submissionConfig.replacingOccurrences(of: "concurrency: 1, queue_limit: 1,", with: "queue_limit: 0,")
        let h: AppHarness
        do { h = try AppHarness(config: config) } catch let error as ConfigError {
            #expect(error.problems.contains { $0.path == "pipelines.bounded.queue_limit" })
            return
        }
        defer { h.remove() }
        let response = Self.submit(h, "bounded", #"{"date": "d1"}"#)
        #expect(response.status.code == 202, "a pipeline that accepts no trigger at all was configured without a problem")
    }

    // MARK: - Secret parameters

    @Test("A secret parameter value appears in no response, page, stored job, audit record or database file")
    func secretNeverStored() throws {
        let h = try AppHarness(config: Self.submissionConfig)
        defer { h.remove() }
        let secret = "s3cret"
        let response = Self.submit(h, "vault", #"{"token": "\#(secret)"}"#)
        #expect(response.status.code == 202)
        #expect(!AppHarness.text(response).contains(secret))
        let id = try Self.jobID(response)

        let api = h.send("GET", "/api/v1/jobs/\(id)")
        #expect(api.status.code == 200)
        #expect(!AppHarness.text(api).contains(secret))
        #expect(try AppHarness.json(api)["params"] as? [String: String] == ["date": "2024-05-01"])
        let list = h.send("GET", "/api/v1/jobs")
        #expect(list.status.code == 200 && !AppHarness.text(list).contains(secret))
        let page = h.send("GET", "/jobs/\(id)")
        #expect(page.status.code == 200)
        AppHarness.expectHTML(page)
        #expect(!AppHarness.text(page).contains(secret))
        #expect(!AppHarness.text(h.send("GET", "/jobs")).contains(secret))

        let job = try #require(try h.store.job(id: id))
        #expect(job.params == ["date": "2024-05-01"])
        #expect(job.params["token"] == nil)
        #expect(job.secretParameters == ["token"])
        #expect(job.tasks.map(\.argv) == [["/bin/use", "--date=2024-05-01"], []])
        #expect(job.tasks[0].options.environment == ["DAY": "2024-05-01"])
        for record in try h.store.auditRecords(AuditQuery()) { #expect(!"\(record)".contains(secret)) }

        // Every file the store wrote (database, WAL, shared memory) is free of the value.
        let files = try Self.files(under: h.directory.path)
        #expect(files.contains { $0.hasSuffix(".db") })
        var sawJob = false
        for file in files {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
            #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(file) holds the secret")
            if bytes.range(of: Data("/bin/use".utf8)) != nil { sawJob = true }
        }
        #expect(sawJob, "no file holds the stored job, so the scan looked at the wrong files: \(files)")
    }

    @Test("A rejected trigger with a secret does not echo it")
    func secretNotEchoedOnError() throws {
        let h = try AppHarness(config: Self.submissionConfig)
        defer { h.remove() }
        let response = Self.submit(h, "vault", #"{"token": "s3cret", "bogus": "x"}"#)
        #expect(response.status.code == 400)
        #expect(!AppHarness.text(response).contains("s3cret"))
        #expect(try h.store.jobs(.init()).isEmpty)
    }

    @Test("Retrying a failed job that had secrets is 409; without secrets it is retried")
    func secretRetry() throws {
        let h = try AppHarness(config: Self.submissionConfig)
        defer { h.remove() }
        let withSecret = try Self.jobID(Self.submit(h, "vault", #"{"token": "s3cret"}"#))
        try Self.finish(h, withSecret, as: .failed, jobState: .failed)
        let refused = h.send("POST", "/api/v1/jobs/\(withSecret)/retry", body: "{}", contentType: "application/json")
        #expect(refused.status.code == 409)
        #expect((try AppHarness.jsonError(refused)["message"] as? String)?.contains("secret") == true)
        #expect(try h.store.job(id: withSecret)?.state == .failed)
        let audits = try h.store.auditRecords(AuditQuery()).filter { $0.event == "retry" && $0.allowed }
        #expect(audits.isEmpty)

        let withoutSecret = try Self.jobID(Self.submit(h, "vault", "{}"))
        #expect(try h.store.job(id: withoutSecret)?.secretParameters == [])
        try Self.finish(h, withoutSecret, as: .failed, jobState: .failed)
        #expect(h.send("POST", "/api/v1/jobs/\(withoutSecret)/retry", body: "{}", contentType: "application/json").status.code == 202)
        #expect(try h.store.job(id: withoutSecret)?.state == .queued)
    }

    /// Every regular file under `path`, recursively.
    static func files(under path: String) throws -> [String] {
        let root = URL(fileURLWithPath: path)
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        var files: [String] = []
        for case let url as URL in walker where (try url.resourceValues(forKeys: [.isRegularFileKey])).isRegularFile == true {
            files.append(url.path)
        }
        return files.sorted()
    }

    // MARK: - Logs per attempt

    @Test("?attempt=N serves that attempt's log; without it the latest")
    func logAttempts() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        try h.start(job, task: "extract")
        try h.start(job, task: "extract")
        #expect(try h.store.job(id: job.id)?.tasks.first { $0.name == "extract" }?.attempt == 2)
        try h.writeLog(job, task: "extract", attempt: 1, Array("first attempt\n".utf8))
        try h.writeLog(job, task: "extract", attempt: 2, Array("second attempt\n".utf8))
        let one = h.send("GET", "/api/v1/jobs/\(job.id)/tasks/extract/log?attempt=1")
        #expect(one.status.code == 200)
        #expect(AppHarness.text(one) == "first attempt\n")
        #expect(one.header("X-Log-Next-Offset") == "14")
        let two = h.send("GET", "/api/v1/jobs/\(job.id)/tasks/extract/log?attempt=2")
        #expect(AppHarness.text(two) == "second attempt\n")
        #expect(AppHarness.text(h.send("GET", "/api/v1/jobs/\(job.id)/tasks/extract/log")) == "second attempt\n")
        #expect(AppHarness.text(h.send("GET", "/api/v1/jobs/\(job.id)/tasks/extract/log?attempt=1&offset=6")) == "attempt\n")
        // The page too.
        let page = AppHarness.text(h.send("GET", "/jobs/\(job.id)/tasks/extract/log?attempt=1"))
        #expect(page.contains("first attempt") && !page.contains("second attempt"))
        let latest = AppHarness.text(h.send("GET", "/jobs/\(job.id)/tasks/extract/log"))
        #expect(latest.contains("second attempt") && !latest.contains("first attempt"))
    }

    @Test(
        "An attempt of 0, above the task's attempts, or not a whole number is 400",
        arguments: ["0", "3", "abc", "-1", "", "1.5", "2x", "99999999999999999999", "%zz"])
    func badLogAttempt(attempt: String) throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        try h.start(job, task: "extract")
        try h.start(job, task: "extract")
        try h.writeLog(job, task: "extract", attempt: 1, Array("first\n".utf8))
        let api = h.send("GET", "/api/v1/jobs/\(job.id)/tasks/extract/log?attempt=\(attempt)")
        #expect(api.status.code == 400)
        #expect((try AppHarness.jsonError(api)["message"] as? String)?.contains("attempt") == true)
        #expect(!AppHarness.text(api).contains("first"))
        let page = h.send("GET", "/jobs/\(job.id)/tasks/extract/log?attempt=\(attempt)")
        #expect(page.status.code == 400)
        #expect(!AppHarness.text(page).contains("first"))
    }

    @Test("A task that never started has only attempt 1, which reads as empty")
    func logAttemptNotStarted() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        let one = h.send("GET", "/api/v1/jobs/\(job.id)/tasks/load/log?attempt=1")
        #expect(one.status.code == 200)
        #expect(one.body.isEmpty)
        #expect(h.send("GET", "/api/v1/jobs/\(job.id)/tasks/load/log?attempt=2").status.code == 400)
    }
}
