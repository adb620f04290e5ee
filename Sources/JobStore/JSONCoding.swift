import Foundation

/// Foundation's JSON coders as the column encodings use them: keys sorted, so equal values are
/// stored as equal text.
enum JSONCoding {
    /// `value` as JSON text with sorted keys.
    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// The value of type `type` in the JSON `text`.
    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }
}
