import Crypto
public import Foundation
import Locking
import Logging

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Where an assertion source's keys come from.
public protocol KeyProvider: Sendable {
    /// The key set to verify with now, or nil if none could ever be loaded.
    func current() -> KeySet?
    /// Called when a token names a `kid` the current set lacks. May fetch a fresh set, at most
    /// once per cooldown, so a flood of unknown `kid`s cannot become a flood of fetches.
    func refresh(missingKid: String) -> KeySet?
}

/// Keys loaded once, from a JWKS file named in the configuration.
public struct StaticKeyProvider: KeyProvider {
    private let set: KeySet

    /// Creates the provider.
    public init(_ set: KeySet) { self.set = set }

    public func current() -> KeySet? { self.set }
    public func refresh(missingKid: String) -> KeySet? { self.set }
}

/// Keys fetched from an HTTPS URL (docs/security.md, JWT checklist J22): cached for `maxAge`,
/// refetched on an unknown `kid` at most once per `cooldown`, the last good set kept when a refresh
/// fails (up to `hardMaxAge`), and swapped atomically: a verification uses either the old set or the
/// new one, never a mix.
public final class RemoteKeyProvider: KeyProvider {
    /// Fetches a document; injectable for tests. Throws on any failure.
    public typealias Fetcher = @Sendable (URL, _ timeout: TimeInterval, _ maxBytes: Int) throws -> [UInt8]

    private struct State {
        var set: KeySet?
        var fetchedAt: Date?
        var lastAttempt: Date?
        var fetches = 0
        var succeeded = 0
        var failed = 0
        var fetching = false
    }

    /// The JWKS URL.
    public let url: URL
    private let maxAge: TimeInterval
    private let cooldown: TimeInterval
    private let hardMaxAge: TimeInterval
    private let timeout: TimeInterval
    private let fetch: Fetcher
    private let now: @Sendable () -> Date
    // Never held during a fetch: verifications with known keys go on while a refresh runs.
    private let state = Locked(State())
    /// Signalled when a fetch ends; only callers that need the new set wait for it.
    private let fetchDone = NSCondition()
    private let logger = Logger(label: "jwks")

    /// Creates the provider. Nothing is fetched until the first verification.
    public init(
        url: URL, maxAge: TimeInterval = 600, cooldown: TimeInterval = 30, hardMaxAge: TimeInterval = 86_400,
        timeout: TimeInterval = 5, fetch: @escaping Fetcher = RemoteKeyProvider.fetchOverHTTPS,
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.url = url
        self.maxAge = maxAge
        self.cooldown = cooldown
        self.hardMaxAge = hardMaxAge
        self.timeout = timeout
        self.fetch = fetch
        self.now = now
    }

    /// How many fetches were attempted (for tests and metrics).
    public var fetchCount: Int { self.state.withLock { $0.fetches } }

    /// How many fetches ended with a usable key set, and how many failed (a fetch still running
    /// is in neither).
    public var fetchOutcomes: (succeeded: Int, failed: Int) { self.state.withLock { ($0.succeeded, $0.failed) } }

    public func current() -> KeySet? {
        let now = self.now()
        let (stale, empty) = self.state.withLock { state in
            (state.fetchedAt.map { now.timeIntervalSince($0) >= self.maxAge } ?? true, state.set == nil)
        }
        if stale { self.attempt(now: now, reason: empty ? "first use" : "cache expired", waitIfRunning: empty) }
        return self.state.withLock { self.usable($0, now: now) }
    }

    public func refresh(missingKid: String) -> KeySet? {
        let now = self.now()
        // A token with an unknown kid waits for a fetch already running (it would fail without the
        // new set); tokens with cached keys never wait (see `current()`).
        self.attempt(now: now, reason: "unknown kid", waitIfRunning: true)
        return self.state.withLock { self.usable($0, now: now) }
    }

    /// The cached set unless it is older than the hard limit (then nothing is accepted, J22).
    private func usable(_ state: State, now: Date) -> KeySet? {
        guard let fetched = state.fetchedAt, now.timeIntervalSince(fetched) < self.hardMaxAge else { return nil }
        return state.set
    }

    /// Fetches unless one ran within the cooldown or one is running. A caller that cannot proceed
    /// without new keys (`waitIfRunning`: no set yet, or an unknown kid) waits for a running
    /// fetch; everyone else goes on with what is cached.
    private func attempt(now: Date, reason: String, waitIfRunning: Bool) {
        enum Step { case fetch, wait, skip }
        let step = self.state.withLock { state -> Step in
            if state.fetching { return waitIfRunning ? .wait : .skip }
            if let last = state.lastAttempt, now.timeIntervalSince(last) < self.cooldown { return .skip }
            state.fetching = true
            state.lastAttempt = now
            state.fetches += 1
            return .fetch
        }
        switch step {
        case .skip: return
        case .wait:
            // `fetching` is cleared with `fetchDone` locked, so this check cannot miss the signal.
            let deadline = Date().addingTimeInterval(self.timeout + 2)
            self.fetchDone.lock()
            while self.state.withLock({ $0.fetching }) && self.fetchDone.wait(until: deadline) {}
            self.fetchDone.unlock()
            return
        case .fetch: break
        }
        var fetched: KeySet? = nil
        do {
            let set = try KeySet.parse(try self.fetch(self.url, self.timeout, KeySet.maxDocumentBytes))
            fetched = set
            self.logger.info(
                "jwks fetched",
                [
                    "url": self.url.absoluteString, "keys": "\(set.keys.count)", "skipped": set.skipped.joined(separator: "; "),
                    "reason": reason,
                ])
        } catch {
            self.logger.warning(
                "jwks fetch failed; keeping the last good key set", ["url": self.url.absoluteString, "error": "\(error)", "reason": reason])
        }
        self.fetchDone.lock()
        self.state.withLock { state in
            // The new set replaces the old one in one step: a verification sees one or the other.
            if let fetched {
                state.set = fetched
                state.fetchedAt = now
                state.succeeded += 1
            } else {
                state.failed += 1
            }
            state.fetching = false
        }
        self.fetchDone.broadcast()
        self.fetchDone.unlock()
    }

    /// Fetches over HTTPS only, with certificate verification (the system CA store), a timeout
    /// and a size cap. Redirects are not followed to other schemes.
    public static let fetchOverHTTPS: Fetcher = { url, timeout, maxBytes in
        guard url.scheme?.lowercased() == "https" else { throw AssertionError(.keysUnavailable, "JWKS URL is not https") }
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }
        let result = Locked<Result<[UInt8], AssertionError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        var request = URLRequest(url: url)
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        session.dataTask(with: request) { data, response, error in
            let outcome: Result<[UInt8], AssertionError>
            if let error {
                outcome = .failure(AssertionError(.keysUnavailable, "fetch failed: \(error.localizedDescription)"))
            } else if let http = response as? HTTPURLResponse, http.statusCode != 200 {
                outcome = .failure(AssertionError(.keysUnavailable, "HTTP \(http.statusCode)"))
            } else if let data, data.count <= maxBytes {
                outcome = .success(Array(data))
            } else {
                outcome = .failure(AssertionError(.keysUnavailable, "response empty or larger than \(maxBytes) bytes"))
            }
            result.withLock { $0 = outcome }
            done.signal()
        }.resume()
        if done.wait(timeout: .now() + timeout + 1) == .timedOut { throw AssertionError(.keysUnavailable, "timed out") }
        return try result.withLock { $0 }!.get()
    }
}
