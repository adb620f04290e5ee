import ByteStrings
import Crypto
public import Foundation
import Identity
import JSON
import JobStore
import Policy
import Workflow

#if canImport(Glibc)
    import Glibc
#endif

/// Reads and checks the configuration file. Every problem is reported, each with its key path,
/// so `sluice check` can be used in the CI of the repository that holds the policy.
public enum ConfigLoader {
    /// The largest configuration file accepted.
    public static let maxFileBytes = 4 << 20

    /// Loads and validates the file at `path`.
    /// - Throws: `ConfigError` listing every problem.
    public static func load(path: String) throws(ConfigError) -> Configuration {
        let url = URL(fileURLWithPath: path)
        guard let data = try? Data(contentsOf: url) else {
            throw ConfigError(file: path, problems: [.init(path: "", message: "cannot read the file: \(Self.whyUnreadable(path))")])
        }
        guard data.count <= self.maxFileBytes else {
            throw ConfigError(file: path, problems: [.init(path: "", message: "file larger than \(self.maxFileBytes) bytes")])
        }
        return try self.load(data: data, file: path, directory: url.deletingLastPathComponent().path)
    }

    /// Why `path` could not be read, from open(2)'s errno: "no such file", "permission denied
    /// (this is uid N)", "is a directory", ...
    static func whyUnreadable(_ path: String) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            let text = String(cString: strerror(code))
            return code == EACCES ? "\(text) (sluice runs as uid \(getuid()))" : text
        }
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR { return "it is a directory" }
        return "reading it failed"
    }

    /// Loads and validates configuration text; `directory` anchors relative paths.
    public static func load(data: Data, file: String, directory: String) throws(ConfigError) -> Configuration {
        let document: JSONParser.Document
        do { document = try JSONParser.parse(Array(data), json5: true) } catch {
            throw ConfigError(
                file: file, problems: [.init(path: error.path ?? "", message: "not valid JSON5: \(error.message)", line: error.line)])
        }
        let root = document.value
        let problems = ProblemList()
        var top = ConfigReader(root, path: "", problems: problems)
        let server = self.readServer(top.value("server"), directory: directory, problems: problems)
        let store = self.readStore(top.value("store"), directory: directory, problems: problems)
        let upstreams = self.readUpstreams(top.value("upstreams"), problems: problems)
        let pipelines = self.readPipelines(top.value("pipelines"), required: upstreams.isEmpty, problems: problems)
        let roles = self.readRoles(
            top.value("roles"), pipelines: pipelines, upstreams: upstreams.map(\.upstream.name), problems: problems)
        let limits = self.readRateLimits(top.value("rate_limits"), problems: problems)
        let resources = self.readResources(top.value("resources"), pipelines: pipelines, problems: problems)
        let webhooks = self.readWebhooks(top.value("webhooks"), directory: directory, problems: problems)
        let (identity, defaultRole) = self.readIdentity(
            top.value("identity"), roles: Set(roles.map(\.name)), directory: directory, problems: problems)
        top.finish()
        self.checkChains(pipelines, policy: Policy(roles: roles, defaultRole: defaultRole), problems: problems)
        self.checkNotifications(pipelines, webhooks: webhooks, problems: problems)
        self.checkApprovals(pipelines, policy: Policy(roles: roles, defaultRole: defaultRole), problems: problems)
        for name in pipelines.keys.sorted() {
            for p in pipelines[name]!.problems() { problems.add(p.path, p.message) }
        }
        guard problems.items.isEmpty else {
            throw ConfigError(file: file, problems: problems.items.map { $0.located(in: document.lines) })
        }
        return Configuration(
            server: server, identity: identity, policy: Policy(roles: roles, defaultRole: defaultRole), pipelines: pipelines,
            triggerLimitPerIdentity: limits.identity, triggerLimitPerPipeline: limits.pipeline, resources: resources, directory: directory,
            hash: Hex.encode(SHA256.hash(Array(data))), store: store, upstreams: upstreams, webhooks: webhooks)
    }

    private static func readServer(_ value: JSONValue?, directory: String, problems: ProblemList) -> Configuration.Server {
        var r = ConfigReader(value, path: "server", problems: problems)
        let basePath = r.string("base_path")
        if let b = basePath, !(b.isEmpty || (b.hasPrefix("/") && !b.hasSuffix("/"))) {
            problems.add("server.base_path", "must be empty or start with / and not end with /")
        }
        let data = r.string("data_dir") ?? "data"
        let initial = Configuration.Server(
            basePath: basePath,
            dataDirectory: data.hasPrefix("/")
                ? data : URL(fileURLWithPath: directory).appendingPathComponent(data).standardizedFileURL.path,
            threads: r.int("threads", in: 1...256) ?? 8,
            parallelism: r.int("parallelism", in: 1...1024) ?? 4,
            maxBodyBytes: r.int("max_body_bytes", in: 1...(64 << 20)) ?? (1 << 20),
            gracePeriod: r.int("grace_period_seconds", in: 0...3600) ?? 5,
            passEnvironment: Self.readEnvironmentNames(&r, problems: problems),
            logHeadBytes: r.int("log_head_bytes", in: 0...(1 << 30)) ?? (1 << 20),
            logTailBytes: r.int("log_tail_bytes", in: 0...(1 << 30)) ?? (1 << 20),
            logRetentionDays: r.int("log_retention_days", in: 1...36500),
            tasksOnStop: Self.readTasksOnStop(&r, problems: problems))
        var server = initial
        for (i, text) in (r.strings("metrics_peers") ?? []).enumerated() {
            if let range = IPRange(text) {
                server.metricsPeers.append(range)
            } else {
                problems.add("server.metrics_peers[\(i)]", "not an IP address or CIDR range")
            }
        }
        r.finish()
        return server
    }

    /// Reads `pipelines`; at least one is `required` unless Sluice only guards upstreams.
    private static func readPipelines(_ value: JSONValue?, required: Bool, problems: ProblemList) -> [String: PipelineDefinition] {
        var all = ConfigReader(value, path: "pipelines", problems: problems)
        if all.keys.isEmpty && required {
            problems.add("pipelines", "required: define at least one pipeline (or an upstream to guard)")
        }
        var pipelines: [String: PipelineDefinition] = [:]
        for name in all.keys {
            let path = "pipelines.\(name)"
            if !ObjectName.isValid(name) {
                problems.add(path, "invalid pipeline name (use letters, digits, . _ -; start with a letter or digit)")
            }
            var r = ConfigReader(all.value(name), path: path, problems: problems)
            let description = r.string("description") ?? ""
            let parameters = self.readParameters(r.value("params"), path: "\(path).params", problems: problems)
            let tasks = self.readTasks(r.value("tasks"), path: "\(path).tasks", problems: problems)
            let concurrency = r.int("concurrency", in: 1...10_000)
            let queueLimit = r.int("queue_limit", in: 0...1_000_000)
            if queueLimit != nil && concurrency == nil {
                problems.add("\(path).queue_limit", "needs concurrency: jobs only wait (and fill the queue) when concurrency is limited")
            }
            var onDuplicate = DuplicatePolicy.allow
            if let text = r.string("on_duplicate") {
                if let policy = DuplicatePolicy(rawValue: text) {
                    onDuplicate = policy
                } else {
                    problems.add(
                        "\(path).on_duplicate",
                        "unknown policy \"\(text)\" (known: \(DuplicatePolicy.allCases.map { $0.rawValue }.joined(separator: ", ")))")
                }
            }
            var pipeline = PipelineDefinition(
                name: name, description: description, parameters: parameters, tasks: tasks, concurrency: concurrency,
                queueLimit: queueLimit,
                onDuplicate: onDuplicate)
            pipeline.schedules = self.readSchedules(r.value("schedules"), path: "\(path).schedules", pipeline: pipeline, problems: problems)
            pipeline.chains = self.readChains(&r, path: path, problems: problems)
            pipeline.notifications = self.readNotifications(&r, path: path, problems: problems)
            pipeline.approval = self.readApproval(&r, path: path, problems: problems)
            r.finish()
            pipelines[name] = pipeline
        }
        self.checkScheduleNames(pipelines, problems: problems)
        return pipelines
    }

    private static func readParameters(_ value: JSONValue?, path: String, problems: ProblemList) -> [ParameterSpec] {
        guard let value else { return [] }
        var all = ConfigReader(value, path: path, problems: problems)
        var specs: [ParameterSpec] = []
        for name in all.keys {
            let p = "\(path).\(name)"
            if !ParameterName.isValid(name) { problems.add(p, "invalid parameter name (use a-z, 0-9 and _, starting with a letter or _)") }
            var r = ConfigReader(all.value(name), path: p, problems: problems)
            let type = self.readParameterType(&r, path: p, problems: problems)
            // A default may be written as the JSON value of its type (7 for int, true for bool) or as a string.
            var defaultValue: String? = nil
            switch r.value("default") {
            case nil, .null?: break
            case .string(let d)?: defaultValue = d
            case .number(let n)? where type.acceptsJSONNumber: defaultValue = ParameterType.text(of: n)
            case .bool(let b)? where type == .boolean: defaultValue = b ? "true" : "false"
            case let other?: problems.add("\(p).default", "must be a string, found \(other.typeName)")
            }
            if let d = defaultValue {
                if d.utf8.count > PipelineDefinition.maxParameterBytes || d.utf8.contains(0) {
                    problems.add("\(p).default", "longer than \(PipelineDefinition.maxParameterBytes) bytes or contains NUL")
                } else {
                    switch type.canonical(d) {
                    case .success(let canonical): defaultValue = canonical
                    case .failure(let error): problems.add("\(p).default", "does not fit type \(type): \(error.message)")
                    }
                }
            }
            var pattern: ParameterPattern? = nil
            if let source = r.string("pattern") {
                if case .string = type {
                    do { pattern = try ParameterPattern(source) } catch { problems.add("\(p).pattern", error.reason) }
                } else {
                    problems.add("\(p).pattern", "only string parameters take a pattern")
                }
            }
            if let pattern, let d = defaultValue, !pattern.matches(d) {
                problems.add("\(p).default", "does not match the pattern \(pattern.source)")
            }
            let isSecret = r.bool("secret") ?? false
            if isSecret && defaultValue != nil {
                problems.add("\(p).default", "a secret parameter cannot have a default (it would be stored)")
            }
            let spec = ParameterSpec(
                name: name, isRequired: r.bool("required") ?? false, defaultValue: defaultValue,
                description: r.string("description") ?? "", type: type, isSecret: isSecret, isSignificant: r.bool("significant") ?? true,
                pattern: pattern)
            r.finish()
            specs.append(spec)
        }
        return specs
    }

    /// Reads `type` and its limits: `min`/`max` (int, float), `min_length`/`max_length` (string),
    /// `values` (choice), `max_items` (list). Limits that do not belong to the type are unknown keys.
    private static func readParameterType(_ r: inout ConfigReader, path p: String, problems: ProblemList) -> ParameterType {
        let name = r.string("type") ?? "string"
        switch name {
        case "string":
            let minLength = r.int("min_length", in: 0...4096)
            let maxLength = r.int("max_length", in: 1...4096)
            if let a = minLength, let b = maxLength, a > b { problems.add(p, "min_length is above max_length") }
            return .string(minLength: minLength, maxLength: maxLength)
        case "int":
            let min = r.number("min").map { Int64(exactly: $0) }
            let max = r.number("max").map { Int64(exactly: $0) }
            if min == .some(nil) || max == .some(nil) { problems.add(p, "min and max of an int must be whole numbers") }
            if let a = min ?? nil, let b = max ?? nil, a > b { problems.add(p, "min is above max") }
            return .integer(min: min ?? nil, max: max ?? nil)
        case "float":
            let min = r.number("min")
            let max = r.number("max")
            if let a = min, let b = max, a > b { problems.add(p, "min is above max") }
            return .number(min: min, max: max)
        case "bool": return .boolean
        case "date": return .date
        case "datetime": return .datetime
        case "choice":
            let values = r.strings("values") ?? []
            if values.isEmpty { problems.add("\(p).values", "required: the allowed values of a choice") }
            if Set(values.map { ByteString($0) }).count != values.count { problems.add("\(p).values", "lists a value twice") }
            for (i, value) in values.enumerated() where !UnicodeNames.isNFC(value) {
                problems.add("\(p).values[\(i)]", Self.notNFC)
            }
            return .choice(values)
        case "list": return .list(maxItems: r.int("max_items", in: 1...1000))
        default:
            problems.add("\(p).type", "unknown type \"\(name)\" (known: string, int, float, bool, date, datetime, choice, list)")
            return .string(minLength: nil, maxLength: nil)
        }
    }

    private static func readTasks(_ value: JSONValue?, path: String, problems: ProblemList) -> [TaskDefinition] {
        guard let value else {
            problems.add(path, "required: a pipeline needs at least one task")
            return []
        }
        var all = ConfigReader(value, path: path, problems: problems)
        var tasks: [TaskDefinition] = []
        for name in all.keys {
            let p = "\(path).\(name)"
            if !ObjectName.isValid(name) { problems.add(p, "invalid task name (use letters, digits, . _ -; start with a letter or digit)") }
            var r = ConfigReader(all.value(name), path: p, problems: problems)
            func template(_ key: String, _ text: String?) -> ArgvTemplate? {
                guard let text else { return nil }
                if text.utf8.contains(0) { problems.add("\(p).\(key)", "contains NUL") }
                do { return try ArgvTemplate(text) } catch {
                    problems.add("\(p).\(key)", error.reason)
                    return nil
                }
            }
            var kind = TaskKind.command
            if let k = r.string("kind") {
                if let parsed = TaskKind(rawValue: k) {
                    kind = parsed
                } else {
                    problems.add("\(p).kind", "unknown kind \"\(k)\" (known: command, noop)")
                }
            }
            var run: [ArgvTemplate] = []
            if let argv = r.strings("run") {
                if argv.isEmpty || argv[0].isEmpty { problems.add("\(p).run", "must name a program as its first element") }
                for (i, element) in argv.enumerated() { if let t = template("run[\(i)]", element) { run.append(t) } }
            } else if kind == .command {
                problems.add("\(p).run", "required: an argv array such as [\"/usr/bin/make\", \"all\"] (or kind: \"noop\")")
            }
            let needs = r.strings("needs") ?? []
            let retries = r.int("retries", in: 0...100) ?? 0
            func ranged(_ key: String, _ range: ClosedRange<Double>, _ fallback: Double) -> Double {
                guard let value = r.number(key) else { return fallback }
                guard range.contains(value) else {
                    problems.add(
                        "\(p).\(key)",
                        "must be from \(ParameterType.text(of: range.lowerBound)) to \(ParameterType.text(of: range.upperBound))")
                    return fallback
                }
                return value
            }
            let initialDelay = ranged("retry_delay_seconds", 0...86400, 1)
            let factor = ranged("retry_backoff", 1...10, 2)
            let maxDelay = ranged("retry_max_delay_seconds", 0...86400, 300)
            let jitter = ranged("retry_jitter", 0...1, 0.5)
            let retry = RetryPolicy(retries: retries, initialDelay: initialDelay, factor: factor, maxDelay: maxDelay, jitter: jitter)
            let timeout = r.number("timeout_seconds")
            if let t = timeout, !(t > 0 && t <= 30 * 86400) { problems.add("\(p).timeout_seconds", "must be above 0 and at most 30 days") }
            var environment: [String: ArgvTemplate] = [:]
            if let envValue = r.value("env") {
                var e = ConfigReader(envValue, path: "\(p).env", problems: problems)
                for key in e.keys {
                    if !EnvironmentName.isValid(key) || key.hasPrefix("SLUICE_") {
                        problems.add("\(p).env.\(key)", "invalid variable name (A-Z, a-z, 0-9, _; not starting with a digit or SLUICE_)")
                    }
                    if let t = template("env.\(key)", e.string(key)) { environment[key] = t }
                }
                e.finish()
            }
            let workingDirectory = template("working_dir", r.string("working_dir"))
            if let w = workingDirectory?.text, !w.hasPrefix("/") { problems.add("\(p).working_dir", "must be an absolute path") }
            let creates = template("creates", r.string("creates"))
            var resources: [String: Int] = [:]
            if let resValue = r.value("resources") {
                var e = ConfigReader(resValue, path: "\(p).resources", problems: problems)
                for key in e.keys { if let n = e.int(key, in: 1...1_000_000) { resources[key] = n } }
                e.finish()
            }
            r.finish()
            tasks.append(
                TaskDefinition(
                    name: name, run: run, needs: needs, kind: kind, retry: retry, timeout: timeout, environment: environment,
                    workingDirectory: workingDirectory, creates: creates, resources: resources))
        }
        return self.topologicalOrder(tasks)
    }

    /// Orders tasks so each comes after what it needs, ties broken by name (JSON objects have
    /// no reliable member order once parsed). Tasks in a cycle keep name order at the end.
    static func topologicalOrder(_ tasks: [TaskDefinition]) -> [TaskDefinition] {
        // Kahn's algorithm layer by layer, each layer in name order: linear in tasks and edges
        // up to the sort, so pipelines with many thousands of tasks load quickly.
        let sorted = tasks.sorted { $0.name < $1.name }
        var position: [String: Int] = [:]
        for (i, t) in sorted.enumerated() where position[t.name] == nil { position[t.name] = i }
        var unmet = [Int](repeating: 0, count: sorted.count)
        var dependents = [[Int]](repeating: [], count: sorted.count)
        for (i, t) in sorted.enumerated() {
            for need in Set(t.needs) { if let j = position[need], j != i { unmet[i] += 1; dependents[j].append(i) } }
        }
        var layer = sorted.indices.filter { unmet[$0] == 0 }
        var placed = [Bool](repeating: false, count: sorted.count)
        var ordered: [TaskDefinition] = []
        while !layer.isEmpty {
            var next: [Int] = []
            for i in layer {
                placed[i] = true
                ordered.append(sorted[i])
                for d in dependents[i] {
                    unmet[d] -= 1
                    if unmet[d] == 0 { next.append(d) }
                }
            }
            layer = next.sorted()
        }
        // Tasks in a cycle keep name order at the end (the cycle is reported separately).
        ordered += sorted.indices.filter { !placed[$0] }.map { sorted[$0] }
        return ordered
    }

    /// Reads `resources: { db: 2, gpu: 1 }`: capacities of named resources shared by all
    /// pipelines. Every resource a task holds must be declared, with room for what it holds.
    private static func readResources(
        _ value: JSONValue?, pipelines: [String: PipelineDefinition], problems: ProblemList
    ) -> [String: Int] {
        var capacities: [String: Int] = [:]
        if let value {
            var r = ConfigReader(value, path: "resources", problems: problems)
            for name in r.keys {
                if !ObjectName.isValid(name) { problems.add("resources.\(name)", "invalid resource name") }
                if let n = r.int(name, in: 1...1_000_000) { capacities[name] = n }
            }
            r.finish()
        }
        for pipeline in pipelines.values {
            for task in pipeline.tasks {
                for (name, amount) in task.resources.sorted(by: { $0.key < $1.key }) {
                    let path = "pipelines.\(pipeline.name).tasks.\(task.name).resources.\(name)"
                    if let capacity = capacities[name] {
                        if amount > capacity { problems.add(path, "holds \(amount) but resources.\(name) has only \(capacity)") }
                    } else {
                        problems.add(path, "unknown resource (declare it under resources: { \(name): N })")
                    }
                }
            }
        }
        return capacities
    }

    /// Reads `server.tasks_on_stop`: `"keep"` (the default) or `"stop"`.
    private static func readTasksOnStop(_ r: inout ConfigReader, problems: ProblemList) -> TasksOnStop {
        guard let text = r.string("tasks_on_stop") else { return .keep }
        // Compared as bytes: a canonically equivalent spelling is not the keyword.
        guard let value = TasksOnStop.allCases.first(where: { $0.rawValue.bytesEqual(text) }) else {
            problems.add(
                "server.tasks_on_stop",
                "unknown value \"\(text)\" (known: keep — tasks go on running when Sluice stops; stop — Sluice stops every task)")
            return .keep
        }
        return value
    }

    /// Reads `server.pass_environment`: names of Sluice's own environment variables that tasks
    /// receive (nothing else of Sluice's environment reaches them).
    private static func readEnvironmentNames(_ r: inout ConfigReader, problems: ProblemList) -> [String] {
        let names = r.strings("pass_environment") ?? []
        for (i, name) in names.enumerated() where !EnvironmentName.isValid(name) || name.hasPrefix("SLUICE_") {
            problems.add("server.pass_environment[\(i)]", "invalid variable name \"\(name)\"")
        }
        return names
    }

    /// Reads one `{ per_minute, burst }` limit at `path` (`burst` defaults to `per_minute`);
    /// `perMinute` says what `per_minute` counts, for the problem when it is missing.
    static func readLimit(_ value: JSONValue, path: String, perMinute meaning: String, problems: ProblemList) -> RateLimiter.Limit? {
        var l = ConfigReader(value, path: path, problems: problems)
        let perMinute = l.int("per_minute", in: 1...1_000_000)
        let burst = l.int("burst", in: 1...1_000_000)
        l.finish()
        guard let perMinute else {
            problems.add("\(path).per_minute", "required: \(meaning)")
            return nil
        }
        return RateLimiter.Limit(perMinute: Double(perMinute), burst: Double(burst ?? perMinute))
    }

    /// Reads `rate_limits: { trigger_per_identity: {per_minute, burst}, trigger_per_pipeline: {...} }`.
    private static func readRateLimits(_ value: JSONValue?, problems: ProblemList) -> (
        identity: RateLimiter.Limit?, pipeline: RateLimiter.Limit?
    ) {
        guard let value else { return (nil, nil) }
        var r = ConfigReader(value, path: "rate_limits", problems: problems)
        func limit(_ key: String) -> RateLimiter.Limit? {
            r.value(key).flatMap {
                self.readLimit($0, path: "rate_limits.\(key)", perMinute: "tokens regained per minute", problems: problems)
            }
        }
        let identity = limit("trigger_per_identity")
        let pipeline = limit("trigger_per_pipeline")
        r.finish()
        return (identity, pipeline)
    }

    /// Reads `params: { env: ["staging"], count: { min: 1, max: 10 } }` of a grant. A single
    /// string means exactly that value.
    private static func readConstraints(
        _ value: JSONValue?, path: String, pipelines: [PipelineDefinition], problems: ProblemList
    ) -> [String: ParameterConstraint] {
        guard let value else { return [:] }
        var r = ConfigReader(value, path: path, problems: problems)
        var constraints: [String: ParameterConstraint] = [:]
        for name in r.keys {
            let p = "\(path).\(name)"
            let constraint: ParameterConstraint
            switch r.value(name) {
            case .string(let s)?:
                if !UnicodeNames.isNFC(s) { problems.add(p, Self.notNFC) }
                constraint = .oneOf([ByteString(s)])
            case .array(let items)?:
                var values: Set<ByteString> = []
                for (i, item) in items.enumerated() {
                    guard case .string(let s) = item else {
                        problems.add("\(p)[\(i)]", "must be a string")
                        continue
                    }
                    if !UnicodeNames.isNFC(s) { problems.add("\(p)[\(i)]", Self.notNFC) }
                    values.insert(ByteString(s))
                }
                constraint = .oneOf(values)
            case .object?:
                var object = ConfigReader(r.value(name), path: p, problems: problems)
                let pattern = object.string("pattern")
                let min = object.number("min")
                let max = object.number("max")
                object.finish()
                if let pattern {
                    if min != nil || max != nil { problems.add(p, "use either pattern or min/max, not both") }
                    constraint = .pattern(GlobPattern(pattern))
                } else {
                    if min == nil && max == nil { problems.add(p, "needs pattern, or min and/or max") }
                    constraint = .range(min: min, max: max)
                }
            case let other?:
                problems.add(p, "must be a value, a list of values, {min, max} or {pattern}; found \(other.typeName)")
                continue
            case nil: continue
            }
            if constraint.isUnsatisfiable { problems.add(p, "can never match (\(constraint))") }
            if !pipelines.isEmpty && !pipelines.contains(where: { $0.parameters.contains { $0.name.bytesEqual(name) } }) {
                problems.add(p, "no pipeline this grant covers has a parameter \"\(name)\"")
            }
            if pipelines.contains(where: { $0.parameters.contains { $0.name.bytesEqual(name) && $0.isSecret } }) {
                problems.add(p, "\"\(name)\" is a secret parameter: its value is never seen, so a grant cannot depend on it")
            }
            constraints[name] = constraint
        }
        r.finish()
        return constraints
    }

    private static func readRoles(
        _ value: JSONValue?, pipelines: [String: PipelineDefinition], upstreams: [String], problems: ProblemList
    ) -> [Role] {
        guard let value else { return [] }
        var all = ConfigReader(value, path: "roles", problems: problems)
        var roles: [Role] = []
        for name in all.keys {
            let path = "roles.\(name)"
            var r = ConfigReader(all.value(name), path: path, problems: problems)
            if !UnicodeNames.isNFC(name) { problems.add(path, "invalid role name: \(Self.notNFC)") }
            let users = r.strings("users") ?? []
            let groups = r.strings("groups") ?? []
            // Names from identity sources must be NFC (others are refused), so a configured name
            // in another form could never match: say so instead of letting it sit unused.
            for (key, names) in [("users", users), ("groups", groups)] {
                for (i, item) in names.enumerated() where !UnicodeNames.isNFC(item) { problems.add("\(path).\(key)[\(i)]", Self.notNFC) }
            }
            var grants: [Grant] = []
            for (i, g) in (r.array("grants") ?? []).enumerated() {
                let gp = "\(path).grants[\(i)]"
                var gr = ConfigReader(g, path: gp, problems: problems)
                let patterns = (gr.strings("pipelines") ?? []).map(GlobPattern.init)
                let upstreamPatterns = (gr.strings("upstreams") ?? []).map(GlobPattern.init)
                if patterns.isEmpty && upstreamPatterns.isEmpty {
                    problems.add("\(gp).pipelines", "required: at least one pipeline (or upstream) name or pattern")
                }
                for (j, pattern) in patterns.enumerated() where !pipelines.keys.contains(where: pattern.matches) {
                    problems.add(
                        "\(gp).pipelines[\(j)]",
                        pattern.isLiteral ? "unknown pipeline \"\(pattern)\"" : "pattern \"\(pattern)\" matches no pipeline")
                }
                for (j, pattern) in upstreamPatterns.enumerated() where !upstreams.contains(where: pattern.matches) {
                    problems.add(
                        "\(gp).upstreams[\(j)]",
                        pattern.isLiteral ? "unknown upstream \"\(pattern)\"" : "pattern \"\(pattern)\" matches no upstream")
                }
                var verbs: Set<Verb> = []
                var instanceVerbPaths: [(Verb, String)] = []
                // Read once: each read of a malformed list would report its problems again.
                let verbNames = gr.strings("verbs") ?? []
                for (j, v) in verbNames.enumerated() {
                    if let verb = Verb(rawValue: v) {
                        verbs.insert(verb)
                        if verb.isAboutInstance { instanceVerbPaths.append((verb, "\(gp).verbs[\(j)]")) }
                    } else {
                        problems.add(
                            "\(gp).verbs[\(j)]", "unknown verb \"\(v)\" (known: \(Verb.allCases.map(\.rawValue).joined(separator: ", ")))")
                    }
                }
                if verbs.isEmpty { problems.add("\(gp).verbs", "required: at least one verb") }
                // A verb that nothing in the grant can take is a mistake, not a no-op: say which.
                for (j, v) in verbNames.enumerated() {
                    guard let verb = Verb(rawValue: v) else { continue }
                    if verb == .operate && upstreamPatterns.isEmpty {
                        problems.add("\(gp).verbs[\(j)]", "operate is about guarded upstreams: name them in this grant's upstreams")
                    } else if verb.appliesToPipelines && !verb.appliesToUpstreams && patterns.isEmpty {
                        problems.add("\(gp).verbs[\(j)]", "\(verb.rawValue) is about pipelines: name them in this grant's pipelines")
                    }
                }
                let matched = pipelines.values.filter { p in patterns.contains { $0.matches(p.name) } }
                let constraints = self.readConstraints(gr.value("params"), path: "\(gp).params", pipelines: matched, problems: problems)
                gr.finish()
                if !upstreamPatterns.isEmpty && !constraints.isEmpty {
                    problems.add(
                        "\(gp).upstreams",
                        "a grant limited by parameter values allows nothing on upstreams (they have no parameters): grant upstreams in a grant of their own"
                    )
                }
                // admin is about the instance, not pipelines: only a grant on exactly "*" may carry
                // it, and it cannot depend on parameter values (see Grant.allowsOnInstance).
                for (verb, path) in instanceVerbPaths {
                    let grant = Grant(pipelines: patterns, verbs: verbs)
                    if !grant.coversInstance {
                        problems.add(
                            path,
                            "\(verb.rawValue) is about the Sluice instance, not about pipelines: grant it in a grant with pipelines: [\"*\"]"
                        )
                    }
                    if !constraints.isEmpty {
                        problems.add(
                            path,
                            "\(verb.rawValue) cannot be limited by parameter values (it is not about a pipeline): put it in a grant of its own without params"
                        )
                    }
                }
                grants.append(Grant(pipelines: patterns, upstreams: upstreamPatterns, verbs: verbs, parameters: constraints))
            }
            r.finish()
            roles.append(
                Role(name: name, users: Set(users.map { ByteString($0) }), groups: Set(groups.map { ByteString($0) }), grants: grants))
        }
        return roles
    }

    /// The message for a name or value that is not in Unicode NFC.
    static let notNFC =
        "not in Unicode NFC (canonical composition); names and values are compared as bytes, so write it composed (e.g. \"ö\", not \"o\" + U+0308)"
}
