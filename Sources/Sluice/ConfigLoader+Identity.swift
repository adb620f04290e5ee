import ByteStrings
import Crypto
import Foundation
import Identity
import JSON
import Workflow

/// Reading the `identity` section: REMOTE_USER, signed-assertion sources (with presets), trusted
/// proxy headers, service tokens and the default role.
extension ConfigLoader {
    /// Defaults of a well-known identity-aware proxy; explicit keys override them.
    struct Preset: Sendable {
        var header: String
        var algorithms: [String]
        var userClaim: String
        var groupsClaim: String?
        var issuer: String?
        var jwksURL: (@Sendable (String?) -> String?)?
        var allowPadding = false
        var needsSigner = false
    }

    /// The presets, documented in docs/identity.md.
    static let presets: [String: Preset] = [
        "pomerium": Preset(header: "X-Pomerium-Jwt-Assertion", algorithms: ["ES256"], userClaim: "email", groupsClaim: "groups"),
        "google-iap": Preset(
            header: "X-Goog-Iap-Jwt-Assertion", algorithms: ["ES256"], userClaim: "email", issuer: "https://cloud.google.com/iap",
            jwksURL: { _ in "https://www.gstatic.com/iap/verify/public_key-jwk" }),
        "cloudflare-access": Preset(
            header: "Cf-Access-Jwt-Assertion", algorithms: ["RS256"], userClaim: "email",
            jwksURL: { issuer in issuer.map { $0 + "/cdn-cgi/access/certs" } }),
        "aws-alb": Preset(header: "X-Amzn-Oidc-Data", algorithms: ["ES256"], userClaim: "email", allowPadding: true, needsSigner: true),
        "oidc": Preset(header: "Authorization", algorithms: ["RS256", "ES256"], userClaim: "sub"),
    ]

    static func readIdentity(
        _ value: JSONValue?, roles: Set<String>, directory: String, problems: ProblemList
    ) -> (IdentitySettings, String?) {
        guard let value else { return (IdentitySettings(), nil) }
        var r = ConfigReader(value, path: "identity", problems: problems)
        let remote = r.value("remote_user")
        if let remote { ConfigReader(remote, path: "identity.remote_user", problems: problems).finish() }
        let defaultRole = r.string("default_role")
        if let role = defaultRole, roles.firstByteEqual(role) == nil { problems.add("identity.default_role", "unknown role \"\(role)\"") }
        var assertions: [AssertionSource] = []
        var names: Set<String> = []
        for (i, entry) in (r.array("assertions") ?? []).enumerated() {
            guard let source = self.readAssertion(entry, path: "identity.assertions[\(i)]", directory: directory, problems: problems) else {
                continue
            }
            if !names.insert(source.name).inserted {
                problems.add("identity.assertions[\(i)].name", "duplicate source name \"\(source.name)\"")
            }
            assertions.append(source)
        }
        let proxy = r.value("proxy_headers").flatMap { self.readProxyHeaders($0, problems: problems) }
        let tokens = self.readServiceTokens(r.array("service_tokens") ?? [], roles: roles, problems: problems)
        r.finish()
        return (
            IdentitySettings(remoteUser: remote != nil, assertions: assertions, proxyHeaders: proxy, serviceTokens: tokens), defaultRole
        )
    }

    private static func readAssertion(_ value: JSONValue, path: String, directory: String, problems: ProblemList) -> AssertionSource? {
        var r = ConfigReader(value, path: path, problems: problems)
        let presetName = r.string("preset")
        var preset: Preset? = nil
        if let name = presetName {
            preset = self.presets[name]
            if preset == nil {
                problems.add("\(path).preset", "unknown preset \"\(name)\" (known: \(self.presets.keys.sorted().joined(separator: ", ")))")
            }
        }
        let name = r.string("name") ?? presetName ?? "assertion"
        let header = r.string("header") ?? preset?.header
        let issuer = r.string("issuer") ?? preset?.issuer
        var audiences: [String] = []
        switch r.value("audience") {
        case .string(let a)?: audiences = [a]
        case .array(let items)?:
            for (j, item) in items.enumerated() {
                if case .string(let a) = item { audiences.append(a) } else { problems.add("\(path).audience[\(j)]", "must be a string") }
            }
        case nil: break
        case let other?: problems.add("\(path).audience", "must be a string or an array of strings, found \(other.typeName)")
        }
        let algorithmNames = r.strings("algorithms") ?? preset?.algorithms ?? []
        var algorithms: Set<SignatureAlgorithm> = []
        for (i, a) in algorithmNames.enumerated() {
            if let alg = SignatureAlgorithm(jwsName: a) {
                algorithms.insert(alg)
            } else {
                problems.add("\(path).algorithms[\(i)]", "\"\(a)\" can never be accepted (only RS256 and ES256)")
            }
        }
        let jwksFile = r.string("jwks_file")
        let jwksURL = r.string("jwks_url") ?? preset?.jwksURL?(issuer)
        let albKeysURL = r.string("alb_keys_url")
        let userClaim = r.string("user_claim") ?? preset?.userClaim ?? "sub"
        let groupsClaim = r.string("groups_claim") ?? preset?.groupsClaim
        let leeway = r.int("leeway_seconds", in: 0...60) ?? 30
        let signer = r.string("signer")
        let type = r.string("typ")
        let allowPadding = r.bool("allow_padding") ?? preset?.allowPadding ?? false
        let maxAge = r.int("jwks_max_age_seconds", in: 10...86_400) ?? 600
        let cooldown = r.int("jwks_cooldown_seconds", in: 1...3600) ?? 30
        r.finish()
        if header == nil { problems.add("\(path).header", "required (or a preset)") }
        if issuer == nil { problems.add("\(path).issuer", "required: the exact iss value") }
        if audiences.isEmpty { problems.add("\(path).audience", "required: the audience(s) the token must be issued for") }
        if algorithms.isEmpty { problems.add("\(path).algorithms", "required: RS256 and/or ES256") }
        if preset?.needsSigner == true && signer == nil { problems.add("\(path).signer", "required for aws-alb: the load balancer's ARN") }
        let keySources = [jwksFile, jwksURL, albKeysURL].compactMap { $0 }
        guard keySources.count == 1 else {
            problems.add(path, "needs exactly one of jwks_file, jwks_url, alb_keys_url")
            return nil
        }
        let keys: any KeyProvider
        if let file = jwksFile {
            let full = file.hasPrefix("/") ? file : directory + "/" + file
            guard let data = FileManager.default.contents(atPath: full) else {
                problems.add("\(path).jwks_file", "cannot read \(full)")
                return nil
            }
            do { keys = StaticKeyProvider(try KeySet.parse(Array(data))) } catch {
                problems.add("\(path).jwks_file", error.reason)
                return nil
            }
        } else {
            let text = jwksURL ?? albKeysURL!
            guard let url = URL(string: text), url.scheme == "https", url.host != nil else {
                problems.add("\(path).\(jwksURL != nil ? "jwks_url" : "alb_keys_url")", "must be an https URL")
                return nil
            }
            keys =
                jwksURL != nil
                ? RemoteKeyProvider(url: url, maxAge: TimeInterval(maxAge), cooldown: TimeInterval(cooldown))
                : ALBKeyProvider(baseURL: url, cooldown: TimeInterval(cooldown))
        }
        guard let header, let issuer else { return nil }
        return AssertionSource(
            name: name, header: header, issuer: issuer, audiences: audiences, algorithms: algorithms, keys: keys, userClaim: userClaim,
            groupsClaim: groupsClaim, leeway: TimeInterval(leeway), allowPadding: allowPadding, requiredType: type, signer: signer)
    }

    private static func readProxyHeaders(_ value: JSONValue, problems: ProblemList) -> ProxyHeaderAuthenticator? {
        var r = ConfigReader(value, path: "identity.proxy_headers", problems: problems)
        let user = r.string("user")
        let groups = r.string("groups")
        let peers = r.strings("trusted_peers") ?? []
        r.finish()
        var ranges: [IPRange] = []
        for (i, p) in peers.enumerated() {
            if let range = IPRange(p) {
                ranges.append(range)
            } else {
                problems.add("identity.proxy_headers.trusted_peers[\(i)]", "not an IP address or CIDR range")
            }
        }
        if ranges.isEmpty {
            problems.add("identity.proxy_headers.trusted_peers", "required: the proxy's addresses; headers from anyone else are ignored")
        }
        guard let user else {
            problems.add("identity.proxy_headers.user", "required: the header naming the user, e.g. X-Forwarded-User")
            return nil
        }
        return ProxyHeaderAuthenticator(userHeader: user, groupsHeader: groups, trustedPeers: ranges)
    }

    private static func readServiceTokens(_ entries: [JSONValue], roles: Set<String>, problems: ProblemList) -> [ServiceToken] {
        var tokens: [ServiceToken] = []
        for (i, entry) in entries.enumerated() {
            let path = "identity.service_tokens[\(i)]"
            var r = ConfigReader(entry, path: path, problems: problems)
            let name = r.string("name") ?? ""
            let digestHex = r.string("sha256") ?? ""
            let tokenRoles = r.strings("roles") ?? []
            let expires = r.string("expires")
            r.finish()
            if !GroupList.isAcceptableName(name) || name.contains(where: { $0 == "," || $0.isWhitespace }) {
                problems.add("\(path).name", "required: a short name without spaces")
            }
            if tokens.contains(where: { $0.name.bytesEqual(name) }) { problems.add("\(path).name", "duplicate token name \"\(name)\"") }
            guard let digest = Self.hexBytes(digestHex), digest.count == 32 else {
                problems.add("\(path).sha256", "required: the token's SHA-256 as 64 hex digits (from `sluice token new`)")
                continue
            }
            for (j, role) in tokenRoles.enumerated() where roles.firstByteEqual(role) == nil {
                problems.add("\(path).roles[\(j)]", "unknown role \"\(role)\"")
            }
            var expiry: Date? = nil
            if let text = expires {
                expiry = Self.parseExpiry(text)
                if expiry == nil { problems.add("\(path).expires", "must be a date (2027-06-30) or an ISO 8601 date-time") }
            }
            tokens.append(ServiceToken(name: name, digest: digest, roles: Set(tokenRoles), expires: expiry))
        }
        return tokens
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
        guard text.utf8.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            guard let h = UInt8(String(UnicodeScalar(high)), radix: 16), let l = UInt8(String(UnicodeScalar(low)), radix: 16) else {
                return nil
            }
            out.append(h << 4 | l)
        }
        return out
    }

    /// A date means the end of that day in UTC (the token works through it).
    static func parseExpiry(_ text: String) -> Date? {
        // Only a bare date (10 characters) gets the day: Foundation's ISO 8601 parser ignores
        // trailing text, so a date-time + "T00:00:00Z" would parse too and expire a day late.
        if text.utf8.count == 10, RFC3339.isDateTime(text + "T00:00:00Z"), let date = try? Date(text + "T00:00:00Z", strategy: .iso8601) {
            return date.addingTimeInterval(86_400)
        }
        // The whole text must be a date-time: the parser alone would drop trailing text.
        guard RFC3339.isDateTime(text) else { return nil }
        return try? Date(text, strategy: .iso8601)
    }
}
