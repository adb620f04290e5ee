import ByteStrings
import Crypto
import Foundation
import HTTP
import JSON
import JobStore
import Pages
import Policy
import Workflow

extension App {
    /// `GET /healthz`: liveness without identity, with the configuration hash in force; 503
    /// "stopping" once the process stops.
    ///
    /// Touches no database and takes no lock the store's writer holds, so it answers while the
    /// store is locked or full. One status word, by precedence: `stopping` (503), `degraded`
    /// (storage trouble in the last minute; 200: the process is alive, restarting it would not
    /// help), `draining` (200: it serves, but starts no new job — a load balancer may choose),
    /// `ok`. While draining, `draining: true` with the runner's counts is present whatever the
    /// word, so storage trouble during a drain shows both.
    func health(_ context: PublicContext) throws -> HTTPResponse {
        let hash = context.snapshot.configuration.hash
        if self.isStopping { return .json(Array("{\"config\":\"\(hash)\",\"status\":\"stopping\"}\n".utf8), status: .serviceUnavailable) }
        let (count, recent) = self.storageTrouble.state(within: 60)
        let drain = self.drain?.status
        let draining = drain?.draining ?? false
        let word = recent ? "degraded" : draining ? "draining" : "ok"
        var text = "{\"config\":\"\(hash)\",\"status\":\"\(word)\",\"store\":\"\(self.storeKind)\",\"storage_errors\":\(count)"
        if let drain, draining {
            text +=
                ",\"draining\":true,\"exit_when_drained\":\(drain.exitWhenDrained),\"active_jobs\":\(drain.activeJobs),\"running_tasks\":\(drain.runningTasks)"
        }
        var bytes = Array(text.utf8)
        if let host = self.runner?.host {
            // Several hosts share the store: this one's id and lease ("held", or "none" while it
            // registers again after losing it). Read from memory, like the rest: no database.
            var writer = JSONWriter()
            writer.object { w in
                w.key("id")
                w.string(host.id)
                w.key("lease")
                w.string(host.epoch == nil ? "none" : "held")
                if let epoch = host.epoch {
                    w.key("epoch")
                    w.int(epoch)
                }
                if let until = host.validUntil {
                    w.key("lease_valid_seconds")
                    w.int(max(0, Int(until.timeIntervalSinceNow.rounded(.down))))
                }
            }
            bytes += Array(",\"host\":".utf8) + writer.bytes
        }
        return .json(bytes + Array("}\n".utf8))
    }

    /// `GET /api/v1/whoami`: identity source, subject, groups, roles, and per pipeline the verbs
    /// allowed with the grant that allows each.
    func whoami(_ context: RequestContext) throws -> HTTPResponse {
        .json(JobJSON.encode(Explanation.make(context.caller, context.configuration, identityLimiter: context.snapshot.identityLimiter)))
    }

    /// `GET /whoami`: the same as a page.
    func whoamiPage(_ context: RequestContext) throws -> HTTPResponse {
        .html(
            Pages.whoami(
                context.layout,
                Explanation.make(context.caller, context.configuration, identityLimiter: context.snapshot.identityLimiter).page)
        )
    }

    /// `GET /api/v1/pipelines`.
    func listPipelines(_ context: RequestContext) throws -> HTTPResponse {
        let list = self.visiblePipelines(context).map { pipeline in
            JobJSON.pipeline(pipeline, verbs: self.verbs(context, pipeline.name))
        }
        return .json(JobJSON.encode(JobJSON.PipelineList(pipelines: list)))
    }

    /// `GET /api/v1/pipelines/{name}`: the pipeline with its parameter schema and my verbs.
    func showPipeline(_ context: RequestContext) throws -> HTTPResponse {
        let pipeline = try self.configuredPipeline(context)
        try self.authorize(context, .view, pipeline: pipeline.name)
        return .json(JobJSON.encode(JobJSON.pipeline(pipeline, verbs: self.verbs(context, pipeline.name))))
    }

    private func verbs(_ context: RequestContext, _ pipeline: String) -> [String] {
        Verb.pipelineVerbs.filter { self.may(context, $0, pipeline) }.map(\.rawValue)
    }

    /// `GET /api/v1/jobs[?pipeline=NAME&before=ID&limit=N]`: newest first, only visible pipelines.
    func listJobs(_ context: RequestContext) throws -> HTTPResponse {
        let page = try self.jobSelection(context)
        return .json(
            JobJSON.listBytes(
                page.jobs, mountPath: context.mountPath, nextBefore: page.oldestFirst ? nil : page.next,
                nextAfter: page.oldestFirst ? page.next : nil))
    }

    /// One page of the job list.
    struct JobPage {
        var jobs: [JobRecord]
        /// The cursor of the next page (`before` newest first, `after` oldest first), if any.
        var next: Int64?
        var oldestFirst: Bool
        /// The filters as given, for links to the next page.
        var filters: [(String, String)]
    }

    /// The jobs the caller may see, honouring the query: `pipeline`, `state` (comma-separated),
    /// `user`, `from`/`until` (ISO 8601 date or date-time, UTC), `sort` (`newest` or `oldest` —
    /// an allow-list: the cursor is the job id, so only id order pages stably), `before`/`after`
    /// cursors and `limit`. Unknown values are 400s, not silently ignored filters.
    func jobSelection(_ context: RequestContext) throws -> JobPage {
        let query = context.query
        var filters: [(String, String)] = []
        var visible = Set(self.visiblePipelines(context).map(\.name))
        if let only = query["pipeline"], !only.isEmpty {
            // The configuration's spelling, found by bytes; anything else matches no job.
            visible = visible.firstByteEqual(only).map { [$0] } ?? []
            filters.append(("pipeline", only))
        }
        var jobQuery = JobQuery(pipelines: visible, limit: 50)
        if let text = query["state"], !text.isEmpty {
            var states: Set<JobState> = []
            for item in text.split(separator: ",") {
                guard let state = JobState(rawValue: String(item)) else {
                    throw HTTPError(
                        .badRequest, "unknown state \"\(item)\" (known: \(JobState.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                states.insert(state)
            }
            jobQuery.states = states
            filters.append(("state", text))
        }
        if let user = query["user"], !user.isEmpty {
            jobQuery.triggeredBy = user
            filters.append(("user", user))
        }
        for (key, keyPath) in [("from", \JobQuery.createdFrom), ("until", \JobQuery.createdUntil)] {
            guard let text = query[key], !text.isEmpty else { continue }
            guard let date = Self.parseTime(text) else {
                throw HTTPError(.badRequest, "\(key) must be a date (2026-11-23) or a date-time with a zone (2026-11-23T12:00:00Z)")
            }
            jobQuery[keyPath: keyPath] = date
            filters.append((key, text))
        }
        switch query["sort"] ?? "newest" {
        case "newest": break
        case "oldest":
            jobQuery.oldestFirst = true
            filters.append(("sort", "oldest"))
        default: throw HTTPError(.badRequest, "sort must be newest or oldest")
        }
        for (key, keyPath) in [("before", \JobQuery.beforeID), ("after", \JobQuery.afterID)] {
            guard let text = query[key] else { continue }
            guard let value = Int64(text), value > 0 else { throw HTTPError(.badRequest, "\(key) must be a positive job id") }
            jobQuery[keyPath: keyPath] = value
        }
        if let text = query["limit"] {
            guard let value = Int(text), (1...500).contains(value) else { throw HTTPError(.badRequest, "limit must be from 1 to 500") }
            jobQuery.limit = value
            filters.append(("limit", text))
        }
        let jobs = try self.store.jobs(jobQuery)
        // The cursor follows the unfiltered page, so paging never skips jobs; a page may then hold
        // fewer than `limit` jobs when some have values the caller's grants do not cover.
        return JobPage(
            jobs: self.visibleJobs(context, jobs), next: jobs.count == jobQuery.limit ? jobs.last?.id : nil,
            oldestFirst: jobQuery.oldestFirst, filters: filters)
    }

    /// A date (`2026-11-23`, midnight UTC) or an ISO 8601 date-time with a zone.
    static func parseTime(_ text: String) -> Date? {
        if case .success(let canonical) = ParameterType.datetime.canonical(text) {
            return try? Date(canonical, strategy: .iso8601)
        }
        if case .success = ParameterType.date.canonical(text) {
            return try? Date(text + "T00:00:00Z", strategy: .iso8601)
        }
        return nil
    }

    /// The jobs whose parameter values the caller's view grants cover (like `visibleJob`).
    func visibleJobs(_ context: RequestContext, _ jobs: [JobRecord]) -> [JobRecord] {
        jobs.filter { self.may(context, .view, $0.pipeline, parameters: $0.params) }
    }

    /// `GET /api/v1/jobs/{id}`.
    ///
    /// With `?wait=S` (1–60) it long-polls: the answer waits until the job differs from the
    /// representation named by `If-None-Match` (or from the current one, without that header),
    /// at most S seconds; 304 if nothing changed by then. A waiting request holds no thread: it
    /// is parked (`DeferredResponse`) and answered by the watch queue of `JobChanges`.
    func showJob(_ context: RequestContext) throws -> HTTPResponse {
        var wait: Int? = nil
        if let text = context.query["wait"] {
            guard let seconds = Int(text), (0...60).contains(seconds) else {
                throw HTTPError(.badRequest, "wait must be a whole number of seconds from 0 to 60")
            }
            wait = seconds
        }
        let paging = try Self.taskPaging(context.query)
        // A finished job whose stamp is unchanged: its kept JSON, authorized as a read would be.
        // (A finished job never waits: the long-poll below would return it at once.)
        if paging == nil,
            let kept = try self.keptJob(self.finishedJobs, context, where: { $0.mountPath.bytesEqual(context.mountPath) })
        {
            return Self.json(kept.body, tag: kept.tag)
        }
        // Taken before the read, so a change between the read and the watch still wakes it.
        let generation = Int64(context.parameter("id")).map { self.changes.generation(of: $0) } ?? 0
        let job = try self.visibleJob(context)
        let (body, tag) = self.representation(job, mountPath: context.mountPath, paging: paging)
        guard let seconds = wait, seconds > 0 else { return Self.json(body, tag: tag) }
        let baseline = context.request.header("If-None-Match") ?? tag
        guard ConditionalGET.matches(baseline, tag) && !job.state.isTerminal else { return Self.json(body, tag: tag) }
        let watch = JobWatch(
            id: job.id, mountPath: context.mountPath, baseline: baseline, deadline: Date().addingTimeInterval(Double(seconds)),
            requestID: context.requestID, paging: paging)
        return .deferred { [self] sink in
            self.watch(watch, after: generation, last: (body, tag), sink: sink)
        }
    }

    /// The job's JSON and its tag: every task, or with `paging` one page of them (and the counts
    /// per state). A finished job's full JSON is kept (`FinishedJobCache`).
    private func representation(_ job: JobRecord, mountPath: String, paging: TaskPaging?) -> ([UInt8], String) {
        guard let paging else {
            let body = JobJSON.bytes(job, mountPath: mountPath, includeTasks: true)
            let tag = ConditionalGET.tag(of: body)
            self.keepIfFinished(job, body: body, tag: tag, mountPath: mountPath)
            return (body, tag)
        }
        let matching = job.tasks.filter { paging.states?.contains($0.state) ?? true }
        let end = min(matching.count, paging.cursor + paging.limit)
        let page = JobJSON.TaskPage(
            tasks: paging.cursor < matching.count ? Array(matching[paging.cursor..<end]) : [],
            counts: Dictionary(job.tasks.map { ($0.state.rawValue, 1) }, uniquingKeysWith: +), matching: matching.count,
            nextCursor: end < matching.count ? end : nil, attempts: job.tasks.reduce(0) { $0 + $1.attempt })
        let body = JobJSON.bytes(job, mountPath: mountPath, page: page)
        return (body, ConditionalGET.tag(of: body))
    }

    /// A page of a job's tasks: `?tasks=` states (nil: all), `?task_limit=`, `?task_cursor=`.
    typealias TaskPaging = (states: Set<TaskState>?, limit: Int, cursor: Int)

    /// `?tasks=failed,running` (states), `?task_limit=N` (1–10,000; default 1,000) and
    /// `?task_cursor=C` (from a previous page's `task_page.next_cursor`): nil when none is given.
    static func taskPaging(_ query: [String: String]) throws -> TaskPaging? {
        let states = query["tasks"]
        let limitText = query["task_limit"]
        let cursorText = query["task_cursor"]
        guard states != nil || limitText != nil || cursorText != nil else { return nil }
        var filter: Set<TaskState>? = nil
        if let states {
            var set = Set<TaskState>()
            for name in states.split(separator: ",", omittingEmptySubsequences: false) {
                guard let state = TaskState(rawValue: String(name)) else {
                    throw HTTPError(
                        .badRequest,
                        "unknown task state \"\(name)\" in tasks (known: \(TaskState.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                set.insert(state)
            }
            filter = set
        }
        var limit = 1000
        if let limitText {
            guard let value = Int(limitText), (1...10_000).contains(value) else {
                throw HTTPError(.badRequest, "task_limit must be a whole number from 1 to 10000")
            }
            limit = value
        }
        var cursor = 0
        if let cursorText {
            guard let value = Int(cursorText), value >= 0 else {
                throw HTTPError(.badRequest, "task_cursor must be a non-negative whole number")
            }
            cursor = value
        }
        return (filter, limit, cursor)
    }

    /// A parked long-poll: which job, compared with which representation, until when.
    struct JobWatch: Sendable {
        var id: Int64
        var mountPath: String
        var baseline: String
        var deadline: Date
        var requestID: String
        /// The page of tasks the representation holds (nil: all of them).
        var paging: TaskPaging?
    }

    /// Waits (without a thread) for `watch`'s job to move past `generation`, then reads it again:
    /// answers once its representation differs from the baseline, it finished, the deadline
    /// passed or Sluice stops; otherwise waits again. `last` is what to answer on a timeout.
    private func watch(_ watch: JobWatch, after generation: UInt64, last: ([UInt8], String), sink: ResponseSink) {
        var generation = generation
        var last = last
        while true {
            let current = last
            let outcome =
                self.changes.watch(job: watch.id, after: generation, until: watch.deadline) { [self] outcome in
                    switch outcome {
                    case .changed:
                        // The generation first, then the read: a change between them still wakes.
                        let generation = self.changes.generation(of: watch.id)
                        if let next = self.reread(watch, last: current, sink: sink) {
                            self.watch(watch, after: generation, last: next, sink: sink)
                        }
                    case .timedOut, .closed, .busy: sink.send(Self.json(current.0, tag: current.1))
                    }
                }
            switch outcome {
            case nil: return  // waiting; `fire` answers
            case .busy?:
                // Not a 304: a client that re-polls on 304 would spin on an instant answer.
                sink.send(
                    self.errorResponse(
                        HTTPError(
                            .serviceUnavailable, "too many requests are waiting for job changes; poll again after Retry-After",
                            headers: [("Retry-After", "2")]), requestID: watch.requestID, asJSON: true, mountPath: watch.mountPath))
                return
            case .closed?, .timedOut?:
                sink.send(Self.json(last.0, tag: last.1))
                return
            case .changed?:
                // Changed between the read and the watch: read again, here.
                generation = self.changes.generation(of: watch.id)
                guard let next = self.reread(watch, last: last, sink: sink) else { return }
                last = next
            }
        }
    }

    /// Reads the watched job; answers through `sink` and returns nil if the watch is over (the
    /// representation differs from the baseline, the job finished, the deadline passed, or the
    /// read failed), else returns the unchanged representation.
    private func reread(_ watch: JobWatch, last: ([UInt8], String), sink: ResponseSink) -> ([UInt8], String)? {
        do {
            guard let job = try self.store.job(id: watch.id) else {
                sink.send(Self.json(last.0, tag: last.1))
                return nil
            }
            let (body, tag) = self.representation(job, mountPath: watch.mountPath, paging: watch.paging)
            if !ConditionalGET.matches(watch.baseline, tag) || job.state.isTerminal || Date() >= watch.deadline {
                sink.send(Self.json(body, tag: tag))
                return nil
            }
            return (body, tag)
        } catch {
            sink.send(self.errorResponse(error, requestID: watch.requestID, asJSON: true, mountPath: watch.mountPath))
            return nil
        }
    }

    /// A JSON answer whose tag is known already: ConditionalGET uses it instead of hashing the
    /// body again.
    private static func json(_ body: [UInt8], tag: String) -> HTTPResponse {
        var response = HTTPResponse.json(body)
        response.setHeader("ETag", tag)
        return response
    }

    /// Keeps a finished job's JSON for the next request of it (`FinishedJobCache`).
    private func keepIfFinished(_ job: JobRecord, body: [UInt8], tag: String, mountPath: String) {
        guard job.state.isTerminal else { return }
        self.finishedJobs.store(
            id: job.id,
            .init(stamp: JobStamp(of: job), mountPath: mountPath, pipeline: job.pipeline, params: job.params, body: body, tag: tag))
    }

    /// `POST /api/v1/jobs/{id}/cancel`: 202 while the cancel takes effect, 200 if the job had
    /// already finished (nothing to do; the body shows its final state).
    func cancel(_ context: RequestContext) throws -> HTTPResponse {
        let job = try self.visibleJob(context, verb: .cancel)
        try Self.requireJSONIfAmbient(context)
        if job.state.isTerminal {
            return .json(JobJSON.bytes(job, mountPath: context.mountPath, includeTasks: true))
        }
        let updated = try self.cancelJob(context, job)
        return .json(JobJSON.bytes(updated, mountPath: context.mountPath, includeTasks: true), status: .accepted)
    }

    /// Records the cancel request, wakes the runner and audits (API and form).
    func cancelJob(_ context: RequestContext, _ job: JobRecord) throws -> JobRecord {
        let record = self.changeRecord(context, job, by: .cancel)
        let updated = try self.writeGate.run { try self.store.requestCancel(jobID: job.id, audit: record) } ?? job
        // A job cancelled while awaiting approval ends at once, without the runner.
        if job.state == .awaitingApproval && updated.state.isTerminal { self.runner?.forgetSecrets(of: job.id) }
        self.changed(context, job, log: "job cancel requested")
        return updated
    }

    /// `POST /api/v1/jobs/{id}/retry`: re-queues the tasks of a failed or cancelled job that did
    /// not succeed (what succeeded is kept); 202. A job that is still going, or succeeded, is 409.
    func retry(_ context: RequestContext) throws -> HTTPResponse {
        let job = try self.visibleJob(context, verb: .retry)
        try Self.requireJSONIfAmbient(context)
        let updated = try self.retryJob(context, job)
        return .json(JobJSON.bytes(updated, mountPath: context.mountPath, includeTasks: true), status: .accepted)
    }

    /// Re-queues a failed or cancelled job (409 otherwise), wakes the runner and audits.
    func retryJob(_ context: RequestContext, _ job: JobRecord) throws -> JobRecord {
        guard job.state == .failed || job.state == .cancelled else {
            throw HTTPError(.conflict, "only failed or cancelled jobs can be retried; this one is \(job.state.rawValue)")
        }
        guard job.secretParameters.isEmpty else {
            throw HTTPError(.conflict, "the job had secret parameters, which are never stored; trigger it again instead")
        }
        guard job.wasApproved else {
            throw HTTPError(.conflict, "the job never got the approval it needed; trigger it again instead")
        }
        let record = self.changeRecord(context, job, by: .retry)
        guard let updated = try self.writeGate.run({ try self.store.retry(jobID: job.id, audit: record) }) else {
            throw HTTPError(.conflict, "the job changed; try again")
        }
        self.changed(context, job, log: "job retried")
        return updated
    }

    /// The audit record of changing `job` by `verb`, with the granting rule; committed by the
    /// store in the change's own transaction.
    private func changeRecord(_ context: RequestContext, _ job: JobRecord, by verb: Verb) -> AuditRecord {
        self.auditRecord(
            context, event: verb.rawValue, allowed: true, pipeline: job.pipeline, jobID: job.id,
            reason: self.grantReason(context, verb, job.pipeline, parameters: job.params))
    }

    /// After a committed change to `job` (its audit record committed with it): wakes the runner
    /// and the job's watchers, and logs.
    private func changed(_ context: RequestContext, _ job: JobRecord, log message: String) {
        self.runner?.wake()
        self.changes.notify(job.id)
        self.logger.info(message, ["request.id": context.requestID, "job.id": "\(job.id)", "user": context.caller.user])
    }

    /// `GET /api/v1/jobs/{id}/tasks/{task}/log[?offset=N]`: raw log bytes from `offset`
    /// (at most 1 MiB per call); `X-Log-Next-Offset` tells where to continue.
    func rawLog(_ context: RequestContext) throws -> HTTPResponse {
        let (job, task) = try self.logTarget(context)
        var offset = 0
        if let text = context.query["offset"] {
            guard let value = Int(text), value >= 0 else { throw HTTPError(.badRequest, "offset must be a non-negative integer") }
            offset = value
        }
        let attempt = try Self.attempt(context, task)
        let chunk = try self.readLog(job, task, attempt: attempt, offset: offset, limit: 1 << 20)
        var response = HTTPResponse(
            status: .ok, headers: [("Content-Type", "text/plain; charset=utf-8")], body: chunk.bytes)
        response.setHeader("X-Log-Next-Offset", String(chunk.nextOffset))
        response.setHeader("X-Log-Size", String(chunk.fileSize))
        if context.query["download"] != nil {
            // The name is built from validated parts only (ids and `[A-Za-z0-9._-]` names).
            response.setHeader("Content-Disposition", "attachment; filename=\"job-\(job.id)-\(task.name)-\(attempt).log\"")
        }
        response.setHeader("X-Log-Complete", task.state.isTerminal ? "true" : "false")
        return response
    }

    /// A window of an attempt's log: from this host's log directory if the attempt ran here,
    /// else (several hosts on one store) the copy the host that runs or ran it stored: the final
    /// one once the attempt ended, while it runs one at most a third of the lease old. An attempt
    /// running on another host that has not copied anything yet: 404 naming that host.
    /// `offset` nil: the last `limit` bytes.
    func readLog(_ job: JobRecord, _ task: TaskRecord, attempt: Int, offset: Int?, limit: Int) throws -> LogReader.Chunk {
        let path = Runner.logPath(logDirectory: self.logDirectory, jobID: job.id, task: task.name, attempt: attempt)
        guard let shared = self.store as? any SharedJobStore, !FileManager.default.fileExists(atPath: path) else {
            return try LogReader.read(path: path, offset: offset, limit: limit)
        }
        if let stored = try shared.storedLog(jobID: job.id, task: task.name, attempt: attempt) {
            return LogReader.read(bytes: stored, offset: offset, limit: limit)
        }
        let here = self.runner?.host?.id
        if task.attempt >= 1, let owner = try shared.owner(ofJob: job.id), !owner.bytesEqual(here ?? "") {
            throw HTTPError(
                .notFound,
                "this attempt's log is on host \(owner) and not copied to the store yet (this is host \(here ?? "?")); try again in a few seconds"
            )
        }
        // Not started yet, or this host's own attempt that has written nothing yet.
        return try LogReader.read(path: path, offset: offset, limit: limit)
    }

    /// The attempt whose log is asked for: `?attempt=N` (1 ... the task's attempts), else the latest.
    static func attempt(_ context: RequestContext, _ task: TaskRecord) throws -> Int {
        guard let text = context.query["attempt"] else { return max(task.attempt, 1) }
        guard let n = Int(text), n >= 1, n <= max(task.attempt, 1) else {
            throw HTTPError(.badRequest, "attempt must be a whole number from 1 to \(max(task.attempt, 1))")
        }
        return n
    }

    /// The job and task named by the route, checked for the `logs` verb.
    func logTarget(_ context: RequestContext) throws -> (JobRecord, TaskRecord) {
        let job = try self.visibleJob(context, verb: .logs)
        guard let task = job.tasks.first(where: { $0.name.bytesEqual(context.parameter("task")) }), ObjectName.isValid(task.name) else {
            throw HTTPError(.notFound, "no such task")
        }
        return (job, task)
    }
}
