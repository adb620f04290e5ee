import ByteStrings
public import Foundation
import Identity
import JSON
import Logging
import Policy
import Workflow

/// Settings that are valid but probably unsafe. `sluice check` prints them as
/// `file:line: warning: key.path: message` and `serve` logs them at start and on reload; unlike
/// problems they do not refuse the file, so `check` still exits 0.
///
/// Warnings are `ConfigProblem`s (key path, message, line), so they are located and printed
/// like problems.
public enum ConfigWarnings {
    /// The warnings for `configuration` at `now`.
    public static func of(_ configuration: Configuration, now: Date = Date()) -> [ConfigProblem] {
        self.loopbackProxy(configuration.identity) + self.expiredTokens(configuration.identity.serviceTokens, now: now)
            + self.adminForEveryone(configuration.policy) + self.storePassword(configuration.store)
            + self.programs(configuration.pipelines)
    }

    /// Tasks whose program is missing or not executable here (`PipelineDefinition.programProblems`).
    static func programs(_ pipelines: [String: PipelineDefinition]) -> [ConfigProblem] {
        pipelines.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.flatMap { name in
            pipelines[name]!.programProblems().map { ConfigProblem(path: $0.path, message: $0.message) }
        }
    }

    /// A PostgreSQL password that `serve` will not be able to read (the file is missing or
    /// unreadable, the variable unset), or a password file others may read. Warnings, not
    /// problems: `sluice check` often runs where the secret is not installed (the policy
    /// repository's CI).
    static func storePassword(_ store: StoreSettings, environment: [String: String] = ProcessInfo.processInfo.environment)
        -> [ConfigProblem]
    {
        guard case .postgres(let settings) = store, let source = settings.password else { return [] }
        do {
            _ = try StoreSettings.readPassword(source, environment: environment)
        } catch {
            return [ConfigProblem(path: error.key, message: "\(error.reason); serve will fail to open the store")]
        }
        guard case .file(let path) = source, let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let mode = attributes[.posixPermissions] as? Int, mode & 0o077 != 0
        else { return [] }
        return [
            ConfigProblem(
                path: "store.postgres.password_file",
                message:
                    "\(path) may be read by others (mode \(String(mode, radix: 8))); make it readable by Sluice's user only (chmod 600)")
        ]
    }

    /// A default role that grants `admin`: every authenticated caller could then drain Sluice
    /// (stop it from starting jobs) or have it exit. Valid, but almost certainly not meant.
    static func adminForEveryone(_ policy: Policy) -> [ConfigProblem] {
        guard let name = policy.defaultRole, let role = policy.roles.first(where: { $0.name.bytesEqual(name) }) else { return [] }
        return Verb.instanceVerbs.compactMap { verb in
            guard let index = role.grants.firstIndex(where: { $0.allowsOnInstance(verb) }) else { return nil }
            return ConfigProblem(
                path: "identity.default_role",
                message:
                    "the default role \"\(name)\" grants \(verb.rawValue) (roles.\(name).grants[\(index)]) to every authenticated caller, "
                    + "who could then drain Sluice so that no job starts, or make it exit; grant \(verb.rawValue) in a role of named users or groups"
            )
        }
    }

    /// Trusted proxy peers that include loopback while `REMOTE_USER` is also trusted.
    ///
    /// Proxy headers are consulted before `REMOTE_USER`. Requests reach lighttpd from loopback
    /// whenever something on this host forwards or sends them (a local proxy, a tunnel, a shell
    /// user's curl); if loopback is trusted, each of them may name any user in the header, and
    /// a basic-auth user sending through such a path becomes whoever the header says.
    ///
    /// A client on a lighttpd unix-socket listener needs no check: lighttpd 1.4.69 passes the
    /// socket's path as its `REMOTE_ADDR`, which no IP range matches (nor can one name it).
    static func loopbackProxy(_ identity: IdentitySettings) -> [ConfigProblem] {
        guard identity.remoteUser, let proxy = identity.proxyHeaders else { return [] }
        var warnings: [ConfigProblem] = []
        for (i, range) in proxy.trustedPeers.enumerated() where Self.holdsLoopback(range) {
            warnings.append(
                ConfigProblem(
                    path: "identity.proxy_headers.trusted_peers[\(i)]",
                    message: "\"\(range)\" includes loopback: any request reaching lighttpd from this host may set "
                        + "\(proxy.userHeader) to any user, and proxy headers outrank REMOTE_USER, so with remote_user on "
                        + "a basic-auth user can act as anyone; trust only the proxy's own non-loopback address, or turn remote_user off"
                ))
        }
        return warnings
    }

    /// Whether `range` has an address in 127.0.0.0/8 or `::1`, also in IPv4-mapped IPv6 form
    /// (`::ffff:127.0.0.1`, which `REMOTE_ADDR` holds on a dual-stack socket).
    static func holdsLoopback(_ range: IPRange) -> Bool {
        // Two prefix ranges overlap exactly when one holds the other's first address: either
        // the range holds 127.0.0.0 (it is 127.0.0.0/8 or wider), or 127.0.0.0/8 holds the
        // range's own address (it lies inside; IPRange also matches the mapped form there).
        // ::1 is a single address, so holding it is the only way to overlap.
        let own = String(range.description.prefix { $0 != "/" })
        return ["127.0.0.0", "::ffff:127.0.0.0", "::1"].contains { range.contains($0) } || IPRange("127.0.0.0/8")!.contains(own)
    }

    /// Service tokens whose expiry has passed: requests with them are refused, which is the
    /// intent if the token was retired, but then its entry should go.
    static func expiredTokens(_ tokens: [ServiceToken], now: Date) -> [ConfigProblem] {
        var warnings: [ConfigProblem] = []
        for (i, token) in tokens.enumerated() {
            guard let expires = token.expires, expires <= now else { continue }
            warnings.append(
                ConfigProblem(
                    path: "identity.service_tokens[\(i)].expires",
                    message: "token \"\(token.name)\" expired at \(expires.ISO8601Format()); requests with it are refused "
                        + "(remove the entry, or issue a new token with `sluice token new`)"))
        }
        return warnings
    }

    /// `warnings` with the line of their key in the configuration file at `file`, as problems
    /// get theirs; unchanged if the file cannot be read again.
    static func located(_ warnings: [ConfigProblem], file: String) -> [ConfigProblem] {
        guard !warnings.isEmpty, let data = FileManager.default.contents(atPath: file),
            let document = try? JSONParser.parse(Array(data), json5: true)
        else { return warnings }
        return warnings.map { $0.located(in: document.lines) }
    }

    /// Logs each warning at `warning` level (what `serve` does at start and on reload).
    static func log(_ warnings: [ConfigProblem], logger: Logger) {
        for w in warnings { logger.warning("configuration warning: \(w.message)", ["config.key": w.path]) }
    }

    /// One line per warning: `file:line: warning: key.path: message`.
    static func describe(_ warnings: [ConfigProblem], file: String) -> [String] {
        ConfigProblem.byLine(warnings).map { w in
            let location = w.line.map { "\(file):\($0)" } ?? file
            return w.path.isEmpty ? "\(location): warning: \(w.message)" : "\(location): warning: \(w.path): \(w.message)"
        }
    }
}
