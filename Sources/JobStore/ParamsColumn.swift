import JSON

/// The stored text of a job's parameters: a JSON object of strings with its members sorted by
/// name. Every store writes this representation. Read on every job lookup, so it is decoded with
/// our own parser (no `JSONDecoder` set up per call), with the empty object as a short cut.
public enum ParamsColumn {
    /// The column text for `params`.
    ///
    /// Members are sorted by name as bytes and written by `JSONWriter`: Foundation's
    /// `JSONEncoder` cost 1.6 % of a trigger's CPU for one small object. Rows written before
    /// (by `JSONEncoder`, which also escapes `/`) read back the same.
    public static func encode(_ params: [String: String]) throws -> String {
        if params.isEmpty { return "{}" }
        var writer = JSONWriter(capacity: 64)
        writer.object { w in
            for (name, value) in params.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
                w.key(name)
                w.string(value)
            }
        }
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// The parameters stored as `text`; throws `JobStoreError` if it is not a JSON object of
    /// strings.
    public static func decode(_ text: String) throws -> [String: String] {
        if text == "{}" { return [:] }
        guard case .object(let members) = try JSONParser.parse(Array(text.utf8), json5: false).value else {
            throw JobStoreError("params is not a JSON object")
        }
        var result: [String: String] = [:]
        for (name, value) in members {
            guard case .string(let text) = value else { throw JobStoreError("params.\(name) is not a string") }
            result[name] = text
        }
        return result
    }
}
