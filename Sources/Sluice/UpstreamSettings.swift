public import Policy

/// One entry of `upstreams`: a guarded upstream's rules and the limit on how often one caller
/// may be let through to it.
public struct UpstreamSettings: Sendable {
    /// The upstream and its rules.
    public var upstream: GuardedUpstream
    /// Requests let through per identity (token bucket per caller and upstream).
    var limit: RateLimiter.Limit

    /// The limit when none is configured: a Luigi page loads some 30 files at once, and its
    /// task list polls every few seconds, so a burst of 300 and 1,200 a minute leave a person
    /// with several tabs untouched and still stop a runaway script.
    static let defaultLimit = RateLimiter.Limit(perMinute: 1200, burst: 300)
}
