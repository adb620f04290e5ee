import Foundation
import JobStore
import Pages

/// The job page's pictures, from a job record: the task graph and the timeline.
enum JobGraphs {
    static func graph(_ job: JobRecord, mountPath: String, canReadLogs: Bool) -> String { "" }
    static func timeline(_ job: JobRecord) -> String { "" }
}
