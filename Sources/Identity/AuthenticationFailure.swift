/// Why credentials that were present were refused: which source refused them, a reason from a
/// small fixed set (safe as a metric label), and details for the log (never for the client).
public struct AuthenticationFailure: Sendable, Hashable, CustomStringConvertible {
    /// A category of refusal; the names are the `reason` label of
    /// `sluice_authentication_failures_total`.
    public struct Reason: Sendable, Hashable, CustomStringConvertible {
        /// The label value.
        public let name: String
        init(_ name: String) { self.name = name }
        public var description: String { self.name }

        /// An assertion refused for one of `AssertionError.Code`'s reasons (same names).
        static func assertion(_ code: AssertionError.Code) -> Reason { Reason(code.description) }
        /// A bearer token with the service-token prefix that matches no configured token.
        public static let unknownToken = Reason("unknown_token")
        /// A service token past its `expires`.
        public static let tokenExpired = Reason("token_expired")
        /// A user or group value that no name may hold (control characters, several values,
        /// not NFC, too long).
        public static let unusableValue = Reason("unusable_value")
    }

    /// The identity source that refused the credentials.
    public let source: Principal.Source
    /// The category.
    public let reason: Reason
    /// Details for the log: never the credential itself.
    public let detail: String

    /// Creates a failure.
    public init(_ source: Principal.Source, _ reason: Reason, _ detail: String) {
        self.source = source
        self.reason = reason
        self.detail = detail
    }

    public var description: String { self.detail }
}
