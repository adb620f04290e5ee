/// Why a signed assertion was refused. The reason goes to the log, never to the client, and never
/// contains the token (docs/security.md, JWT checklist J24).
public struct AssertionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A category of failure.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { self.name }

        /// Not a well-formed compact JWS.
        public static let malformed = Code("malformed")
        /// `alg` is not allowed for this source.
        public static let algorithm = Code("algorithm")
        /// No (or more than one) key matches `kid` and `alg`.
        public static let unknownKey = Code("unknown_key")
        /// The signature does not verify.
        public static let signature = Code("signature")
        /// A claim is missing, has the wrong type or the wrong value.
        public static let claims = Code("claims")
        /// `exp` has passed.
        public static let expired = Code("expired")
        /// `nbf` or `iat` lies in the future.
        public static let notYetValid = Code("not_yet_valid")
        /// No key set could be loaded.
        public static let keysUnavailable = Code("keys_unavailable")
    }

    /// The category.
    public let code: Code
    /// Details for the log.
    public let reason: String

    /// Creates an error.
    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(self.code): \(self.reason)" }
}
