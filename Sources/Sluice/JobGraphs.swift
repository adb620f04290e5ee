import Foundation
import JobStore
import Pages
import Workflow

/// The pictures on the job and pipeline pages, from records: the task graph coloured by state,
/// and the timeline (Gantt strip) of the tasks that started.
enum JobGraphs {
    /// The job's task graph; nodes link to their logs when the viewer may read them.
    static func graph(_ job: JobRecord, mountPath: String, canReadLogs: Bool) -> String {
        let nodes = job.tasks.map { task in
            GraphNode(
                name: task.name, needs: task.needs, state: task.state.rawValue,
                href: canReadLogs && task.attempt > 0 ? "\(mountPath)/jobs/\(job.id)/tasks/\(HTML.pathSegment(task.name))/log" : nil)
        }
        return TaskGraph.svg(nodes, id: "job-graph")
    }

    /// The job's timeline, in seconds since its first task started.
    static func timeline(_ job: JobRecord, now: Date = Date()) -> String {
        guard let origin = job.tasks.compactMap(\.startedAt).min() else { return "" }
        let bars = job.tasks.map { task in
            TimelineBar(
                name: task.name, state: task.state.rawValue, start: task.startedAt.map { $0.timeIntervalSince(origin) },
                end: task.state.isTerminal ? task.finishedAt.map { $0.timeIntervalSince(origin) } : nil)
        }
        return Timeline.svg(bars, now: (job.finishedAt ?? now).timeIntervalSince(origin), id: "job-timeline")
    }

    /// A pipeline's task graph (no states, no links).
    static func graph(_ pipeline: PipelineDefinition) -> String {
        TaskGraph.svg(pipeline.tasks.map { GraphNode(name: $0.name, needs: $0.needs) }, id: "pipeline-graph")
    }
}
