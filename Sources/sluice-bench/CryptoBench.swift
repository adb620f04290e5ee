import Crypto

/// `sluice-bench crypto`: ES256 and RS256 verifications per second through `PublicKey.verify`.
///
/// Keys and signatures are never made here: `scripts/bench` creates them with the `openssl` tool
/// (an independent implementation) and passes the directory with `--keys`. The directory holds
///
///     message.bin      the signed message
///     es256.spki.der   P-256 public key, DER SubjectPublicKeyInfo (`openssl pkey -pubout -outform DER`)
///     es256.sig.der    `openssl dgst -sha256 -sign` output: a DER ECDSA-Sig-Value
///     rs256.spki.der   RSA-2048 public key, DER SubjectPublicKeyInfo
///     rs256.sig        `openssl dgst -sha256 -sign` output: the 256-byte PKCS #1 v1.5 signature
///
/// Each key is loaded once; the timed loop calls only `verify` and aborts if it ever returns false.
enum CryptoBench {
    /// One primitive to measure: a key, a valid signature of the message, and its algorithm.
    struct Case {
        let algorithm: SignatureAlgorithm
        let key: PublicKey
        let signature: [UInt8]
    }

    /// Runs the benchmark with the parsed command-line options.
    static func run(_ options: Options) {
        guard let directory = options["--keys"] else { fail("crypto needs --keys DIR\n\(usage)", status: 2) }
        let seconds = options.positive("--seconds", default: 2)
        let runs = Int(options.positive("--runs", default: 5))
        guard runs >= 1 else { fail("--runs must be at least 1", status: 2) }
        guard let clock = BenchClock(rawValue: options["--clock"] ?? "user") else {
            fail("--clock must be user or wall", status: 2)
        }
        var algorithms = SignatureAlgorithm.allCases.sorted { $0.rawValue < $1.rawValue }  // ES256, RS256
        if let only = options["--only"] {
            guard let algorithm = SignatureAlgorithm(jwsName: only) else { fail("--only must be ES256 or RS256", status: 2) }
            algorithms = [algorithm]
        }

        let message = readFile("\(directory)/message.bin")
        for algorithm in algorithms {
            let benchCase = load(algorithm, from: directory)
            check(benchCase, message: message)
            var rates: [Double] = []
            for index in 1...runs {
                let run = timeRun(seconds: seconds) {
                    guard benchCase.key.verify(signature: benchCase.signature, message: message, algorithm: algorithm)
                    else { fail("\(algorithm): verify returned false for a valid signature") }
                }
                rates.append(run.rate(clock))
                note(
                    "\(algorithm) run \(index)/\(runs): \(whole(run.rate(clock))) verify/s (\(run.operations) in "
                        + "\(hundredths(run.wallSeconds)) s elapsed, \(hundredths(run.userSeconds)) s user, "
                        + "\(hundredths(run.systemSeconds)) s system; \(clock) clock)")
            }
            print("\(algorithm) \(whole(median(rates))) \(rates.map(whole).joined(separator: ","))")
        }
    }

    /// Loads the key and signature files for `algorithm` through the public Crypto API.
    static func load(_ algorithm: SignatureAlgorithm, from directory: String) -> Case {
        let prefix = "\(directory)/\(algorithm.rawValue.lowercased())"
        let key: PublicKey
        do {
            key = try PublicKey.fromSubjectPublicKeyInfoDER(readFile("\(prefix).spki.der"))
        } catch {
            fail("\(algorithm): Crypto refused \(prefix).spki.der: \(error)")
        }
        guard key.algorithm == algorithm else { fail("\(prefix).spki.der is a \(key.algorithm) key") }
        switch algorithm {
        case .es256:
            let der = readFile("\(prefix).sig.der")
            guard let raw = rawECDSASignature(der) else { fail("\(prefix).sig.der is not a DER ECDSA-Sig-Value") }
            return Case(algorithm: algorithm, key: key, signature: raw)
        case .rs256:
            return Case(algorithm: algorithm, key: key, signature: readFile("\(prefix).sig"))
        }
    }

    /// Untimed sanity check: the signature verifies, and the same signature over a message with
    /// one bit flipped does not (so the loop cannot be measuring a verify that always succeeds).
    static func check(_ benchCase: Case, message: [UInt8]) {
        guard benchCase.key.verify(signature: benchCase.signature, message: message, algorithm: benchCase.algorithm)
        else { fail("\(benchCase.algorithm): the openssl-made signature does not verify") }
        var tampered = message.isEmpty ? [0] : message
        tampered[0] ^= 1
        guard !benchCase.key.verify(signature: benchCase.signature, message: tampered, algorithm: benchCase.algorithm)
        else { fail("\(benchCase.algorithm): a signature verified for a tampered message") }
    }

    /// Converts a DER `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` (what `openssl dgst
    /// -sign` writes for an EC key) to the 64-byte JOSE form `r ‖ s`, each left-padded to 32 bytes.
    /// Only the short and one-byte long length forms occur for P-256; nil for anything else.
    static func rawECDSASignature(_ der: [UInt8]) -> [UInt8]? {
        var input = der[...]
        /// Reads one TLV with tag `tag` and returns its contents.
        func element(_ tag: UInt8) -> ArraySlice<UInt8>? {
            guard input.popFirst() == tag, var length = input.popFirst().map(Int.init) else { return nil }
            if length == 0x81 {
                guard let long = input.popFirst() else { return nil }
                length = Int(long)
            } else if length > 0x80 {
                return nil
            }
            guard input.count >= length else { return nil }
            defer { input = input.dropFirst(length) }
            return input.prefix(length)
        }
        guard let sequence = element(0x30), input.isEmpty else { return nil }
        input = sequence
        var out: [UInt8] = []
        for _ in 0..<2 {
            guard let integer = element(0x02) else { return nil }
            let magnitude = integer.drop { $0 == 0 }
            guard magnitude.count <= 32 else { return nil }
            out += [UInt8](repeating: 0, count: 32 - magnitude.count) + magnitude
        }
        return input.isEmpty ? out : nil
    }

    /// `value` with two decimals, for progress lines.
    static func hundredths(_ value: Double) -> String {
        let scaled = Int((value * 100).rounded())
        let cents = scaled % 100
        return "\(scaled / 100).\(cents < 10 ? "0" : "")\(cents)"
    }
}
