import Foundation
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Keys, JWKS documents and signed tokens for the identity tests, made by an implementation that
/// shares no code with Sluice: Python 3 with the `cryptography` package (scripts/test installs it),
/// through `TokenMinter` (Tests/TestSupport/mint.py).
///
/// Each fixture owns a private temporary directory (for configs, a JWKS server and scratch files)
/// and a minter whose keys are made on first use: a key name that starts with `rsa` is an RSA-2048
/// key (RS256), any other name a P-256 key (ES256); a key's `kid` in a JWKS is its name.
///
/// ```swift
/// let fixture = try IdentityFixture()
/// defer { fixture.remove() }
/// let jwks = try fixture.jwks(["ec-1", "rsa-1"])
/// let tokens = try fixture.mint([["key": "ec-1", "payload": ["sub": "dana", "exp": fixture.now + 600]]])
/// ```
///
/// Confinement: used by the one test that created it. Hence `@unchecked Sendable`.
final class IdentityFixture: @unchecked Sendable {
    /// The fixture's temporary directory.
    let directory: String
    private let temporary: TemporaryDirectory
    private let minter: TokenMinter

    /// Creates the directory, writes the JWKS server's script into it and starts the minter.
    /// - Throws: If the directory cannot be made or Python's `cryptography` is missing.
    init() throws {
        self.temporary = try TemporaryDirectory(prefix: "sluice-idfx", in: "/tmp")
        self.directory = self.temporary.path
        do {
            try Self.jwksServer.write(toFile: self.directory + "/jwks_server.py", atomically: true, encoding: .utf8)
            self.minter = try TokenMinter()
        } catch {
            self.temporary.remove()
            throw HarnessError(
                "python3 with the cryptography package is needed to mint test tokens "
                    + "(scripts/test installs it: pip install cryptography): \(error)")
        }
    }

    /// Stops the minter and removes the directory (unless `SLUICE_KEEP_TMP` is set).
    func remove() {
        self.minter.close()
        self.temporary.remove()
    }

    /// The current time as a JWT NumericDate (whole seconds).
    var now: Int { Int(Date().timeIntervalSince1970) }

    /// A JWKS document with the public keys of `names` (the keys are created if missing).
    func jwks(_ names: [String]) throws -> String {
        try self.minter.jwks(names)
    }

    /// Signed tokens, one per spec; see Tests/TestSupport/mint.py for the spec members.
    func mint(_ specs: [[String: Any]]) throws -> [String] {
        try self.minter.tokens(specs)
    }

    /// One signed token.
    func mint(_ spec: [String: Any]) throws -> String {
        try self.minter.token(spec)
    }

    // MARK: - The Python tools

    /// `jwks_server.py ROOT CERT KEY PORTFILE LOGFILE`: an HTTPS server on 127.0.0.1 (any free port,
    /// written to PORTFILE once listening) that serves the files under ROOT and appends one line
    /// `GET <path>` to LOGFILE for every request, before answering it.
    static let jwksServer = #"""
        import http.server
        import os
        import ssl
        import sys

        root, certfile, keyfile, portfile, logfile = sys.argv[1:6]


        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path.split("?", 1)[0]
                with open(logfile, "a") as log:
                    log.write("GET %s\n" % path)
                try:
                    with open(os.path.join(root, path.lstrip("/")), "rb") as f:
                        body = f.read()
                except OSError:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args):
                pass


        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certfile, keyfile)
        # The handshake happens in the handler's thread, so a stalled client cannot block accept().
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        with open(portfile + ".tmp", "w") as f:
            f.write("%d\n" % server.server_address[1])
        os.replace(portfile + ".tmp", portfile)
        server.serve_forever()
        """#
}

/// A local HTTPS server for JWKS documents (`jwks_server.py`) with a fresh self-signed certificate
/// for `127.0.0.1`, which counts the requests it receives.
///
/// Sluice fetches JWKS with FoundationNetworking (libcurl), which on Linux trusts only the system
/// CA bundle: `URLSessionCertificateAuthorityInfoFile` is read on Android only (checked on this
/// toolchain: libcurl still answers "self-signed certificate" with it set, as with `SSL_CERT_FILE`,
/// `CURL_CA_BUNDLE` or an `OPENSSL_CONF` whose `system_default` names a `VerifyCAFile`). So
/// `launcher` runs sluice in a private mount namespace in which the system bundle file is replaced
/// by a copy that also holds this certificate; nothing outside that namespace changes.
final class JWKSServer: @unchecked Sendable {
    /// The directory whose files are served (write `jwks.json` here).
    let root: String
    /// The port on 127.0.0.1.
    let port: UInt16
    private let process: ChildProcess
    private let logPath: String
    /// The system CA bundle plus this server's certificate.
    let bundlePath: String

    /// The system CA bundle libcurl (Debian, Ubuntu) reads by default.
    static let systemBundle = "/etc/ssl/certs/ca-certificates.crt"

    /// `https://127.0.0.1:<port>/<name>`.
    func url(_ name: String) -> String { "https://127.0.0.1:\(self.port)/\(name)" }

    /// Makes a certificate with `openssl req`, starts the server in `fixture`'s directory and waits
    /// (at most 10 s) until it listens.
    init(fixture: IdentityFixture) async throws {
        let directory = fixture.directory + "/https"
        self.root = directory + "/www"
        self.logPath = directory + "/requests.log"
        self.bundlePath = directory + "/ca-bundle.pem"
        try FileManager.default.createDirectory(atPath: self.root, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: self.logPath, contents: nil)
        let openssl = try ChildProcess.run(
            "/usr/bin/env",
            [
                "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", directory + "/key.pem", "-out", directory + "/cert.pem", "-days", "2",
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            ])
        guard openssl.status == 0 else { throw HarnessError("openssl req failed: \(openssl.stderr)") }
        let system = (try? String(contentsOfFile: Self.systemBundle, encoding: .utf8)) ?? ""
        let certificate = try String(contentsOfFile: directory + "/cert.pem", encoding: .utf8)
        try (system + "\n" + certificate).write(toFile: self.bundlePath, atomically: true, encoding: .utf8)

        let portFile = directory + "/port"
        let process = try ChildProcess(
            path: "/usr/bin/env",
            arguments: [
                "python3", fixture.directory + "/jwks_server.py", self.root, directory + "/cert.pem",
                directory + "/key.pem", portFile, self.logPath,
            ],
            stdout: .file(directory + "/server-output.log", append: true), stderr: .sameAsStdout)
        self.process = process
        var port: UInt16? = nil
        await Poll.until(within: .seconds(10), every: .milliseconds(50)) {
            port = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap {
                UInt16($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            return port != nil || !process.isRunning
        }
        guard let port else {
            let output = (try? String(contentsOfFile: directory + "/server-output.log", encoding: .utf8)) ?? ""
            process.terminate(signal: SIGKILL, timeout: .seconds(2))
            throw HarnessError("the JWKS server did not start (\(process.terminationDescription)): \(output)")
        }
        self.port = port
    }

    /// Replaces a served file atomically (a request sees the old or the new document, never a mix).
    func publish(_ contents: String, as name: String = "jwks.json") throws {
        try contents.write(toFile: self.root + "/" + name, atomically: true, encoding: .utf8)
    }

    /// How many requests for `path` (e.g. `/jwks.json`) the server has received.
    func requestCount(_ path: String = "/jwks.json") -> Int {
        let log = (try? String(contentsOfFile: self.logPath, encoding: .utf8)) ?? ""
        return log.split(separator: "\n").filter { $0 == "GET \(path)" }.count
    }

    /// Stops the server.
    func stop() {
        self.process.terminate(signal: SIGTERM, timeout: .seconds(5))
    }

    // MARK: - Trusting the certificate inside sluice

    /// The `unshare` options that give a child process a private mount namespace in which it may
    /// bind-mount, or nil if this machine allows neither (no root, no unprivileged user namespaces).
    static func mountNamespaceOptions() -> [String]? {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare"),
            FileManager.default.fileExists(atPath: Self.systemBundle),
            let scratch = try? TemporaryDirectory(prefix: "sluice-ns", in: "/tmp")
        else { return nil }
        defer { scratch.remove() }
        _ = FileManager.default.createFile(atPath: scratch.file("a"), contents: Data("a".utf8))
        _ = FileManager.default.createFile(atPath: scratch.file("b"), contents: Data("b".utf8))
        let candidates = [
            ["--mount", "--propagation", "private"],
            ["--user", "--map-root-user", "--mount", "--propagation", "private"],
        ]
        for options in candidates {
            let probe = try? ChildProcess.run(
                "/usr/bin/unshare",
                options + ["/bin/sh", "-c", #"mount --bind "$0" "$1" && cat "$1""#, scratch.file("a"), scratch.file("b")])
            if probe?.status == 0 && probe?.stdout == "a" { return options }
        }
        return nil
    }

    /// Whether `launcher` can work on this machine.
    static var canTrustTestCertificate: Bool { Self.mountNamespaceOptions() != nil }

    /// A `LighttpdHarness.Options.launcher` script that starts sluice in a private mount namespace
    /// whose system CA bundle also trusts this server.
    func launcher() throws -> String {
        guard let options = Self.mountNamespaceOptions() else {
            throw HarnessError("cannot create a mount namespace (unshare) to make sluice trust the test certificate")
        }
        return """
            #!/bin/sh
            # Written by JWKSServer: sluice in a private mount namespace in which the system CA bundle
            # also holds the test server's certificate. Everything else is exec'd, so lighttpd's child
            # process is sluice itself.
            exec /usr/bin/unshare \(options.joined(separator: " ")) /bin/sh -c \
            'mount --bind "$0" \(Self.systemBundle) && exec "$@"' \(self.bundlePath) "$@"

            """
    }
}
