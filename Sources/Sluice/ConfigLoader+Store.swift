import Foundation
import JSON
import Workflow

extension ConfigLoader {
    /// Reads `store`: absent means SQLite in the data directory; `store.postgres` names a
    /// PostgreSQL database. A password written into the URL is refused: it belongs in
    /// `password_file` or `password_env`.
    static func readStore(_ value: JSONValue?, directory: String, problems: ProblemList) -> StoreSettings {
        guard let value else { return .sqlite }
        var r = ConfigReader(value, path: "store", problems: problems)
        if r.keys.isEmpty { problems.add("store", "name a store (postgres), or leave store out for SQLite in server.data_dir") }
        var settings = StoreSettings.sqlite
        if let postgres = r.value("postgres") {
            settings = self.readPostgres(postgres, directory: directory, problems: problems)
        }
        r.finish()
        return settings
    }

    private static func readPostgres(_ value: JSONValue, directory: String, problems: ProblemList) -> StoreSettings {
        var r = ConfigReader(value, path: "store.postgres", problems: problems)
        let url = r.string("url")
        let file = r.string("password_file")
        let variable = r.string("password_env")
        let pool = r.int("pool", in: 1...64) ?? 4
        let host = r.string("host")
        let lease = r.number("lease_seconds")
        r.finish()
        if let host, let problem = Self.hostIDProblem(host) { problems.add("store.postgres.host", problem) }
        if let lease, !(1...600).contains(lease) {
            problems.add(
                "store.postgres.lease_seconds",
                "must be from 1 to 600 seconds (another host rescues the jobs of a host silent for this long)")
        }
        guard let url else {
            problems.add("store.postgres.url", "required: a postgresql:// URL or key=value connection string (without the password)")
            return .sqlite
        }
        if let problem = Self.postgresURLProblem(url) { problems.add("store.postgres.url", problem) }
        var password: StoreSettings.PasswordSource? = nil
        switch (file, variable) {
        case (.some, .some):
            problems.add("store.postgres", "give password_file or password_env, not both")
        case (.some(let file), nil):
            if file.isEmpty {
                problems.add("store.postgres.password_file", "must not be empty")
            } else {
                password = .file(
                    file.hasPrefix("/") ? file : URL(fileURLWithPath: directory).appendingPathComponent(file).standardizedFileURL.path)
            }
        case (nil, .some(let name)):
            if EnvironmentName.isValid(name) {
                password = .environment(name)
            } else {
                problems.add("store.postgres.password_env", "invalid variable name \"\(name)\"")
            }
        case (nil, nil):
            break
        }
        return .postgres(
            StoreSettings.Postgres(
                url: url, password: password, pool: pool, host: host,
                leaseSeconds: lease.flatMap { (1...600).contains($0) ? $0 : nil } ?? StoreSettings.Postgres.defaultLeaseSeconds))
    }

    /// Why `host` is not acceptable as a host id, or nil: 1 to 200 bytes, no control characters
    /// (it appears in logs, /healthz and the hosts table).
    static func hostIDProblem(_ host: String) -> String? {
        let bytes = Array(host.utf8)
        if bytes.isEmpty { return "must not be empty" }
        if bytes.count > 200 { return "must be at most 200 bytes" }
        if bytes.contains(where: { $0 < 0x20 || $0 == 0x7f }) { return "must not contain control characters" }
        return nil
    }

    /// Why `url` is not acceptable as `store.postgres.url`, or nil. Checked as bytes.
    static func postgresURLProblem(_ url: String) -> String? {
        let bytes = Array(url.utf8)
        guard !bytes.isEmpty else { return "must not be empty" }
        if bytes.contains(where: { $0 < 0x20 || $0 == 0x7f }) { return "must not contain control characters" }
        let isURL = url.utf8.starts(with: "postgresql://".utf8) || url.utf8.starts(with: "postgres://".utf8)
        if isURL {
            // scheme://[user[:password]@]host...: a ':' in the user information is a password.
            let rest = bytes.dropFirst(url.utf8.starts(with: "postgresql://".utf8) ? 13 : 11)
            let authority = rest.prefix { $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "?") }
            if let at = authority.lastIndex(of: UInt8(ascii: "@")), authority[..<at].contains(UInt8(ascii: ":")) {
                return "holds a password: put it in password_file or password_env, never in the configuration"
            }
            if Self.queryHasPassword(bytes) {
                return "holds a password parameter: put it in password_file or password_env, never in the configuration"
            }
            return nil
        }
        // key=value conninfo: every word must be key=value, and none of the keys `password`.
        guard bytes.contains(UInt8(ascii: "=")) else {
            return "must be a postgresql:// URL or a key=value connection string (e.g. \"host=/run/postgresql dbname=sluice user=sluice\")"
        }
        if Self.conninfoHasPassword(bytes) {
            return "holds a password: put it in password_file or password_env, never in the configuration"
        }
        return nil
    }

    /// Whether a key=value connection string sets `password` (libpq allows spaces around `=`).
    private static func conninfoHasPassword(_ bytes: [UInt8]) -> Bool {
        let keyword = Array("password".utf8)
        let isSpace = { (b: UInt8) in b == 0x20 || b == 0x09 }
        var i = 0
        while i + keyword.count <= bytes.count {
            if (i == 0 || isSpace(bytes[i - 1])) && bytes[i...].starts(with: keyword) {
                var j = i + keyword.count
                while j < bytes.count && isSpace(bytes[j]) { j += 1 }
                if j < bytes.count && bytes[j] == UInt8(ascii: "=") { return true }
            }
            i += 1
        }
        return false
    }

    /// Whether a URL's query string has a `password` parameter.
    private static func queryHasPassword(_ bytes: [UInt8]) -> Bool {
        guard let question = bytes.firstIndex(of: UInt8(ascii: "?")) else { return false }
        return bytes[(question + 1)...].split(separator: UInt8(ascii: "&")).contains { $0.starts(with: "password=".utf8) }
    }
}
