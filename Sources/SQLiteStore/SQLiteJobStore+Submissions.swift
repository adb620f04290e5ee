import Foundation
public import JobStore
import SQLite

/// Triggers: each submission decided by the shared rules (`SubmissionDecision`) inside a group
/// commit of the store's committer thread (`CommitQueue`), and the job it creates inserted.
extension SQLiteJobStore {
    /// A trigger waiting for its group commit.
    struct PendingSubmission {
        let job: NewJob
        let rules: SubmissionRules
        let audit: AuditRecord?
        let created: Date
    }

    /// What a submission did in its batch's transaction.
    enum SubmissionOutcome {
        /// The new job, as reading it back would give it.
        case inserted(JobRecord)
        case existing(Int64, Submission.Reason)
        case refused(Submission.Refusal)
    }

    /// Group-committed submissions: concurrent triggers share one transaction and one fsync.
    /// Submissions of a batch are decided one after another in queue order, each seeing the
    /// ones before it, exactly as if each had its own transaction.
    public func submit(_ job: NewJob, rules: SubmissionRules, audit: AuditRecord?) throws -> Submission {
        let pending = PendingSubmission(job: job, rules: rules, audit: audit, created: self.now())
        return try self.submission(pending, self.submissions.submit(pending) { batch in try self.commitSubmissions(batch) })
    }

    /// True: submissions are committed by the store's committer thread.
    public var hasCommitter: Bool { true }

    /// True: the jobs `commitSubmissions` created are reported by `commitWrites` right after
    /// their transaction commits (`reportCreatedJobs`), before anyone is answered.
    public func observeCreatedJobs(_ observer: @escaping @Sendable (JobRecord) -> Void) -> Bool {
        self.createdObserver.withLock { $0 = CreatedJobsObserver(observer) }
        return true
    }

    /// `submit(_:rules:audit:)` without holding the calling thread: the committer thread commits
    /// the job with whatever else is waiting, then calls `completion`.
    public func submit(
        _ job: NewJob, rules: SubmissionRules, audit: AuditRecord?,
        completion: @escaping @Sendable (Result<Submission, any Error>) -> Void
    ) {
        let pending = PendingSubmission(job: job, rules: rules, audit: audit, created: self.now())
        self.submissions.enqueue(pending, commit: { batch in try self.commitSubmissions(batch) }) { result in
            guard case .success(.existing) = result else { return completion(Result { try self.submission(pending, result) }) }
            // The existing job is read from the store (it may be large): not on the queue of
            // answers, where every other trigger's answer would wait for it.
            DispatchQueue.global().async { completion(Result { try self.submission(pending, result) }) }
        }
    }

    /// What a submission's batch result means to its caller; nil: no batch took it in time.
    private func submission(_ pending: PendingSubmission, _ result: Result<SubmissionOutcome, any Error>?) throws -> Submission {
        guard let result else {
            throw StorageUnavailable(
                .busy, detail: "a trigger waited more than \(self.busyTimeoutMilliseconds) ms for its turn at the job store")
        }
        switch try result.get() {
        case .inserted(let job):
            return .created(job)
        case .existing(let id, let reason):
            guard let record = try self.job(id: id) else { throw JobStoreError("job \(id) vanished") }
            return .existing(record, reason)
        case .refused(let refusal):
            return .refused(refusal)
        }
    }

    /// Commits a batch of submissions in one write transaction, each inside a savepoint: one
    /// that fails is undone alone and gets its error; the others commit. If the transaction
    /// itself fails (the commit, or a savepoint SQLite has already rolled back with the whole
    /// transaction), this throws and every submission of the batch gets the error: none was
    /// acknowledged, none is stored.
    private func commitSubmissions(_ batch: [PendingSubmission]) throws -> [Result<SubmissionOutcome, any Error>] {
        defer { self.submissionCounts.withLock { $0 = ($0.commits + 1, $0.submissions + batch.count) } }
        return try self.write { db in
            let outcomes = try Self.eachInSavepoint(batch, named: "submission", in: db) { pending in try Self.decide(pending, in: db) }
            // Reported by whichever thread commits the transaction, right after its commit: the
            // runner's thread may be the one (it shares write transactions), and its next pass
            // must find the jobs handed over.
            if self.createdObserver.withLock({ $0 != nil }) {
                let created = outcomes.compactMap { outcome -> JobRecord? in
                    guard case .success(.inserted(let job)) = outcome else { return nil }
                    return job
                }
                self.createdInTransaction.withLock { $0 += created }
            }
            return outcomes
        }
    }

    /// Hands the jobs the committed transaction created to the observer (see
    /// `createdInTransaction`). Called by `commitWrites` after the commit, before anyone is
    /// answered.
    func reportCreatedJobs() {
        let created = self.createdInTransaction.withLock { created in
            defer { created.removeAll() }
            return created
        }
        guard !created.isEmpty, let observer = self.createdObserver.withLock({ $0 }) else { return }
        for job in created { observer.call(job) }
    }

    /// Decides one submission with the shared rules and carries out the decision.
    private static func decide(_ pending: PendingSubmission, in db: Connection) throws -> SubmissionOutcome {
        let job = pending.job
        let decision = try SubmissionDecision.decide(
            job, rules: pending.rules,
            jobWithKey: { key in
                try db.query(
                    "SELECT id, request_digest FROM jobs WHERE triggered_by = ? AND identity_source = ? AND idempotency_key = ?",
                    [.text(job.triggeredBy), .text(job.identitySource), .text(key)]
                ).first.flatMap { row in row["id"].int64.map { .init(id: $0, requestDigest: row["request_digest"].text) } }
            },
            oldestUnfinishedDuplicate: {
                try db.query(
                    """
                    SELECT id FROM jobs WHERE pipeline = ? AND identity = ? AND \(Schema.undecidedStates)
                    ORDER BY id LIMIT 1
                    """,
                    [.text(job.pipeline), .text(job.identity)]
                ).first?["id"].int64
            },
            unfinishedCount: {
                Int(
                    try db.query(
                        "SELECT count(*) FROM jobs WHERE pipeline = ? AND state IN ('queued','running')", [.text(job.pipeline)]
                    ).first?[0].int64 ?? 0)
            })
        switch decision {
        case .insert(let waits):
            let id = try Self.insert(job, waits: waits, at: pending.created, into: db)
            if var audit = pending.audit {
                audit.jobID = id
                try Self.insertAudit(audit, into: db)
            }
            return .inserted(JobRecord(inserted: job, id: id, createdAt: pending.created, waitsForIdentity: waits))
        case .existing(let id, let reason): return .existing(id, reason)
        case .refused(let refusal): return .refused(refusal)
        }
    }

    private static func insert(_ job: NewJob, waits: Bool, at created: Date, into db: Connection) throws -> Int64 {
        try db.run(
            """
            INSERT INTO jobs (pipeline, state, triggered_by, identity_source, params, working_directory, created_at,
                              identity, waits_for_identity, idempotency_key, request_digest, secret_params,
                              approvals_required, approval_expires_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(job.pipeline), .text(job.approval == nil ? "queued" : "awaiting_approval"), .text(job.triggeredBy),
                .text(job.identitySource), .text(try ParamsColumn.encode(job.params)), .text(job.workingDirectory),
                .integer(StoredTime.milliseconds(created)), .text(job.identity), .integer(waits ? 1 : 0),
                job.idempotencyKey.map(SQLValue.text) ?? .null, job.requestDigest.map(SQLValue.text) ?? .null,
                .text(StringArrayColumn.encode(job.secretParameters)), job.approval.map { .integer(Int64($0.required)) } ?? .null,
                job.approval.map { .integer(StoredTime.milliseconds($0.expiresAt)) } ?? .null,
            ])
        let id = db.lastInsertRowID
        if job.approval != nil {
            // The outbox row of the wait, so webhooks can call the approvers.
            try db.run(
                "INSERT INTO job_events (job_id, pipeline, state, at) VALUES (?, ?, 'awaiting_approval', ?)",
                [.integer(id), .text(job.pipeline), .integer(StoredTime.milliseconds(created))])
        }
        for (position, task) in job.tasks.enumerated() {
            try db.run(
                "INSERT INTO tasks (job_id, name, position, needs, argv, state, kind, options, layer) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?)",
                [
                    .integer(id), .text(task.name), .integer(Int64(position)),
                    .text(StringArrayColumn.encode(task.needs)), .text(StringArrayColumn.encode(task.argv)),
                    .text(task.kind.rawValue), try TaskOptionsColumn.encode(task.options).sqlValue,
                    task.layer.map { .integer(Int64($0)) } ?? .null,
                ])
        }
        return id
    }
}
