import Foundation
import JSON
import JobStore
import Workflow

/// The JSON shapes of the API. Keys are snake_case; times are ISO 8601 with milliseconds (UTC).
enum JobJSON {
    struct Job: Encodable {
        /// For a job whose pipeline required approval: what it needed, and (in the full job, not
        /// in lists) the decisions.
        var approval: Approval?
        var id: Int64
        var pipeline: String
        var state: String
        var triggered_by: String
        var identity_source: String
        var params: [String: String]
        /// Names of secret parameters the trigger supplied; their values are never stored or shown.
        var secret_params: [String]
        var cancel_requested: Bool
        var created_at: String
        var started_at: String?
        var finished_at: String?
        var tasks: [Task]?
        var links: Links
    }

    struct Task: Encodable {
        var name: String
        var state: String
        var needs: [String]
        var kind: String
        var attempt: Int
        var max_attempts: Int
        var exit_code: Int32?
        var message: String?
        var started_at: String?
        var finished_at: String?
        /// For a task waiting to be retried: when the next attempt may start.
        var retry_at: String?
    }

    struct Approval: Encodable {
        struct Decision: Encodable {
            var approver: String
            var identity_source: String
            var decision: String
            var comment: String
            var at: String
        }

        var required: Int
        var expires_at: String
        var decisions: [Decision]?
    }

    struct Links: Encodable {
        var `self`: String
        var html: String
    }

    struct JobList: Encodable {
        var jobs: [Job]
        /// The `before` cursor of the next page (newest first), when there may be more.
        var next_before: Int64?
        /// The `after` cursor of the next page (`sort=oldest`), when there may be more.
        var next_after: Int64?
    }

    struct Pipeline: Encodable {
        struct Parameter: Encodable {
            var name: String
            var type: String
            var required: Bool
            var `default`: String?
            var description: String
            var min: Double?
            var max: Double?
            var min_length: Int?
            var max_length: Int?
            var values: [String]?
            var max_items: Int?
            var pattern: String?
            var secret: Bool
            var significant: Bool
        }

        var name: String
        var description: String
        var params: [Parameter]
        var tasks: [PipelineTask]
        var verbs: [String]
        var concurrency: Int?
        var queue_limit: Int?
        var on_duplicate: String
        var schedules: [Schedule]?
        var approval: PipelineApproval?
    }

    /// A pipeline's `approval` rule.
    struct PipelineApproval: Encodable {
        var required: Int
        var expire_after_minutes: Int
    }

    /// A pipeline's schedule, with its next three runs (UTC).
    struct Schedule: Encodable {
        var name: String
        var cron: String
        var time_zone: String
        var params: [String: String]
        var missed: String
        var catch_up_limit: Int?
        var principal: String
        var next_runs: [String]
    }

    struct PipelineTask: Encodable {
        var name: String
        var needs: [String]
        var kind: String
        var retries: Int
        var timeout_seconds: Double?
        var resources: [String: Int]?
    }

    struct PipelineList: Encodable {
        var pipelines: [Pipeline]
    }

    static func job(_ record: JobRecord, mountPath: String, includeTasks: Bool) -> Job {
        Job(
            approval: record.approval.map { a in
                Approval(
                    required: a.required, expires_at: self.time(a.expiresAt),
                    decisions: includeTasks
                        ? record.approvals.map {
                            Approval.Decision(
                                approver: $0.approver, identity_source: $0.identitySource, decision: $0.approves ? "approve" : "reject",
                                comment: $0.comment, at: self.time($0.at))
                        } : nil)
            },
            id: record.id, pipeline: record.pipeline, state: record.state.rawValue, triggered_by: record.triggeredBy,
            identity_source: record.identitySource, params: record.params, secret_params: record.secretParameters,
            cancel_requested: record.cancelRequested,
            created_at: self.time(record.createdAt), started_at: record.startedAt.map(self.time),
            finished_at: record.finishedAt.map(self.time),
            tasks: includeTasks
                ? record.tasks.map {
                    Task(
                        name: $0.name, state: $0.state.rawValue, needs: $0.needs, kind: $0.kind.rawValue, attempt: $0.attempt,
                        max_attempts: $0.options.retry.retries + 1, exit_code: $0.exitCode, message: $0.message,
                        started_at: $0.startedAt.map(self.time), finished_at: $0.finishedAt.map(self.time),
                        retry_at: $0.state == .queued ? $0.retryAt.map(self.time) : nil)
                } : nil,
            links: Links(self: "\(mountPath)/api/v1/jobs/\(record.id)", html: "\(mountPath)/jobs/\(record.id)"))
    }

    static func pipeline(_ p: PipelineDefinition, verbs: [String]) -> Pipeline {
        Pipeline(
            name: p.name, description: p.description,
            params: p.parameters.map(Self.parameter),
            tasks: p.tasks.map {
                PipelineTask(
                    name: $0.name, needs: $0.needs, kind: $0.kind.rawValue, retries: $0.retry.retries, timeout_seconds: $0.timeout,
                    resources: $0.resources.isEmpty ? nil : $0.resources)
            }, verbs: verbs, concurrency: p.concurrency, queue_limit: p.queueLimit, on_duplicate: p.onDuplicate.rawValue,
            schedules: p.schedules.isEmpty ? nil : p.schedules.map { Self.schedule($0) },
            approval: p.approval.map { PipelineApproval(required: $0.required, expire_after_minutes: Int($0.expireAfter / 60)) })
    }

    static func schedule(_ s: PipelineSchedule, now: Date = Date()) -> Schedule {
        var missed = "latest"
        var limit: Int? = nil
        switch s.missed {
        case .latest: break
        case .none: missed = "none"
        case .all(let n): (missed, limit) = ("all", n)
        }
        return Schedule(
            name: s.name, cron: s.schedule.expression.text, time_zone: s.schedule.zoneName,
            params: Dictionary(s.params.map { ($0.name, $0.value.source) }, uniquingKeysWith: { a, _ in a }), missed: missed,
            catch_up_limit: limit, principal: s.principal,
            next_runs: s.schedule.fireTimes(after: now, through: .distantFuture, limit: 3).map(Self.time))
    }

    /// `2026-11-23T12:21:17.887Z`. Formatted from whole milliseconds: the stored value is
    /// milliseconds, and Foundation's fractional-second formatting truncates the binary
    /// double (20.123 s would print as .122).
    static func parameter(_ spec: ParameterSpec) -> Pipeline.Parameter {
        var p = Pipeline.Parameter(
            name: spec.name, type: spec.type.name, required: spec.isRequired && spec.defaultValue == nil, default: spec.defaultValue,
            description: spec.description, pattern: spec.pattern?.source, secret: spec.isSecret, significant: spec.isSignificant)
        switch spec.type {
        case .string(let minLength, let maxLength): (p.min_length, p.max_length) = (minLength, maxLength)
        case .integer(let min, let max): (p.min, p.max) = (min.map(Double.init), max.map(Double.init))
        case .number(let min, let max): (p.min, p.max) = (min, max)
        case .choice(let values): p.values = values
        case .list(let maxItems): p.max_items = maxItems
        case .boolean, .date, .datetime: break
        }
        return p
    }

    /// `date` in UTC with milliseconds and `Z` (`UTCTime`).
    static func time(_ date: Date) -> String {
        UTCTime.string(milliseconds: Int64((date.timeIntervalSince1970 * 1000).rounded()))
    }

    /// The job as JSON bytes, written by hand in the same shape and key order as `encode(job(...))`
    /// (a test holds the two equal): the API's hottest answer.
    static func bytes(_ record: JobRecord, mountPath: String, includeTasks: Bool) -> [UInt8] {
        var w = JSONWriter(capacity: includeTasks ? 512 + record.tasks.count * 160 : 384)
        self.write(record, mountPath: mountPath, includeTasks: includeTasks, into: &w)
        return w.bytes + [0x0a]
    }

    /// One page of a job's tasks (`?tasks=`, `?task_limit=`, `?task_cursor=`).
    struct TaskPage {
        /// The tasks of the page, in the job's order.
        var tasks: [TaskRecord]
        /// How many of the job's tasks are in each state (all tasks, not only the page's).
        var counts: [String: Int]
        /// How many tasks match the state filter.
        var matching: Int
        /// The cursor of the next page, if there is one.
        var nextCursor: Int?
        /// Attempts started over all the job's tasks. With `counts`, it changes whenever any
        /// task's state does: counts can only stay equal when one task goes back to the queue as
        /// another starts, and every start adds an attempt. So a long-poll on a page wakes on
        /// every change of state, whichever tasks the page holds.
        var attempts: Int = 0
    }

    /// The job with one page of its tasks, plus `task_counts` and `task_page` (`matching`,
    /// `next_cursor`).
    static func bytes(_ record: JobRecord, mountPath: String, page: TaskPage) -> [UInt8] {
        var w = JSONWriter(capacity: 640 + page.tasks.count * 160)
        self.write(record, mountPath: mountPath, includeTasks: true, page: page, into: &w)
        return w.bytes + [0x0a]
    }

    /// A page of jobs as JSON bytes (see `bytes`).
    static func listBytes(_ jobs: [JobRecord], mountPath: String, nextBefore: Int64?, nextAfter: Int64?) -> [UInt8] {
        var w = JSONWriter(capacity: 64 + jobs.count * 384)
        w.object { w in
            w.key("jobs")
            w.array { w in for job in jobs { self.write(job, mountPath: mountPath, includeTasks: false, into: &w) } }
            if let nextAfter {
                w.key("next_after")
                w.int(nextAfter)
            }
            if let nextBefore {
                w.key("next_before")
                w.int(nextBefore)
            }
        }
        return w.bytes + [0x0a]
    }

    private static func write(_ r: JobRecord, mountPath: String, includeTasks: Bool, page: TaskPage? = nil, into w: inout JSONWriter) {
        w.object { w in
            if let approval = r.approval {
                w.key("approval")
                w.object { w in
                    if includeTasks {
                        w.key("decisions")
                        w.array { w in
                            for d in r.approvals {
                                w.object { w in
                                    w.key("approver")
                                    w.string(d.approver)
                                    w.key("at")
                                    w.string(self.time(d.at))
                                    w.key("comment")
                                    w.string(d.comment)
                                    w.key("decision")
                                    w.string(d.approves ? "approve" : "reject")
                                    w.key("identity_source")
                                    w.string(d.identitySource)
                                }
                            }
                        }
                    }
                    w.key("expires_at")
                    w.string(self.time(approval.expiresAt))
                    w.key("required")
                    w.int(approval.required)
                }
            }
            w.key("cancel_requested")
            w.bool(r.cancelRequested)
            w.key("created_at")
            w.string(self.time(r.createdAt))
            if let finished = r.finishedAt {
                w.key("finished_at")
                w.string(self.time(finished))
            }
            w.key("id")
            w.int(r.id)
            w.key("identity_source")
            w.string(r.identitySource)
            w.key("links")
            w.object { w in
                w.key("html")
                w.string("\(mountPath)/jobs/\(r.id)")
                w.key("self")
                w.string("\(mountPath)/api/v1/jobs/\(r.id)")
            }
            w.key("params")
            w.object { w in
                for (name, value) in r.params.sorted(by: { $0.key < $1.key }) {
                    w.key(name)
                    w.string(value)
                }
            }
            w.key("pipeline")
            w.string(r.pipeline)
            w.key("secret_params")
            w.array { w in for name in r.secretParameters { w.string(name) } }
            if let started = r.startedAt {
                w.key("started_at")
                w.string(self.time(started))
            }
            w.key("state")
            w.string(r.state.rawValue)
            if let page {
                w.key("task_counts")
                w.object { w in
                    for (state, count) in page.counts.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
                        w.key(state)
                        w.int(Int64(count))
                    }
                }
                w.key("task_page")
                w.object { w in
                    w.key("attempts")
                    w.int(Int64(page.attempts))
                    w.key("matching")
                    w.int(Int64(page.matching))
                    if let next = page.nextCursor {
                        w.key("next_cursor")
                        w.int(Int64(next))
                    }
                }
            }
            if includeTasks {
                w.key("tasks")
                w.array { w in for task in page?.tasks ?? r.tasks { self.write(task, into: &w) } }
            }
            w.key("triggered_by")
            w.string(r.triggeredBy)
        }
    }

    private static func write(_ t: TaskRecord, into w: inout JSONWriter) {
        w.object { w in
            w.key("attempt")
            w.int(t.attempt)
            if let code = t.exitCode {
                w.key("exit_code")
                w.int(code)
            }
            if let finished = t.finishedAt {
                w.key("finished_at")
                w.string(self.time(finished))
            }
            w.key("kind")
            w.string(t.kind.rawValue)
            w.key("max_attempts")
            w.int(t.options.retry.retries + 1)
            if let message = t.message {
                w.key("message")
                w.string(message)
            }
            w.key("name")
            w.string(t.name)
            w.key("needs")
            w.array { w in for need in t.needs { w.string(need) } }
            if !t.pastAttempts.isEmpty {
                w.key("past_attempts")
                w.array { w in for past in t.pastAttempts { self.write(past, into: &w) } }
            }
            if t.state == .queued, let retryAt = t.retryAt {
                w.key("retry_at")
                w.string(self.time(retryAt))
            }
            if let started = t.startedAt {
                w.key("started_at")
                w.string(self.time(started))
            }
            w.key("state")
            w.string(t.state.rawValue)
        }
    }

    /// An earlier attempt: its number, outcome (`failed` for one its policy retried, else the state a
    /// person's retry found), times, exit code and note.
    private static func write(_ a: PastAttempt, into w: inout JSONWriter) {
        w.object { w in
            w.key("attempt")
            w.int(a.attempt)
            if let code = a.exitCode {
                w.key("exit_code")
                w.int(code)
            }
            if let finished = a.finishedAt {
                w.key("finished_at")
                w.string(self.time(finished))
            }
            if let message = a.message {
                w.key("message")
                w.string(message)
            }
            w.key("started_at")
            w.string(self.time(a.startedAt))
            w.key("state")
            w.string(a.outcome.rawValue)
        }
    }

    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding these plain structs cannot fail; an empty body would show up in tests at once.
        return Array((try? encoder.encode(value)) ?? Data()) + [0x0a]
    }
}
