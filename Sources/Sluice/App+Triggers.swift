import ByteStrings
import Crypto
import Foundation
import HTTP
import JSON
import JobStore
import Policy
import Workflow

/// Triggers: `POST /api/v1/pipelines/{name}/jobs` (parked while the store commits) and what the
/// HTML form, schedules and chains share with it (validation, grants, rate limits, submission).
extension App {
    /// `POST /api/v1/pipelines/{name}/jobs` with `{"params": {...}}`: validates, commits the job,
    /// wakes the runner, and only then answers 202 with the job's location.
    ///
    /// While the job waits for its commit the request is parked (`DeferredResponse`): the store's
    /// committer answers it after the fsync, so the worker thread goes on to the next request and
    /// one commit can hold more triggers than there are threads. Beyond `maxParkedTriggers`
    /// waiting at once, and for a job with secret parameters (whose values the runner must hold
    /// before it can see the job), the trigger waits on its thread as before.
    func trigger(_ context: RequestContext) throws -> HTTPResponse {
        let pipeline = try self.configuredPipeline(context)
        try self.authorize(context, .trigger, pipeline: pipeline.name)
        let key = try Self.idempotencyKey(context.request)
        let prepared = try self.prepareJob(
            context, pipeline: pipeline, supplied: try Self.triggerParameters(context.request, pipeline: pipeline), idempotencyKey: key)
        guard self.store.hasCommitter, prepared.secret.isEmpty, self.parkedTriggers.load(ordering: .relaxed) < Self.maxParkedTriggers
        else {
            let (job, created) = try self.concludeJob(context, prepared, self.submit(prepared))
            return Self.triggerResponse(job, created: created, mountPath: context.mountPath)
        }
        return .deferred { [self] sink in
            // Counted here, once the request is parked (the front end may answer 503 instead).
            self.parkedTriggers.add(1, ordering: .relaxed)
            self.store.submit(prepared.job, rules: prepared.rules, audit: prepared.audit) { result in
                // In a block of the store's answers, where a few other triggers' answers wait
                // for this one: a new job of ordinary size is answered here; a refusal (whose
                // audit record is a write), an error and a large job's JSON elsewhere.
                let answer: @Sendable () -> Void = {
                    self.parkedTriggers.subtract(1, ordering: .relaxed)
                    let response: HTTPResponse
                    do {
                        let (job, created) = try self.concludeJob(context, prepared, result.get())
                        response = Self.triggerResponse(job, created: created, mountPath: context.mountPath)
                    } catch {
                        response = self.errorResponse(error, requestID: context.requestID, asJSON: true, mountPath: context.mountPath)
                    }
                    sink.send(response)
                }
                if case .success(.created) = result, prepared.job.tasks.count <= 1_000 {
                    answer()
                } else {
                    DispatchQueue.global().async(execute: answer)
                }
            }
        }
    }

    /// The most API triggers parked for their commit at once (see `trigger`).
    static let maxParkedTriggers = 256

    /// A trigger's answer: 202 with the new job, or 200 with the existing job that answers it.
    private static func triggerResponse(_ job: JobRecord, created: Submission.Reason?, mountPath: String) -> HTTPResponse {
        var response = HTTPResponse.json(
            JobJSON.bytes(job, mountPath: mountPath, includeTasks: true), status: created == nil ? .accepted : .ok)
        response.setHeader("Location", "\(mountPath)/api/v1/jobs/\(job.id)")
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
    ///
    /// `pipeline` comes from the request's snapshot, so the job is stored under the
    /// configuration's own spelling of the name.
    func createJob(
        _ context: RequestContext, pipeline: PipelineDefinition, supplied: [String: String], idempotencyKey: String? = nil
    ) throws -> (JobRecord, Submission.Reason?) {
        let prepared = try self.prepareJob(context, pipeline: pipeline, supplied: supplied, idempotencyKey: idempotencyKey)
        return try self.concludeJob(context, prepared, self.submit(prepared))
    }

    /// A trigger checked and ready to be submitted: what `createJob` does before the store.
    struct PreparedJob: Sendable {
        var pipeline: PipelineDefinition
        var job: NewJob
        var rules: SubmissionRules
        var secret: [String: String]
        var audit: AuditRecord
    }

    /// The first half of `createJob`: validation, the grant for these values, the rate limits,
    /// and the job with its audit record.
    func prepareJob(
        _ context: RequestContext, pipeline: PipelineDefinition, supplied: [String: String], idempotencyKey: String?
    ) throws -> PreparedJob {
        let name = pipeline.name
        let values: [String: String]
        do { values = try pipeline.resolveParameters(supplied) } catch {
            throw HTTPError(.badRequest, "invalid parameters", fieldErrors: error.fields)
        }
        let (stored, secret) = pipeline.separateSecrets(values)
        // Grants may limit parameter values ("analyst may trigger export only with env=staging").
        try self.authorize(context, .trigger, pipeline: name, parameters: stored)
        try self.spendTriggerTokens(context, pipeline: name)
        // The decision's audit record is committed with the job itself: no job without its record.
        let audit = self.auditRecord(
            context, event: "trigger", allowed: true, pipeline: name, reason: self.grantReason(context, .trigger, name, parameters: stored))
        let (job, rules) = self.newJob(
            pipeline, stored: stored, secret: secret, triggeredBy: context.caller.user, identitySource: context.caller.source.rawValue,
            idempotencyKey: idempotencyKey, snapshot: context.snapshot)
        return PreparedJob(pipeline: pipeline, job: job, rules: rules, secret: secret, audit: audit)
    }

    /// Submits a prepared trigger on this thread (through the write gate, with its secrets).
    private func submit(_ prepared: PreparedJob) throws -> Submission {
        try self.submit(prepared.job, rules: prepared.rules, secret: prepared.secret, audit: prepared.audit)
    }

    /// The second half of `createJob`, once the store has answered: wakes the runner for a new
    /// job, and turns a refusal into its audit record and HTTP error.
    func concludeJob(_ context: RequestContext, _ prepared: PreparedJob, _ submission: Submission) throws -> (JobRecord, Submission.Reason?)
    {
        let name = prepared.pipeline.name
        FaultPoint.afterTriggerCommit.check()
        switch submission {
        case .created(let job):
            self.runner?.wake(created: job)
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
            self.audit(context, event: "trigger", allowed: false, pipeline: name, jobID: id, reason: "duplicate of unfinished job \(id)")
            throw HTTPError(.conflict, "job \(id) with the same parameters has not finished (on_duplicate: reject)")
        case .refused(.idempotencyKeyReused(let id)):
            self.audit(
                context, event: "trigger", allowed: false, pipeline: name, jobID: id, reason: "Idempotency-Key reused with another request")
            throw HTTPError(.unprocessableContent, "this Idempotency-Key was used for job \(id) with a different request")
        }
    }

    /// Builds the job of `pipeline` from validated values (`stored` and `secret` as
    /// `separateSecrets` split them) and submits it under the pipeline's duplicate rule and queue
    /// bound, with `audit` in the same transaction: what a person's trigger and a schedule's run
    /// share.
    func submit(
        _ pipeline: PipelineDefinition, stored: [String: String], secret: [String: String], triggeredBy: String, identitySource: String,
        idempotencyKey: String?, snapshot: ConfigurationSnapshot, audit: AuditRecord
    ) throws -> Submission {
        let (job, rules) = self.newJob(
            pipeline, stored: stored, secret: secret, triggeredBy: triggeredBy, identitySource: identitySource,
            idempotencyKey: idempotencyKey, snapshot: snapshot)
        return try self.submit(job, rules: rules, secret: secret, audit: audit)
    }

    /// Submits `job` on this thread, through the write gate; the runner keeps `secret` for it.
    private func submit(_ job: NewJob, rules: SubmissionRules, secret: [String: String], audit: AuditRecord) throws -> Submission {
        if let runner = self.runner {
            return try runner.submitting(secrets: secret) {
                try self.writeGate.run { try self.store.submit(job, rules: rules, audit: audit) }
            }
        }
        return try self.writeGate.run { try self.store.submit(job, rules: rules, audit: audit) }
    }

    /// The job of `pipeline` from validated values, and the rules it is submitted under. The
    /// job's tasks carry their layers when the pipeline is large.
    private func newJob(
        _ pipeline: PipelineDefinition, stored: [String: String], secret: [String: String], triggeredBy: String, identitySource: String,
        idempotencyKey: String?, snapshot: ConfigurationSnapshot
    ) -> (NewJob, SubmissionRules) {
        // The digest covers what is stored, not secrets: a hash of a secret would be a stored
        // oracle for guessing it.
        let digest = Hex.encode(SHA256.hash(Array(pipeline.requestText(stored).utf8)))
        var tasks = pipeline.resolvedTasks(stored)
        if let layers = snapshot.layers(of: pipeline), layers.count == tasks.count {
            for i in tasks.indices { tasks[i].layer = layers[i] }
        }
        var job = NewJob(
            pipeline: pipeline.name, triggeredBy: triggeredBy, identitySource: identitySource, params: stored,
            workingDirectory: snapshot.configuration.directory, tasks: tasks,
            identity: Hex.encode(SHA256.hash(Array(pipeline.identity(stored).utf8))), secretParameters: secret.keys.sorted(),
            idempotencyKey: idempotencyKey, requestDigest: idempotencyKey == nil ? nil : digest,
            // Secret values stay in this process's memory: on a shared store, this host runs it.
            hostAffinity: secret.isEmpty ? nil : self.runner?.host?.id)
        if let approval = pipeline.approval {
            // The rule in force now is the job's: a later change of the configuration does not move it.
            job.approval = ApprovalRequirement(required: approval.required, expiresAt: Date().addingTimeInterval(approval.expireAfter))
        }
        var maxUnfinished: Int? = nil
        if let limit = pipeline.queueLimit { maxUnfinished = (pipeline.concurrency ?? 0) + limit }
        return (job, SubmissionRules(onDuplicate: pipeline.onDuplicate, maxUnfinished: maxUnfinished))
    }

    /// Takes a token from the caller's and the pipeline's trigger buckets; 429 with `Retry-After`
    /// when either is empty (checked after validation and authorization, so refused requests do
    /// not spend tokens).
    func spendTriggerTokens(_ context: RequestContext, pipeline: String) throws {
        let (perIdentity, perPipeline) = (context.snapshot.identityLimiter, context.snapshot.pipelineLimiter)
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
        do { root = try JSONValue.parse(request.body) } catch {
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
            let type = pipeline.parameters.first { $0.name.bytesEqual(key) }?.type
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
}
