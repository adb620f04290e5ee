public import Foundation
public import Scheduling

/// A schedule of a pipeline: when it triggers a job, with which parameters, and what it does
/// about the times it missed. A scheduled job is triggered like any other, under the principal
/// `schedule:<name>` (identity source `schedule`).
public struct PipelineSchedule: Sendable, Hashable {
    /// The schedule's name, unique across all pipelines (`[A-Za-z0-9._-]`).
    public var name: String
    /// When it fires, on whose clock.
    public var schedule: CronSchedule
    /// Parameter values, with placeholders for the fire time (`FireTimeTemplate`), by name.
    public var params: [(name: String, value: FireTimeTemplate)]
    /// What it does about fire times that passed while Sluice was not running.
    public var missed: MissedRuns

    /// Creates a schedule.
    public init(name: String, schedule: CronSchedule, params: [(name: String, value: FireTimeTemplate)] = [], missed: MissedRuns = .latest)
    {
        self.name = name
        self.schedule = schedule
        self.params = params
        self.missed = missed
    }

    /// The principal a scheduled job is triggered as.
    public var principal: String { "schedule:\(self.name)" }

    /// The identity source of scheduled jobs.
    public static let identitySource = "schedule"

    /// What a kept mark is computed for: the expression's meaning and the zone's configured name.
    /// A mark kept for another definition (the configuration changed) is not caught up from; one
    /// that differs only in spelling (`@daily` for `0 0 * * *`) is.
    public var fingerprint: String { "\(self.schedule.expression.canonical)|\(self.schedule.zoneName)" }

    /// The parameter values for the run due at `instant`, before the pipeline's validation.
    public func values(at instant: Date) -> [String: String] {
        var values: [String: String] = [:]
        for (name, template) in self.params { values[name] = template.render(instant, in: self.schedule.timeZone) }
        return values
    }

    public static func == (a: PipelineSchedule, b: PipelineSchedule) -> Bool {
        a.name == b.name && a.schedule == b.schedule && a.missed == b.missed
            && a.params.map(\.name) == b.params.map(\.name) && a.params.map(\.value) == b.params.map(\.value)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.name)
        hasher.combine(self.schedule)
    }
}
