import Foundation
import HTTP
import JobStore
import Testing

@testable import Sluice

extension AppTests {
    @Test("The raw log is text/plain with the next offset and whether it is complete")
    func rawLog() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        try h.start(job, task: "extract")
        try h.writeLog(job, task: "extract", Array("hello world\n".utf8))
        let response = h.send("GET", "/api/v1/jobs/\(job.id)/tasks/extract/log")
        #expect(response.status.code == 200)
        #expect(response.header("Content-Type") == "text/plain; charset=utf-8")
        #expect(response.header("X-Content-Type-Options") == "nosniff")
        #expect(response.body == Array("hello world\n".utf8))
        #expect(response.header("X-Log-Next-Offset") == "12")
        #expect(response.header("X-Log-Complete") == "false")
        try h.finish(job)
        #expect(h.send("GET", "/api/v1/jobs/\(job.id)/tasks/extract/log").header("X-Log-Complete") == "true")
    }

    @Test("offset returns the tail from there, and past the end nothing")
    func rawLogOffset() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        try h.writeLog(job, task: "extract", Array("hello world\n".utf8))
        let tail = h.send("GET", "/api/v1/jobs/\(job.id)/tasks/extract/log?offset=6")
        #expect(tail.status.code == 200)
        #expect(tail.body == Array("world\n".utf8))
        #expect(tail.header("X-Log-Next-Offset") == "12")
        let past = h.send("GET", "/api/v1/jobs/\(job.id)/tasks/extract/log?offset=1000")
        #expect(past.status.code == 200)
        #expect(past.body.isEmpty)
        #expect(past.header("X-Log-Next-Offset") == "12")
    }

    @Test("A task that has not written a log yet reads as empty")
    func rawLogMissing() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        let response = h.send("GET", "/api/v1/jobs/\(job.id)/tasks/load/log?offset=5")
        #expect(response.status.code == 200)
        #expect(response.body.isEmpty)
        #expect(response.header("X-Log-Next-Offset") == "5")
    }

    @Test("The raw log is returned as bytes, hostile content untouched but never as HTML")
    func rawLogHostile() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        let bytes: [UInt8] = Array("<script>alert(1)</script>\u{1b}[31m".utf8) + [0xff, 0x00]
        try h.writeLog(job, task: "extract", bytes)
        let response = h.send("GET", "/api/v1/jobs/\(job.id)/tasks/extract/log")
        #expect(response.body == bytes)
        #expect(response.header("Content-Type")?.hasPrefix("text/plain") == true)
    }

    @Test("A bad offset is 400", arguments: ["-1", "abc", "", "1.5", "0x10", "99999999999999999999", "%zz"])
    func rawLogBadOffset(offset: String) throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        let response = h.send("GET", "/api/v1/jobs/\(job.id)/tasks/extract/log?offset=\(offset)")
        #expect(response.status.code == 400)
        _ = try AppHarness.jsonError(response)
    }

    @Test("Logs need the logs verb: a viewer gets 403 on the API and the page")
    func logsVerb() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        try h.writeLog(job, task: "extract", Array("private".utf8))
        let api = h.send("GET", "/api/v1/jobs/\(job.id)/tasks/extract/log", user: "vera")
        #expect(api.status.code == 403)
        #expect(!AppHarness.text(api).contains("private"))
        let page = h.send("GET", "/jobs/\(job.id)/tasks/extract/log", user: "vera")
        #expect(page.status.code == 403)
        #expect(!AppHarness.text(page).contains("private"))
        AppHarness.expectHTML(page)
    }

    @Test(
        "An unknown or path-like task name is 404",
        arguments: ["nope", "..%2F..%2Fjobs.db", "extract%2F..%2Fload", "..", ".", "extract.log", "EXTRACT", "extract%00"])
    func unknownTask(task: String) throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        try h.writeLog(job, task: "extract", Array("x".utf8))
        #expect(h.send("GET", "/api/v1/jobs/\(job.id)/tasks/\(task)/log").status.code == 404)
        #expect(h.send("GET", "/jobs/\(job.id)/tasks/\(task)/log").status.code == 404)
    }

    @Test("The log page escapes hostile log content")
    func logPageEscapes() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        try h.start(job, task: "extract")
        try h.writeLog(
            job, task: "extract",
            Array("ok\n<script>alert(1)</script>\n\"><img src=x onerror=alert(1)>\n\u{1b}]0;pwned\u{7}\n".utf8) + [0xff])
        let response = h.send("GET", "/jobs/\(job.id)/tasks/extract/log")
        #expect(response.status.code == 200)
        AppHarness.expectHTML(response)
        let html = AppHarness.text(response)
        #expect(!html.contains("<script>"))
        #expect(!html.contains("<img"))
        #expect(!html.contains("\u{1b}"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"))
        #expect(html.contains("href=\"/sluice/jobs/\(job.id)\""))
        // The task is running: the page refreshes itself, and opens at the end.
        #expect(html.contains("http-equiv=\"refresh\""))
        #expect(html.contains(" data-open-at-end>"))
    }

    @Test("The log page numbers lines from the start of the log, colours SGR text with classes, and opens failed attempts at the end")
    func logPageLinesAndColours() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        try h.finish(job, as: .failed, jobState: .failed)
        // 300,000 bytes of numbered lines, the last in red: the window starts mid-log.
        var text = ""
        var n = 0
        while text.utf8.count < 300_000 {
            n += 1
            text += "line \(n)\n"
        }
        text += "\u{1b}[1;31mfatal: it broke\u{1b}[0m\n"
        try h.writeLog(job, task: "extract", Array(text.utf8))
        let html = AppHarness.text(h.send("GET", "/jobs/\(job.id)/tasks/extract/log"))
        let last = n + 1
        #expect(html.contains("<span class=\"line\" id=\"L\(last)\"><a class=\"ln\" href=\"#L\(last)\""))
        #expect(html.contains("<span class=\"t-b t-f1\">fatal: it broke</span>"), "the red, bold line")
        // The line numbers are the file's: line k holds "line k".
        #expect(html.contains(">\(n)</a>line \(n)</span>"))
        #expect(!html.contains("\u{1b}"))
        #expect(html.contains(" data-open-at-end>"), "a failed attempt opens at its end")
        #expect(html.contains("href=\"#log-end\">Jump to the end</a>") && html.contains("<span id=\"log-end\"></span>"))
        // An explicit window does not jump.
        #expect(!AppHarness.text(h.send("GET", "/jobs/\(job.id)/tasks/extract/log?offset=0")).contains("data-open-at-end"))
    }

    @Test("The log page shows the last window of a large log and links the earlier one")
    func logPageTruncation() throws {
        let h = try AppHarness()
        defer { h.remove() }
        let job = try h.createJob()
        try h.finish(job)
        let size = (256 << 10) + 1000
        var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: size)
        bytes.replaceSubrange(0..<5, with: Array("START".utf8))
        bytes.replaceSubrange((size - 3)..<size, with: Array("END".utf8))
        try h.writeLog(job, task: "extract", bytes)
        let html = AppHarness.text(h.send("GET", "/jobs/\(job.id)/tasks/extract/log"))
        #expect(html.contains("Showing from byte 1000, line 1."))
        #expect(html.contains("offset=0\">Earlier</a>"))
        #expect(!html.contains("START"))
        #expect(html.contains("END</span></pre>"))
        let first = AppHarness.text(h.send("GET", "/jobs/\(job.id)/tasks/extract/log?offset=0"))
        #expect(first.contains("<pre class=\"log\"><span class=\"line\" id=\"L1\">") && first.contains(">1</a>START"))
        #expect(!first.contains("END</span></pre>"))
        #expect(first.contains("offset=262144\">Later</a>"))
        #expect(!html.contains("http-equiv=\"refresh\""))
        let small = try h.createJob()
        try h.writeLog(small, task: "extract", Array("short".utf8))
        #expect(!AppHarness.text(h.send("GET", "/jobs/\(small.id)/tasks/extract/log")).contains("are not shown"))
    }
}
