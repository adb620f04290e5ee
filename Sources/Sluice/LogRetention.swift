import Foundation
import JobStore
import Logging

/// Deletes task logs of jobs that finished more than the retention period ago
/// (`server.log_retention_days`), once at start and then every six hours. Job records stay:
/// only the log files go, and the log API then answers that the log is gone.
///
/// The sweep walks the log directory (one subdirectory per job) rather than the job table, so
/// its cost follows what is on disk, not the whole history.
enum LogRetention {
    /// Removes the log directories of jobs finished before `cutoff`; returns how many.
    @discardableResult
    static func sweep(store: any JobStore, logDirectory: String, cutoff: Date, logger: Logger) -> Int {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: logDirectory)) ?? []
        let ids = entries.compactMap { Int64($0) }.filter { $0 > 0 }
        var removed = 0
        var start = 0
        while start < ids.count {
            let chunk = Array(ids[start..<min(start + 500, ids.count)])
            start += chunk.count
            let expired: [JobRecord]
            do { expired = try store.jobs(JobQuery(limit: chunk.count, ids: chunk, finishedBefore: cutoff)) } catch {
                logger.error("log retention: cannot query jobs", ["error": "\(error)"])
                return removed
            }
            for job in expired {
                do {
                    try FileManager.default.removeItem(atPath: "\(logDirectory)/\(job.id)")
                    removed += 1
                } catch {
                    logger.warning("log retention: cannot remove logs", ["job.id": "\(job.id)", "error": "\(error)"])
                }
            }
        }
        if removed > 0 { logger.info("log retention: removed old logs", ["jobs": "\(removed)"]) }
        return removed
    }

    /// Sweeps now and every `interval` seconds on a background queue; keep the timer alive.
    static func schedule(store: any JobStore, logDirectory: String, days: Int, interval: Double = 6 * 3600) -> DispatchSourceTimer {
        let logger = Logger(label: "retention")
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "sluice.log-retention", qos: .utility))
        timer.schedule(deadline: .now(), repeating: interval)
        timer.setEventHandler {
            self.sweep(
                store: store, logDirectory: logDirectory, cutoff: Date().addingTimeInterval(-Double(days) * 86400), logger: logger)
        }
        timer.resume()
        return timer
    }
}
