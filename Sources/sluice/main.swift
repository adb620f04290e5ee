import FastCGI
import Foundation
import Sluice

// Before anything else (and before any thread exists): take SIGTERM/SIGINT/SIGHUP (and the
// drain signals SIGUSR1/SIGUSR2) away from libfcgi's flag-setting handler and from their default
// action, so `Server.serve` can sigwait on them (see ProcessSignals).
ProcessSignals.blockInCurrentThread()

let usage = """
    usage: sluice serve --config FILE [--socket PATH]
           sluice check FILE
           sluice explain --config FILE --user NAME [--groups a,b]
           sluice explain --config FILE --token JWT|- [--source NAME]   (- reads the token from stdin)
           sluice explain --config FILE --pipeline NAME [--verb approve]
           sluice token new NAME [--roles a,b] [--expires 2027-06-30]
           sluice audit export --config FILE [--since 2026-11-01]
           sluice migrate --config FILE
           sluice drain --config FILE [--exit] [--wait]
           sluice version

    serve    run the FastCGI application; without --socket it accepts on fd 0, the socket
             lighttpd (bin-path) or spawn-fcgi hands over
    check    validate a configuration file; exit status 1 and one line per problem if invalid
    explain  what a user (with groups) may do on each pipeline and which grant allows it; or
             verify a signed assertion exactly as the server would and say why it is refused;
             or who may do what (approve, trigger, ...) with one pipeline
    token    print a new service token once, and the config entry holding only its SHA-256
    audit    print the audit log as JSON lines, oldest first
    migrate  create or migrate the configured store's schema and exit (run it as the database
             owner when Sluice's own role may not create tables)
    drain    tell the sluice serve of the configuration's data_dir to start no new jobs (SIGUSR1;
             triggers still queue); --exit: and to exit once nothing runs (SIGUSR2); --wait:
             wait until that process has exited. Resume with DELETE /api/v1/admin/drain or a restart
    version  print the version

    """

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("sluice: \(message)\n\n\(usage)".utf8))
    exit(2)
}

/// Reads `--name value` pairs; anything else is a usage error.
func parseOptions(_ arguments: [String], allowed: Set<String>) -> [String: String] {
    var options: [String: String] = [:]
    var rest = arguments[...]
    while let option = rest.popFirst() {
        guard allowed.contains(option) else { fail("unknown option \(option)") }
        guard let value = rest.popFirst() else { fail("\(option) needs a value") }
        options[option] = value
    }
    return options
}

var arguments = Array(CommandLine.arguments.dropFirst())
guard let command = arguments.first else { fail("missing command") }
arguments.removeFirst()

switch command {
case "serve":
    var config: String? = nil
    var socket: String? = nil
    while let option = arguments.first {
        arguments.removeFirst()
        guard let value = arguments.first else { fail("\(option) needs a value") }
        arguments.removeFirst()
        switch option {
        case "--config": config = value
        case "--socket": socket = value
        default: fail("unknown option \(option)")
        }
    }
    guard let config else { fail("serve needs --config FILE") }
    exit(Server.serve(configPath: config, socketPath: socket))
case "check":
    guard arguments.count == 1 else { fail("check needs exactly one FILE") }
    exit(Server.check(configPath: arguments[0]))
case "explain":
    let options = parseOptions(arguments, allowed: ["--config", "--user", "--groups", "--token", "--source", "--pipeline", "--verb"])
    guard let config = options["--config"] else { fail("explain needs --config FILE") }
    if let pipeline = options["--pipeline"] {
        guard options["--user"] == nil, options["--token"] == nil else { fail("explain takes --pipeline, --user or --token, one of them") }
        exit(Commands.explainPipeline(configPath: config, pipeline: pipeline, verb: options["--verb"]))
    }
    guard (options["--user"] == nil) != (options["--token"] == nil) else { fail("explain needs either --user, --token or --pipeline") }
    // `--token -` reads the token from stdin, so it does not show in `ps` to other local users.
    var token = options["--token"]
    if token == "-" { token = readLine(strippingNewline: true)?.trimmingCharacters(in: .whitespaces) }
    exit(
        Commands.explain(
            configPath: config, user: options["--user"], groups: options["--groups"], token: token, source: options["--source"]))
case "token":
    guard arguments.first == "new", arguments.count >= 2 else { fail("usage: sluice token new NAME [--roles a,b] [--expires DATE]") }
    let options = parseOptions(Array(arguments.dropFirst(2)), allowed: ["--roles", "--expires"])
    let roles = options["--roles"].map { $0.split(separator: ",").map(String.init) } ?? []
    exit(Commands.newToken(name: arguments[1], roles: roles, expires: options["--expires"]))
case "audit":
    guard arguments.first == "export" else { fail("usage: sluice audit export --config FILE [--since DATE]") }
    let options = parseOptions(Array(arguments.dropFirst()), allowed: ["--config", "--since"])
    guard let config = options["--config"] else { fail("audit export needs --config FILE") }
    exit(Commands.exportAudit(configPath: config, since: options["--since"]))
case "migrate":
    let options = parseOptions(arguments, allowed: ["--config"])
    guard let config = options["--config"] else { fail("migrate needs --config FILE") }
    exit(Commands.migrate(configPath: config))
case "drain":
    var config: String? = nil
    var exitWhenDrained = false
    var wait = false
    while let option = arguments.first {
        arguments.removeFirst()
        switch option {
        case "--config":
            guard let value = arguments.first else { fail("--config needs a value") }
            arguments.removeFirst()
            config = value
        case "--exit": exitWhenDrained = true
        case "--wait": wait = true
        default: fail("unknown option \(option)")
        }
    }
    guard let config else { fail("drain needs --config FILE") }
    exit(Commands.drain(configPath: config, exit: exitWhenDrained, wait: wait))
case "version", "--version":
    print("sluice \(Server.version)")
case "help", "--help", "-h":
    print(usage, terminator: "")
default:
    fail("unknown command \(command)")
}
