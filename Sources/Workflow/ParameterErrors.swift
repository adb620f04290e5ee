import ByteStrings

/// Problems with the parameters of a trigger, one message per field.
public struct ParameterErrors: Error, Sendable, Hashable {
    /// Field name → what is wrong with it.
    public var fields: [String: String]

    /// Creates the error.
    public init(fields: [String: String]) { self.fields = fields }
}

extension PipelineDefinition {
    /// The largest accepted parameter value, in UTF-8 bytes.
    public static let maxParameterBytes = 4096

    /// Validates supplied parameter values and fills in defaults.
    ///
    /// Undeclared names, missing required values, values over `maxParameterBytes`, values
    /// containing NUL (which cannot travel in argv or the environment) and values that do not fit
    /// the parameter's type are refused; accepted values are returned in canonical form.
    /// - Returns: every declared parameter that has a value.
    /// - Throws: `ParameterErrors` with one message per offending field.
    public func resolveParameters(_ supplied: [String: String]) throws(ParameterErrors) -> [String: String] {
        var errors: [String: String] = [:]
        var values: [String: String] = [:]
        // Declared names are looked up by bytes: `\u{212A}ey` is not the parameter `Key`, and the
        // value is stored under the configuration's own spelling of the name.
        let declared = Dictionary(self.parameters.map { (ByteString($0.name), $0) }, uniquingKeysWith: { a, _ in a })
        for (name, value) in supplied {
            guard let spec = declared[ByteString(name)] else {
                errors[name] = "not a parameter of pipeline \(self.name)"
                continue
            }
            if value.utf8.count > Self.maxParameterBytes {
                errors[name] = "longer than \(Self.maxParameterBytes) bytes"
            } else if value.utf8.contains(0) {
                errors[name] = "contains a NUL character"
            } else {
                switch spec.type.canonical(value) {
                case .success(let canonical):
                    if let pattern = spec.pattern, !pattern.matches(canonical) {
                        errors[name] = "must match the pattern \(pattern.source)"
                    } else {
                        values[name] = canonical
                    }
                case .failure(let error): errors[name] = error.message
                }
            }
        }
        for spec in self.parameters where values[spec.name] == nil && errors[spec.name] == nil {
            if let value = spec.defaultValue {
                values[spec.name] = value
            } else if spec.isRequired {
                errors[spec.name] = "required"
            }
        }
        guard errors.isEmpty else { throw ParameterErrors(fields: errors) }
        return values
    }
}
