/// The HTML pages, as pure functions of view models.
public enum Pages {
    /// The dashboard: pipelines the viewer may see and recent jobs.
    public static func dashboard(_ layout: Layout, pipelines: [PipelineRow], recent: [JobRow]) -> String {
        var body = "<h1>Pipelines</h1>\n"
        if pipelines.isEmpty {
            body += "<p>You may not see any pipeline.</p>\n"
        } else {
            body += "<table><thead><tr><th>Pipeline</th><th>Description</th><th>Last job</th></tr></thead><tbody>\n"
            for p in pipelines {
                let last =
                    p.lastJobID.map { "<a href=\"\(layout.href("/jobs/\($0)"))\">#\($0)</a> \(Layout.badge(p.lastState ?? ""))" } ?? "—"
                body +=
                    "<tr><td><a href=\"\(layout.href("/pipelines/" + HTML.pathSegment(p.name)))\">\(HTML.escape(p.name))</a></td><td>\(HTML.escape(p.description))</td><td>\(last)</td></tr>\n"
            }
            body += "</tbody></table>\n"
        }
        body += "<h2>Recent jobs</h2>\n" + self.jobTable(layout, recent)
        return layout.render(
            title: "Dashboard", body: body, refreshSeconds: recent.contains { $0.state == "running" || $0.state == "queued" } ? 5 : nil)
    }

    /// The job list.
    public static func jobList(_ layout: Layout, title: String, jobs: [JobRow]) -> String {
        layout.render(title: title, body: "<h1>\(HTML.escape(title))</h1>\n" + self.jobTable(layout, jobs))
    }

    static func jobTable(_ layout: Layout, _ jobs: [JobRow]) -> String {
        guard !jobs.isEmpty else { return "<p>No jobs yet.</p>\n" }
        var html =
            "<table><thead><tr><th>Job</th><th>Pipeline</th><th>State</th><th>Triggered by</th><th>Created</th><th>Duration</th></tr></thead><tbody>\n"
        for j in jobs {
            html +=
                "<tr><td><a href=\"\(layout.href("/jobs/\(j.id)"))\">#\(j.id)</a></td><td>\(HTML.escape(j.pipeline))</td><td>\(Layout.badge(j.state))</td>"
                + "<td>\(HTML.escape(j.triggeredBy))</td><td>\(HTML.escape(j.created))</td><td>\(HTML.escape(j.duration))</td></tr>\n"
        }
        return html + "</tbody></table>\n"
    }

    /// The job page: who, when, parameters, and each task's state with a link to its log.
    public static func job(_ layout: Layout, _ detail: JobDetail) -> String {
        let j = detail.job
        var body = "<h1>Job #\(j.id) · \(HTML.escape(j.pipeline)) \(Layout.badge(j.state))</h1>\n<dl>\n"
        body += "<dt>Triggered by</dt><dd>\(HTML.escape(j.triggeredBy)) (\(HTML.escape(detail.identitySource)))</dd>\n"
        body += "<dt>Created</dt><dd>\(HTML.escape(j.created))</dd>\n"
        if !detail.started.isEmpty { body += "<dt>Started</dt><dd>\(HTML.escape(detail.started))</dd>\n" }
        if !detail.finished.isEmpty { body += "<dt>Finished</dt><dd>\(HTML.escape(detail.finished))</dd>\n" }
        if !j.duration.isEmpty { body += "<dt>Duration</dt><dd>\(HTML.escape(j.duration))</dd>\n" }
        if detail.cancelRequested && detail.isLive { body += "<dt>Cancel</dt><dd>requested</dd>\n" }
        body += "</dl>\n"
        if !detail.actions.isEmpty { body += self.actions(layout, detail.actions) + "\n" }
        body += "<h2>Parameters</h2>\n"
        if detail.params.isEmpty {
            body += "<p>None.</p>\n"
        } else {
            body += "<table><tbody>\n"
            for (name, value) in detail.params {
                body += "<tr><th>\(HTML.escape(name))</th><td><code>\(HTML.escape(value))</code></td></tr>\n"
            }
            body += "</tbody></table>\n"
        }
        body +=
            "<h2>Tasks</h2>\n<table><thead><tr><th>Task</th><th>State</th><th>Needs</th><th>Attempt</th><th>Duration</th><th>Exit</th><th>Note</th><th>Log</th></tr></thead><tbody>\n"
        for t in detail.tasks {
            let log =
                t.canReadLog && t.attempt > 0
                ? "<a href=\"\(layout.href("/jobs/\(j.id)/tasks/\(HTML.pathSegment(t.name))/log"))\">log</a>" : ""
            body +=
                "<tr id=\"task-\(HTML.escape(t.name))\"><td>\(HTML.escape(t.name))</td><td>\(Layout.badge(t.state))</td>"
                + "<td>\(HTML.escape(t.needs.joined(separator: ", ")))</td><td>\(t.attempt)</td><td>\(HTML.escape(t.duration))</td>"
                + "<td>\(t.exitCode.map(String.init) ?? "")</td><td>\(HTML.escape(t.message ?? ""))</td><td>\(log)</td></tr>\n"
        }
        body += "</tbody></table>\n"
        return layout.render(title: "Job #\(j.id)", body: body, refreshSeconds: detail.isLive ? 2 : nil)
    }

    /// A task's log, escaped inside `<pre>`. `truncatedBytes` > 0 says the start was left out.
    public static func log(_ layout: Layout, jobID: Int64, task: String, text: String, truncatedBytes: Int, isLive: Bool) -> String {
        var body = "<h1><a href=\"\(layout.href("/jobs/\(jobID)"))\">Job #\(jobID)</a> · \(HTML.escape(task)) log</h1>\n"
        if truncatedBytes > 0 { body += "<p>The first \(truncatedBytes) bytes are not shown.</p>\n" }
        body += "<pre>\(HTML.escape(text))</pre>\n"
        return layout.render(title: "\(task) log", body: body, refreshSeconds: isLive ? 2 : nil)
    }

    /// An error page.
    public static func error(_ layout: Layout, status: Int, message: String) -> String {
        layout.render(title: "Error \(status)", body: "<h1>Error \(status)</h1>\n<p>\(HTML.escape(message))</p>\n")
    }
}
