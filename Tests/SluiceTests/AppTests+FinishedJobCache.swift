import Foundation
import HTTP
import JobStore
import Locking
import Testing

@testable import Sluice

/// `GET /api/v1/jobs/{id}` keeps the JSON of finished jobs (`FinishedJobCache`): the kept answer
/// must be byte-for-byte the fresh one, never outlive a change of the job, and be authorized
/// like a read.
@Suite struct FinishedJobCacheTests {
    @Test("A finished job's JSON is kept after the first read and served byte-equal, with the same ETag; a running job's is not kept")
    func keptAndEqual() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let running = try h.createJob()
        try h.start(running, task: "extract")
        _ = h.send("GET", "/api/v1/jobs/\(running.id)")
        #expect(h.app.finishedJobs.size.entries == 0)

        let job = try h.createJob(params: ["date": "2024-05-02"])
        try h.finish(job)
        let first = h.send("GET", "/api/v1/jobs/\(job.id)")
        #expect(first.status.code == 200)
        #expect(h.app.finishedJobs.size.entries == 1)
        let second = h.send("GET", "/api/v1/jobs/\(job.id)")
        #expect(second.body == first.body && second.header("ETag") == first.header("ETag"))
        let fresh = try #require(try h.store.job(id: job.id))
        #expect(second.body == JobJSON.bytes(fresh, mountPath: "/sluice", includeTasks: true))
        // A conditional request against the kept tag is a 304.
        let conditional = h.send("GET", "/api/v1/jobs/\(job.id)", params: ["HTTP_IF_NONE_MATCH": first.header("ETag") ?? ""])
        #expect(conditional.status.code == 304)
    }

    @Test("A retry made outside this app (another host) makes the next read fresh: queued, then the new outcome")
    func retryInvalidates() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        try h.finish(job, as: .failed, jobState: .failed)
        let failed = try AppHarness.json(h.send("GET", "/api/v1/jobs/\(job.id)"))
        #expect(failed["state"] as? String == "failed")
        #expect(try h.store.retry(jobID: job.id, audit: nil) != nil)
        let queued = try AppHarness.json(h.send("GET", "/api/v1/jobs/\(job.id)"))
        #expect(queued["state"] as? String == "queued")
        let retried = try #require(try h.store.job(id: job.id))
        try h.finish(retried)
        let succeeded = try AppHarness.json(h.send("GET", "/api/v1/jobs/\(job.id)"))
        #expect(succeeded["state"] as? String == "succeeded")
        #expect(try AppHarness.json(h.send("GET", "/api/v1/jobs/\(job.id)"))["state"] as? String == "succeeded")
    }

    @Test("A kept job is still authorized per caller: 404 for one who may not view it, after one who may has read it")
    func authorizedOnHit() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        try h.finish(job)
        #expect(h.send("GET", "/api/v1/jobs/\(job.id)", user: "vera").status.code == 200)
        #expect(h.app.finishedJobs.size.entries == 1)
        #expect(h.send("GET", "/api/v1/jobs/\(job.id)", user: "sam").status.code == 404)
        #expect(h.send("GET", "/api/v1/jobs/\(job.id)", user: nil).status.code == 401)
        #expect(h.send("GET", "/api/v1/jobs/\(job.id)", user: "bob").status.code == 200)
    }

    @Test("The cache is bounded by entries and by cost, the oldest going first")
    func bounded() {
        let cache = FinishedJobCache<FinishedJobJSON>(maxEntries: 3, maxCost: 100)
        func entry(_ size: Int, state: JobState = .succeeded) -> FinishedJobJSON {
            .init(
                stamp: JobStamp(state: state, startedAt: nil, finishedAt: nil), mountPath: "/s", pipeline: "p", params: [:],
                body: Array(repeating: 0x20, count: size), tag: "t")
        }
        for id in 1...4 { cache.store(id: Int64(id), entry(10)) }
        #expect(cache.size.entries == 3 && cache.entry(id: 1) == nil && cache.entry(id: 4) != nil)
        cache.store(id: 5, entry(90))
        #expect(cache.size.cost <= 100 && cache.entry(id: 5) != nil)
        cache.store(id: 6, entry(101))
        #expect(cache.entry(id: 6) == nil, "larger than the whole cache: not kept")
        cache.store(id: 7, entry(1, state: .running))
        #expect(cache.entry(id: 7) == nil, "unfinished jobs are not kept")
    }
    @Test("Every thread reads what the last store kept: entries stored, replaced and evicted on one thread, read on 8 others")
    func everyThreadSeesTheLastStore() {
        let cache = FinishedJobCache<FinishedJobJSON>(maxEntries: 2, maxCost: 1_000)
        func entry(_ tag: String) -> FinishedJobJSON {
            .init(
                stamp: JobStamp(state: .succeeded, startedAt: nil, finishedAt: nil), mountPath: "/s", pipeline: "p", params: [:],
                body: Array(tag.utf8), tag: tag)
        }
        // What each of 8 threads (each its own stripe) reads for jobs 1, 2 and 3.
        func readEverywhere() -> [[String?]] {
            let seen = Locked([[String?]](repeating: [], count: 8))
            let done = DispatchGroup()
            for t in 0..<8 {
                done.enter()
                Thread {
                    let tags = (1...3).map { cache.entry(id: Int64($0))?.tag }
                    seen.withLock { $0[t] = tags }
                    done.leave()
                }.start()
            }
            done.wait()
            return seen.withLock { $0 }
        }
        #expect(readEverywhere().allSatisfy { $0 == [nil, nil, nil] })
        cache.store(id: 1, entry("a"))
        cache.store(id: 2, entry("b"))
        #expect(readEverywhere().allSatisfy { $0 == ["a", "b", nil] })
        cache.store(id: 1, entry("a2"))
        #expect(readEverywhere().allSatisfy { $0 == ["a2", "b", nil] }, "a replacement is seen by every thread")
        cache.store(id: 3, entry("c"))
        #expect(
            readEverywhere().allSatisfy { $0 == [nil, "b", "c"] },
            "the oldest insertion went (1: a replacement keeps its place), on every thread")
    }
}
