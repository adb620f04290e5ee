/// A parameter value for `PostgresConnection.execute(_:_:)`. SQL NULL is `nil` in the
/// `[PostgresValue?]` parameter list.
///
/// Every value is sent in PostgreSQL's text format, with a type for all but `text`:
///
/// | case | sent as | type |
/// |---|---|---|
/// | `text` | the UTF-8 bytes | unspecified: the server infers it from the statement, so a text parameter also fills a `jsonb`, `uuid` or `timestamptz` column |
/// | `int64` | decimal | `int8` |
/// | `double` | shortest round-trip decimal; `NaN`, `Infinity`, `-Infinity` | `float8` |
/// | `bool` | `t` / `f` | `bool` |
/// | `bytes` | `\x` and two hex digits per byte | `bytea` |
///
/// Why bytea as `\x` hex text rather than a binary-format parameter: one format for every
/// parameter keeps a single code path, and the server's bytea input function reads `\x` hex
/// whatever the session's `bytea_output` and `standard_conforming_strings` say (those only
/// concern output and SQL literals). The cost is twice the bytes on the wire, which the job
/// store's small values do not notice.
public enum PostgresValue: Sendable, Hashable {
    /// Text. Must not contain U+0000: PostgreSQL text cannot hold it (see `execute`).
    case text(String)
    /// A 64-bit integer (`int8`; also fills `int4`/`int2` columns when it fits).
    case int64(Int64)
    /// A double (`float8`).
    case double(Double)
    /// A boolean.
    case bool(Bool)
    /// Bytes (`bytea`).
    case bytes([UInt8])

    /// The parameter's type OID, 0 for "let the server infer it".
    var typeOID: UInt32 {
        switch self {
        case .text: return 0
        case .int64: return PostgresType.int8
        case .double: return PostgresType.float8
        case .bool: return PostgresType.bool
        case .bytes: return PostgresType.bytea
        }
    }

    /// Appends the value's text format to `buffer` (without the terminating NUL).
    func appendText(to buffer: inout [UInt8]) {
        switch self {
        case .text(let value): buffer.append(contentsOf: value.utf8)
        case .int64(let value): buffer.append(contentsOf: String(value).utf8)
        case .double(let value):
            // Swift's description is the shortest text that reads back as the same double, which
            // the server's float8in (strtod) parses exactly. The special values get PostgreSQL's
            // own spellings (the ones it prints) rather than Swift's "nan" and "inf".
            if value.isNaN {
                buffer.append(contentsOf: "NaN".utf8)
            } else if value.isInfinite {
                buffer.append(contentsOf: (value < 0 ? "-Infinity" : "Infinity").utf8)
            } else {
                buffer.append(contentsOf: value.description.utf8)
            }
        case .bool(let value): buffer.append(value ? UInt8(ascii: "t") : UInt8(ascii: "f"))
        case .bytes(let value):
            buffer.reserveCapacity(buffer.count + 2 + 2 * value.count)
            buffer.append(UInt8(ascii: "\\"))
            buffer.append(UInt8(ascii: "x"))
            for byte in value {
                buffer.append(Self.hexDigits[Int(byte >> 4)])
                buffer.append(Self.hexDigits[Int(byte & 0x0f)])
            }
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}

extension PostgresValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral
{
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .int64(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

/// The OIDs of the built-in types this wrapper reads and writes (from the server's
/// `pg_type.dat`; built-in OIDs never change).
enum PostgresType {
    static let bool: UInt32 = 16
    static let bytea: UInt32 = 17
    static let char: UInt32 = 18
    static let name: UInt32 = 19
    static let int8: UInt32 = 20
    static let int2: UInt32 = 21
    static let int4: UInt32 = 23
    static let text: UInt32 = 25
    static let json: UInt32 = 114
    static let xml: UInt32 = 142
    static let float4: UInt32 = 700
    static let float8: UInt32 = 701
    static let unknown: UInt32 = 705
    static let bpchar: UInt32 = 1042
    static let varchar: UInt32 = 1043
    static let uuid: UInt32 = 2950
    static let jsonb: UInt32 = 3802

    /// The types whose text form `string` returns.
    static let stringTypes: Set<UInt32> = [char, name, text, json, xml, unknown, bpchar, varchar, uuid, jsonb]
    /// The types `int64` reads.
    static let integerTypes: Set<UInt32> = [int2, int4, int8]
    /// The types `double` reads.
    static let floatTypes: Set<UInt32> = [float4, float8]

    /// A type's SQL name for error messages.
    static func name(of oid: UInt32) -> String {
        switch oid {
        case bool: return "boolean"
        case bytea: return "bytea"
        case char: return "\"char\""
        case name: return "name"
        case int8: return "bigint"
        case int2: return "smallint"
        case int4: return "integer"
        case text: return "text"
        case json: return "json"
        case xml: return "xml"
        case float4: return "real"
        case float8: return "double precision"
        case unknown: return "unknown"
        case bpchar: return "character"
        case varchar: return "character varying"
        case uuid: return "uuid"
        case jsonb: return "jsonb"
        case 1082: return "date"
        case 1114: return "timestamp"
        case 1184: return "timestamptz"
        case 1700: return "numeric"
        default: return "type \(oid)"
        }
    }
}
