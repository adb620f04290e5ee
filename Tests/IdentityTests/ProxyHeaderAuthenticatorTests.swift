import HTTP
import Identity
import Testing

/// `IPRange` parsing and matching.
@Suite("IPRange")
struct IPRangeTests {
    @Test(
        "Malformed ranges are refused",
        arguments: [
            "1.2.3", "1.2.3.4/33", "::1/129", "01.2.3.4", "", "1.2.3.4/", "/8", "1.2.3.4/-1", "1.2.3.4/+8", "1.2.3.4/ 8",
            "1.2.3.4/8/8", "256.1.1.1", "1.2.3.4.5", "localhost", "::g", "1:2:3:4:5:6:7:8:9", " 1.2.3.4", "1.2.3.4 ",
            "0x7f.0.0.1", "127.1", "fe80::1%eth0",
        ])
    func malformed(text: String) {
        #expect(IPRange(text) == nil)
    }

    @Test(
        "Well-formed ranges parse and keep their text",
        arguments: ["10.0.0.0/8", "127.0.0.1", "::1", "fd00::/8", "0.0.0.0/0", "::/0", "::ffff:10.0.0.0/104"])
    func wellFormed(text: String) throws {
        let range = try #require(IPRange(text))
        #expect(range.description == text)
    }

    @Test("IPv4 CIDR boundaries")
    func ipv4Boundaries() throws {
        let range = try #require(IPRange("192.168.4.0/22"))
        #expect(range.contains("192.168.4.0"))
        #expect(range.contains("192.168.7.255"))
        #expect(!range.contains("192.168.8.0"))
        #expect(!range.contains("192.168.3.255"))
        let host = try #require(IPRange("10.1.2.3"))
        #expect(host.contains("10.1.2.3"))
        #expect(!host.contains("10.1.2.2"))
        #expect(!host.contains("10.1.2.4"))
        let odd = try #require(IPRange("10.0.0.0/9"))
        #expect(odd.contains("10.127.255.255"))
        #expect(!odd.contains("10.128.0.0"))
        let all = try #require(IPRange("0.0.0.0/0"))
        #expect(all.contains("255.255.255.255"))
        #expect(!all.contains("::1"))
    }

    @Test("A range written with host bits set matches its network")
    func hostBitsInRange() throws {
        let range = try #require(IPRange("10.1.2.3/8"))
        #expect(range.contains("10.200.0.1"))
        #expect(!range.contains("11.0.0.1"))
    }

    @Test("IPv6 CIDR boundaries")
    func ipv6Boundaries() throws {
        let range = try #require(IPRange("2001:db8::/127"))
        #expect(range.contains("2001:db8::"))
        #expect(range.contains("2001:db8::1"))
        #expect(!range.contains("2001:db8::2"))
        let ula = try #require(IPRange("fd00::/8"))
        #expect(ula.contains("fdff:ffff::1"))
        #expect(!ula.contains("fe00::1"))
        #expect(!ula.contains("fc00::1"))
        let loopback = try #require(IPRange("::1"))
        #expect(loopback.contains("0:0:0:0:0:0:0:1"))
        #expect(!loopback.contains("127.0.0.1"))
    }

    @Test("An IPv4-mapped IPv6 peer matches the IPv4 range")
    func ipv4Mapped() throws {
        let range = try #require(IPRange("10.0.0.0/8"))
        #expect(range.contains("::ffff:10.1.2.3"))
        #expect(!range.contains("::ffff:11.1.2.3"))
        // Not mapped (IPv4-compatible or NAT64): no match.
        #expect(!range.contains("::10.1.2.3"))
        #expect(!range.contains("64:ff9b::10.1.2.3"))
    }

    @Test("Malformed peers match nothing")
    func malformedPeers() throws {
        let range = try #require(IPRange("0.0.0.0/0"))
        for peer in ["", "10.0.0.1:443", "unix:/run/lighttpd.sock", "010.0.0.1", "10.0.0.1 "] {
            #expect(!range.contains(peer), "\(peer)")
        }
    }
}

/// `ProxyHeaderAuthenticator` (product-anchors §5: oauth2-proxy headers, lighttpd's ", " joining).
@Suite("ProxyHeaderAuthenticator")
struct ProxyHeaderAuthenticatorTests {
    let authenticator = ProxyHeaderAuthenticator(
        userHeader: "X-Forwarded-User", groupsHeader: "X-Forwarded-Groups",
        trustedPeers: ["127.0.0.1", "10.0.0.0/8", "fd00::/8"].compactMap(IPRange.init))

    func request(peer: String?, user: String? = "alice", groups: String? = nil) -> HTTPRequest {
        var params: [String: String] = [:]
        params["REMOTE_ADDR"] = peer
        params["HTTP_X_FORWARDED_USER"] = user
        params["HTTP_X_FORWARDED_GROUPS"] = groups
        return Fixture.request(params)
    }

    func authenticated(_ result: AuthenticationResult, sourceLocation: SourceLocation = #_sourceLocation) -> Principal? {
        guard case .authenticated(let principal) = result else {
            Issue.record("expected authenticated, got \(result)", sourceLocation: sourceLocation)
            return nil
        }
        return principal
    }

    @Test("A trusted IPv4 peer's headers authenticate an ambient principal")
    func trustedIPv4() throws {
        let principal = try #require(authenticated(authenticator.authenticate(request(peer: "10.20.30.40", groups: "ops"))))
        #expect(principal.user == "alice")
        #expect(principal.groups == ["ops"])
        #expect(principal.source == .proxyHeaders)
        #expect(principal.isAmbient == true)
        #expect(principal.roles.isEmpty)
    }

    @Test(
        "Trusted peers: loopback, IPv6 and IPv4-mapped IPv6",
        arguments: ["127.0.0.1", "fd12:3456::1", "::ffff:10.0.0.1", "::ffff:127.0.0.1"])
    func trustedPeers(peer: String) {
        #expect(authenticated(authenticator.authenticate(request(peer: peer)))?.user == "alice")
    }

    @Test(
        "An untrusted peer's identity headers are ignored",
        arguments: [
            "192.168.1.10", "127.0.0.2", "11.0.0.1", "9.255.255.255", "fe80::1", "::1", "::ffff:192.168.1.10", "garbage", "",
        ])
    func untrustedPeer(peer: String) {
        #expect(authenticator.authenticate(request(peer: peer, user: "admin", groups: "admins")) == .absent)
    }

    @Test("Without REMOTE_ADDR the headers are ignored")
    func noPeer() {
        #expect(authenticator.authenticate(request(peer: nil, user: "admin")) == .absent)
    }

    @Test("A trusted peer without a user header is absent")
    func trustedPeerNoUser() {
        #expect(authenticator.authenticate(request(peer: "10.0.0.1", user: nil, groups: "ops")) == .absent)
        #expect(authenticator.authenticate(request(peer: "10.0.0.1", user: "")) == .absent)
    }

    @Test("A user with a comma (a client copy joined by lighttpd) is invalid")
    func userWithComma() {
        let result = authenticator.authenticate(request(peer: "10.0.0.1", user: "alice, admin"))
        guard case .invalid = result else {
            Issue.record("expected invalid, got \(result)")
            return
        }
    }

    @Test(
        "Control characters in the user or groups are invalid",
        arguments: [
            ("alice\n", nil), ("ali\u{7}ce", nil), ("alice\r\nX-Admin: 1", nil), ("alice", "ops\u{0}"), ("alice", "ops\n admin"),
        ] as [(String, String?)])
    func controlCharacters(user: String, groups: String?) {
        let result = authenticator.authenticate(request(peer: "10.0.0.1", user: user, groups: groups))
        guard case .invalid = result else {
            Issue.record("expected invalid, got \(result)")
            return
        }
    }

    @Test("An over-long user is invalid")
    func longUser() {
        let result = authenticator.authenticate(request(peer: "10.0.0.1", user: String(repeating: "a", count: 257)))
        guard case .invalid = result else {
            Issue.record("expected invalid, got \(result)")
            return
        }
    }

    @Test(
        "A group over 256 bytes is invalid, as it is in assertions")
    func longGroup() {
        let result = authenticator.authenticate(request(peer: "10.0.0.1", groups: "ops, " + String(repeating: "g", count: 257)))
        guard case .invalid = result else {
            Issue.record("expected invalid, got \(result)")
            return
        }
    }

    @Test("Groups are normalised: commas, spaces, repeats and empty items")
    func groupsNormalised() throws {
        let principal = try #require(
            authenticated(authenticator.authenticate(request(peer: "10.0.0.1", groups: " ops, dev  admin,,ops, org:team"))))
        #expect(principal.groups == ["ops", "dev", "admin", "org:team"])
    }

    @Test("No groups header means no groups; no groups header configured ignores it")
    func noGroups() throws {
        #expect(authenticated(authenticator.authenticate(request(peer: "10.0.0.1")))?.groups.isEmpty == true)
        let userOnly = ProxyHeaderAuthenticator(userHeader: "X-Forwarded-User", groupsHeader: nil, trustedPeers: [IPRange("10.0.0.0/8")!])
        #expect(authenticated(userOnly.authenticate(request(peer: "10.0.0.1", groups: "admins")))?.groups.isEmpty == true)
    }

    @Test("With no trusted peers, nothing is trusted")
    func noTrustedPeers() {
        let none = ProxyHeaderAuthenticator(userHeader: "X-Forwarded-User", groupsHeader: nil, trustedPeers: [])
        #expect(none.authenticate(request(peer: "127.0.0.1")) == .absent)
    }
}
