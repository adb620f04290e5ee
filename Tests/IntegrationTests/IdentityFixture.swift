import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Keys, JWKS documents and signed tokens for the identity tests, made by an implementation that
/// shares no code with Sluice: Python 3 with the `cryptography` package (scripts/test installs it).
///
/// Each fixture owns a private temporary directory holding the Python tool, the private keys
/// (created on first use, one PEM file per key name) and scratch files. A key name that starts
/// with `rsa` is an RSA-2048 key (RS256), any other name a P-256 key (ES256); a key's `kid` in a
/// JWKS is its name.
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
    /// Where the private keys live.
    var keyDirectory: String { self.directory + "/keys" }

    /// Creates the directory and writes the Python tool into it.
    /// - Throws: `HarnessError` if the directory cannot be made or Python's `cryptography` is missing.
    init() throws {
        self.directory = try Self.makeTemporaryDirectory(prefix: "sluice-idfx")
        try Self.jwtTool.write(toFile: self.directory + "/jwt_tool.py", atomically: true, encoding: .utf8)
        try Self.jwksServer.write(toFile: self.directory + "/jwks_server.py", atomically: true, encoding: .utf8)
        let probe = try Self.run("/usr/bin/env", ["python3", "-c", "import cryptography"])
        guard probe.status == 0 else {
            throw HarnessError(
                "python3 with the cryptography package is needed to mint test tokens "
                    + "(scripts/test installs it: pip install cryptography): \(probe.stderr)")
        }
    }

    /// Removes the directory unless `SLUICE_KEEP_TMP` is set.
    func remove() {
        if ProcessInfo.processInfo.environment["SLUICE_KEEP_TMP"] != nil {
            print("IdentityFixture: kept \(self.directory)")
        } else {
            try? FileManager.default.removeItem(atPath: self.directory)
        }
    }

    /// The current time as a JWT NumericDate (whole seconds).
    var now: Int { Int(Date().timeIntervalSince1970) }

    /// A JWKS document with the public keys of `names` (the keys are created if missing).
    func jwks(_ names: [String]) throws -> String {
        try self.python(["jwks", self.keyDirectory] + names, stdin: nil).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Signed tokens, one per spec; see the doc comment of `jwtTool` for the spec members.
    func mint(_ specs: [[String: Any]]) throws -> [String] {
        let input = try JSONSerialization.data(withJSONObject: specs)
        let output = try self.python(["mint", self.keyDirectory], stdin: input)
        guard let tokens = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String], tokens.count == specs.count
        else { throw HarnessError("jwt_tool.py mint printed no token list: \(output.prefix(300))") }
        return tokens
    }

    /// One signed token.
    func mint(_ spec: [String: Any]) throws -> String {
        try self.mint([spec])[0]
    }

    private func python(_ arguments: [String], stdin: Data?) throws -> String {
        let result = try Self.run("/usr/bin/env", ["python3", self.directory + "/jwt_tool.py"] + arguments, stdin: stdin)
        guard result.status == 0 else {
            throw HarnessError("jwt_tool.py \(arguments.first ?? "") failed (\(result.status)): \(result.stderr)")
        }
        return result.stdout
    }

    // MARK: - Running short-lived programs

    /// The result of a finished program.
    struct Completed: Sendable {
        /// The exit status (or 128 + signal).
        let status: Int32
        /// Everything it wrote to stdout.
        let stdout: String
        /// Everything it wrote to stderr.
        let stderr: String
    }

    /// Runs a short-lived program to completion, feeding `stdin` and collecting its output through
    /// files (no pipe can fill up and stall it).
    static func run(_ path: String, _ arguments: [String], stdin: Data? = nil) throws -> Completed {
        let scratch = try Self.makeTemporaryDirectory(prefix: "sluice-run")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let inputPath = scratch + "/stdin"
        let outputPath = scratch + "/stdout"
        let errorPath = scratch + "/stderr"
        try (stdin ?? Data()).write(to: URL(fileURLWithPath: inputPath))
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardInput = FileHandle(forReadingAtPath: inputPath)
        process.standardOutput = FileHandle(forWritingAtPath: outputPath)
        process.standardError = FileHandle(forWritingAtPath: errorPath)
        try process.run()
        process.waitUntilExit()
        let status = process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
        return Completed(
            status: status,
            stdout: (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "")
    }

    static func makeTemporaryDirectory(prefix: String) throws -> String {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        let path = template.withUnsafeMutableBufferPointer { buffer -> String? in
            guard let base = buffer.baseAddress, let result = mkdtemp(base) else { return nil }
            return String(cString: result)
        }
        guard let path else { throw HarnessError("mkdtemp failed: \(String(cString: strerror(errno)))") }
        return path
    }

    // MARK: - The Python tools

    /// `jwt_tool.py`: keys, JWKS documents and tokens, including deliberately broken ones.
    static let jwtTool = #"""
        """Test-only JWT/JWKS tool for Sluice's integration tests, independent of Sluice's own code.

          jwt_tool.py jwks KEYDIR NAME...   print a JWKS with the public keys NAME... (created if missing)
          jwt_tool.py mint KEYDIR           read a JSON array of token specs on stdin, print a JSON array of tokens

        A key NAME starting with "rsa" is RSA-2048 (RS256), any other is P-256 (ES256); the kid is NAME.
        Spec members (all optional except key):
          key            signing key name
          alg            how to sign: ES256, RS256, HS256 or none (default: the key's algorithm)
          header         header object (default {"alg": alg, "kid": key}); raw_header: exact header JSON text
          payload        claims object; raw_payload: exact payload JSON text
          embed_jwk      a key name whose public JWK is put into header.jwk
          hmac_secret    {"key": NAME, "form": "pem" | "n"}: the HS256 secret made from a public key
          pad            list of segments ("header", "payload", "signature") to encode with "=" padding;
                         header and payload are padded before signing, so only the padding is wrong
          tamper_payload claims object whose encoding replaces the payload after signing
          signature      exact text of the third segment
        """
        import base64
        import hashlib
        import hmac
        import json
        import os
        import sys

        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils


        def b64(data, pad=False):
            text = base64.urlsafe_b64encode(data).decode("ascii")
            return text if pad else text.rstrip("=")


        def uint(value, length=None):
            return value.to_bytes(length or (value.bit_length() + 7) // 8, "big")


        def compact(obj):
            return json.dumps(obj, separators=(",", ":"))


        def load(keydir, name):
            path = os.path.join(keydir, name + ".pem")
            if os.path.exists(path):
                with open(path, "rb") as f:
                    return serialization.load_pem_private_key(f.read(), password=None)
            if name.startswith("rsa"):
                key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            else:
                key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            with open(path + ".tmp", "wb") as f:
                f.write(pem)
            os.replace(path + ".tmp", path)
            return key


        def public_jwk(keydir, name):
            key = load(keydir, name)
            numbers = key.public_key().public_numbers()
            if isinstance(key, ec.EllipticCurvePrivateKey):
                return {"kty": "EC", "crv": "P-256", "x": b64(uint(numbers.x, 32)), "y": b64(uint(numbers.y, 32)),
                        "kid": name, "use": "sig", "alg": "ES256"}
            return {"kty": "RSA", "n": b64(uint(numbers.n)), "e": b64(uint(numbers.e)), "kid": name, "use": "sig",
                    "alg": "RS256"}


        def hmac_secret(keydir, spec):
            public = load(keydir, spec["key"]).public_key()
            if spec["form"] == "pem":
                return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            if spec["form"] == "n":
                return uint(public.public_numbers().n)
            raise SystemExit("unknown hmac_secret form " + spec["form"])


        def segment(text, pad, name):
            """Encodes one JSON text; when padding is asked for, the encoding must really end in '='."""
            encoded = b64(text.encode("utf-8"), pad)
            if pad and not encoded.endswith("="):
                raise SystemExit("segment %s needs no padding; change its length" % name)
            return encoded


        def sign(keydir, spec, alg, signing_input):
            if alg == "none":
                return b""
            if alg == "HS256":
                return hmac.new(hmac_secret(keydir, spec["hmac_secret"]), signing_input, hashlib.sha256).digest()
            key = load(keydir, spec["key"])
            if alg == "ES256":
                r, s = utils.decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
                return uint(r, 32) + uint(s, 32)
            if alg == "RS256":
                return key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
            raise SystemExit("unknown alg " + alg)


        def mint(keydir, spec):
            name = spec["key"]
            alg = spec.get("alg") or ("RS256" if name.startswith("rsa") else "ES256")
            pad = set(spec.get("pad", []))
            if "raw_header" in spec:
                header_text = spec["raw_header"]
            else:
                header = dict(spec.get("header") or {"alg": alg, "kid": name})
                if "embed_jwk" in spec:
                    header["jwk"] = public_jwk(keydir, spec["embed_jwk"])
                header_text = compact(header)
            payload_text = spec["raw_payload"] if "raw_payload" in spec else compact(spec.get("payload", {}))
            head = segment(header_text, "header" in pad, "header")
            body = segment(payload_text, "payload" in pad, "payload")
            signature = sign(keydir, spec, alg, (head + "." + body).encode("ascii"))
            if "tamper_payload" in spec:
                body = b64(compact(spec["tamper_payload"]).encode("utf-8"))
            third = spec["signature"] if "signature" in spec else b64(signature, "signature" in pad)
            if "signature" in pad and not third.endswith("="):
                raise SystemExit("signature needs no padding")
            return head + "." + body + "." + third


        def main():
            command, keydir = sys.argv[1], sys.argv[2]
            os.makedirs(keydir, exist_ok=True)
            if command == "jwks":
                print(compact({"keys": [public_jwk(keydir, name) for name in sys.argv[3:]]}))
            elif command == "mint":
                print(compact([mint(keydir, spec) for spec in json.load(sys.stdin)]))
            else:
                raise SystemExit("unknown command " + command)


        main()
        """#

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
    private let process: SpawnedProcess
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
        let openssl = try IdentityFixture.run(
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
        self.process = try SpawnedProcess(
            path: "/usr/bin/env",
            arguments: [
                "python3", fixture.directory + "/jwks_server.py", self.root, directory + "/cert.pem",
                directory + "/key.pem", portFile, self.logPath,
            ],
            outputPath: directory + "/server-output.log")
        let deadline = ContinuousClock.now + .seconds(10)
        var port: UInt16? = nil
        while port == nil && ContinuousClock.now < deadline {
            guard self.process.isRunning else { break }
            port = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap {
                UInt16($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            if port == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        guard let port else {
            let output = (try? String(contentsOfFile: directory + "/server-output.log", encoding: .utf8)) ?? ""
            self.process.terminate(signal: SIGKILL, timeout: .seconds(2))
            throw HarnessError("the JWKS server did not start (\(self.process.terminationDescription)): \(output)")
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
            let scratch = try? IdentityFixture.makeTemporaryDirectory(prefix: "sluice-ns")
        else { return nil }
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        _ = FileManager.default.createFile(atPath: scratch + "/a", contents: Data("a".utf8))
        _ = FileManager.default.createFile(atPath: scratch + "/b", contents: Data("b".utf8))
        let candidates = [
            ["--mount", "--propagation", "private"],
            ["--user", "--map-root-user", "--mount", "--propagation", "private"],
        ]
        for options in candidates {
            let probe = try? IdentityFixture.run(
                "/usr/bin/unshare", options + ["/bin/sh", "-c", #"mount --bind "$0" "$1" && cat "$1""#, scratch + "/a", scratch + "/b"])
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
