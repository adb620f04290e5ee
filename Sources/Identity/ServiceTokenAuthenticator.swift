import Crypto
public import Foundation
public import HTTP

/// A configured service token: only its SHA-256 is stored.
public struct ServiceToken: Sendable, Hashable {
    /// The token's name (the principal's user name is `token:<name>`).
    public var name: String
    /// SHA-256 of the token text.
    public var digest: [UInt8]
    /// Roles the token holds.
    public var roles: Set<String>
    /// After this instant the token is refused.
    public var expires: Date?

    /// Creates a token entry.
    public init(name: String, digest: [UInt8], roles: Set<String>, expires: Date?) {
        self.name = name
        self.digest = digest
        self.roles = roles
        self.expires = expires
    }

    /// The prefix of every token Sluice issues; it lets secret scanners recognise leaked tokens.
    public static let prefix = "slc_"

    /// A new random token: the prefix and 256 bits from OpenSSL's DRBG, base64url.
    public static func generate() -> String {
        self.prefix + Base64URL.encode(SecureRandom.bytes(32))
    }
}

/// Authenticates `Authorization: Bearer slc_…` against configured service tokens by comparing
/// SHA-256 digests in constant time. Bearer values without the prefix are not this source's
/// (they may be signed assertions) and are left to the next source.
public struct ServiceTokenAuthenticator: Authenticator {
    private let tokens: [ServiceToken]
    private let now: @Sendable () -> Date

    /// Creates the authenticator; `now` is injectable for tests.
    public init(tokens: [ServiceToken], now: @escaping @Sendable () -> Date = Date.init) {
        self.tokens = tokens
        self.now = now
    }

    public func authenticate(_ request: HTTPRequest) -> AuthenticationResult {
        guard let token = BearerToken.value(in: request), token.hasPrefix(ServiceToken.prefix) else { return .absent }
        let digest = SHA256.hash(Array(token.utf8))
        // Compare against every entry, so the time taken does not depend on which one matches.
        var match: ServiceToken? = nil
        for entry in self.tokens where ConstantTime.equals(entry.digest, digest) { match = entry }
        let tag = Hex.encode(digest.prefix(4))
        guard let entry = match else {
            return .invalid(.init(.serviceToken, .unknownToken, "unknown service token (sha256 prefix \(tag))"))
        }
        if let expires = entry.expires, self.now() >= expires {
            return .invalid(.init(.serviceToken, .tokenExpired, "service token \(entry.name) expired"))
        }
        return .authenticated(
            Principal(
                user: "token:\(entry.name)", source: .serviceToken, isAmbient: false, roles: entry.roles, sourceName: entry.name))
    }
}

/// Reads `Authorization: Bearer <token>`.
public enum BearerToken {
    /// The token, if the request has a Bearer authorization (scheme case-insensitive).
    public static func value(in request: HTTPRequest) -> String? {
        guard let header = request.header("Authorization") else { return nil }
        let parts = header.utf8.split(separator: UInt8(ascii: " "), maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].count == 6,
            String(decoding: parts[0], as: UTF8.self).lowercased() == "bearer"
        else { return nil }
        // Trim spaces and tabs by hand: Foundation's trimmingCharacters showed in profiles.
        var value = parts[1][...]
        while let first = value.first, first == 0x20 || first == 0x09 { value = value.dropFirst() }
        while let last = value.last, last == 0x20 || last == 0x09 { value = value.dropLast() }
        return String(decoding: value, as: UTF8.self)
    }
}
