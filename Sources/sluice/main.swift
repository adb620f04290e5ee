import FastCGI
import Foundation
import Sluice

// Before anything else (and before any thread exists): take SIGTERM/SIGINT/SIGHUP away from
// libfcgi's flag-setting handler so `Server.serve` can sigwait on them (see ProcessSignals).
ProcessSignals.blockInCurrentThread()

let usage = """
    usage: sluice serve --config FILE [--socket PATH]
           sluice check FILE
           sluice version

    serve    run the FastCGI application; without --socket it accepts on fd 0, the socket
             lighttpd (bin-path) or spawn-fcgi hands over
    check    validate a configuration file; exit status 1 and one line per problem if invalid
    version  print the version

    """

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("sluice: \(message)\n\n\(usage)".utf8))
    exit(2)
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
case "version", "--version":
    print("sluice \(Server.version)")
case "help", "--help", "-h":
    print(usage, terminator: "")
default:
    fail("unknown command \(command)")
}
