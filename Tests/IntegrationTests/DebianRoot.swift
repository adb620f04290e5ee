import Foundation
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A clean Debian root (debootstrap) that scripts/test prepared, and commands run inside it with
/// chroot(8). The root shares this machine's network, so its servers are reached on loopback.
struct DebianRoot {
    /// The `.deb` under test (`SLUICE_TEST_DEB`).
    static let deb = ProcessInfo.processInfo.environment["SLUICE_TEST_DEB"].flatMap { $0.isEmpty ? nil : $0 }
    /// The root directory (`SLUICE_TEST_DEB_ROOT`).
    static let directory = ProcessInfo.processInfo.environment["SLUICE_TEST_DEB_ROOT"].flatMap { $0.isEmpty ? nil : $0 }

    /// Whether the package test can run; with `SLUICE_TEST_DEB_REQUIRED=1` it runs (and fails
    /// without its inputs) whatever else holds.
    static var isEnabled: Bool {
        ProcessInfo.processInfo.environment["SLUICE_TEST_DEB_REQUIRED"] == "1" || (deb != nil && directory != nil)
    }

    static let disabledReason =
        "no Debian package under test: scripts/test builds one (scripts/package) and a root (debootstrap) and sets SLUICE_TEST_DEB and SLUICE_TEST_DEB_ROOT"

    /// The root's path.
    let path: String

    init() throws {
        guard let directory = Self.directory, let deb = Self.deb else {
            throw HarnessError("SLUICE_TEST_DEB_REQUIRED=1 but SLUICE_TEST_DEB or SLUICE_TEST_DEB_ROOT is missing")
        }
        guard FileManager.default.fileExists(atPath: deb) else { throw HarnessError("no package at \(deb)") }
        guard FileManager.default.fileExists(atPath: directory + "/proc/self/exe") else {
            throw HarnessError("\(directory) has no /proc mounted (scripts/test mounts it)")
        }
        self.path = directory
    }

    /// Runs `command` (a program on the root's PATH and its arguments) inside the root as root.
    func run(_ command: [String], timeout: Duration = .seconds(120)) throws -> ChildProcess.Result {
        try ChildProcess.run("/usr/sbin/chroot", [self.path, "/usr/bin/env", Self.path] + command, timeout: timeout)
    }

    /// Starts `command` inside the root; its output is captured.
    func spawn(_ command: [String]) throws -> ChildProcess {
        try ChildProcess(path: "/usr/sbin/chroot", arguments: [self.path, "/usr/bin/env", Self.path] + command)
    }

    /// Debian's PATH for root, as a login shell in the root would have it.
    private static let path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// A file of the root, read from outside.
    func read(_ file: String) throws -> String { try String(contentsOfFile: self.path + file, encoding: .utf8) }

    /// Writes a file of the root from outside, keeping its mode and owner.
    func write(_ file: String, _ text: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: self.path + file))
        defer { try? handle.close() }
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data(text.utf8))
    }

    /// Whether `file` exists in the root (a dangling link counts).
    func exists(_ file: String) -> Bool {
        var info = Glibc.stat()
        return lstat(self.path + file, &info) == 0
    }

    /// Copies a file from this machine into the root.
    func copyIn(_ source: String, to file: String) throws {
        if FileManager.default.fileExists(atPath: self.path + file) { try FileManager.default.removeItem(atPath: self.path + file) }
        try FileManager.default.copyItem(atPath: source, toPath: self.path + file)
    }

    /// Permission bits and owner of a path.
    struct Ownership: Equatable, CustomStringConvertible {
        let mode: UInt32
        let uid: UInt32
        let gid: UInt32
        var description: String { "mode \(String(self.mode, radix: 8)) uid \(self.uid) gid \(self.gid)" }
    }

    /// The mode (permission and set-id bits) and owner of `file` in the root.
    func stat(_ file: String) throws -> Ownership {
        var info = Glibc.stat()
        guard lstat(self.path + file, &info) == 0 else {
            throw HarnessError("cannot stat \(file) in the root: \(String(cString: strerror(errno)))")
        }
        return Ownership(mode: UInt32(info.st_mode) & 0o7777, uid: info.st_uid, gid: info.st_gid)
    }

    /// Debian's lighttpd configuration with only its ports moved (80 → `http`, 443 → `https`, on
    /// loopback), a self-signed certificate where 10-ssl.conf expects one, and one basic-auth
    /// user `admin` in the file the package's snippet names.
    func configureLighttpd(http: UInt16, https: UInt16, password: String) throws {
        let main = try self.read("/etc/lighttpd/lighttpd.conf")
        guard main.contains("server.port                 = 80") else { throw HarnessError("lighttpd.conf has no server.port = 80") }
        try self.write(
            "/etc/lighttpd/lighttpd.conf",
            main.replacingOccurrences(of: "server.port                 = 80", with: "server.port                 = \(http)"))
        let ssl = try self.read("/etc/lighttpd/conf-available/10-ssl.conf")
        guard ssl.contains("\"0.0.0.0:443\"") else { throw HarnessError("10-ssl.conf does not listen on 0.0.0.0:443") }
        try self.write(
            "/etc/lighttpd/conf-available/10-ssl.conf",
            ssl.replacingOccurrences(of: "\"0.0.0.0:443\"", with: "\"127.0.0.1:\(https)\"")
                .replacingOccurrences(of: "include_shell \"/usr/share/lighttpd/use-ipv6.pl 443\"", with: ""))

        let certificate = try ChildProcess.run(
            "/usr/bin/env",
            [
                "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost",
                "-days", "1", "-keyout", self.path + "/etc/lighttpd/server.pem", "-out", self.path + "/etc/lighttpd/server.cert",
            ])
        guard certificate.succeeded else { throw HarnessError("openssl req: \(certificate)") }
        let pem = try self.read("/etc/lighttpd/server.pem") + self.read("/etc/lighttpd/server.cert")
        try pem.write(toFile: self.path + "/etc/lighttpd/server.pem", atomically: true, encoding: .utf8)

        let hashed = try ChildProcess.run("/usr/bin/env", ["openssl", "passwd", "-6", password])
        guard hashed.succeeded else { throw HarnessError("openssl passwd: \(hashed)") }
        let htpasswd = "/etc/lighttpd/sluice.htpasswd"
        try "admin:\(hashed.stdout.trimmingCharacters(in: .whitespacesAndNewlines))\n".write(
            toFile: self.path + htpasswd, atomically: true, encoding: .utf8)
        // As the snippet's header says: root:www-data 0640.
        for command in [["chown", "root:www-data", htpasswd], ["chmod", "0640", htpasswd]] {
            let result = try self.run(command)
            guard result.succeeded else { throw HarnessError("\(command): \(result)") }
        }
    }

    /// Starts the service the way systemd would from `unit`: its runtime directory (owner and
    /// mode), each `ExecStartPre` (a `+` line as root, the others as the unit's user), then
    /// `ExecStart` as the unit's user and group with its umask.
    func start(unit: SystemdUnit) throws -> ChildProcess {
        let user = try unit.value("User")
        let group = try unit.value("Group")
        if let runtime = unit.values("RuntimeDirectory").first {
            let mode = unit.values("RuntimeDirectoryMode").first ?? "0755"
            let made = try self.run(["install", "-d", "-o", user, "-g", group, "-m", mode, "/run/" + runtime])
            guard made.succeeded else { throw HarnessError("runtime directory: \(made)") }
        }
        let umask = unit.values("UMask").first ?? "0022"
        let asUser = ["setpriv", "--reuid=\(user)", "--regid=\(group)", "--init-groups", "--"]
        for line in unit.values("ExecStartPre") {
            let privileged = line.hasPrefix("+")
            let command = SystemdUnit.words(privileged ? String(line.dropFirst()) : line)
            let result = try self.run(privileged ? command : asUser + command)
            guard result.succeeded else { throw HarnessError("ExecStartPre=\(line): \(result)") }
        }
        let command = SystemdUnit.words(try unit.value("ExecStart"))
        // sh only sets the umask, then execs setpriv, which execs sluice: one pid all along.
        let shellWords = (asUser + command).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        return try self.spawn(["sh", "-c", "umask \(umask); exec \(shellWords)"])
    }

    /// The output of the given processes, for failure messages.
    func logs(_ processes: ChildProcess...) -> String {
        processes.map { process in
            let result = process.isRunning ? nil : process.waitBlocking()
            return "--- \(process.commandLine.suffix(from: 3).joined(separator: " ")): \(result.map(\.description) ?? "running")"
        }.joined(separator: "\n")
    }

    /// Stops whatever still runs inside the root (its `/proc/PID/root` is the root).
    func cleanUp() {
        guard let pids = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return }
        let resolved = (self.path as NSString).resolvingSymlinksInPath
        for entry in pids {
            guard let pid = pid_t(entry), pid != getpid() else { continue }
            guard let root = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(entry)/root") else { continue }
            if root == resolved { kill(pid, SIGKILL) }
        }
    }
}

/// The few keys of a systemd unit file that the package test needs.
struct SystemdUnit {
    /// `(key, value)` for every assignment, in file order.
    let assignments: [(key: String, value: String)]

    init(text: String) throws {
        var assignments: [(String, String)] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.hasPrefix("[") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            assignments.append((String(line[..<equals]).trimmingCharacters(in: .whitespaces), String(line[line.index(after: equals)...])))
        }
        guard !assignments.isEmpty else { throw HarnessError("an empty unit file") }
        self.assignments = assignments
    }

    /// Every value of `key`.
    func values(_ key: String) -> [String] { self.assignments.filter { $0.key == key }.map(\.value) }

    /// The one value of `key`.
    func value(_ key: String) throws -> String {
        let all = self.values(key)
        guard all.count == 1 else { throw HarnessError("the unit has \(all.count) \(key)= lines") }
        return all[0]
    }

    /// A command line split at spaces (the unit's commands quote nothing).
    static func words(_ line: String) -> [String] { line.split(separator: " ").map(String.init) }
}

/// An HTTPS client for the package test: curl(1), which speaks TLS (the test's own HTTPClient
/// speaks plain HTTP only), with the self-signed certificate accepted.
struct CurlClient {
    let port: UInt16
    let user: String
    let password: String

    func send(_ method: String, _ target: String, json: String? = nil, authenticated: Bool = true) throws -> HTTPClient.Response {
        var arguments = ["curl", "--silent", "--show-error", "--insecure", "--http1.1", "--include", "--max-time", "30", "-X", method]
        if authenticated { arguments += ["--user", "\(self.user):\(self.password)"] }
        if let json { arguments += ["-H", "Content-Type: application/json", "--data-binary", json] }
        arguments.append("https://127.0.0.1:\(self.port)\(target)")
        let result = try ChildProcess.run("/usr/bin/env", arguments, timeout: .seconds(40))
        guard result.succeeded else { throw HarnessError("curl: \(result)") }
        return try HTTPClient.parse(Array(result.standardOutput))
    }
}
