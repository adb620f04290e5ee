import JSON

/// The stored text of a job's parameters: a JSON object of strings with its members sorted by
/// name. Every store writes this representation. Read on every job lookup, so it is decoded with
/// our own parser (no `JSONDecoder` set up per call), with the empty object as a short cut.
public enum ParamsColumn {
    /// The column text for `params`.
    public static func encode(_ params: [String: String]) throws -> String {
        try JSONCoding.encode(params)
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
