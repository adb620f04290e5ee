import Foundation
public import Policy
public import Workflow

/// Sluice's whole configuration, read from one JSON5 file.
public struct Configuration: Sendable {
    /// Server settings.
    public struct Server: Sendable {
        /// The public mount path (e.g. `/sluice`); nil means "take it from SCRIPT_NAME".
        public var basePath: String?
        /// Directory for the database and task logs (absolute).
        public var dataDirectory: String
        /// FastCGI worker threads.
        public var threads: Int
        /// Most task processes running at once.
        public var parallelism: Int
        /// Largest request body accepted.
        public var maxBodyBytes: Int
        /// Seconds between SIGTERM and SIGKILL when stopping a task.
        public var gracePeriod: Int
    }

    /// Server settings.
    public var server: Server
    /// Whether lighttpd's `REMOTE_USER` is an identity source.
    public var remoteUserEnabled: Bool
    /// Roles and grants.
    public var policy: Policy
    /// Pipelines by name.
    public var pipelines: [String: PipelineDefinition]
    /// The directory holding the configuration file; tasks run there.
    public var directory: String
    /// SHA-256 of the file's bytes, hex: identifies the configuration in force.
    public var hash: String

    /// Pipeline names, sorted.
    public var pipelineNames: [String] { self.pipelines.keys.sorted() }
}

/// The configuration file could not be used.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    /// The file.
    public var file: String
    /// Every problem found.
    public var problems: [ConfigProblem]

    /// Creates the error.
    public init(file: String, problems: [ConfigProblem]) {
        self.file = file
        self.problems = problems
    }

    /// One line per problem, `file:line: path: message`, as compilers print them.
    public var description: String {
        self.problems.map { p in
            let location = p.line.map { "\(self.file):\($0)" } ?? self.file
            return p.path.isEmpty ? "\(location): \(p.message)" : "\(location): \(p.path): \(p.message)"
        }.joined(separator: "\n")
    }
}
