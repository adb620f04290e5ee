import FastCGI
import Foundation
import JobStore
import Logging
import SQLiteStore
import Scheduling
import Workflow

#if canImport(Glibc)
    import Glibc
#endif

/// Wires configuration, store, runner and FastCGI front end together, and runs until SIGTERM
/// or SIGINT (or, after SIGUSR2 or an API drain with `exit_when_drained`, until drained).
public enum Server {
    /// The version printed by `sluice version`.
    public static let version = "0.1.0"

    /// Runs the server. Returns the process exit status.
    ///
    /// Call `ProcessSignals.blockInCurrentThread()` first thing in `main`, before any thread
    /// exists, so the termination signals reach `sigwait` here instead of libfcgi's handler.
    public static func serve(configPath: String, socketPath: String?) -> Int32 {
        // Before anything is created: whatever the umask Sluice was started with, nothing it
        // (or SQLite, or a task) creates is open to other users. The files Sluice makes also
        // get explicit modes; this covers the rest. Tasks inherit it (posix_spawn has no umask
        // attribute): a task that must publish world-readable files sets its own umask.
        umask(0o027)
        let logger = Logger(label: "server")
        let configuration: Configuration
        do { configuration = try ConfigLoader.load(path: configPath) } catch {
            FileHandle.standardError.write(Data("sluice: configuration refused\n\(error)\n".utf8))
            return 1
        }
        let data = configuration.server.dataDirectory
        for directory in [data, data + "/logs"] {
            do { try DataDirectory.create(directory) } catch {
                FileHandle.standardError.write(Data("sluice: \(error)\n".utf8))
                return 1
            }
        }
        // The data directory's owner, before the store is opened or any task is looked at. Under
        // a front server that replaces its backend (fd 0 from lighttpd bin-path or spawn-fcgi,
        // systemd's fd 3), the previous process may still be draining: wait for it instead of
        // starting recovery beside it. With our own --socket, a second process is a mistake.
        let lock: DataDirectoryLock
        do {
            let contention: DataDirectoryLock.Contention =
                socketPath == nil
                ? .wait(
                    reportEvery: .seconds(10),
                    waiting: { holder in
                        logger.warning(
                            "waiting for the previous process to release the data directory",
                            ["data_dir": data, "holder.pid": holder.map { "\($0)" } ?? "?"])
                    },
                    giveUp: { ProcessSignals.stopPending() })
                : .fail
            lock = try DataDirectoryLock.acquire(directory: data, contention: contention)
        } catch {
            FileHandle.standardError.write(Data("sluice: \(error)\n".utf8))
            return 1
        }
        defer { withExtendedLifetime(lock) {} }
        ConfigWarnings.log(DataDirectory.warnings(data) + ConfigWarnings.of(configuration), logger: logger)
        let store: any JobStore
        do { store = try StoreOpener.open(configuration.store, dataDirectory: data) } catch {
            FileHandle.standardError.write(Data("sluice: \(error)\n".utf8))
            return 1
        }
        // Parked long-polls hold their connections open: make room for them first.
        let openFiles = OpenFileLimit.raiseToHard()
        let changes = JobChanges(maxWatchers: JobChanges.defaultMaxWatchers)
        logger.info("long-polls", ["max_watchers": String(changes.maxWatchers), "open_file_limit": String(openFiles)])
        var runnerConfiguration = Runner.Configuration(
            parallelism: configuration.server.parallelism, logDirectory: data + "/logs",
            environment: Self.taskEnvironment(passing: configuration.server.passEnvironment),
            gracePeriod: Double(configuration.server.gracePeriod),
            logLimits: .init(headBytes: configuration.server.logHeadBytes, tailBytes: configuration.server.logTailBytes),
            onJobChange: { id, _ in changes.notify(id) })
        // server.tasks_on_stop: "keep" leaves running tasks to their supervisors when Sluice stops.
        runnerConfiguration.stopTasksOnExit = configuration.server.tasksOnStop.stopsTasks
        if case .postgres(let postgres) = configuration.store {
            // Several hosts may share a PostgreSQL store: this one claims jobs under a lease.
            runnerConfiguration.hosting = .init(id: postgres.hostID(dataDirectory: data), leaseSeconds: postgres.leaseSeconds)
            // A job watched here (`?wait=`) may run on another host: its commits wake the waiters.
            runnerConfiguration.onChangeElsewhere = { changes.notifyAll() }
        }
        let metrics = SluiceMetrics()
        runnerConfiguration.onAttemptEnded = { metrics.attemptEnded(pipeline: $0, outcome: $1, seconds: $2) }
        runnerConfiguration.onJobFinished = { metrics.jobFinished(pipeline: $0, state: $1, seconds: $2) }
        runnerConfiguration.onCommit = { metrics.committed(seconds: $0, succeeded: $1) }
        let runner = Runner(store: store, configuration: runnerConfiguration, limits: configuration.runnerLimits)
        // Drained with an exit planned: stop as on SIGTERM, through the same sigwait below.
        let drain = DrainControl(runner: runner, onDrained: { kill(getpid(), SIGTERM) })
        let app = App(configuration: configuration, store: store, runner: runner, changes: changes, drain: drain, metrics: metrics)
        let server: FastCGIServer
        do {
            server = try FastCGIServer(
                source: socketPath.map { .unixSocket(path: $0) } ?? .inherited,
                configuration: .init(threads: configuration.server.threads, maxBodyBytes: configuration.server.maxBodyBytes),
                handler: app)
        } catch {
            FileHandle.standardError.write(Data("sluice: \(error)\n".utf8))
            return 1
        }
        runner.start()
        let scheduler = Scheduler(app: app)
        scheduler.start()
        let chains = ChainDispatcher(app: app)
        chains.start()
        let notifier = Notifier(app: app)
        notifier.start()
        let expiry = ApprovalExpiry(app: app)
        expiry.start()
        // Retention is read at start; changing it takes a restart (the timer is not reloaded).
        let retention = configuration.server.logRetentionDays.map {
            LogRetention.schedule(store: store, logDirectory: data + "/logs", days: $0)
        }
        defer { retention?.cancel() }
        server.start()
        logger.info(
            "started",
            [
                "version": version, "config.hash": configuration.hash, "pid": "\(getpid())",
                "tasks_on_stop": configuration.server.tasksOnStop.rawValue, "store": configuration.store.kind,
            ])
        while true {
            let signal = ProcessSignals.wait()
            switch signal {
            case SIGHUP:
                self.reload(app, store: store, path: configPath, running: app.configurationInForce, logger: logger)
                scheduler.wake()
                continue
            case SIGUSR1, SIGUSR2:
                self.drain(drain, exit: signal == SIGUSR2, store: store, configHash: app.configurationInForce.hash, logger: logger)
                continue
            default:
                break
            }
            logger.info(
                "stopping",
                [
                    "signal": "\(signal)", "reason": drain.isExiting ? "drained" : "signal",
                    "tasks_on_stop": configuration.server.tasksOnStop.rawValue,
                ])
            break
        }
        scheduler.stop()
        chains.stop()
        notifier.stop()
        expiry.stop()
        app.beginStopping()
        server.stopAccepting()
        server.waitForWorkers()
        // Records of allowed upstream views are written after their answer: write the last ones.
        app.auditQueue.flush()
        runner.stop()
        logger.info("stopped")
        return 0
    }

    /// The environment tasks start with: the runner's fixed defaults plus the allow-listed
    /// variables of Sluice's own environment (read once, at start).
    static func taskEnvironment(passing names: [String]) -> [String: String] {
        var environment = Runner.defaultEnvironment
        let own = ProcessInfo.processInfo.environment
        for name in names { if let value = own[name] { environment[name] = value } }
        return environment
    }

    /// SIGUSR1 (`sluice drain`): starts draining; SIGUSR2 (`sluice drain --exit`): also plans
    /// the exit once drained. Audited without a user, like a reload: whoever could signal the
    /// process is an operator of the host.
    static func drain(_ drain: DrainControl, exit: Bool, store: any JobStore, configHash: String, logger: Logger) {
        let name = exit ? "SIGUSR2" : "SIGUSR1"
        let record = AuditRecord(
            at: Date(), event: "drain", allowed: true, user: nil, identitySource: nil, pipeline: nil, jobID: nil,
            reason: exit ? "\(name) (sluice drain --exit); exit_when_drained" : "\(name) (sluice drain)", requestID: nil,
            clientAddress: nil, configHash: configHash)
        // The signal came from someone with power over the process: the drain happens even if the
        // store cannot take the record now (host maintenance may be about a full disk).
        do { try store.appendAudit(record) } catch {
            logger.error("cannot write audit record", ["event": "drain", "error": "\(error)"])
        }
        do { try drain.drain(exitWhenDrained: exit ? true : nil, by: name) } catch {
            logger.warning("drain signal ignored", ["signal": name, "reason": error.message])
        }
    }

    /// Re-reads the configuration; a file that fails the check is refused and the old one stays.
    static func reload(_ app: App, store: any JobStore, path: String, running: Configuration, logger: Logger) {
        func audit(_ allowed: Bool, _ reason: String, _ hash: String) {
            let record = AuditRecord(
                at: Date(), event: "reload", allowed: allowed, user: nil, identitySource: nil, pipeline: nil, jobID: nil, reason: reason,
                requestID: nil, clientAddress: nil, configHash: hash)
            do { try store.appendAudit(record) } catch {
                logger.error("cannot write audit record", ["event": "reload", "error": "\(error)"])
            }
        }
        do {
            let next = try ConfigLoader.load(path: path)
            let old = running.server
            if next.server.dataDirectory != old.dataDirectory || next.server.threads != old.threads
                || next.server.parallelism != old.parallelism || next.server.maxBodyBytes != old.maxBodyBytes
                || next.server.tasksOnStop != old.tasksOnStop || next.store != running.store
            {
                logger.warning("server settings changed; they take effect on restart", ["config.hash": next.hash])
            }
            ConfigWarnings.log(ConfigWarnings.of(next), logger: logger)
            app.reload(next)
            app.metrics.reloaded(accepted: true, hash: next.hash)
            logger.info("configuration reloaded", ["config.hash": next.hash, "config.previous": running.hash])
            audit(true, "reloaded on SIGHUP (previous \(running.hash.prefix(12)))", next.hash)
        } catch {
            let problems = error.problems.map(\.description).joined(separator: "; ")
            logger.error(
                "configuration reload refused; the previous one stays in force", ["config.hash": running.hash, "problems": problems])
            audit(false, "reload refused: \(problems.prefix(2000))", running.hash)
            app.metrics.reloaded(accepted: false, hash: running.hash)
        }
    }

    /// `sluice check FILE`: prints every problem and every warning (`ConfigWarnings`, and the
    /// data directory's mode if it exists); returns 0 if the file is usable, warnings or not.
    public static func check(configPath: String) -> Int32 {
        do {
            let configuration = try ConfigLoader.load(path: configPath)
            let warnings = ConfigWarnings.located(
                ConfigWarnings.of(configuration) + DataDirectory.warnings(configuration.server.dataDirectory), file: configPath)
            for line in ConfigWarnings.describe(warnings, file: configPath) {
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
            let noted = warnings.isEmpty ? "" : ", \(warnings.count) warning(s)"
            print(
                "\(configPath): ok (\(configuration.pipelines.count) pipelines, \(configuration.policy.roles.count) roles, sha256 \(configuration.hash)\(noted))"
            )
            // What each schedule will do next, on its own clock: the check a person reads.
            for name in configuration.pipelines.keys.sorted() {
                for schedule in configuration.pipelines[name]!.schedules {
                    let next = schedule.schedule.fireTimes(after: Date(), through: .distantFuture, limit: 2).map {
                        FireTimeTemplate.iso($0, in: schedule.schedule.timeZone)
                    }
                    print(
                        "  schedule \(schedule.name) (\(name)): \(schedule.schedule.expression.text) in \(schedule.schedule.zoneName), next \(next.isEmpty ? "never within nine years" : next.joined(separator: ", "))"
                    )
                }
            }
            return 0
        } catch {
            FileHandle.standardError.write(Data("\(error)\n\(configPath): \(error.problems.count) problem(s)\n".utf8))
            return 1
        }
    }
}
