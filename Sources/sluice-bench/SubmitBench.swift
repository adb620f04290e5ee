import Foundation
import JobStore
import Locking
import SQLiteStore
import SystemCalls

#if canImport(Glibc)
    import Glibc
#endif

/// `sluice-bench store-submit`: durable triggers straight into `SQLiteJobStore.submit` from T
/// threads, with group commit (up to 64 per commit) or without (`--batch 1`: a commit, and an
/// fsync, per trigger: the reference). No HTTP and no runner, so the figure is the store's:
/// what group commit changes on the machine's disk. Prints one JSON line:
///
///     {"threads":16,"batch":64,"triggers":4000,"seconds":0.52,"per_second":7692,"commits":310}
enum SubmitBench {
    static func run(_ options: Options) {
        let threads = Int(options.positive("--threads", default: 16))
        let triggers = Int(options.positive("--triggers", default: 2000))
        let batch = Int(options.positive("--batch", default: 64))
        let directory =
            (ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp")
            + "/sluice-bench-submit-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let store = try SQLiteJobStore(path: directory + "/sluice.db", maxTriggerBatch: batch)
            let next = Locked(0)
            let failures = Locked(0)
            let group = DispatchGroup()
            let started = ContinuousClock.now
            for _ in 0..<threads {
                group.enter()
                Thread {
                    defer { group.leave() }
                    while true {
                        let n = next.withLock { value -> Int in
                            value += 1
                            return value
                        }
                        guard n <= triggers else { return }
                        let job = NewJob(
                            pipeline: "bench", triggeredBy: "bench", identitySource: "service_token", params: ["n": String(n)],
                            workingDirectory: directory, tasks: [TaskRecord(name: "only", needs: [], argv: ["/bin/true"])])
                        do {
                            guard case .created = try store.submit(job, rules: SubmissionRules()) else {
                                failures.withLock { $0 += 1 }
                                continue
                            }
                        } catch {
                            failures.withLock { $0 += 1 }
                        }
                    }
                }.start()
            }
            group.wait()
            let elapsed = ContinuousClock.now - started
            let seconds = elapsed.inSeconds
            guard failures.withLock({ $0 }) == 0 else { fail("\(failures.withLock { $0 }) of \(triggers) triggers failed") }
            let commits = store.submissionCommits.commits
            print(
                #"{"threads":\#(threads),"batch":\#(batch),"triggers":\#(triggers),"seconds":\#(seconds),"per_second":\#(Double(triggers) / seconds),"commits":\#(commits)}"#
            )
        } catch {
            fail("\(error)")
        }
    }
}
