import Pages
import Testing

@Suite struct PagesTests {
    static let script = "<script>alert(1)</script>"
    static let scriptEscaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    static let img = "\"><img src=x onerror=alert(1)>"
    static let imgEscaped = "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"

    let layout = Layout(mountPath: "/deep/mount", user: "bob")

    /// Asserts neither raw payload appears in `html`.
    private func expectNoRawPayload(_ html: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!html.contains("<script>"), sourceLocation: sourceLocation)
        #expect(!html.contains("<img"), sourceLocation: sourceLocation)
        #expect(!html.contains("onerror=alert(1)>"), sourceLocation: sourceLocation)
    }

    private func row(id: Int64 = 7, pipeline: String = "etl", state: String = "succeeded", by: String = "bob") -> JobRow {
        JobRow(id: id, pipeline: pipeline, state: state, triggeredBy: by, created: "2024-05-01 10:00:00 UTC", duration: "1.0 s")
    }

    private func detail(
        job: JobRow? = nil, params: [(name: String, value: String)] = [], tasks: [TaskRow] = [], isLive: Bool = false,
        cancelRequested: Bool = false
    ) -> JobDetail {
        JobDetail(
            job: job ?? self.row(), identitySource: "remote_user", params: params, started: "2024-05-01 10:00:01 UTC", finished: "",
            cancelRequested: cancelRequested, tasks: tasks, isLive: isLive)
    }

    private func task(_ name: String = "extract", attempt: Int = 1, canReadLog: Bool = true, message: String? = nil) -> TaskRow {
        TaskRow(
            name: name, state: "failed", needs: ["a", "b"], attempt: attempt, duration: "2.0 s", exitCode: 3, message: message,
            canReadLog: canReadLog)
    }

    @Test("The dashboard escapes hostile pipeline names, descriptions and user names")
    func dashboardEscapes() {
        let html = Pages.dashboard(
            Layout(mountPath: "/deep/mount", user: Self.img),
            pipelines: [PipelineRow(name: Self.script, description: Self.img, lastState: Self.script, lastJobID: 3)],
            recent: [self.row(pipeline: Self.script, state: Self.img, by: Self.script)])
        self.expectNoRawPayload(html)
        #expect(html.contains(Self.scriptEscaped))
        #expect(html.contains(Self.imgEscaped))
    }

    @Test("The dashboard links pipelines and jobs under the mount path with encoded names")
    func dashboardLinks() {
        let html = Pages.dashboard(
            self.layout, pipelines: [PipelineRow(name: "a b&c", description: "", lastState: "running", lastJobID: 3)],
            recent: [self.row(id: 9)])
        #expect(html.contains("href=\"/deep/mount/pipelines/a%20b%26c\""))
        #expect(html.contains("href=\"/deep/mount/jobs/3\""))
        #expect(html.contains("href=\"/deep/mount/jobs/9\""))
        #expect(!html.contains("/sluice"))
    }

    @Test("The dashboard says when no pipeline is visible and when there are no jobs")
    func dashboardEmpty() {
        let html = Pages.dashboard(self.layout, pipelines: [], recent: [])
        #expect(html.contains("You may not see any pipeline."))
        #expect(html.contains("No jobs yet."))
    }

    @Test("The dashboard refreshes only while a job is running or queued")
    func dashboardRefresh() {
        func pipeline(running: Int, queued: Int) -> PipelineRow {
            var row = PipelineRow(name: "p", description: "", lastState: nil, lastJobID: nil)
            row.running = running
            row.queued = queued
            return row
        }
        #expect(Pages.dashboard(self.layout, pipelines: [pipeline(running: 1, queued: 0)], recent: []).contains("http-equiv=\"refresh\""))
        #expect(Pages.dashboard(self.layout, pipelines: [pipeline(running: 0, queued: 2)], recent: []).contains("http-equiv=\"refresh\""))
        #expect(!Pages.dashboard(self.layout, pipelines: [pipeline(running: 0, queued: 0)], recent: []).contains("http-equiv=\"refresh\""))
        let counted = Pages.dashboard(
            self.layout, pipelines: [pipeline(running: 1, queued: 2), pipeline(running: 3, queued: 0)], recent: [])
        #expect(counted.contains("4 running</a>") && counted.contains("2 queued</a>"))
    }

    @Test("The job list escapes its title and rows")
    func jobListEscapes() {
        let view = JobListView(
            title: "Jobs of " + Self.script, jobs: [self.row(pipeline: Self.img, by: Self.script)], pipelines: [Self.script],
            filters: ["user": Self.img, "pipeline": Self.script], nextQuery: "before=3&user=%3Cimg")
        let html = Pages.jobList(self.layout, view)
        self.expectNoRawPayload(html)
        #expect(html.contains("<h1>Jobs of \(Self.scriptEscaped)</h1>"))
        #expect(html.contains(Self.imgEscaped))
        #expect(html.contains("value=\"\(Self.imgEscaped)\""), "the user filter is kept in its input")
        #expect(html.contains("<option value=\"\(Self.scriptEscaped)\" selected>"), "the pipeline filter is selected")
        #expect(html.contains("href=\"/deep/mount/jobs?before=3&amp;user=%3Cimg\""), "next page link keeps filters")
    }

    @Test("The job page escapes the pipeline, user, parameters, task names and notes")
    func jobEscapes() {
        let html = Pages.job(
            self.layout,
            self.detail(
                job: self.row(pipeline: Self.script, by: Self.img), params: [(Self.img, Self.script), ("date", Self.img)],
                tasks: [self.task(Self.img, message: Self.script)]))
        self.expectNoRawPayload(html)
        #expect(html.contains("<tr><th>\(Self.imgEscaped)</th><td><code>\(Self.scriptEscaped)</code></td></tr>"))
        #expect(html.contains("<tr><th>date</th><td><code>\(Self.imgEscaped)</code></td></tr>"))
        #expect(html.contains("id=\"task-\(Self.imgEscaped)\""))
        // The task name in its log link is percent-encoded, not just escaped.
        #expect(html.contains("href=\"/deep/mount/jobs/7/tasks/%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E/log\""))
    }

    @Test("The job page shows parameters, tasks and their needs")
    func jobContent() {
        let html = Pages.job(self.layout, self.detail(params: [("date", "2024-05-01")], tasks: [self.task()]))
        #expect(html.contains("Job #7"))
        #expect(html.contains("<code>2024-05-01</code>"))
        #expect(html.contains("<td class=\"hide-narrow\">a, b</td>"))
        #expect(html.contains("<td>3</td>"))
        #expect(html.contains("bob (remote_user)"))
        #expect(!html.contains("<p>None.</p>"))
        #expect(Pages.job(self.layout, self.detail()).contains("<p>None.</p>"))
    }

    @Test("Log links appear only when the viewer may read logs and the task has started")
    func jobLogLinks() {
        let link = "href=\"/deep/mount/jobs/7/tasks/extract/log\""
        #expect(Pages.job(self.layout, self.detail(tasks: [self.task()])).contains(link))
        #expect(!Pages.job(self.layout, self.detail(tasks: [self.task(canReadLog: false)])).contains(link))
        #expect(!Pages.job(self.layout, self.detail(tasks: [self.task(attempt: 0)])).contains(link))
    }

    @Test("The job page refreshes only while the job is live")
    func jobRefresh() {
        #expect(Pages.job(self.layout, self.detail(isLive: true)).contains("http-equiv=\"refresh\""))
        #expect(!Pages.job(self.layout, self.detail(isLive: false)).contains("http-equiv=\"refresh\""))
    }

    @Test("A requested cancel is shown only while the job is live")
    func cancelRequested() {
        #expect(Pages.job(self.layout, self.detail(isLive: true, cancelRequested: true)).contains("<dt>Cancel</dt>"))
        #expect(!Pages.job(self.layout, self.detail(isLive: false, cancelRequested: true)).contains("<dt>Cancel</dt>"))
        #expect(!Pages.job(self.layout, self.detail(isLive: true, cancelRequested: false)).contains("<dt>Cancel</dt>"))
    }

    func logView(task: String = "t", text: String = "", offset: Int = 0, size: Int? = nil, attempts: Int = 1, isLive: Bool = false)
        -> LogView
    {
        let length = text.utf8.count
        return LogView(
            jobID: 7, task: task, attempt: attempts, attempts: attempts, text: text, offset: offset, nextOffset: offset + length,
            size: size ?? offset + length, window: 1000, isLive: isLive)
    }

    @Test("The log page escapes log text, removes terminal escapes and escapes the task name")
    func logEscapes() {
        let text =
            "ok\n\(Self.script)\n\(Self.img)\n\u{1b}[2J\u{1b}[31mred\u{1b}[0m\u{1b}]0;title\u{7}\u{1b}]8;;http://x\u{1b}\\link\u{9b}1mdone\u{0}"
        let html = Pages.log(self.layout, self.logView(task: Self.script, text: text))
        self.expectNoRawPayload(html)
        #expect(html.contains(Self.scriptEscaped))
        #expect(html.contains(Self.imgEscaped))
        #expect(!html.contains("\u{1b}") && !html.contains("\u{7}") && !html.contains("\u{9b}"))
        #expect(!html.contains("[2J") && !html.contains("[31m") && !html.contains("0;title") && !html.contains("http://x"))
        // Colours are kept as classes; everything else of the terminal is gone.
        #expect(html.contains("<span class=\"t-f1\">red</span>link<span class=\"t-b\">done\u{FFFD}</span>"))
        #expect(html.contains("href=\"/deep/mount/jobs/7\""))
    }

    @Test("The log page links earlier and later windows, other attempts and the download")
    func logPaging() {
        let middle = Pages.log(self.layout, self.logView(text: "abc", offset: 2000, size: 9000, attempts: 3))
        #expect(middle.contains("offset=1000\">Earlier</a>"))
        #expect(middle.contains("offset=2003\">Later</a>"))
        #expect(middle.contains("?attempt=1\">1</a>") && middle.contains("<strong aria-current=\"page\">3</strong>"))
        #expect(middle.contains("download=1\" download>Download</a>"))
        let whole = Pages.log(self.layout, self.logView(text: "tail"))
        #expect(!whole.contains("Earlier") && !whole.contains("Later") && !whole.contains("Attempt:"))
    }

    @Test("The log page follows the log only while the task is live and the end is shown")
    func logRefresh() {
        let live = Pages.log(self.layout, self.logView(text: "x", isLive: true))
        #expect(
            live.contains("http-equiv=\"refresh\"") && live.contains("data-live-log=\"/deep/mount/api/v1/jobs/7/tasks/t/log?attempt=1\""))
        #expect(live.contains("data-offset=\"1\""))
        #expect(!Pages.log(self.layout, self.logView(text: "x", isLive: false)).contains("http-equiv=\"refresh\""))
        let earlierWindow = Pages.log(self.layout, self.logView(text: "x", offset: 0, size: 5000, isLive: true))
        #expect(!earlierWindow.contains("data-live-log"), "an earlier window of a live log does not follow")
    }

    @Test("The error page escapes its message and shows the status")
    func errorPage() {
        let html = Pages.error(self.layout, status: 404, message: Self.script + Self.img)
        self.expectNoRawPayload(html)
        #expect(html.contains("<h1>Error 404</h1>"))
        #expect(html.contains(Self.scriptEscaped + Self.imgEscaped))
        #expect(html.contains("href=\"/deep/mount/\""))
    }

    @Test("No page hard-codes /sluice in its links")
    func noHardCodedMount() {
        let pages = [
            Pages.dashboard(
                self.layout, pipelines: [PipelineRow(name: "p", description: "", lastState: "queued", lastJobID: 1)], recent: [self.row()]),
            Pages.jobList(
                self.layout, JobListView(title: "Jobs", jobs: [self.row()], pipelines: ["p"], filters: [:], nextQuery: "before=1")),
            Pages.job(self.layout, self.detail(tasks: [self.task()])),
            Pages.log(self.layout, self.logView(text: "x", offset: 5, size: 100, attempts: 2, isLive: true)),
            Pages.error(self.layout, status: 500, message: "x"),
        ]
        for html in pages {
            #expect(!html.contains("/sluice"))
            #expect(!html.contains("href=\"/jobs"))
            #expect(!html.contains("href=\"/static") && !html.contains("src=\"/static"))
            #expect(
                !html.contains("<script>") && !html.contains("<style") && !html.contains(" style=\""), "no inline script or style (CSP)")
        }
    }
}
