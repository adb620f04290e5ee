import Crypto
import Foundation
import Identity
import JobStore
import Policy
import SQLiteStore

/// The offline subcommands: `explain` and `token new`.
public enum Commands {
    /// `sluice explain --config FILE --pipeline NAME [--verb V]`: who may do what with that
    /// pipeline (`PipelineHolders`): for each verb, the roles that grant it and who holds them.
    public static func explainPipeline(configPath: String, pipeline name: String, verb: String?) -> Int32 {
        let configuration: Configuration
        do { configuration = try ConfigLoader.load(path: configPath) } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            return 1
        }
        // The configuration's spelling, found by bytes.
        guard let pipeline = configuration.pipelines.values.first(where: { $0.name.utf8.elementsEqual(name.utf8) }) else {
            FileHandle.standardError.write(Data("sluice: no pipeline is named \(name)\n".utf8))
            return 2
        }
        var only: Verb? = nil
        if let verb {
            guard let known = Verb.pipelineVerbs.first(where: { $0.rawValue.utf8.elementsEqual(verb.utf8) }) else {
                FileHandle.standardError.write(
                    Data("sluice: --verb must be one of \(Verb.pipelineVerbs.map(\.rawValue).joined(separator: ", "))\n".utf8))
                return 2
            }
            only = known
        }
        print(PipelineHolders.make(pipeline, configuration, verb: only).text, terminator: "")
        return 0
    }

    /// `sluice explain --config FILE --user U [--groups a,b]`: what that user may do, and why.
    /// `sluice explain --config FILE --token JWT [--source NAME]`: verifies the token exactly as the
    /// server would (same sources, same order) and says why it is accepted or refused.
    public static func explain(configPath: String, user: String?, groups: String?, token: String?, source: String?) -> Int32 {
        let configuration: Configuration
        do { configuration = try ConfigLoader.load(path: configPath) } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            return 1
        }
        if let user {
            // The server refuses identities whose names are not acceptable (NFC, no control
            // characters); explaining one would describe access that nobody can have.
            let groupList = GroupList.parse(groups ?? "")
            guard GroupList.isAcceptableName(user), groupList.allSatisfy(GroupList.isAcceptableName) else {
                FileHandle.standardError.write(
                    Data("sluice: user and group names must be non-empty, without control characters and in Unicode NFC\n".utf8))
                return 2
            }
            let principal = Principal(user: user, groups: Set(groupList), source: .remoteUser, isAmbient: true)
            print(Explanation.make(principal, configuration).text, terminator: "")
            return 0
        }
        guard let token else { return 2 }
        let sources = configuration.identity.assertions.filter { source == nil || $0.name == source }
        guard !sources.isEmpty else {
            print("refused: no assertion source\(source.map { " named \($0)" } ?? "") is configured")
            return 1
        }
        for assertionSource in sources {
            switch AssertionVerifier(source: assertionSource).verify(token) {
            case .success(let verified):
                print("accepted by source \(assertionSource.name): kid \(verified.kid ?? "-"), \(verified.algorithm)")
                let principal = Principal(
                    user: verified.user, groups: verified.groups, source: .assertion, isAmbient: false, sourceName: assertionSource.name)
                print(Explanation.make(principal, configuration).text, terminator: "")
                return 0
            case .failure(let error):
                print("refused by source \(assertionSource.name): \(error)")
            }
        }
        return 1
    }

    /// `sluice audit export --config FILE [--since DATE]`: every audit record (or those since a
    /// date), oldest first, as JSON lines — for shipping to a SIEM or archiving.
    public static func exportAudit(configPath: String, since: String?) -> Int32 {
        let configuration: Configuration
        do { configuration = try ConfigLoader.load(path: configPath) } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            return 1
        }
        var sinceDate: Date? = nil
        if let since {
            guard let date = ConfigLoader.parseExpiry(since).map({ since.count == 10 ? $0.addingTimeInterval(-86_400) : $0 }) else {
                FileHandle.standardError.write(Data("sluice: --since must be a date (2026-11-01) or an ISO 8601 date-time\n".utf8))
                return 2
            }
            sinceDate = date
        }
        do {
            let store = try StoreOpener.open(configuration.store, dataDirectory: configuration.server.dataDirectory)
            var records: [AuditRecord] = []
            var before: Int64? = nil
            while true {
                let page = try store.auditRecords(AuditQuery(beforeID: before, since: sinceDate, limit: 10_000))
                records += page
                guard page.count == 10_000, let last = page.last else { break }
                before = last.id
            }
            for record in records.reversed() { print(String(decoding: JobJSON.encode(AuditJSON(record)).dropLast(), as: UTF8.self)) }
            return 0
        } catch {
            FileHandle.standardError.write(Data("sluice: cannot read the audit log: \(error)\n".utf8))
            return 1
        }
    }

    /// `sluice migrate --config FILE`: opens the configured store, which creates or migrates its
    /// schema (under the store's advisory lock, so it may run while hosts start), and exits. Run
    /// it with the owner role's URL when Sluice's runtime role may not create tables
    /// (docs/deployment.md, "A PostgreSQL store").
    public static func migrate(configPath: String) -> Int32 {
        let configuration: Configuration
        do { configuration = try ConfigLoader.load(path: configPath) } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            return 1
        }
        do {
            _ = try StoreOpener.open(configuration.store, dataDirectory: configuration.server.dataDirectory)
        } catch {
            FileHandle.standardError.write(Data("sluice: \(error)\n".utf8))
            return 1
        }
        print("the \(configuration.store.kind) store is at the current schema")
        return 0
    }

    /// `sluice token new NAME [--roles a,b] [--expires DATE]`: prints a new token once, and the
    /// configuration entry that holds only its SHA-256.
    public static func newToken(name: String, roles: [String], expires: String?) -> Int32 {
        guard GroupList.isAcceptableName(name), !name.contains(where: { $0 == "," || $0 == "\"" || $0.isWhitespace }) else {
            FileHandle.standardError.write(Data("sluice: token name must be a short word without spaces, commas or quotes\n".utf8))
            return 2
        }
        if let expires, ConfigLoader.parseExpiry(expires) == nil {
            FileHandle.standardError.write(Data("sluice: --expires must be a date (2027-06-30) or an ISO 8601 date-time\n".utf8))
            return 2
        }
        if let expires, let warning = Self.expiryWarning(expires, now: Date()) {
            FileHandle.standardError.write(Data("sluice: warning: \(warning)\n".utf8))
        }
        let token = ServiceToken.generate()
        let digest = Hex.encode(SHA256.hash(Array(token.utf8)))
        let roleList = roles.map { "\"\($0)\"" }.joined(separator: ", ")
        print(
            """
            Token (shown once; store it in your CI's secret store):

                \(token)

            Add this entry to identity.service_tokens in the configuration:

                { name: "\(name)", sha256: "\(digest)", roles: [\(roleList)]\(expires.map { ", expires: \"\($0)\"" } ?? "") },

            Use it with:  curl -H 'Authorization: Bearer \(ServiceToken.prefix)…' …
            """)
        return 0
    }

    /// A warning if `expires` (a date meaning through its end, UTC, or a date-time) is not in the
    /// future at `now`: such a token is refused from the start. Nil if it is, or cannot be read.
    static func expiryWarning(_ expires: String, now: Date) -> String? {
        guard let expiry = ConfigLoader.parseExpiry(expires), expiry <= now else { return nil }
        return "--expires \(expires) is in the past (\(expiry.ISO8601Format())): the token will be refused from the start"
    }
}
