import ByteStrings
import Foundation
import JSON
import Scheduling
import Workflow

extension ConfigLoader {
    /// Reads a pipeline's `schedules`: by name, each `{ cron, time_zone (default UTC), params,
    /// missed: latest | none | all, catch_up_limit (with all; default 10) }`. The parameters are
    /// checked as a run would check them, at the schedule's next fire time, so `sluice check`
    /// refuses a schedule whose runs would all be refused.
    static func readSchedules(
        _ value: JSONValue?, path: String, pipeline: PipelineDefinition, problems: ProblemList
    ) -> [PipelineSchedule] {
        guard let value else { return [] }
        var all = ConfigReader(value, path: path, problems: problems)
        var schedules: [PipelineSchedule] = []
        let declared = Dictionary(pipeline.parameters.map { (ByteString($0.name), $0) }, uniquingKeysWith: { a, _ in a })
        for name in all.keys {
            let p = "\(path).\(name)"
            if !ObjectName.isValid(name) {
                problems.add(p, "invalid schedule name (use letters, digits, . _ -; start with a letter or digit)")
            }
            var r = ConfigReader(all.value(name), path: p, problems: problems)
            var expression: CronExpression? = nil
            if let text = r.string("cron") {
                do { expression = try CronExpression(text) } catch { problems.add("\(p).cron", error.message) }
            } else {
                problems.add("\(p).cron", "required: when the schedule fires, e.g. \"30 2 * * *\" or \"@daily\"")
            }
            var zone: TimeZone? = nil
            let zoneName = r.string("time_zone") ?? "UTC"
            do { zone = try CronSchedule.zone(zoneName) } catch { problems.add("\(p).time_zone", error.message) }
            var params: [(name: String, value: FireTimeTemplate)] = []
            var reader = ConfigReader(r.value("params"), path: "\(p).params", problems: problems)
            for key in reader.keys {
                guard let text = reader.string(key) else { continue }
                guard let spec = declared[ByteString(key)], spec.name.utf8.elementsEqual(key.utf8) else {
                    problems.add("\(p).params.\(key)", "not a parameter of this pipeline")
                    continue
                }
                if spec.isSecret {
                    problems.add(
                        "\(p).params.\(key)", "a secret parameter cannot come from a schedule (its value would be in the configuration)")
                    continue
                }
                do { params.append((key, try FireTimeTemplate(text))) } catch { problems.add("\(p).params.\(key)", error.message) }
            }
            reader.finish()
            var missed = MissedRuns.latest
            switch r.string("missed") {
            case nil, "latest": break
            case "none": missed = .none
            case "all": missed = .all(limit: 10)
            case let other?: problems.add("\(p).missed", "unknown policy \"\(other)\" (known: latest, none, all)")
            }
            if let limit = r.int("catch_up_limit", in: 1...1000) {
                if case .all = missed { missed = .all(limit: limit) } else { problems.add("\(p).catch_up_limit", "only with missed: all") }
            }
            r.finish()
            guard let expression, let zone else { continue }
            let schedule = PipelineSchedule(name: name, schedule: CronSchedule(expression, timeZone: zone), params: params, missed: missed)
            // The parameters of its next run, checked as the run will be.
            let sample = schedule.schedule.next(after: Date()) ?? Date()
            do { _ = try pipeline.resolveParameters(schedule.values(at: sample)) } catch {
                for (field, message) in error.fields.sorted(by: { $0.key < $1.key }) {
                    problems.add(
                        "\(p).params", "the run at \(FireTimeTemplate.iso(sample, in: zone)) would be refused: \(field): \(message)")
                }
            }
            schedules.append(schedule)
        }
        all.finish()
        return schedules
    }

    /// Problems with schedule names used by more than one pipeline (compared as bytes): a
    /// schedule's name is its principal, `schedule:<name>`.
    static func checkScheduleNames(_ pipelines: [String: PipelineDefinition], problems: ProblemList) {
        var seen: [ByteString: String] = [:]
        for pipeline in pipelines.keys.sorted() {
            for schedule in pipelines[pipeline]!.schedules {
                if let first = seen[ByteString(schedule.name)] {
                    problems.add(
                        "pipelines.\(pipeline).schedules.\(schedule.name)",
                        "schedule names are unique across pipelines (the principal schedule:\(schedule.name)); \(first) has one too")
                } else {
                    seen[ByteString(schedule.name)] = pipeline
                }
            }
        }
    }
}
