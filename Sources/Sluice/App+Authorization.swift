import HTTP
import Identity
import JobStore
import Policy
import Workflow

extension App {
    /// Checks that the caller may use `verb` on `pipeline`.
    ///
    /// A pipeline the caller may not even view is reported as 404, exactly like one that does not
    /// exist, so names cannot be probed; a visible pipeline without the verb is a 403.
    ///
    /// With `parameters` (a trigger's values, or an existing job's), grants limited to certain
    /// values count only if the values satisfy them.
    /// For an existing job (`isJob`), its values also decide whether it is visible at all; for a
    /// trigger they only decide the trigger.
    func authorize(_ context: RequestContext, _ verb: Verb, pipeline: String, parameters: [String: String]? = nil, isJob: Bool = false)
        throws
    {
        let subject = context.subject
        if case .deny(let reason) = context.snapshot.policy.decide(
            subject, .view, pipeline: pipeline, parameters: isJob ? parameters : nil)
        {
            self.audit(context, event: verb.rawValue, allowed: false, pipeline: pipeline, reason: "not visible: \(reason)")
            throw HTTPError(.notFound, "not found")
        }
        guard verb != .view else { return }
        if case .deny(let reason) = context.snapshot.policy.decide(subject, verb, pipeline: pipeline, parameters: parameters) {
            self.audit(context, event: verb.rawValue, allowed: false, pipeline: pipeline, reason: reason)
            self.logger.info(
                "denied",
                ["request.id": context.requestID, "user": subject.user, "verb": verb.rawValue, "pipeline": pipeline, "reason": reason])
            throw HTTPError(.forbidden, "you may not \(Self.phrase(verb, pipeline))")
        }
    }

    /// What a denial says the caller may not do, as English: "trigger etl", "read the logs of
    /// etl" (not "logs etl").
    static func phrase(_ verb: Verb, _ pipeline: String) -> String {
        switch verb {
        case .logs: return "read the logs of \(pipeline)"
        case .audit: return "read the audit log of \(pipeline)"
        case .view: return "see \(pipeline)"
        case .retry: return "retry jobs of \(pipeline)"
        case .cancel: return "cancel jobs of \(pipeline)"
        default: return "\(verb.rawValue) \(pipeline)"
        }
    }

    /// Whether the caller may use `verb` on `pipeline` (for showing or hiding links).
    func may(_ context: RequestContext, _ verb: Verb, _ pipeline: String, parameters: [String: String]? = nil) -> Bool {
        context.snapshot.policy.decide(context.subject, verb, pipeline: pipeline, parameters: parameters).isAllowed
    }

    /// The configured pipelines the caller may view, sorted by name.
    func visiblePipelines(_ context: RequestContext) -> [PipelineDefinition] {
        context.configuration.pipelineNames.compactMap { name in
            self.may(context, .view, name) ? context.configuration.pipelines[name] : nil
        }
    }

    /// The pipeline named by the route's `name` segment, from the request's snapshot (404 if
    /// there is none under exactly that spelling).
    func configuredPipeline(_ context: RequestContext) throws -> PipelineDefinition {
        guard let pipeline = context.snapshot.pipeline(named: context.parameter("name")) else {
            throw HTTPError(.notFound, "not found")
        }
        return pipeline
    }

    /// The kept entry of the request's job in `cache`, if there is one that `usable` accepts and
    /// whose stamp is still the store's, authorized for `view` exactly as `visibleJob` would
    /// authorize a fresh read (`FinishedJobCache`). Nil: read the job instead.
    func keptJob<Entry: FinishedJobEntry>(
        _ cache: FinishedJobCache<Entry>, _ context: RequestContext, where usable: (Entry) -> Bool = { _ in true }
    ) throws -> Entry? {
        guard let id = Int64(context.parameter("id")), id > 0, let kept = cache.entry(id: id), usable(kept),
            try self.store.jobStamp(id: id) == kept.stamp
        else { return nil }
        try self.authorize(context, .view, pipeline: kept.pipeline, parameters: kept.params, isJob: true)
        return kept
    }

    /// Loads a job the caller may view (404 otherwise, with the same message whether it is
    /// missing or hidden, so job ids of hidden pipelines cannot be probed).
    func visibleJob(_ context: RequestContext, verb: Verb = .view) throws -> JobRecord {
        guard let id = Int64(context.parameter("id")), id > 0, let job = try self.store.job(id: id) else {
            throw HTTPError(.notFound, "not found")
        }
        try self.authorize(context, verb, pipeline: job.pipeline, parameters: job.params, isJob: true)
        return job
    }
}
