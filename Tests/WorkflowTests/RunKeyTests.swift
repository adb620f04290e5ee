import Supervisor
import Testing

/// The run key names an attempt of one Sluice instance, whose part is its log directory: every
/// spelling of one directory must give the same key, or a restart after a config edit would not
/// recognise (and would run again) the attempts still running.
@Suite("Run keys")
struct RunKeyTests {
    static func key(_ directory: String, job: Int64 = 7, task: String = "t", attempt: Int = 2) -> String {
        ProcessIdentity.runKey(logDirectory: directory, jobID: job, task: task, attempt: attempt)
    }

    @Test(
        "Spellings of one directory give one key",
        arguments: [
            "/srv/data/logs/", "/srv//data/logs", "/srv/./data/logs", "/srv/data/x/../logs", "//srv/data/logs//", "/../srv/data/logs",
        ])
    func spellings(_ spelling: String) {
        #expect(Self.key(spelling) == Self.key("/srv/data/logs"))
    }

    @Test("Other directories, jobs, tasks and attempts give other keys")
    func distinct() {
        let keys: Set<String> = [
            Self.key("/srv/data/logs"), Self.key("/srv/data/logs2"), Self.key("/srv/data"), Self.key("srv/data/logs"),
            Self.key("/srv/data/logs", job: 8), Self.key("/srv/data/logs", task: "u"), Self.key("/srv/data/logs", attempt: 3),
        ]
        #expect(keys.count == 7)
    }

    @Test("The key ends in job/task/attempt")
    func shape() {
        #expect(Self.key("/srv/data/logs").hasSuffix("/7/t/2"))
    }
}
