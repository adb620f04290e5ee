/// The stored text of a task's options: nothing (NULL) for the defaults, else `TaskOptions` as a
/// JSON object with sorted keys. Every store writes this representation.
public enum TaskOptionsColumn {
    /// The column text for `options`; nil for `TaskOptions.standard`.
    public static func encode(_ options: TaskOptions) throws -> String? {
        options == .standard ? nil : try JSONCoding.encode(options)
    }

    /// The options stored as `text` (nil: the defaults); throws if `text` is not `TaskOptions`.
    public static func decode(_ text: String?) throws -> TaskOptions {
        try text.map { try JSONCoding.decode(TaskOptions.self, $0) } ?? .standard
    }
}
