import ByteStrings
import Foundation
import Identity
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

    /// Builds the snapshot of `configuration`. The limiters start full: a reload refills them.
    init(_ configuration: Configuration) {
        self.configuration = configuration
        self.authenticator = configuration.makeAuthenticator()
        self.identityLimiter = configuration.triggerLimitPerIdentity.map { RateLimiter(limit: $0) }
        self.pipelineLimiter = configuration.triggerLimitPerPipeline.map { RateLimiter(limit: $0) }
        self.upstreamLimiters = Dictionary(
            configuration.upstreams.map { (ByteString($0.upstream.name), RateLimiter(limit: $0.limit)) }, uniquingKeysWith: { a, _ in a })
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
