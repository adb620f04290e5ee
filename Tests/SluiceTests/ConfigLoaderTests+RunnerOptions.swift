import Foundation
import JobStore
import Testing
import Workflow

@testable import Sluice

/// The keys that say how tasks run (kind, retries, timeout, env, working_dir, creates,
/// resources), how a pipeline takes triggers (concurrency, queue_limit, on_duplicate), what a
/// parameter is (secret, significant), and the server's task environment and log settings.
extension ConfigLoaderTests {
    /// A configuration with one pipeline `p` holding one task `t` (`task` is its JSON5 body);
    /// `params` and `pipeline` add to the pipeline, `top` to the top level.
    static func runnerConfig(task: String, params: String = "{}", pipeline: String = "", top: String = "") -> String {
        "{ \(top) pipelines: { p: { \(pipeline) params: \(params), tasks: { t: \(task) } } } }"
    }

    /// A JSON5 key for `name`, quoted so any text is a valid key.
    static func key(_ name: String) -> String {
        String(decoding: try! JSONEncoder().encode(name), as: UTF8.self)
    }

    static let allOptions = """
        {
          server: { pass_environment: ["HOME", "LANG", "http_proxy", "_X1"], log_head_bytes: 4096, log_tail_bytes: 0, log_retention_days: 14 },
          resources: { db: 2, gpu: 1, "lic.x": 1000000 },
          pipelines: {
            p: {
              concurrency: 3, queue_limit: 10, on_duplicate: "reject",
              params: {
                date: { required: true, type: "date" },
                token: { secret: true },
                note: { significant: false },
                region: { default: "eu", significant: true },
              },
              tasks: {
                fetch: {
                  run: ["/bin/fetch", "{date}"],
                  retries: 3, retry_delay_seconds: 2.5, retry_backoff: 3, retry_max_delay_seconds: 60, retry_jitter: 0.25,
                  timeout_seconds: 90.5,
                  env: { DAY: "day={date}", MODE: "fixed", _lower_ok: "{region}-{note}" },
                  working_dir: "/srv/work/{region}",
                  creates: "out/{date}.csv",
                  resources: { db: 2, gpu: 1 },
                },
                join: { kind: "noop", needs: ["fetch"] },
                publish: { kind: "command", run: ["/bin/publish"], needs: ["join"] },
              },
            },
            q: { tasks: { only: { run: ["/bin/true"], resources: { "lic.x": 1000000 } } } },
          },
        }
        """

    @Test("Every runner, pipeline, parameter and server key parses into the model")
    func runnerOptionsParse() throws {
        let config = try Self.load(Self.allOptions)
        #expect(config.server.passEnvironment == ["HOME", "LANG", "http_proxy", "_X1"])
        #expect(config.server.logHeadBytes == 4096)
        #expect(config.server.logTailBytes == 0)
        #expect(config.server.logRetentionDays == 14)
        #expect(config.resources == ["db": 2, "gpu": 1, "lic.x": 1_000_000])

        let p = try #require(config.pipelines["p"])
        #expect(p.concurrency == 3)
        #expect(p.queueLimit == 10)
        #expect(p.onDuplicate == .reject)
        #expect(config.runnerLimits == Runner.Limits(concurrency: ["p": 3], resources: ["db": 2, "gpu": 1, "lic.x": 1_000_000]))

        let params = Dictionary(uniqueKeysWithValues: p.parameters.map { ($0.name, $0) })
        #expect(params["token"]?.isSecret == true)
        #expect(params["token"]?.isSignificant == false, "a secret is never part of the identity")
        #expect(params["note"]?.isSecret == false)
        #expect(params["note"]?.isSignificant == false)
        #expect(params["region"]?.isSignificant == true)
        #expect(params["date"]?.isSecret == false && params["date"]?.isSignificant == true)

        #expect(p.tasks.map(\.name) == ["fetch", "join", "publish"])
        let fetch = p.tasks[0]
        #expect(fetch.kind == .command)
        #expect(fetch.run.map(\.text) == ["/bin/fetch", "{date}"])
        #expect(fetch.retry == RetryPolicy(retries: 3, initialDelay: 2.5, factor: 3, maxDelay: 60, jitter: 0.25))
        #expect(fetch.timeout == 90.5)
        #expect(fetch.environment.mapValues(\.text) == ["DAY": "day={date}", "MODE": "fixed", "_lower_ok": "{region}-{note}"])
        #expect(fetch.workingDirectory?.text == "/srv/work/{region}")
        #expect(fetch.creates?.text == "out/{date}.csv")
        #expect(fetch.resources == ["db": 2, "gpu": 1])

        let join = p.tasks[1]
        #expect(join.kind == .noop)
        #expect(join.run.isEmpty)
        #expect(join.needs == ["fetch"])
        #expect(join.retry == .none && join.timeout == nil && join.creates == nil)

        let publish = p.tasks[2]
        #expect(publish.kind == .command)
        #expect(publish.needs == ["join"])
        #expect(config.pipelines["q"]?.tasks.first?.resources == ["lic.x": 1_000_000])
    }

    @Test("Templates in env, working_dir and creates render into the stored task options")
    func runnerOptionsRender() throws {
        let config = try Self.load(Self.allOptions)
        let p = try #require(config.pipelines["p"])
        let tasks = p.resolvedTasks(["date": "2024-05-01", "note": "n", "region": "us"])
        #expect(tasks.map(\.name) == ["fetch", "join", "publish"])
        #expect(tasks.map(\.kind) == [.command, .noop, .command])
        #expect(tasks[0].argv == ["/bin/fetch", "2024-05-01"])
        let options = tasks[0].options
        #expect(options.environment == ["DAY": "day=2024-05-01", "MODE": "fixed", "_lower_ok": "us-n"])
        #expect(options.workingDirectory == "/srv/work/us")
        #expect(options.creates == "out/2024-05-01.csv")
        #expect(options.timeout == 90.5)
        #expect(options.retry.retries == 3)
        #expect(options.resources == ["db": 2, "gpu": 1])
        #expect(tasks[1].argv.isEmpty)
    }

    @Test("Without the new keys every default applies")
    func runnerOptionDefaults() throws {
        let config = try Self.load("{ \(Self.minimal) }")
        #expect(config.server.passEnvironment.isEmpty)
        #expect(config.server.logHeadBytes == 1 << 20)
        #expect(config.server.logTailBytes == 1 << 20)
        #expect(config.server.logRetentionDays == nil)
        #expect(config.resources.isEmpty)
        #expect(config.runnerLimits == Runner.Limits())
        let p = try #require(config.pipelines["p"])
        #expect(p.concurrency == nil && p.queueLimit == nil)
        #expect(p.onDuplicate == .allow)
        let t = try #require(p.tasks.first)
        #expect(t.kind == .command)
        #expect(t.retry == RetryPolicy(retries: 0, initialDelay: 1, factor: 2, maxDelay: 300, jitter: 0.5))
        #expect(t.timeout == nil)
        #expect(t.environment.isEmpty && t.workingDirectory == nil && t.creates == nil && t.resources.isEmpty)
        let param = try #require(
            try Self.load(Self.runnerConfig(task: "{ run: ['/bin/true'] }", params: "{ x: {} }")).pipelines["p"]?.parameters.first)
        #expect(!param.isSecret && param.isSignificant)
    }

    @Test(
        "Each on_duplicate policy is read",
        arguments: [("return_existing", DuplicatePolicy.returnExisting), ("queue", .queue), ("reject", .reject), ("allow", .allow)])
    func onDuplicatePolicies(text: String, policy: DuplicatePolicy) throws {
        let config = try Self.load(Self.runnerConfig(task: "{ run: ['/bin/true'] }", pipeline: "on_duplicate: '\(text)',"))
        #expect(config.pipelines["p"]?.onDuplicate == policy)
    }

    @Test("The limits of concurrency, queue_limit and timeout_seconds are accepted")
    func boundaryValuesAccepted() throws {
        for pipeline in ["concurrency: 1, queue_limit: 0,", "concurrency: 10000, queue_limit: 1000000,"] {
            #expect(throws: Never.self) { try Self.load(Self.runnerConfig(task: "{ run: ['/bin/true'] }", pipeline: pipeline)) }
        }
        for timeout in ["0.001", "1", "\(30 * 86400)"] {
            let config = try Self.load(Self.runnerConfig(task: "{ run: ['/bin/true'], timeout_seconds: \(timeout) }"))
            #expect(config.pipelines["p"]?.tasks.first?.timeout == Double(timeout))
        }
        // A task may hold a resource's whole capacity.
        let whole = try Self.load(Self.runnerConfig(task: "{ run: ['/bin/true'], resources: { db: 2 } }", top: "resources: { db: 2 },"))
        #expect(whole.pipelines["p"]?.tasks.first?.resources == ["db": 2])
        // A noop with no retries stated (or 0) and only needs is fine.
        #expect(throws: Never.self) {
            try Self.load("{ pipelines: { p: { tasks: { a: { run: ['/bin/true'] }, j: { kind: 'noop', needs: ['a'], retries: 0 } } } } }")
        }
    }

    // MARK: - Problems

    @Test("An unknown kind is reported with the known kinds")
    func unknownKind() {
        let problems = Self.problems(Self.runnerConfig(task: "{ kind: 'shell', run: ['/bin/true'] }"))
        Self.expectProblem(problems, at: "pipelines.p.tasks.t.kind", containing: "unknown kind \"shell\"")
        Self.expectProblem(problems, at: "pipelines.p.tasks.t.kind", containing: "command, noop")
        #expect(problems.count == 1)
    }

    @Test(
        "A noop task with run, creates, timeout or retries is reported",
        arguments: ["run: ['/bin/true']", "creates: '/tmp/x'", "timeout_seconds: 5", "retries: 1"])
    func noopWithCommandKeys(extra: String) {
        let problems = Self.problems(Self.runnerConfig(task: "{ kind: 'noop', \(extra) }"))
        Self.expectProblem(problems, at: "pipelines.p.tasks.t", containing: "a noop task runs nothing")
        #expect(problems.count == 1, "\(problems)")
    }

    @Test("A command without run is reported, with or without kind: command", arguments: ["{}", "{ kind: 'command' }", "{ needs: [] }"])
    func commandWithoutRun(task: String) {
        let problems = Self.problems(Self.runnerConfig(task: task))
        Self.expectProblem(problems, at: "pipelines.p.tasks.t.run", containing: "required")
        Self.expectProblem(problems, at: "pipelines.p.tasks.t.run", containing: "noop")
    }

    @Test(
        "A timeout of zero, below zero or above 30 days is reported",
        arguments: ["0", "-1", "-0.5", "\(30 * 86400 + 1)", "1e12"])
    func badTimeout(timeout: String) {
        let problems = Self.problems(Self.runnerConfig(task: "{ run: ['/bin/true'], timeout_seconds: \(timeout) }"))
        Self.expectProblem(problems, at: "pipelines.p.tasks.t.timeout_seconds", containing: "above 0 and at most 30 days")
        #expect(problems.count == 1)
    }

    @Test("A timeout that is not a number is reported")
    func timeoutNotNumber() {
        let problems = Self.problems(Self.runnerConfig(task: "{ run: ['/bin/true'], timeout_seconds: '60' }"))
        Self.expectProblem(problems, at: "pipelines.p.tasks.t.timeout_seconds", containing: "must be a finite number")
    }

    @Test("retries out of range or not whole is reported", arguments: ["-1", "101", "1.5", "'3'"])
    func badRetries(retries: String) {
        let problems = Self.problems(Self.runnerConfig(task: "{ run: ['/bin/true'], retries: \(retries) }"))
        #expect(problems.contains { $0.path == "pipelines.p.tasks.t.retries" }, "\(problems)")
    }

    @Test(
        "An invalid environment variable name, or one starting with SLUICE_, is reported",
        arguments: ["1X", "A-B", "A B", "", "É", "A=B", "SLUICE_X", "SLUICE_PARAM_TOKEN", String(repeating: "A", count: 129)])
    func badEnvironmentName(name: String) {
        let problems = Self.problems(Self.runnerConfig(task: "{ run: ['/bin/true'], env: { \(Self.key(name)): 'v' } }"))
        Self.expectProblem(problems, at: "pipelines.p.tasks.t.env.\(name)", containing: "invalid variable name")
        #expect(problems.count == 1, "\(problems)")
    }

    @Test(
        "Valid environment variable names are accepted",
        arguments: ["A", "_", "a_b9", "PATH", "Sluice_x", String(repeating: "A", count: 128)])
    func goodEnvironmentName(name: String) throws {
        let config = try Self.load(Self.runnerConfig(task: "{ run: ['/bin/true'], env: { \(Self.key(name)): 'v' } }"))
        #expect(config.pipelines["p"]?.tasks.first?.environment[name]?.text == "v")
    }

    @Test("An env that is not an object of strings is reported")
    func badEnvironmentValues() {
        Self.expectProblem(
            Self.problems(Self.runnerConfig(task: "{ run: ['/bin/true'], env: ['A=1'] }")), at: "pipelines.p.tasks.t.env",
            containing: "must be an object")
        Self.expectProblem(
            Self.problems(Self.runnerConfig(task: "{ run: ['/bin/true'], env: { A: 1 } }")), at: "pipelines.p.tasks.t.env.A",
            containing: "must be a string")
        Self.expectProblem(
            Self.problems(Self.runnerConfig(task: "{ run: ['/bin/true'], env: { A: '{oops' } }")), at: "pipelines.p.tasks.t.env.A",
            containing: "unclosed")
    }

    @Test("A relative working_dir is reported", arguments: ["work", "./work", "../up", "", "~/work", "{dir}/work"])
    func relativeWorkingDirectory(dir: String) {
        let problems = Self.problems(Self.runnerConfig(task: "{ run: ['/bin/true'], working_dir: '\(dir)' }", params: "{ dir: {} }"))
        Self.expectProblem(problems, at: "pipelines.p.tasks.t.working_dir", containing: "must be an absolute path")
        #expect(problems.count == 1, "\(problems)")
    }

    @Test(
        "A parameter that is not declared is reported where env, working_dir or creates use it",
        arguments: [
            ("env: { OUT: 'x-{ghost}' }", "env.OUT"), ("working_dir: '/srv/{ghost}'", "working_dir"),
            ("creates: 'out/{ghost}.csv'", "creates"),
        ])
    func undeclaredInTemplates(extra: String, at: String) {
        let problems = Self.problems(Self.runnerConfig(task: "{ run: ['/bin/true'], \(extra) }", params: "{ date: {} }"))
        Self.expectProblem(problems, at: "pipelines.p.tasks.t.\(at)", containing: "{ghost}")
        Self.expectProblem(problems, at: "pipelines.p.tasks.t.\(at)", containing: "not declared in pipelines.p.params")
        #expect(problems.count == 1, "\(problems)")
    }

    @Test(
        "A secret parameter used in run, env, creates or working_dir is refused and SLUICE_PARAM_ is named",
        arguments: [
            ("run: ['/bin/login', '--token={token}']", "run[1]"), ("run: ['/bin/true'], env: { AUTH: 'Bearer {token}' }", "env.AUTH"),
            ("run: ['/bin/true'], creates: '/out/{token}'", "creates"), ("run: ['/bin/true'], working_dir: '/srv/{token}'", "working_dir"),
        ])
    func secretInTemplates(task: String, at: String) {
        let problems = Self.problems(Self.runnerConfig(task: "{ \(task) }", params: "{ token: { secret: true } }"))
        Self.expectProblem(problems, at: "pipelines.p.tasks.t.\(at)", containing: "secret parameter {token}")
        Self.expectProblem(problems, at: "pipelines.p.tasks.t.\(at)", containing: "SLUICE_PARAM_TOKEN")
        #expect(problems.count == 1, "\(problems)")
    }

    @Test("Every use of a secret is reported, in every task")
    func secretUsedEverywhere() {
        let problems = Self.problems(
            """
            { pipelines: { p: { params: { api_key: { secret: true, required: true } }, tasks: {
                a: { run: ['/bin/x', '{api_key}'], env: { K: '{api_key}' }, creates: '/o/{api_key}', working_dir: '/w/{api_key}' },
                b: { run: ['/bin/y'], env: { K2: 'pre{api_key}post' } },
            } } } }
            """)
        for path in ["a.run[1]", "a.env.K", "a.creates", "a.working_dir", "b.env.K2"] {
            Self.expectProblem(problems, at: "pipelines.p.tasks.\(path)", containing: "SLUICE_PARAM_API_KEY")
        }
        #expect(problems.count == 5, "\(problems)")
    }

    @Test("A secret parameter that no template uses is accepted")
    func secretUnused() throws {
        let config = try Self.load(Self.runnerConfig(task: "{ run: ['/bin/true'] }", params: "{ token: { secret: true, required: true } }"))
        #expect(config.pipelines["p"]?.parameters.first?.isSecret == true)
    }

    @Test("A secret parameter with a default is refused", arguments: ["'hunter2'", "''"])
    func secretWithDefault(value: String) {
        let problems = Self.problems(
            Self.runnerConfig(task: "{ run: ['/bin/true'] }", params: "{ token: { secret: true, default: \(value) } }"))
        Self.expectProblem(problems, at: "pipelines.p.params.token.default", containing: "secret parameter cannot have a default")
        #expect(problems.count == 1, "\(problems)")
    }

    @Test("secret and significant must be booleans")
    func secretNotBool() {
        let problems = Self.problems(
            Self.runnerConfig(task: "{ run: ['/bin/true'] }", params: "{ token: { secret: 'yes' }, note: { significant: 0 } }"))
        Self.expectProblem(problems, at: "pipelines.p.params.token.secret", containing: "true or false")
        Self.expectProblem(problems, at: "pipelines.p.params.note.significant", containing: "true or false")
    }

    @Test("An unknown on_duplicate policy is reported with the known ones", arguments: ["skip", "REJECT", "return-existing", ""])
    func unknownOnDuplicate(policy: String) {
        let problems = Self.problems(Self.runnerConfig(task: "{ run: ['/bin/true'] }", pipeline: "on_duplicate: '\(policy)',"))
        Self.expectProblem(problems, at: "pipelines.p.on_duplicate", containing: "unknown policy \"\(policy)\"")
        Self.expectProblem(problems, at: "pipelines.p.on_duplicate", containing: "return_existing, queue, reject, allow")
        #expect(problems.count == 1, "\(problems)")
    }

    @Test("A resource a task holds but nobody declared is reported")
    func undeclaredResource() {
        let none = Self.problems(Self.runnerConfig(task: "{ run: ['/bin/true'], resources: { gpu: 1 } }"))
        Self.expectProblem(none, at: "pipelines.p.tasks.t.resources.gpu", containing: "unknown resource")
        #expect(none.count == 1, "\(none)")
        let other = Self.problems(
            Self.runnerConfig(task: "{ run: ['/bin/true'], resources: { db: 1, gpu: 1 } }", top: "resources: { db: 4 },"))
        Self.expectProblem(other, at: "pipelines.p.tasks.t.resources.gpu", containing: "declare it under resources")
        #expect(other.count == 1, "\(other)")
    }

    @Test("A task holding more of a resource than its capacity is reported")
    func resourceOverCapacity() {
        let problems = Self.problems(Self.runnerConfig(task: "{ run: ['/bin/true'], resources: { db: 3 } }", top: "resources: { db: 2 },"))
        Self.expectProblem(problems, at: "pipelines.p.tasks.t.resources.db", containing: "holds 3 but resources.db has only 2")
        #expect(problems.count == 1, "\(problems)")
    }

    @Test("Resource amounts and capacities must be whole numbers from 1")
    func resourceAmounts() {
        let task = Self.problems(Self.runnerConfig(task: "{ run: ['/bin/true'], resources: { db: 0 } }", top: "resources: { db: 2 },"))
        Self.expectProblem(task, at: "pipelines.p.tasks.t.resources.db", containing: "whole number from 1")
        let capacity = Self.problems(Self.runnerConfig(task: "{ run: ['/bin/true'] }", top: "resources: { db: 0, gpu: 1.5, cpu: -1 },"))
        for name in ["db", "gpu", "cpu"] { Self.expectProblem(capacity, at: "resources.\(name)", containing: "whole number from 1") }
        let badName = Self.problems(Self.runnerConfig(task: "{ run: ['/bin/true'] }", top: "resources: { 'a b': 1 },"))
        Self.expectProblem(badName, at: "resources.a b", containing: "invalid resource name")
    }

    @Test("Invalid pass_environment names are reported by index")
    func badPassEnvironment() {
        let problems = Self.problems(
            "{ server: { pass_environment: ['PATH', '1BAD', 'SLUICE_TOKEN', 'A-B', '', 'OK_2', 'A B'] }, \(Self.minimal) }")
        for i in [1, 2, 3, 4, 6] { Self.expectProblem(problems, at: "server.pass_environment[\(i)]", containing: "invalid variable name") }
        #expect(problems.count == 5, "\(problems)")
        Self.expectProblem(
            Self.problems("{ server: { pass_environment: ['HOME', 7] }, \(Self.minimal) }"), at: "server.pass_environment[1]",
            containing: "must be a string")
        Self.expectProblem(
            Self.problems("{ server: { pass_environment: 'HOME' }, \(Self.minimal) }"), at: "server.pass_environment",
            containing: "must be an array of strings")
    }

    @Test(
        "concurrency and queue_limit out of range are reported",
        arguments: [
            ("concurrency", "0", "from 1 to 10000"), ("concurrency", "-1", "from 1 to 10000"), ("concurrency", "10001", "from 1 to 10000"),
            ("concurrency", "1.5", "whole number"), ("concurrency", "'2'", "must be a number"),
            ("queue_limit", "-1", "from 0 to 1000000"), ("queue_limit", "1000001", "from 0 to 1000000"),
            ("queue_limit", "0.5", "whole number"),
        ])
    func badPipelineLimits(key: String, value: String, fragment: String) {
        let problems = Self.problems(Self.runnerConfig(task: "{ run: ['/bin/true'] }", pipeline: "\(key): \(value),"))
        Self.expectProblem(problems, at: "pipelines.p.\(key)", containing: fragment)
        #expect(problems.count == 1, "\(problems)")
    }

    @Test(
        "Log sizes and retention out of range are reported",
        arguments: [
            ("log_head_bytes", "-1"), ("log_tail_bytes", "2147483648"), ("log_retention_days", "0"), ("log_retention_days", "36501"),
        ])
    func badLogSettings(key: String, value: String) {
        Self.expectProblem(
            Self.problems("{ server: { \(key): \(value) }, \(Self.minimal) }"), at: "server.\(key)", containing: "whole number")
    }

    @Test("Unknown keys next to the new ones are still reported")
    func unknownRunnerKeys() {
        let problems = Self.problems(
            Self.runnerConfig(
                task: "{ run: ['/bin/true'], retry: 3, timeout: 5, environment: {}, cwd: '/' }", params: "{ x: { hidden: true } }",
                pipeline: "max_queue: 3,"))
        for path in [
            "pipelines.p.tasks.t.retry", "pipelines.p.tasks.t.timeout", "pipelines.p.tasks.t.environment", "pipelines.p.tasks.t.cwd",
            "pipelines.p.params.x.hidden", "pipelines.p.max_queue",
        ] {
            Self.expectProblem(problems, at: path, containing: "unknown key")
        }
    }

    // MARK: - A large pipeline

    @Test("A 5,000-task layered DAG loads and every task comes after what it needs")
    func largeLayeredPipeline() throws {
        let layers = 100
        let width = 50
        // Names sort against the dependency order ("L99-…" runs first), so name order alone would be wrong.
        func name(_ layer: Int, _ i: Int) -> String { String(format: "L%02d-%02d", layers - 1 - layer, i) }
        var tasks: [String] = []
        var expectedNeeds: [String: Set<String>] = [:]
        for layer in 0..<layers {
            for i in 0..<width {
                let task = name(layer, i)
                var needs: [String] = []
                if layer > 0 {
                    needs = Array(Set([name(layer - 1, i), name(layer - 1, (i * 7 + 3) % width), name(layer - 1, (i + 1) % width)]))
                        .sorted()
                }
                expectedNeeds[task] = Set(needs)
                let needsText = needs.map { "'\($0)'" }.joined(separator: ", ")
                if i % 10 == 9 {
                    tasks.append("'\(task)': { kind: 'noop', needs: [\(needsText)] }")
                } else {
                    tasks.append(
                        "'\(task)': { run: ['/bin/step', '--layer=\(layer)', '{date}'], needs: [\(needsText)], env: { STEP: '\(task)' } }")
                }
            }
        }
        let text = """
            { pipelines: { big: { params: { date: { required: true } }, tasks: {
            \(tasks.joined(separator: ",\n"))
            } } } }
            """
        #expect(text.utf8.count < ConfigLoader.maxFileBytes)
        let config = try Self.load(text)
        let big = try #require(config.pipelines["big"])
        #expect(big.tasks.count == layers * width)
        #expect(Set(big.tasks.map(\.name)).count == layers * width)
        var position: [String: Int] = [:]
        for (i, task) in big.tasks.enumerated() { position[task.name] = i }
        var misplaced: [String] = []
        for task in big.tasks {
            #expect(Set(task.needs) == expectedNeeds[task.name])
            for need in task.needs where position[need]! >= position[task.name]! { misplaced.append("\(task.name) before \(need)") }
        }
        #expect(misplaced.isEmpty, "\(misplaced.prefix(10))")
        // Layer by layer: the first layer comes first, the last layer last.
        #expect(Set(big.tasks.prefix(width).map(\.name)) == Set((0..<width).map { name(0, $0) }))
        #expect(Set(big.tasks.suffix(width).map(\.name)) == Set((0..<width).map { name(layers - 1, $0) }))
        #expect(big.tasks.filter { $0.kind == .noop }.count == layers * width / 10)
        #expect(big.cycle() == nil)
    }
}
