import Foundation
import JobStore
import Pages
import Workflow

/// The pictures on the job and pipeline pages, from records: the task graph coloured by state,
/// and the timeline (Gantt strip) of the tasks that started.
enum JobGraphs {
    /// The job's task graph; nodes link to their logs when the viewer may read them, and the boxes
    /// of a collapsed graph to the job page listing their layers' tasks.
    /// `layers`: each task's layer, if the caller has them (see `layers(_:)`).
    static func graph(_ job: JobRecord, mountPath: String, canReadLogs: Bool, layers: [Int]? = nil) -> String {
        // A collapsed graph links its boxes, not its tasks: no per-task link to build.
        let linksTasks = canReadLogs && job.tasks.count <= TaskGraph.defaultMaxNodes
        let nodes = job.tasks.map { task in
            GraphNode(
                name: task.name, needs: task.needs, state: task.state.rawValue,
                href: linksTasks && task.attempt > 0 ? "\(mountPath)/jobs/\(job.id)/tasks/\(HTML.pathSegment(task.name))/log" : nil)
        }
        return TaskGraph.svg(nodes, id: "job-graph", layerHref: "\(mountPath)/jobs/\(job.id)?layer=", layers: layers)
    }

    /// Each task's layer in the job's graph (counted from 0), as the graph draws it: the layers
    /// stored with the tasks when every task has one (so a kept overview and a `?layer=` page
    /// agree even if the layering changes in a later version), else computed.
    static func layers(_ job: JobRecord) -> [Int] {
        let stored = job.tasks.compactMap(\.layer)
        if stored.count == job.tasks.count, stored.allSatisfy({ $0 >= 0 && $0 < job.tasks.count }) { return stored }
        return TaskGraph.layers(of: job.tasks.map { GraphNode(name: $0.name, needs: $0.needs) })
    }

    /// The job's timeline from its start: every attempt of each task in `shown` (indices into
    /// `job.tasks`, all of them when nil). Empty before any task started. (A large job's grouped
    /// timeline is `timeline(_:tallies:…)`.)
    static func timeline(_ job: JobRecord, shown: [Int]? = nil, now: Date = Date()) -> String {
        let first = job.tasks.lazy.compactMap({ $0.pastAttempts.first?.startedAt ?? $0.startedAt }).min()
        guard let origin = [job.startedAt, first].compactMap({ $0 }).min() else { return "" }
        let end = (job.finishedAt ?? now).timeIntervalSince(origin)
        func seconds(_ date: Date) -> Double { date.timeIntervalSince(origin) }
        let bars = (shown ?? Array(job.tasks.indices)).map { i in
            let task = job.tasks[i]
            var attempts = task.pastAttempts.enumerated().map { k, past in
                // An earlier attempt with no recorded end ended when the next one started.
                let next = k + 1 < task.pastAttempts.count ? task.pastAttempts[k + 1].startedAt : task.startedAt
                return TimelineAttempt(
                    number: past.attempt, state: past.outcome.rawValue,
                    start: seconds(past.startedAt), end: seconds(past.finishedAt ?? next ?? past.startedAt),
                    note: past.message ?? "")
            }
            var retryAt: Double? = nil
            if let started = task.startedAt, task.attempt > 0 {
                switch task.state {
                case .running:
                    attempts.append(TimelineAttempt(number: task.attempt, state: "running", start: seconds(started), end: nil))
                case .queued:
                    // Queued after an attempt: it ended and waits to be retried.
                    if let finished = task.finishedAt {
                        attempts.append(
                            TimelineAttempt(
                                number: task.attempt, state: TaskState.failed.rawValue, start: seconds(started), end: seconds(finished),
                                note: task.message ?? ""))
                        retryAt = task.retryAt.map(seconds)
                    }
                case .succeeded, .failed, .skipped, .cancelled:
                    attempts.append(
                        TimelineAttempt(
                            number: task.attempt, state: task.state.rawValue, start: seconds(started),
                            end: seconds(task.finishedAt ?? started), note: task.message ?? ""))
                }
            }
            return TimelineBar(
                name: task.name, state: task.state.rawValue, attempts: attempts, retryAt: retryAt,
                maxAttempts: task.options.retry.retries + 1)
        }
        return Timeline.svg(bars, now: end, id: "job-timeline")
    }

    /// The collapsed graph of a large job from its tallies (`JobOverview`), its boxes linking to
    /// the job page listing their layers' tasks: what `graph(_:…)` draws for it from its tasks.
    static func graph(_ job: JobRecord, tallies: [LayerTally], mountPath: String) -> String {
        var layers = [TaskGraph.LayerCount](repeating: .init(tasks: 0, states: [:]), count: self.layerCount(tallies))
        for tally in tallies where layers.indices.contains(tally.layer) {
            layers[tally.layer].tasks += tally.tasks
            layers[tally.layer].states[tally.state.rawValue, default: 0] += tally.tasks
        }
        return TaskGraph.collapsed(layers, id: "job-graph", layerHref: "\(mountPath)/jobs/\(job.id)?layer=")
    }

    /// How many layers tallies cover.
    static func layerCount(_ tallies: [LayerTally]) -> Int { max(0, (tallies.lazy.map(\.layer).max() ?? -1) + 1) }

    /// A large job's timeline from its start, from its tallies: one row per layer or run of layers
    /// as the collapsed graph groups them, each linking to the page that lists their tasks. Empty
    /// before any task started.
    static func timeline(_ job: JobRecord, tallies: [LayerTally], mountPath: String = "", now: Date = Date()) -> String {
        let first = tallies.lazy.compactMap(\.firstStart).min()
        guard let origin = [job.startedAt, first].compactMap({ $0 }).min() else { return "" }
        func seconds(_ date: Date) -> Double { date.timeIntervalSince(origin) }
        let layerCount = self.layerCount(tallies)
        let perRun = TaskGraph.layersPerRun(layerCount)
        var groups = TaskGraph.layerRuns(layerCount).map { run in
            TimelineGroup(
                label: TaskGraph.layerHeading(run.lowerBound + 1, run.upperBound + 1),
                href: "\(mountPath)/jobs/\(job.id)?layer=\(TaskGraph.layerRange(run.lowerBound + 1, run.upperBound + 1))#tasks", tasks: 0,
                counts: [:], start: nil, end: nil, retries: 0)
        }
        var unfinished = [Bool](repeating: false, count: groups.count)
        for tally in tallies where tally.layer >= 0 {
            let g = tally.layer / perRun
            groups[g].tasks += tally.tasks
            groups[g].counts[tally.state.rawValue, default: 0] += tally.tasks
            groups[g].retries += tally.retries
            if let started = tally.firstStart { groups[g].start = min(groups[g].start ?? .infinity, seconds(started)) }
            if tally.state.isTerminal {
                if let finished = tally.lastEnd { groups[g].end = max(groups[g].end ?? 0, seconds(finished)) }
            } else {
                unfinished[g] = true
            }
        }
        for g in groups.indices where unfinished[g] || groups[g].start == nil { groups[g].end = nil }
        return Timeline.grouped(groups, now: (job.finishedAt ?? now).timeIntervalSince(origin), id: "job-timeline")
    }

    /// A pipeline's task graph (no states, no links).
    static func graph(_ pipeline: PipelineDefinition) -> String {
        TaskGraph.svg(pipeline.tasks.map { GraphNode(name: $0.name, needs: $0.needs) }, id: "pipeline-graph")
    }
}
