import Foundation
import HTTP
import JobStore
import Pages
import Policy
import Workflow

extension App {
    /// `GET /`: pipelines I may see with their latest job, and recent jobs.
    func dashboard(_ context: RequestContext) throws -> HTTPResponse {
        let names = self.visiblePipelines(context)
        let recent = self.visibleJobs(context, try self.store.jobs(JobQuery(pipelines: Set(names), limit: 20)))
        let rows = try names.map { name in
            let last = self.visibleJobs(context, try self.store.jobs(JobQuery(pipelines: [name], limit: 20))).first
            return PipelineRow(
                name: name, description: self.configuration.pipelines[name]?.description ?? "", lastState: last?.state.rawValue,
                lastJobID: last?.id)
        }
        return .html(Pages.dashboard(context.layout, pipelines: rows, recent: recent.map(Self.row)))
    }

    /// `GET /jobs`: the job list (same filters as the API).
    func jobListPage(_ context: RequestContext) throws -> HTTPResponse {
        let (jobs, _) = try self.jobPage(context)
        let title = context.request.query["pipeline"].map { "Jobs of \($0)" } ?? "Jobs"
        return .html(Pages.jobList(context.layout, title: title, jobs: jobs.map(Self.row)))
    }

    /// `GET /jobs/{id}`: the job page.
    func jobPage(_ context: RequestContext) throws -> HTTPResponse {
        let job = try self.visibleJob(context)
        let canReadLogs = self.may(context, .logs, job.pipeline)
        let tasks = job.tasks.map {
            TaskRow(
                name: $0.name, state: $0.state.rawValue, needs: $0.needs, attempt: $0.attempt,
                duration: Self.duration($0.startedAt, $0.finishedAt), exitCode: $0.exitCode, message: $0.message, canReadLog: canReadLogs)
        }
        let detail = JobDetail(
            job: Self.row(job), identitySource: job.identitySource,
            params: job.params.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
            started: job.startedAt.map(Self.time) ?? "", finished: job.finishedAt.map(Self.time) ?? "",
            cancelRequested: job.cancelRequested, tasks: tasks, isLive: !job.state.isTerminal, actions: self.jobActions(context, job))
        return .html(Pages.job(context.layout, detail))
    }

    /// `GET /jobs/{id}/tasks/{task}/log`: the last 256 KiB of the log, escaped.
    func logPage(_ context: RequestContext) throws -> HTTPResponse {
        let (job, task) = try self.logTarget(context)
        let attempt = try Self.attempt(context, task)
        let tail = try LogReader.tail(
            path: Runner.logPath(logDirectory: self.logDirectory, jobID: job.id, task: task.name, attempt: attempt), limit: 256 << 10)
        return .html(
            Pages.log(
                context.layout, jobID: job.id, task: task.name, text: tail.text, truncatedBytes: tail.skipped,
                isLive: !task.state.isTerminal))
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
