import Crypto
import Dispatch
import Foundation
import Identity
import Locking
import Synchronization
import TestSupport
import Testing

/// `RemoteKeyProvider` (docs/security.md, JWT checklist J22) with its injected fetcher: a
/// `FakeJWKSEndpoint` that serves documents the test controls and counts calls. The network path
/// itself is covered by the integration tests. Time comes from a `TestClock` shared by provider and
/// verifier.
@Suite("RemoteKeyProvider: caching, cooldown, rotation and failure")
struct RemoteKeyProviderTests {
    static let url = URL(string: "https://idp.example.com/.well-known/jwks.json")!

    /// A provider (maxAge 600 s, cooldown 30 s, hardMaxAge 1 day), its endpoint, clock and verifier.
    struct Rig {
        let endpoint: FakeJWKSEndpoint
        let clock = TestClock(Fixture.now)
        let provider: RemoteKeyProvider
        let verifier: AssertionVerifier

        init(serving names: [String]) throws {
            self.endpoint = FakeJWKSEndpoint(.document(try Fixture.jwks(names)))
            self.provider = RemoteKeyProvider(
                url: RemoteKeyProviderTests.url, maxAge: 600, cooldown: 30, hardMaxAge: 86_400, fetch: self.endpoint.fetcher,
                now: self.clock.function)
            self.verifier = AssertionVerifier(source: Fixture.source(keys: self.provider), now: self.clock.function)
        }

        func serve(_ names: [String]) throws { self.endpoint.serve(.document(try Fixture.jwks(names))) }

        /// A token valid for a long while from the pinned epoch (the clock moves in these tests).
        static func token(_ key: String = "ec1", header: [String: Any?] = [:]) throws -> String {
            try Fixture.token(key, header: header, claims: ["exp": Fixture.epoch + 7 * 86_400])
        }
    }

    @Test("Nothing is fetched before first use; the first verification fetches once")
    func firstUseFetches() throws {
        let rig = try Rig(serving: ["ec1", "rsa1"])
        #expect(rig.endpoint.calls == 0)
        #expect(rig.provider.fetchCount == 0)
        try expectAccepted(rig.verifier.verify(try Rig.token()))
        #expect(rig.endpoint.calls == 1)
        #expect(rig.provider.fetchCount == 1)
        #expect(rig.provider.fetchOutcomes == (succeeded: 1, failed: 0))
        #expect(rig.endpoint.urls == [Self.url])
    }

    @Test("The cached set is reused within maxAge")
    func cacheReused() throws {
        let rig = try Rig(serving: ["ec1", "rsa1"])
        let es = try Rig.token()
        let rs = try Rig.token("rsa1")
        for _ in 0..<5 {
            try expectAccepted(rig.verifier.verify(es))
            try expectAccepted(rig.verifier.verify(rs))
        }
        rig.clock.advance(by: 599)
        try expectAccepted(rig.verifier.verify(es))
        #expect(rig.endpoint.calls == 1)
    }

    @Test("After maxAge the set is fetched again")
    func refetchAfterMaxAge() throws {
        let rig = try Rig(serving: ["ec1"])
        let token = try Rig.token()
        try expectAccepted(rig.verifier.verify(token))
        rig.clock.advance(by: 600)
        try expectAccepted(rig.verifier.verify(token))
        #expect(rig.endpoint.calls == 2)
        try expectAccepted(rig.verifier.verify(token))
        #expect(rig.endpoint.calls == 2)
    }

    @Test("A storm of 1000 unknown-kid tokens causes at most one fetch per cooldown")
    func unknownKidStorm() throws {
        let rig = try Rig(serving: ["ec1"])
        try expectAccepted(rig.verifier.verify(try Rig.token()))
        #expect(rig.endpoint.calls == 1)
        rig.clock.advance(by: 31)  // past the cooldown of the first fetch

        // 1000 distinct kids, each with a real (but irrelevant) signature, verified from 8 threads.
        let model = Fixture.segments(try Rig.token("attacker"))
        let tokens = (0..<1000).map { index in
            Fixture.join([Base64URL.encode(Array(#"{"alg":"ES256","kid":"flood-\#(index)"}"#.utf8)), model[1], model[2]])
        }
        let unexpected = Locked(0)
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for token in tokens[(worker * 125)..<((worker + 1) * 125)] {
                guard case .failure(let error) = rig.verifier.verify(token), error.code == .unknownKey else {
                    unexpected.withLock { $0 += 1 }
                    continue
                }
            }
        }
        #expect(unexpected.withLock { $0 } == 0)
        #expect(rig.endpoint.calls - 1 == 1, "fetches caused by the storm")

        // Within the same cooldown nothing more; after it, one more.
        rig.clock.advance(by: 29)
        expectRefused(rig.verifier.verify(tokens[0]), .unknownKey)
        #expect(rig.endpoint.calls == 2)
        rig.clock.advance(by: 1)
        expectRefused(rig.verifier.verify(tokens[1]), .unknownKey)
        #expect(rig.endpoint.calls == 3)
    }

    @Test("An unknown kid right after a fetch does not fetch again (cooldown)")
    func unknownKidWithinCooldown() throws {
        let rig = try Rig(serving: ["ec1"])
        try expectAccepted(rig.verifier.verify(try Rig.token()))
        rig.clock.advance(by: 10)
        expectRefused(rig.verifier.verify(try Rig.token("ec2")), .unknownKey)
        #expect(rig.endpoint.calls == 1)
    }

    @Test("Rotation: a new key is picked up by refetch, the old one works while published, then is refused")
    func rotation() throws {
        let rig = try Rig(serving: ["ec1"])
        let old = try Rig.token("ec1")
        let new = try Rig.token("ec2")
        try expectAccepted(rig.verifier.verify(old))

        // The IdP publishes the next key; a token signed with it triggers one refetch.
        try rig.serve(["ec1", "ec2"])
        rig.clock.advance(by: 31)
        let picked = try expectAccepted(rig.verifier.verify(new))
        #expect(picked.kid == "ec-2")
        #expect(rig.endpoint.calls == 2)
        // The old key is still published, so its tokens still verify, without another fetch.
        try expectAccepted(rig.verifier.verify(old))
        #expect(rig.endpoint.calls == 2)

        // The IdP retires the old key; once the cache has been refreshed, its tokens fail.
        try rig.serve(["ec2"])
        rig.clock.advance(by: 600)
        expectRefused(rig.verifier.verify(old), .unknownKey)
        #expect(rig.endpoint.calls == 3)
        try expectAccepted(rig.verifier.verify(new))
    }

    @Test("A failing refresh keeps the last good set")
    func failingRefreshKeepsLastGood() throws {
        let rig = try Rig(serving: ["ec1"])
        let token = try Rig.token()
        try expectAccepted(rig.verifier.verify(token))
        rig.endpoint.serve(.failure)
        rig.clock.advance(by: 600)
        try expectAccepted(rig.verifier.verify(token))
        #expect(rig.endpoint.calls == 2)
        // A document that parses to no usable key counts as a failure too.
        rig.endpoint.serve(.document(Array(#"{"keys":[{"kty":"oct","k":"AAAA"}]}"#.utf8)))
        rig.clock.advance(by: 600)
        try expectAccepted(rig.verifier.verify(token))
        rig.endpoint.serve(.document(Array("<html>".utf8)))
        rig.clock.advance(by: 600)
        try expectAccepted(rig.verifier.verify(token))
        #expect(rig.endpoint.calls == 4)
        // The outcomes the metrics show: one good set, three failures (an HTTP failure, a set
        // without usable keys, a document that is not JSON).
        #expect(rig.provider.fetchOutcomes == (succeeded: 1, failed: 3))
    }

    @Test("A failing refresh for an unknown kid keeps the last good set")
    func failingUnknownKidRefresh() throws {
        let rig = try Rig(serving: ["ec1"])
        try expectAccepted(rig.verifier.verify(try Rig.token()))
        rig.endpoint.serve(.failure)
        rig.clock.advance(by: 31)
        expectRefused(rig.verifier.verify(try Rig.token("ec2")), .unknownKey)
        #expect(rig.endpoint.calls == 2)
        try expectAccepted(rig.verifier.verify(try Rig.token()))
    }

    @Test("Beyond hardMaxAge without a successful fetch nothing verifies, until a fetch succeeds")
    func hardMaxAge() throws {
        let rig = try Rig(serving: ["ec1"])
        let token = try Rig.token()
        try expectAccepted(rig.verifier.verify(token))
        rig.endpoint.serve(.failure)
        rig.clock.advance(by: 86_399)
        try expectAccepted(rig.verifier.verify(token))
        rig.clock.advance(by: 1)
        expectRefused(rig.verifier.verify(token), .keysUnavailable)
        rig.clock.advance(by: 3600)
        expectRefused(rig.verifier.verify(token), .keysUnavailable)
        // The IdP is back: the next attempt after the cooldown restores service.
        try rig.serve(["ec1"])
        rig.clock.advance(by: 30)
        try expectAccepted(rig.verifier.verify(token))
    }

    @Test("If the first fetch fails, nothing verifies")
    func firstFetchFails() throws {
        let rig = try Rig(serving: ["ec1"])
        rig.endpoint.serve(.failure)
        expectRefused(rig.verifier.verify(try Rig.token()), .keysUnavailable)
        #expect(rig.provider.current() == nil)
        #expect(rig.endpoint.calls == 1)
    }

    @Test("Concurrent verifications on 8 threads all succeed with one fetch")
    func concurrentVerifications() throws {
        let rig = try Rig(serving: ["ec1", "rsa1"])
        let tokens = [try Rig.token("ec1"), try Rig.token("rsa1")]
        let failures = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for round in 0..<25 {
                if case .failure(let error) = rig.verifier.verify(tokens[(worker + round) % 2]) {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty)
        #expect(rig.endpoint.calls == 1)
    }

    @Test("Concurrent verifications during a rotation see either the old or the new set, never a failure")
    func concurrentDuringRotation() throws {
        let rig = try Rig(serving: ["ec1"])
        let old = try Rig.token("ec1")
        try expectAccepted(rig.verifier.verify(old))
        try rig.serve(["ec1", "ec2"])
        rig.clock.advance(by: 31)
        let new = try Rig.token("ec2")
        let failures = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for round in 0..<25 {
                if case .failure(let error) = rig.verifier.verify((worker + round) % 2 == 0 ? old : new) {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty)
        #expect(rig.endpoint.calls == 2)
    }

    @Test("The built-in fetcher refuses a non-https URL without touching the network")
    func httpsOnly() throws {
        #expect(throws: AssertionError.self) {
            _ = try RemoteKeyProvider.fetchOverHTTPS(URL(string: "http://idp.example.com/jwks.json")!, 1, 1024)
        }
        #expect(throws: AssertionError.self) {
            _ = try RemoteKeyProvider.fetchOverHTTPS(URL(string: "file:///etc/passwd")!, 1, 1024)
        }
    }
}

@Suite("RemoteKeyProvider: a slow refresh does not stall verifications with known keys")
struct RemoteKeyProviderConcurrencyTests {
    @Test("While an unknown-kid refetch hangs, tokens with a cached key still verify at once")
    func slowRefreshDoesNotBlock() throws {
        let document = try Fixture.jwks(["ec1"])
        let calls = Locked(0)
        let release = DispatchSemaphore(value: 0)
        let provider = RemoteKeyProvider(
            // cooldown 0: the pinned clock never moves, and the refetch must be allowed.
            url: RemoteKeyProviderTests.url, maxAge: 600, cooldown: 0,
            fetch: { _, _, _ in
                let n = calls.withLock { c in
                    c += 1
                    return c
                }
                if n == 2 { _ = release.wait(timeout: .now() + 10) }  // the refetch hangs until released
                return document
            }, now: { Fixture.now })
        let verifier = AssertionVerifier(source: Fixture.source(keys: provider), now: { Fixture.now })
        let known = try Fixture.token("ec1")
        try expectAccepted(verifier.verify(known))
        let unknown = try Fixture.token("ec1", header: ["kid": "rotated-away"])
        let refetch = DispatchGroup()
        DispatchQueue.global().async(group: refetch) { _ = verifier.verify(unknown) }
        Poll.blockingUntil(within: .seconds(10), every: .milliseconds(1)) { calls.withLock { $0 } >= 2 }
        try #require(calls.withLock { $0 } == 2, "the unknown kid did not trigger a refetch")
        let started = Date()
        try expectAccepted(verifier.verify(known))
        #expect(Date().timeIntervalSince(started) < 0.5, "a verification with a cached key waited for the refetch")
        release.signal()
        refetch.wait()
        #expect(provider.fetchCount == 2)
    }
}
