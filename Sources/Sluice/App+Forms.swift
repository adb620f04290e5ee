import ByteStrings
import Foundation
import HTTP
import JobStore
import Pages
import Policy
import Scheduling
import Workflow

/// The HTML side of state changes: the pipeline page with its trigger form, and the cancel and
/// retry buttons of the job page. Every form carries a CSRF token bound to the user and action.
extension App {
    /// `GET /pipelines/{name}`: description, tasks, the trigger form (if I may trigger), recent jobs.
    func pipelinePage(_ context: RequestContext) throws -> HTTPResponse {
        let pipeline = try self.configuredPipeline(context)
        try self.authorize(context, .view, pipeline: pipeline.name)
        return .html(try self.renderPipeline(context, pipeline, values: [:], errors: [:], message: nil))
    }

    func renderPipeline(
        _ context: RequestContext, _ pipeline: PipelineDefinition, values: [String: String], errors: [String: String], message: String?
    ) throws -> String {
        let name = pipeline.name
        let canTrigger = self.may(context, .trigger, name)
        let fields = pipeline.parameters.map {
            ParameterField(
                name: $0.name, description: $0.description, isRequired: $0.isRequired && $0.defaultValue == nil,
                // A secret is never echoed back into the page, not even after a validation error.
                defaultValue: $0.defaultValue, value: $0.isSecret ? nil : values[$0.name], error: errors[$0.name],
                type: $0.isSecret ? "secret" : $0.type.name,
                choices: Self.choices(of: $0.type))
        }
        let recent = self.visibleJobs(context, try self.store.jobs(JobQuery(pipelines: [name], limit: 20)))
        var detail = PipelineDetail(
            name: name, description: pipeline.description, tasks: pipeline.tasks.map { ($0.name, $0.needs) }, parameters: fields,
            triggerToken: canTrigger ? self.csrf.token(for: context.caller, action: "trigger:\(name)") : nil, message: message,
            recent: recent.map(Self.row))
        detail.graphSVG = JobGraphs.graph(pipeline)
        detail.drain = self.drainNotice
        detail.runGrid = try self.runGrid(pipeline, recent: recent)
        detail.schedules = Self.scheduleRows(pipeline)
        return Pages.pipeline(context.layout, detail)
    }

    /// The pipeline's schedules with their next three runs from `now`, on each one's clock.
    static func scheduleRows(_ pipeline: PipelineDefinition, now: Date = Date()) -> [ScheduleRow] {
        pipeline.schedules.map { schedule in
            let zone = schedule.schedule.timeZone
            let missed: String
            switch schedule.missed {
            case .latest: missed = "the latest fires once"
            case .none: missed = "none fire"
            case .all(let limit): missed = "each fires, at most the last \(limit)"
            }
            return ScheduleRow(
                name: schedule.name, expression: schedule.schedule.expression.text,
                timeZone: schedule.schedule.zoneName,
                nextRuns: schedule.schedule.fireTimes(after: now, through: .distantFuture, limit: 3).map {
                    FireTimeTemplate.iso($0, in: zone).replacingOccurrences(of: "T", with: " ")
                },
                params: schedule.params.map { "\($0.name)=\($0.value.source)" }, missed: missed)
        }
    }

    /// The last `gridRuns` visible runs × the pipeline's tasks. A pipeline of more than
    /// `gridTasks` tasks shows only the tasks that did not succeed in every run shown (at most
    /// `gridTasks` of them).
    func runGrid(_ pipeline: PipelineDefinition, recent: [JobRecord]) throws -> RunGrid? {
        let runs = try recent.prefix(Self.gridRuns).reversed().compactMap { try self.store.job(id: $0.id) }
        guard !runs.isEmpty else { return nil }
        // Each run's tasks by name, compared as bytes.
        let byRun = runs.map { job in Dictionary(job.tasks.map { (ByteString($0.name), $0) }, uniquingKeysWith: { a, _ in a }) }
        var names = pipeline.tasks.map(\.name)
        var hidden = 0
        if names.count > Self.gridTasks {
            let interesting = names.filter { name in byRun.contains { ($0[ByteString(name)]?.state).map { $0 != .succeeded } ?? false } }
            hidden = names.count - min(interesting.count, Self.gridTasks)
            names = Array(interesting.prefix(Self.gridTasks))
        }
        let cells = names.map { name in
            byRun.map { tasks -> RunGrid.Cell? in
                tasks[ByteString(name)].map {
                    RunGrid.Cell(state: $0.state.rawValue, duration: Self.duration($0.startedAt, $0.finishedAt), attempts: $0.attempt)
                }
            }
        }
        return RunGrid(
            runs: runs.map { RunGrid.Run(id: $0.id, state: $0.state.rawValue, created: Self.time($0.createdAt)) }, tasks: names,
            cells: cells, hiddenTasks: hidden)
    }

    /// Runs in the pipeline page's grid.
    static let gridRuns = 15
    /// Task rows in the grid before it shows only the tasks that did not always succeed.
    static let gridTasks = 60

    static func choices(of type: ParameterType) -> [String] {
        if case .choice(let values) = type { return values }
        return []
    }

    /// `POST /pipelines/{name}/jobs` (form): triggers and redirects to the new job (303); invalid
    /// values re-render the form with an error next to each field (400).
    func triggerForm(_ context: RequestContext) throws -> HTTPResponse {
        let pipeline = try self.configuredPipeline(context)
        let name = pipeline.name
        try self.authorize(context, .trigger, pipeline: name)
        let form = try self.verifiedForm(context, action: "trigger:\(name)")
        var supplied: [String: String] = [:]
        for (key, value) in form where key.hasPrefix("p.") && !value.isEmpty { supplied[String(key.dropFirst(2))] = value }
        do {
            let (job, _) = try self.createJob(context, pipeline: pipeline, supplied: supplied)
            return .redirect(to: "\(context.mountPath)/jobs/\(job.id)")
        } catch let error as HTTPError where error.status == .badRequest {
            let page = try self.renderPipeline(
                context, pipeline, values: supplied, errors: error.fieldErrors, message: "Please correct the marked fields.")
            return .html(page, status: .badRequest)
        }
    }

    /// `POST /jobs/{id}/cancel` (form).
    func cancelForm(_ context: RequestContext) throws -> HTTPResponse {
        let job = try self.visibleJob(context, verb: .cancel)
        _ = try self.verifiedForm(context, action: "cancel:\(job.id)")
        if !job.state.isTerminal { _ = try self.cancelJob(context, job) }
        return .redirect(to: "\(context.mountPath)/jobs/\(job.id)")
    }

    /// `POST /jobs/{id}/retry` (form).
    func retryForm(_ context: RequestContext) throws -> HTTPResponse {
        let job = try self.visibleJob(context, verb: .retry)
        _ = try self.verifiedForm(context, action: "retry:\(job.id)")
        _ = try self.retryJob(context, job)
        return .redirect(to: "\(context.mountPath)/jobs/\(job.id)")
    }

    /// The decoded form body, after checking its CSRF token for this caller and action (403).
    func verifiedForm(_ context: RequestContext, action: String) throws -> [String: String] {
        guard context.request.mediaType == "application/x-www-form-urlencoded" else {
            throw HTTPError(.unsupportedMediaType, "forms are sent as application/x-www-form-urlencoded")
        }
        let form = FormDecoder.decode(String(decoding: context.request.body, as: UTF8.self))
        // Field names are parameter names: bytes must match the configuration's, so a name in
        // another normal form is refused like one in the URL.
        if form.keys.contains(where: { !UnicodeNames.isNFC($0) }) {
            throw HTTPError(.badRequest, "a form field name is not in Unicode NFC (canonical composition)")
        }
        guard let token = form["csrf"], self.csrf.isValid(token, for: context.caller, action: action) else {
            self.audit(context, event: "csrf", allowed: false, reason: "missing, expired or foreign form token for \(action)")
            throw HTTPError(.forbidden, "this form has expired or was not issued to you; reload the page and try again")
        }
        return form
    }

    /// The buttons the job page shows, each with its own token.
    func jobActions(_ context: RequestContext, _ job: JobRecord) -> [JobAction] {
        var actions: [JobAction] = []
        if !job.state.isTerminal && self.may(context, .cancel, job.pipeline, parameters: job.params) {
            actions.append(
                JobAction(
                    label: "Cancel job", path: "/jobs/\(job.id)/cancel",
                    token: self.csrf.token(for: context.caller, action: "cancel:\(job.id)")))
        }
        if (job.state == .failed || job.state == .cancelled) && job.wasApproved
            && self.may(context, .retry, job.pipeline, parameters: job.params)
        {
            actions.append(
                JobAction(
                    label: job.state == .cancelled ? "Retry unfinished tasks" : "Retry failed tasks", path: "/jobs/\(job.id)/retry",
                    token: self.csrf.token(for: context.caller, action: "retry:\(job.id)")))
        }
        return actions
    }
}
