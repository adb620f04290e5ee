import Crypto
import Foundation
import HTTP
import JSON
import JobStore
import Pages
import Policy
import Workflow

extension App {
    /// `GET /healthz`: liveness without identity, with the configuration hash in force; 503 while
    /// draining.
    func health(_ context: RequestContext) throws -> HTTPResponse {
        let hash = self.configuration.hash
        if self.isDraining { return .json(Array("{\"config\":\"\(hash)\",\"status\":\"draining\"}\n".utf8), status: .serviceUnavailable) }
        return .json(Array("{\"config\":\"\(hash)\",\"status\":\"ok\"}\n".utf8))
    }

    /// `GET /api/v1/whoami`: identity source, subject, groups, roles, and per pipeline the verbs
    /// allowed with the grant that allows each.
    func whoami(_ context: RequestContext) throws -> HTTPResponse {
        .json(JobJSON.encode(Explanation.make(context.caller, self.configuration, identityLimiter: self.limiters.identity)))
    }

    /// `GET /whoami`: the same as a page.
    func whoamiPage(_ context: RequestContext) throws -> HTTPResponse {
        .html(
            Pages.whoami(context.layout, Explanation.make(context.caller, self.configuration, identityLimiter: self.limiters.identity).page)
        )
    }

    /// `GET /api/v1/pipelines`.
    func listPipelines(_ context: RequestContext) throws -> HTTPResponse {
        let list = self.visiblePipelines(context).map { name in
            JobJSON.pipeline(self.configuration.pipelines[name]!, verbs: self.verbs(context, name))
        }
        return .json(JobJSON.encode(JobJSON.PipelineList(pipelines: list)))
    }

    /// `GET /api/v1/pipelines/{name}`: the pipeline with its parameter schema and my verbs.
    func showPipeline(_ context: RequestContext) throws -> HTTPResponse {
        let name = context.parameter("name")
        guard let pipeline = self.configuration.pipelines[name] else { throw HTTPError(.notFound, "not found") }
        try self.authorize(context, .view, pipeline: name)
        return .json(JobJSON.encode(JobJSON.pipeline(pipeline, verbs: self.verbs(context, name))))
    }

    private func verbs(_ context: RequestContext, _ pipeline: String) -> [String] {
        Verb.allCases.filter { self.may(context, $0, pipeline) }.map(\.rawValue)
    }

    /// `POST /api/v1/pipelines/{name}/jobs` with `{"params": {...}}`: validates, commits the job,
    /// wakes the runner, and only then answers 202 with the job's location.
    func trigger(_ context: RequestContext) throws -> HTTPResponse {
        let name = context.parameter("name")
        guard self.configuration.pipelines[name] != nil else { throw HTTPError(.notFound, "not found") }
        try self.authorize(context, .trigger, pipeline: name)
        let key = try Self.idempotencyKey(context.request)
        let (job, created) = try self.createJob(
            context, pipeline: name, supplied: try Self.triggerParameters(context.request, pipeline: self.configuration.pipelines[name]!),
            idempotencyKey: key)
        var response = HTTPResponse.json(
            JobJSON.encode(JobJSON.job(job, mountPath: context.mountPath, includeTasks: true)), status: created == nil ? .accepted : .ok)
        response.setHeader("Location", "\(context.mountPath)/api/v1/jobs/\(job.id)")
        if let reason = created { response.setHeader("Sluice-Existing-Job", reason.rawValue) }
        return response
    }

    /// The `Idempotency-Key` header: 1 to 255 printable ASCII characters, or absent.
    static func idempotencyKey(_ request: HTTPRequest) throws -> String? {
        guard let key = request.header("Idempotency-Key") else { return nil }
        guard (1...255).contains(key.utf8.count), key.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7e }) else {
            throw HTTPError(.badRequest, "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces")
        }
        return key
    }

    /// The trigger itself, shared by the API and the HTML form: validates the parameters (400 with
    /// field errors), checks grants that limit values (403), spends rate-limit tokens (429),
    /// commits the job under the pipeline's duplicate rule, queue bound and the idempotency key
    /// (409, 429, 422), wakes the runner, and audits.
    /// - Returns: the job, and why an existing job answers instead of a new one (nil: created).
    func createJob(
        _ context: RequestContext, pipeline name: String, supplied: [String: String], idempotencyKey: String? = nil
    ) throws -> (JobRecord, Submission.Reason?) {
        guard let pipeline = self.configuration.pipelines[name] else { throw HTTPError(.notFound, "not found") }
        let values: [String: String]
        do { values = try pipeline.resolveParameters(supplied) } catch {
            throw HTTPError(.badRequest, "invalid parameters", fieldErrors: error.fields)
        }
        let (stored, secret) = pipeline.separateSecrets(values)
        // Grants may limit parameter values ("analyst may trigger export only with env=staging").
        try self.authorize(context, .trigger, pipeline: name, parameters: stored)
        try self.spendTriggerTokens(context, pipeline: name)
        // The digest covers what is stored, not secrets: a hash of a secret would be a stored
        // oracle for guessing it.
        let digest = Hex.encode(SHA256.hash(Array(pipeline.requestText(stored).utf8)))
        let newJob = NewJob(
            pipeline: name, triggeredBy: context.caller.user, identitySource: context.caller.source.rawValue, params: stored,
            workingDirectory: self.configuration.directory, tasks: pipeline.resolvedTasks(stored),
            identity: Hex.encode(SHA256.hash(Array(pipeline.identity(stored).utf8))), secretParameters: secret.keys.sorted(),
            idempotencyKey: idempotencyKey, requestDigest: idempotencyKey == nil ? nil : digest)
        var maxUnfinished: Int? = nil
        if let limit = pipeline.queueLimit { maxUnfinished = (pipeline.concurrency ?? 0) + limit }
        let rules = SubmissionRules(onDuplicate: pipeline.onDuplicate, maxUnfinished: maxUnfinished)
        let submission: Submission
        if let runner = self.runner {
            submission = try runner.submitting(secrets: secret) { try self.store.submit(newJob, rules: rules) }
        } else {
            submission = try self.store.submit(newJob, rules: rules)
        }
        FaultPoint.afterTriggerCommit.check()
        switch submission {
        case .created(let job):
            self.runner?.wake()
            self.audit(
                context, event: "trigger", allowed: true, pipeline: name, jobID: job.id,
                reason: self.grantReason(context, .trigger, name, parameters: stored))
            self.logger.info(
                "job triggered", ["request.id": context.requestID, "job.id": "\(job.id)", "pipeline": name, "user": context.caller.user])
            return (job, nil)
        case .existing(let job, let reason):
            return (job, reason)
        case .refused(.queueFull(let limit)):
            self.audit(context, event: "trigger", allowed: false, pipeline: name, reason: "queue full (\(limit) unfinished jobs)")
            throw HTTPError(
                .tooManyRequests, "pipeline \(name) already has \(limit) unfinished jobs; retry later", headers: [("Retry-After", "30")])
        case .refused(.duplicate(let id)):
            throw HTTPError(.conflict, "job \(id) with the same parameters has not finished (on_duplicate: reject)")
        case .refused(.idempotencyKeyReused(let id)):
            throw HTTPError(.unprocessableContent, "this Idempotency-Key was used for job \(id) with a different request")
        }
    }

    /// Takes a token from the caller's and the pipeline's trigger buckets; 429 with `Retry-After`
    /// when either is empty (checked after validation and authorization, so refused requests do
    /// not spend tokens).
    func spendTriggerTokens(_ context: RequestContext, pipeline: String) throws {
        let (perIdentity, perPipeline) = self.limiters
        let checks: [(RateLimiter?, String, String)] = [
            (perIdentity, "\(context.caller.source.rawValue):\(context.caller.user)", "you"),
            (perPipeline, pipeline, "pipeline \(pipeline)"),
        ]
        for (limiter, key, who) in checks {
            guard let limiter, let wait = limiter.take(key) else { continue }
            self.audit(context, event: "trigger", allowed: false, pipeline: pipeline, reason: "rate limited: \(who)")
            throw HTTPError(.tooManyRequests, "too many triggers for \(who); retry in \(wait) s", headers: [("Retry-After", String(wait))])
        }
    }

    /// API POSTs that carry browser credentials (basic auth, cookies) must be JSON, which a
    /// cross-site HTML form cannot send: a second CSRF defence beside the Origin check. Checked
    /// after authorization, so it reveals nothing about hidden pipelines or jobs.
    static func requireJSONIfAmbient(_ context: RequestContext) throws {
        guard context.caller.isAmbient else { return }
        guard context.request.mediaType == "application/json" else {
            throw HTTPError(.unsupportedMediaType, "API requests with browser credentials must be sent as Content-Type: application/json")
        }
    }

    /// Reads `{"params": {"name": "value", ...}}`; every value must be a string.
    static func triggerParameters(_ request: HTTPRequest, pipeline: PipelineDefinition) throws -> [String: String] {
        guard request.mediaType == "application/json" else {
            throw HTTPError(.unsupportedMediaType, "send the trigger as Content-Type: application/json")
        }
        let root: JSONValue
        do { root = try JSONValue.parse(Data(request.body)) } catch {
            throw HTTPError(.badRequest, "the body is not valid JSON (\(error))")
        }
        guard case .object(let members) = root else {
            throw HTTPError(.badRequest, "the body must be a JSON object such as {\"params\": {}}")
        }
        if let unknown = members.keys.sorted().first(where: { $0 != "params" }) {
            throw HTTPError(.badRequest, "unknown member \"\(unknown)\" (only \"params\" is allowed)")
        }
        guard let params = members["params"] else { return [:] }
        guard case .object(let values) = params else { throw HTTPError(.badRequest, "\"params\" must be an object") }
        var result: [String: String] = [:]
        var errors: [String: String] = [:]
        for (key, value) in values {
            // A typed parameter may come as its JSON type (7 for int, true for bool, an array for a
            // list); everything else, and every string parameter, must be a JSON string.
            let type = pipeline.parameters.first { $0.name == key }?.type
            switch value {
            case .string(let s): result[key] = s
            case .number(let n) where n.isFinite && type?.acceptsJSONNumber == true: result[key] = ParameterType.text(of: n)
            case .bool(let b) where type == .boolean: result[key] = b ? "true" : "false"
            case .array(let items) where type?.isList == true:
                let strings = items.compactMap { if case .string(let s) = $0 { s } else { nil } }
                guard strings.count == items.count, !strings.contains(where: { $0.contains(",") }) else {
                    errors[key] = "must be an array of strings without commas"
                    continue
                }
                result[key] = strings.joined(separator: ",")
            default: errors[key] = "must be a string, found \(value.typeName)"
            }
        }
        guard errors.isEmpty else { throw HTTPError(.badRequest, "invalid parameters", fieldErrors: errors) }
        return result
    }

    /// `GET /api/v1/jobs[?pipeline=NAME&before=ID&limit=N]`: newest first, only visible pipelines.
    func listJobs(_ context: RequestContext) throws -> HTTPResponse {
        let (jobs, next) = try self.jobPage(context)
        let list = JobJSON.JobList(jobs: jobs.map { JobJSON.job($0, mountPath: context.mountPath, includeTasks: false) }, next_before: next)
        return .json(JobJSON.encode(list))
    }

    /// The jobs the caller may see, honouring `pipeline`, `before` and `limit` query parameters.
    func jobPage(_ context: RequestContext) throws -> ([JobRecord], Int64?) {
        let query = context.request.query
        var visible = Set(self.visiblePipelines(context))
        if let only = query["pipeline"] { visible = visible.contains(only) ? [only] : [] }
        var before: Int64? = nil
        if let text = query["before"] {
            guard let value = Int64(text), value > 0 else { throw HTTPError(.badRequest, "before must be a positive job id") }
            before = value
        }
        var limit = 50
        if let text = query["limit"] {
            guard let value = Int(text), (1...500).contains(value) else { throw HTTPError(.badRequest, "limit must be from 1 to 500") }
            limit = value
        }
        let jobs = try self.store.jobs(JobQuery(pipelines: visible, beforeID: before, limit: limit))
        // The cursor follows the unfiltered page, so paging never skips jobs; a page may then hold
        // fewer than `limit` jobs when some have values the caller's grants do not cover.
        return (self.visibleJobs(context, jobs), jobs.count == limit ? jobs.last?.id : nil)
    }

    /// The jobs whose parameter values the caller's view grants cover (like `visibleJob`).
    func visibleJobs(_ context: RequestContext, _ jobs: [JobRecord]) -> [JobRecord] {
        jobs.filter { self.may(context, .view, $0.pipeline, parameters: $0.params) }
    }

    /// `GET /api/v1/jobs/{id}`.
    func showJob(_ context: RequestContext) throws -> HTTPResponse {
        let job = try self.visibleJob(context)
        return .json(JobJSON.encode(JobJSON.job(job, mountPath: context.mountPath, includeTasks: true)))
    }

    /// `POST /api/v1/jobs/{id}/cancel`: 202 while the cancel takes effect, 200 if the job had
    /// already finished (nothing to do; the body shows its final state).
    func cancel(_ context: RequestContext) throws -> HTTPResponse {
        let job = try self.visibleJob(context, verb: .cancel)
        try Self.requireJSONIfAmbient(context)
        if job.state.isTerminal {
            return .json(JobJSON.encode(JobJSON.job(job, mountPath: context.mountPath, includeTasks: true)))
        }
        let updated = try self.cancelJob(context, job)
        return .json(JobJSON.encode(JobJSON.job(updated, mountPath: context.mountPath, includeTasks: true)), status: .accepted)
    }

    /// Records the cancel request, wakes the runner and audits (API and form).
    func cancelJob(_ context: RequestContext, _ job: JobRecord) throws -> JobRecord {
        let updated = try self.store.requestCancel(jobID: job.id) ?? job
        self.changed(context, job, by: .cancel, log: "job cancel requested")
        return updated
    }

    /// `POST /api/v1/jobs/{id}/retry`: re-queues the tasks of a failed or cancelled job that did
    /// not succeed (what succeeded is kept); 202. A job that is still going, or succeeded, is 409.
    func retry(_ context: RequestContext) throws -> HTTPResponse {
        let job = try self.visibleJob(context, verb: .retry)
        try Self.requireJSONIfAmbient(context)
        let updated = try self.retryJob(context, job)
        return .json(JobJSON.encode(JobJSON.job(updated, mountPath: context.mountPath, includeTasks: true)), status: .accepted)
    }

    /// Re-queues a failed or cancelled job (409 otherwise), wakes the runner and audits.
    func retryJob(_ context: RequestContext, _ job: JobRecord) throws -> JobRecord {
        guard job.state == .failed || job.state == .cancelled else {
            throw HTTPError(.conflict, "only failed or cancelled jobs can be retried; this one is \(job.state.rawValue)")
        }
        guard job.secretParameters.isEmpty else {
            throw HTTPError(.conflict, "the job had secret parameters, which are never stored; trigger it again instead")
        }
        guard let updated = try self.store.retry(jobID: job.id) else { throw HTTPError(.conflict, "the job changed; try again") }
        self.changed(context, job, by: .retry, log: "job retried")
        return updated
    }

    /// After a committed change to `job` by `verb`: wakes the runner, audits with the granting
    /// rule, and logs.
    private func changed(_ context: RequestContext, _ job: JobRecord, by verb: Verb, log message: String) {
        self.runner?.wake()
        self.audit(
            context, event: verb.rawValue, allowed: true, pipeline: job.pipeline, jobID: job.id,
            reason: self.grantReason(context, verb, job.pipeline, parameters: job.params))
        self.logger.info(message, ["request.id": context.requestID, "job.id": "\(job.id)", "user": context.caller.user])
    }

    /// `GET /api/v1/jobs/{id}/tasks/{task}/log[?offset=N]`: raw log bytes from `offset`
    /// (at most 1 MiB per call); `X-Log-Next-Offset` tells where to continue.
    func rawLog(_ context: RequestContext) throws -> HTTPResponse {
        let (job, task) = try self.logTarget(context)
        var offset = 0
        if let text = context.request.query["offset"] {
            guard let value = Int(text), value >= 0 else { throw HTTPError(.badRequest, "offset must be a non-negative integer") }
            offset = value
        }
        let attempt = try Self.attempt(context, task)
        let chunk = try LogReader.read(
            path: Runner.logPath(logDirectory: self.logDirectory, jobID: job.id, task: task.name, attempt: attempt), offset: offset,
            limit: 1 << 20)
        var response = HTTPResponse(
            status: .ok, headers: [("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")], body: chunk.bytes)
        response.setHeader("X-Log-Next-Offset", String(chunk.nextOffset))
        response.setHeader("X-Log-Complete", task.state.isTerminal ? "true" : "false")
        return response
    }

    /// The attempt whose log is asked for: `?attempt=N` (1 ... the task's attempts), else the latest.
    static func attempt(_ context: RequestContext, _ task: TaskRecord) throws -> Int {
        guard let text = context.request.query["attempt"] else { return max(task.attempt, 1) }
        guard let n = Int(text), n >= 1, n <= max(task.attempt, 1) else {
            throw HTTPError(.badRequest, "attempt must be a whole number from 1 to \(max(task.attempt, 1))")
        }
        return n
    }

    /// The job and task named by the route, checked for the `logs` verb.
    func logTarget(_ context: RequestContext) throws -> (JobRecord, TaskRecord) {
        let job = try self.visibleJob(context, verb: .logs)
        guard let task = job.tasks.first(where: { $0.name == context.parameter("task") }), ObjectName.isValid(task.name) else {
            throw HTTPError(.notFound, "no such task")
        }
        return (job, task)
    }
}
