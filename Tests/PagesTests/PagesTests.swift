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
        #expect(!html.contains("<script"), sourceLocation: sourceLocation)
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
            self.layout, pipelines: [PipelineRow(name: "a b&c", description: "", lastState: "running", lastJobID: 3)], recent: [self.row(id: 9)])
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

    @Test("The dashboard refreshes only while a recent job is live")
    func dashboardRefresh() {
        #expect(Pages.dashboard(self.layout, pipelines: [], recent: [self.row(state: "running")]).contains("http-equiv=\"refresh\""))
        #expect(Pages.dashboard(self.layout, pipelines: [], recent: [self.row(state: "queued")]).contains("http-equiv=\"refresh\""))
        #expect(!Pages.dashboard(self.layout, pipelines: [], recent: [self.row(state: "failed")]).contains("http-equiv=\"refresh\""))
    }

    @Test("The job list escapes its title and rows")
    func jobListEscapes() {
        let html = Pages.jobList(self.layout, title: "Jobs of " + Self.script, jobs: [self.row(pipeline: Self.img, by: Self.script)])
        self.expectNoRawPayload(html)
        #expect(html.contains("<h1>Jobs of \(Self.scriptEscaped)</h1>"))
        #expect(html.contains(Self.imgEscaped))
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
        #expect(html.contains("<td>a, b</td>"))
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

    @Test("The log page escapes log text, terminal escapes and the task name")
    func logEscapes() {
        let text = "ok\n\(Self.script)\n\(Self.img)\n\u{1b}[2J\u{1b}]0;title\u{7}done"
        let html = Pages.log(self.layout, jobID: 7, task: Self.script, text: text, truncatedBytes: 0, isLive: false)
        self.expectNoRawPayload(html)
        #expect(html.contains(Self.scriptEscaped))
        #expect(html.contains(Self.imgEscaped))
        #expect(!html.contains("\u{1b}"))
        #expect(!html.contains("\u{7}"))
        #expect(html.contains("\u{FFFD}[2J"))
        #expect(html.contains("href=\"/deep/mount/jobs/7\""))
    }

    @Test("The log page says how much was left out when truncated")
    func logTruncation() {
        let truncated = Pages.log(self.layout, jobID: 7, task: "t", text: "tail", truncatedBytes: 1234, isLive: false)
        #expect(truncated.contains("The first 1234 bytes are not shown."))
        let whole = Pages.log(self.layout, jobID: 7, task: "t", text: "tail", truncatedBytes: 0, isLive: false)
        #expect(!whole.contains("are not shown"))
    }

    @Test("The log page refreshes only while the task is live")
    func logRefresh() {
        #expect(Pages.log(self.layout, jobID: 1, task: "t", text: "", truncatedBytes: 0, isLive: true).contains("http-equiv=\"refresh\""))
        #expect(!Pages.log(self.layout, jobID: 1, task: "t", text: "", truncatedBytes: 0, isLive: false).contains("http-equiv=\"refresh\""))
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
            Pages.dashboard(self.layout, pipelines: [PipelineRow(name: "p", description: "", lastState: "queued", lastJobID: 1)], recent: [self.row()]),
            Pages.jobList(self.layout, title: "Jobs", jobs: [self.row()]),
            Pages.job(self.layout, self.detail(tasks: [self.task()])),
            Pages.log(self.layout, jobID: 1, task: "t", text: "", truncatedBytes: 0, isLive: false),
            Pages.error(self.layout, status: 500, message: "x"),
        ]
        for html in pages {
            #expect(!html.contains("/sluice"))
            #expect(!html.contains("href=\"/jobs"))
        }
    }
}
