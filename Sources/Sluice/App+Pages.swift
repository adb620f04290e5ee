import Foundation
import HTTP
import JobStore
import Pages
import Policy
import Workflow

extension App {
    /// `GET /`: pipelines I may see with their latest job, running and queued counts, a trigger
    /// link where I may trigger, and recent jobs.
    func dashboard(_ context: RequestContext) throws -> HTTPResponse {
        let pipelines = self.visiblePipelines(context)
        let names = pipelines.map(\.name)
        let recent = self.visibleJobs(context, try self.store.jobs(JobQuery(pipelines: Set(names), limit: 20)))
        var counts: [String: (running: Int, queued: Int)] = [:]
        for job in self.visibleJobs(context, try self.store.unfinishedJobs()) {
            if job.state == .running {
                counts[job.pipeline, default: (0, 0)].running += 1
            } else {
                counts[job.pipeline, default: (0, 0)].queued += 1
            }
        }
        let rows = try pipelines.map { pipeline in
            let name = pipeline.name
            let last = self.visibleJobs(context, try self.store.jobs(JobQuery(pipelines: [name], limit: 20))).first
            var row = PipelineRow(
                name: name, description: pipeline.description, lastState: last?.state.rawValue, lastJobID: last?.id)
            row.running = counts[name]?.running ?? 0
            row.queued = counts[name]?.queued ?? 0
            row.canTrigger = self.may(context, .trigger, name)
            return row
        }
        // Jobs the viewer may approve, except their own (they may only reject those: the job page has it).
        // Asked only when some pipeline the viewer sees needs approval: the query is not cheap.
        let approvable = Set(pipelines.filter { $0.approval != nil }.map(\.name))
        var waitingQuery = JobQuery(pipelines: approvable, limit: 500)
        waitingQuery.states = [.awaitingApproval]
        let awaiting = self.visibleJobs(context, try self.store.jobs(waitingQuery)).filter { job in
            !job.triggeredBy.utf8.elementsEqual(context.caller.user.utf8)
                && self.may(context, .approve, job.pipeline, parameters: job.params)
        }
        return .html(
            Pages.dashboard(
                context.layout, pipelines: rows, recent: recent.map(Self.row), drain: self.drainNotice, awaitingYou: awaiting.map(Self.row))
        )
    }

    /// The banner's model while Sluice drains, else nil.
    var drainNotice: DrainNotice? {
        guard let status = self.drain?.status, status.draining else { return nil }
        return DrainNotice(activeJobs: status.activeJobs, exitWhenDrained: status.exitWhenDrained)
    }

    /// `GET /jobs`: the job list with filters (same query as the API).
    func jobListPage(_ context: RequestContext) throws -> HTTPResponse {
        let page = try self.jobSelection(context)
        let title = context.query["pipeline"].flatMap { $0.isEmpty ? nil : "Jobs of \($0)" } ?? "Jobs"
        var nextQuery: String? = nil
        if let next = page.next {
            let cursor = (page.oldestFirst ? "after" : "before", String(next))
            nextQuery = (page.filters + [cursor]).map { "\(FormEncoder.encode($0.0))=\(FormEncoder.encode($0.1))" }.joined(separator: "&")
        }
        let view = JobListView(
            title: title, jobs: page.jobs.map(Self.row), pipelines: self.visiblePipelines(context).map(\.name),
            filters: Dictionary(page.filters, uniquingKeysWith: { a, _ in a }), nextQuery: nextQuery)
        return .html(Pages.jobList(context.layout, view))
    }

    /// Above this many tasks the job page's task table lists failed, running and queued tasks first.
    static let largeJobTasks = 50

    /// The layers (counted from 0) a job page's `?layer=` names: one layer ("3") or a run ("3-5"),
    /// counted from 1 and within the job's `layerCount` layers; 400 for anything else.
    static func layerScope(_ text: String, layerCount: Int) throws -> ClosedRange<Int> {
        let parts = text.utf8.split(separator: UInt8(ascii: "-"), maxSplits: 1, omittingEmptySubsequences: false)
        let numbers = parts.map { part -> Int? in
            guard (1...6).contains(part.count), part.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
            return Int(String(decoding: part, as: UTF8.self))
        }
        guard let first = numbers.first ?? nil, let last = numbers.last ?? nil, first >= 1, first <= last, last <= layerCount else {
            throw HTTPError(
                .badRequest,
                "layer must name layers of this job's graph: a number from 1 to \(layerCount), or a run like 1-\(max(1, layerCount))")
        }
        return (first - 1)...(last - 1)
    }

    /// The job a job page shows, authorized for `view`: a large finished job's kept record and
    /// layers while its stamp is unchanged (`FinishedJobCache`), else a fresh read (no layers).
    private func pageJob(_ context: RequestContext) throws -> (JobRecord, [Int]?) {
        if let kept = try self.keptJob(self.finishedRecords, context) { return (kept.job, kept.layers) }
        return (try self.visibleJob(context), nil)
    }

    /// The overview the store kept for a large finished job (`JobOverview`), authorized for
    /// `view` as a read of the job would be; nil for any other job (the page then reads it all).
    ///
    /// An overview that cannot be read (malformed, naming tasks the job lacks, a role without
    /// the grant on `job_overviews`) is logged and passed over: the page is then drawn from the
    /// whole job, authorized there, rather than failing.
    private func keptOverview(_ context: RequestContext) throws -> JobOverview? {
        guard let id = Int64(context.parameter("id")), id > 0 else { return nil }
        let kept: JobOverview?
        do { kept = try self.store.jobOverview(id: id) } catch {
            self.logger.warning(
                "cannot read a job's kept overview; drawing its page from all its tasks",
                ["request.id": context.requestID, "job.id": "\(id)", "error": "\(error)"])
            return nil
        }
        guard let overview = kept, overview.job.state.isTerminal, overview.taskCount > TaskGraph.defaultMaxNodes else { return nil }
        try self.authorize(context, .view, pipeline: overview.job.pipeline, parameters: overview.job.params, isJob: true)
        return overview
    }

    /// `GET /jobs/{id}`: the job page.
    ///
    /// A large finished job's page is drawn from the overview its store kept (`JobOverview`): a
    /// 100,000-task job's first view reads 200 tasks, not 100,000. Any other job, and a page of
    /// some layers (`?layer=`), is drawn from the whole job.
    func jobPage(_ context: RequestContext) throws -> HTTPResponse {
        if context.query["layer"] == nil, let overview = try self.keptOverview(context) {
            let job = overview.job
            let canReadLogs = self.may(context, .logs, job.pipeline)
            var detail = self.jobDetail(
                context, job, rows: overview.rows.prefix(Pages.taskRowsShown), taskCount: overview.taskCount,
                failed: overview.rows.prefix { $0.state == .failed }.prefix(JobDetail.Failure.shown).map { task in
                    (task, task.layer.map { "\(context.mountPath)/jobs/\(job.id)?layer=\($0 + 1)#tasks" })
                },
                failedCount: overview.failedCount, canReadLogs: canReadLogs)
            detail.graphSVG = JobGraphs.graph(job, tallies: overview.tallies, mountPath: context.mountPath)
            detail.timelineSVG = JobGraphs.timeline(job, tallies: overview.tallies, mountPath: context.mountPath)
            return .html(Pages.job(context.layout, detail))
        }
        let (job, cachedLayers) = try self.pageJob(context)
        let canReadLogs = self.may(context, .logs, job.pipeline)
        // Layers are computed only where something needs them: a large job's grouped timeline
        // and failure links, and a `?layer=` page.
        let large = job.tasks.count > Self.largeJobTasks
        let layers = cachedLayers ?? (large || context.query["layer"] != nil ? JobGraphs.layers(job) : nil)
        if large, cachedLayers == nil, job.state.isTerminal, let layers {
            self.finishedRecords.store(id: job.id, FinishedJobRecord(job: job, layers: layers))
        }
        let layerCount = (layers?.max() ?? -1) + 1
        let scope = try context.query["layer"].map { try Self.layerScope($0, layerCount: layerCount) }
        let shown = scope.flatMap { range in layers.map { l in job.tasks.indices.filter { range.contains(l[$0]) } } }
        var order = shown ?? Array(job.tasks.indices)
        if large {
            // A large job's table starts with what needs a look (`JobOverview.rank`), in
            // definition order within each rank (one stable pass, no sort).
            var buckets: [[Int]] = [[], [], [], []]
            for i in order { buckets[JobOverview.rank(job.tasks[i].state)].append(i) }
            order = buckets.flatMap { $0 }
        }
        let failed = job.tasks.indices.filter { job.tasks[$0].state == .failed }
        let graphDrawsTasks = job.tasks.count <= TaskGraph.defaultMaxNodes
        var detail = self.jobDetail(
            context, job, rows: order.prefix(Pages.taskRowsShown).lazy.map { job.tasks[$0] }, taskCount: order.count,
            failed: failed.prefix(JobDetail.Failure.shown).map { i in
                let href =
                    graphDrawsTasks
                    ? "#" + TaskGraph.nodeID("job-graph", i) : layers.map { "\(context.mountPath)/jobs/\(job.id)?layer=\($0[i] + 1)#tasks" }
                return (job.tasks[i], href)
            },
            failedCount: failed.count, canReadLogs: canReadLogs)
        // Large jobs are drawn from their tallies, as from a kept overview.
        let tallies = large ? layers.flatMap { LayerTally.tallies(of: job.tasks, layers: $0) } : nil
        if let tallies, !graphDrawsTasks {
            detail.graphSVG = JobGraphs.graph(job, tallies: tallies, mountPath: context.mountPath)
        } else {
            detail.graphSVG = JobGraphs.graph(job, mountPath: context.mountPath, canReadLogs: canReadLogs, layers: layers)
        }
        if let tallies, scope == nil {
            detail.timelineSVG = JobGraphs.timeline(job, tallies: tallies, mountPath: context.mountPath)
        } else {
            detail.timelineSVG = JobGraphs.timeline(job, shown: shown)
        }
        if let scope {
            let range = TaskGraph.layerRange(scope.lowerBound + 1, scope.upperBound + 1)
            detail.layerScope = "\(scope.count == 1 ? "Layer" : "Layers") \(range) of \(layerCount)"
        }
        return .html(Pages.job(context.layout, detail))
    }

    /// What every job page shows, from the rows of its task table (in order), its first failed
    /// tasks with where each is in the graph, and counts; the caller adds the graph and timeline.
    private func jobDetail(
        _ context: RequestContext, _ job: JobRecord, rows: some Collection<TaskRecord>, taskCount: Int,
        failed: [(task: TaskRecord, graphHref: String?)], failedCount: Int, canReadLogs: Bool
    ) -> JobDetail {
        let tasks = rows.map { task in
            var row = TaskRow(
                name: task.name, state: task.state.rawValue, needs: task.needs, attempt: task.attempt,
                duration: Self.duration(task.startedAt, task.finishedAt), exitCode: task.exitCode, message: task.message,
                canReadLog: canReadLogs)
            row.kind = task.kind.rawValue
            row.maxAttempts = task.options.retry.retries + 1
            row.retryAt = task.state == .queued ? task.retryAt.map(Self.time) : nil
            return row
        }
        var detail = JobDetail(
            job: Self.row(job), identitySource: job.identitySource,
            params: job.params.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
            started: job.startedAt.map(Self.time) ?? "", finished: job.finishedAt.map(Self.time) ?? "",
            cancelRequested: job.cancelRequested, tasks: tasks, isLive: !job.state.isTerminal, actions: self.jobActions(context, job))
        detail.taskCount = taskCount
        detail.secretParams = job.secretParameters
        detail.liveURL = "\(context.mountPath)/api/v1/jobs/\(job.id)"
        detail.failedCount = failedCount
        detail.approval = self.approvalPanel(context, job)
        detail.failures = failed.map { task, href in
            var failure = JobDetail.Failure(
                task: task.name, message: task.message ?? "failed", attempt: max(task.attempt, 1),
                logTail: canReadLogs ? self.logTail(job, task) : nil)
            failure.graphHref = href
            return failure
        }
        return detail
    }

    /// The last lines (at most 20, from the last 8 KiB) of the task's latest attempt, or nil if
    /// there is no log to read.
    func logTail(_ job: JobRecord, _ task: TaskRecord) -> String? {
        guard task.attempt >= 1, let chunk = try? self.readLog(job, task, attempt: task.attempt, offset: nil, limit: 8 << 10) else {
            return nil
        }
        var lines = String(decoding: chunk.bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        // A window that starts mid-file starts mid-line: drop the partial first line.
        if chunk.nextOffset > chunk.bytes.count && lines.count > 1 { lines.removeFirst() }
        return lines.suffix(20).joined(separator: "\n")
    }

    /// `GET /jobs/{id}/tasks/{task}/log[?attempt=N&offset=B]`: a 256 KiB window of one attempt's
    /// log — by default the end, following it live while the task runs — with links to earlier
    /// and later windows, to other attempts and to the raw file.
    func logPage(_ context: RequestContext) throws -> HTTPResponse {
        let (job, task) = try self.logTarget(context)
        let attempt = try Self.attempt(context, task)
        let window = 256 << 10
        var offset: Int? = nil
        if let text = context.query["offset"] {
            guard let value = Int(text), value >= 0 else { throw HTTPError(.badRequest, "offset must be a non-negative integer") }
            offset = value
        }
        // Without an offset, the last window (the page opens at the end of the log).
        let chunk = try self.readLog(job, task, attempt: attempt, offset: offset, limit: window)
        let start = chunk.nextOffset - chunk.bytes.count
        var view = LogView(
            jobID: job.id, task: task.name, attempt: attempt, attempts: max(task.attempt, 1),
            text: String(decoding: chunk.bytes, as: UTF8.self), offset: start, nextOffset: chunk.nextOffset,
            size: chunk.fileSize, window: window, isLive: !task.state.isTerminal && attempt == task.attempt)
        // Line numbers count from the start of the log: the lines before the window are counted
        // (a log is at most head + tail bytes, so this read is bounded).
        if start > 0 {
            let before = try self.readLog(job, task, attempt: attempt, offset: 0, limit: start)
            view.firstLine = 1 + before.bytes.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        }
        // What matters in a running attempt or a failed one is at its end.
        let failed = attempt < task.attempt || task.state == .failed
        view.opensAtEnd = offset == nil && (view.isLive || failed)
        return .html(Pages.log(context.layout, view))
    }

    static func row(_ job: JobRecord) -> JobRow {
        JobRow(
            id: job.id, pipeline: job.pipeline, state: job.state.rawValue, triggeredBy: job.triggeredBy,
            created: self.time(job.createdAt), duration: self.duration(job.startedAt, job.finishedAt))
    }

    static func time(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().dateTimeSeparator(.space).time(includingFractionalSeconds: false)) + " UTC"
    }

    /// "1.2 s", "3 min 4 s"; running tasks count up to now; empty if not started.
    static func duration(_ start: Date?, _ end: Date?) -> String {
        guard let start else { return "" }
        let seconds = max(0, (end ?? Date()).timeIntervalSince(start))
        // Below 59.95 s: one decimal; from there on whole seconds, so 59.97 s never reads "60.0 s".
        if seconds < 59.95 { return String(format: "%.1f s", seconds) }
        let whole = Int(seconds.rounded())
        if whole < 3600 { return "\(whole / 60) min \(whole % 60) s" }
        return "\(whole / 3600) h \(whole % 3600 / 60) min"
    }
}
