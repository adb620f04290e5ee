import ByteStrings
import Foundation
import Identity
import Pages
import Policy
import Workflow

/// One configuration in force and everything built from it: the authenticators and the trigger
/// rate limiters. Dispatch takes one snapshot per request and hands it to the handler in the
/// request's context, so a request is authenticated, authorised and served under one policy even
/// when a SIGHUP reload publishes another snapshot half-way through it.
///
/// A class, so that taking it is one retain: immutable, and freed by ARC when the last request
/// holding it finishes (a reload does not leak the previous snapshot).
final class ConfigurationSnapshot: Sendable {
    /// The configuration.
    let configuration: Configuration
    /// The identity sources, in the order they are consulted.
    let authenticator: AuthenticatorChain
    /// The per-identity trigger limiter, if configured.
    let identityLimiter: RateLimiter?
    /// The per-pipeline trigger limiter, if configured.
    let pipelineLimiter: RateLimiter?
    /// Each guarded upstream's per-caller limiter, by the upstream's name (compared as bytes).
    let upstreamLimiters: [ByteString: RateLimiter]
    /// Each large pipeline's task layers (`TaskGraph.layers`), by the pipeline's name (compared as
    /// bytes): stored with the tasks of its jobs, so the store can summarise them (`JobOverview`).
    /// Large: more tasks than a graph draws one by one.
    let pipelineLayers: [ByteString: [Int]]

    /// Builds the snapshot of `configuration`. The limiters start full: a reload refills them.
    init(_ configuration: Configuration) {
        self.configuration = configuration
        self.authenticator = configuration.makeAuthenticator()
        self.identityLimiter = configuration.triggerLimitPerIdentity.map { RateLimiter(limit: $0) }
        self.pipelineLimiter = configuration.triggerLimitPerPipeline.map { RateLimiter(limit: $0) }
        self.upstreamLimiters = Dictionary(
            configuration.upstreams.map { (ByteString($0.upstream.name), RateLimiter(limit: $0.limit)) }, uniquingKeysWith: { a, _ in a })
        self.pipelineLayers = Dictionary(
            configuration.pipelines.values.filter { $0.tasks.count > TaskGraph.defaultMaxNodes }.map { pipeline in
                (ByteString(pipeline.name), TaskGraph.layers(of: pipeline.tasks.map { GraphNode(name: $0.name, needs: $0.needs) }))
            }, uniquingKeysWith: { a, _ in a })
    }

    /// The layers of `pipeline`'s tasks if it is a large pipeline of this configuration, else nil.
    func layers(of pipeline: PipelineDefinition) -> [Int]? {
        self.pipelineLayers[ByteString(pipeline.name)].flatMap { $0.count == pipeline.tasks.count ? $0 : nil }
    }

    /// The policy in force.
    var policy: Policy { self.configuration.policy }

    /// The pipeline configured under exactly `name`'s bytes, or nil.
    ///
    /// Never a plain dictionary lookup with a name from a request: `pipelines["\u{212A}PI-report"]`
    /// finds `KPI-report` (canonical equivalence), and the job would then be stored under the
    /// request's spelling, which every byte-comparing rule and list in the store would miss.
    func pipeline(named name: String) -> PipelineDefinition? {
        self.configuration.pipelines.entry(exactly: name)?.value
    }
}
