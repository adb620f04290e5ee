/// The HTML pages, as pure functions of view models.
public enum Pages {
    /// The dashboard: pipelines the viewer may see and recent jobs; a banner while Sluice drains
    /// (`drain`), and then the page refreshes itself so the count goes down.
    public static func dashboard(
        _ layout: Layout, pipelines: [PipelineRow], recent: [JobRow], drain: DrainNotice? = nil, awaitingYou: [JobRow] = []
    ) -> String {
        let running = pipelines.reduce(0) { $0 + $1.running }
        let queued = pipelines.reduce(0) { $0 + $1.queued }
        var body = drain.map(Self.drainBanner) ?? ""
        if !awaitingYou.isEmpty {
            // First on the page: these jobs wait for the viewer and nobody else may be looking.
            body += "<section class=\"approval\" aria-labelledby=\"awaiting\"><h2 id=\"awaiting\">Awaiting your approval</h2>\n"
            body += self.jobTable(layout, awaitingYou) + "</section>\n"
        }
        body += "<h1>Pipelines</h1>\n"
        body += "<p><a href=\"\(layout.href("/jobs?state=running"))\">\(running) running</a> · "
        body += "<a href=\"\(layout.href("/jobs?state=queued"))\">\(queued) queued</a> · "
        body += "<a href=\"\(layout.href("/jobs?state=awaiting_approval"))\">awaiting approval</a></p>\n"
        if pipelines.isEmpty {
            body += "<p>You may not see any pipeline.</p>\n"
        } else {
            body +=
                "<div class=\"scroll\"><table><thead><tr><th>Pipeline</th><th class=\"hide-narrow\">Description</th><th>Last job</th><th>Now</th><th></th></tr></thead><tbody>\n"
            for p in pipelines {
                let page = layout.href("/pipelines/" + HTML.pathSegment(p.name))
                let last =
                    p.lastJobID.map { "<a href=\"\(layout.href("/jobs/\($0)"))\">#\($0)</a> \(Layout.badge(p.lastState ?? ""))" } ?? "—"
                let now = p.running + p.queued == 0 ? "" : "\(p.running) running, \(p.queued) queued"
                let trigger = p.canTrigger ? "<a href=\"\(page)#trigger\">Trigger…</a>" : ""
                body +=
                    "<tr><td><a href=\"\(page)\">\(HTML.escape(p.name))</a></td><td class=\"hide-narrow\">\(HTML.escape(p.description))</td>"
                    + "<td>\(last)</td><td>\(now)</td><td>\(trigger)</td></tr>\n"
            }
            body += "</tbody></table></div>\n"
        }
        body += "<h2>Recent jobs</h2>\n" + self.jobTable(layout, recent)
        return layout.render(
            title: "Dashboard", body: body, refreshSeconds: running + queued > 0 || drain != nil || !awaitingYou.isEmpty ? 5 : nil)
    }

    /// The job list with its filter form and a link to the next page. The form is a plain GET
    /// form, so filters are bookmarkable and work without JavaScript.
    public static func jobList(_ layout: Layout, _ view: JobListView) -> String {
        var body = "<h1>\(HTML.escape(view.title))</h1>\n"
        body += "<form method=\"get\" action=\"\(layout.href("/jobs"))\" class=\"filters\" role=\"search\">\n"
        func select(_ name: String, _ label: String, _ choices: [(String, String)]) -> String {
            var options = choices
            // A value in force that no option has (`state=failed,cancelled` from a link, a
            // bookmark) is kept as an option of its own, so filtering again does not drop it.
            if let current = view.filters[name], !current.isEmpty, !options.contains(where: { $0.0.utf8.elementsEqual(current.utf8) }) {
                options.append((current, current.split(separator: ",").joined(separator: " or ")))
            }
            return self.filterSelect(id: "f-\(name)", name: name, label: label, options: options, current: view.filters[name])
        }
        body += select("pipeline", "Pipeline", [("", "all")] + view.pipelines.map { ($0, $0) })
        body += select(
            "state", "State",
            [("", "any")] + ["queued", "running", "succeeded", "failed", "cancelled"].map { ($0, $0) } + [
                ("queued,running", "unfinished (queued or running)"), ("failed,cancelled", "failed or cancelled"),
            ])
        body +=
            "<div><label for=\"f-user\">Triggered by</label><input id=\"f-user\" name=\"user\" value=\"\(HTML.escape(view.filters["user"] ?? ""))\"></div>\n"
        body +=
            "<div><label for=\"f-from\">From</label><input id=\"f-from\" type=\"date\" name=\"from\" value=\"\(HTML.escape(view.filters["from"] ?? ""))\"></div>\n"
        body +=
            "<div><label for=\"f-until\">Until</label><input id=\"f-until\" type=\"date\" name=\"until\" value=\"\(HTML.escape(view.filters["until"] ?? ""))\"></div>\n"
        body += select("sort", "Order", [("newest", "newest first"), ("oldest", "oldest first")])
        body += "<div><button type=\"submit\">Filter</button></div>\n</form>\n"
        body += self.jobTable(layout, view.jobs)
        if let next = view.nextQuery { body += "<p><a rel=\"next\" href=\"\(layout.href("/jobs?" + next))\">Next page</a></p>\n" }
        return layout.render(title: view.title, body: body)
    }

    /// A labelled `<select>` of a GET filter form, with the option whose value is `current`
    /// (compared as bytes) selected.
    static func filterSelect(id: String, name: String, label: String, options: [(String, String)], current: String?) -> String {
        var html = "<div><label for=\"\(id)\">\(label)</label><select id=\"\(id)\" name=\"\(name)\">"
        for (value, text) in options {
            let selected = (current ?? "").utf8.elementsEqual(value.utf8) ? " selected" : ""
            html += "<option value=\"\(HTML.escape(value))\"\(selected)>\(HTML.escape(text))</option>"
        }
        return html + "</select></div>\n"
    }

    static func jobTable(_ layout: Layout, _ jobs: [JobRow]) -> String {
        guard !jobs.isEmpty else { return "<p>No jobs yet.</p>\n" }
        var html =
            "<div class=\"scroll\"><table><thead><tr><th>Job</th><th>Pipeline</th><th>State</th><th>Triggered by</th><th>Created</th><th>Duration</th></tr></thead><tbody>\n"
        for j in jobs {
            html +=
                "<tr><td><a href=\"\(layout.href("/jobs/\(j.id)"))\">#\(j.id)</a></td><td>\(HTML.escape(j.pipeline))</td><td>\(Layout.badge(j.state))</td>"
                + "<td>\(HTML.escape(j.triggeredBy))</td><td>\(HTML.escape(j.created))</td><td>\(HTML.escape(j.duration))</td></tr>\n"
        }
        return html + "</tbody></table></div>\n"
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
        if let approval = detail.approval { body += self.approval(layout, approval, jobPath: "/jobs/\(j.id)") }
        if !detail.actions.isEmpty { body += self.actions(layout, detail.actions) + "\n" }
        body += self.failures(layout, detail)
        body += "<h2>Parameters</h2>\n"
        if detail.params.isEmpty && detail.secretParams.isEmpty {
            body += "<p>None.</p>\n"
        } else {
            body += "<table><tbody>\n"
            for (name, value) in detail.params {
                body += "<tr><th>\(HTML.escape(name))</th><td><code>\(HTML.escape(value))</code></td></tr>\n"
            }
            for name in detail.secretParams {
                body += "<tr><th>\(HTML.escape(name))</th><td><span class=\"muted\">•••••• (secret, never stored)</span></td></tr>\n"
            }
            body += "</tbody></table>\n"
        }
        if !detail.graphSVG.isEmpty { body += "<h2>Graph</h2>\n<div class=\"graph scroll\">\(detail.graphSVG)</div>\n" }
        if !detail.timelineSVG.isEmpty { body += "<h2>Timeline</h2>\n<div class=\"graph scroll\">\(detail.timelineSVG)</div>\n" }
        body += "<h2 id=\"tasks\">Tasks</h2>\n"
        let taskCount = detail.taskCount ?? detail.tasks.count
        if let scope = detail.layerScope {
            body +=
                "<p class=\"scope\">\(HTML.escape(scope)): \(taskCount == 1 ? "1 task" : "\(taskCount) tasks"). "
                + "<a href=\"\(layout.href("/jobs/\(j.id)"))#tasks\">All tasks</a></p>\n"
        }
        body +=
            "<div class=\"scroll\"><table><thead><tr><th>Task</th><th>State</th><th class=\"hide-narrow\">Needs</th><th>Attempt</th><th>Duration</th><th>Exit</th><th>Note</th><th>Log</th></tr></thead><tbody>\n"
        for t in detail.tasks.prefix(Self.taskRowsShown) {
            let log =
                t.canReadLog && t.attempt > 0
                ? "<a href=\"\(layout.href("/jobs/\(j.id)/tasks/\(HTML.pathSegment(t.name))/log"))\">log</a>" : ""
            var note = HTML.escape(t.message ?? "")
            if let retry = t.retryAt { note += (note.isEmpty ? "" : "<br>") + "next attempt at \(HTML.escape(retry))" }
            let attempts = t.kind == "noop" ? "noop" : (t.maxAttempts > 1 ? "\(t.attempt) of \(t.maxAttempts)" : "\(t.attempt)")
            body +=
                "<tr id=\"task-\(HTML.escape(t.name))\"><td>\(HTML.escape(t.name))</td><td>\(Layout.badge(t.state))</td>"
                + "<td class=\"hide-narrow\">\(HTML.escape(t.needs.joined(separator: ", ")))</td><td>\(attempts)</td><td>\(HTML.escape(t.duration))</td>"
                + "<td>\(t.exitCode.map(String.init) ?? "")</td><td>\(note)</td><td>\(log)</td></tr>\n"
        }
        body += "</tbody></table></div>\n"
        if taskCount > min(detail.tasks.count, Self.taskRowsShown) {
            let json = layout.href("/api/v1/jobs/\(j.id)?tasks=failed,running,queued&task_limit=1000")
            body +=
                "<p class=\"muted\">The first \(min(detail.tasks.count, Self.taskRowsShown)) of \(taskCount) tasks are listed (failed, running and queued first). "
                + "The rest are in the graph above and in the <a href=\"\(json)\">job's JSON</a>, which pages through tasks.</p>\n"
        }
        if detail.isLive, let live = detail.liveURL {
            body = "<div data-live-job=\"\(HTML.escape(live))\">\n" + body + "</div>\n"
        }
        // No meta refresh under an approval form: it would throw away a comment being written.
        let refresh = detail.isLive && detail.approval?.token == nil ? 2 : nil
        return layout.render(title: "Job #\(j.id)", body: body, refreshSeconds: refresh)
    }

    /// "What failed": each failed task (up to `JobDetail.Failure.shown`) with its message, the
    /// last lines of its log (escaped, colours kept) and links to its row and its full log.
    static func failures(_ layout: Layout, _ detail: JobDetail) -> String {
        guard !detail.failures.isEmpty else { return "" }
        let j = detail.job
        var html = "<section class=\"failures\" aria-labelledby=\"failures\"><h2 id=\"failures\">What failed</h2>\n"
        for f in detail.failures {
            let log = layout.href("/jobs/\(j.id)/tasks/\(HTML.pathSegment(f.task))/log")
            let row = layout.href("/jobs/\(j.id)") + "#task-" + HTML.escape(f.task)
            html += "<div class=\"failure\"><h3><a href=\"\(row)\">\(HTML.escape(f.task))</a> "
            html += "\(Layout.badge("failed")) <small>attempt \(f.attempt)</small></h3>\n"
            html += "<p>\(HTML.escape(f.message))</p>\n"
            if let tail = f.logTail {
                html +=
                    tail.isEmpty
                    ? "<p class=\"muted\">The log is empty.</p>\n"
                    : "<pre class=\"log excerpt\">\(TerminalText.html(tail, numbered: false))</pre>\n"
            }
            var links: [String] = []
            if f.logTail != nil { links.append("<a href=\"\(log)\">Full log</a>") }
            if let graph = f.graphHref { links.append("<a href=\"\(HTML.escape(graph))\">In the graph</a>") }
            if !links.isEmpty { html += "<p>\(links.joined(separator: " · "))</p>\n" }
            html += "</div>\n"
        }
        if detail.failedCount > detail.failures.count {
            html += "<p>\(detail.failedCount - detail.failures.count) more failed: see <a href=\"#tasks\">the task table</a>.</p>\n"
        }
        return html + "</section>\n"
    }

    /// The most task rows the job page's table shows; a larger job's page stays small, and
    /// the table lists failed, running and queued tasks first (see `App.jobPage`).
    public static let taskRowsShown = 200

    public static func log(_ layout: Layout, _ view: LogView) -> String {
        let base = "/jobs/\(view.jobID)/tasks/\(HTML.pathSegment(view.task))/log"
        let raw = "/api/v1" + base + "?attempt=\(view.attempt)"
        var body = "<h1><a href=\"\(layout.href("/jobs/\(view.jobID)"))\">Job #\(view.jobID)</a> · \(HTML.escape(view.task)) log</h1>\n"
        if view.attempts > 1 {
            body += "<p class=\"attempts\">Attempt: "
            body += (1...view.attempts).map { n in
                n == view.attempt
                    ? "<strong aria-current=\"page\">\(n)</strong>" : "<a href=\"\(layout.href(base + "?attempt=\(n)"))\">\(n)</a>"
            }.joined(separator: " ")
            body += "</p>\n"
        }
        body += "<p><a href=\"\(layout.href(raw + "&download=1"))\" download>Download</a> · \(view.size) bytes"
        if view.offset > 0 {
            let previous = max(0, view.offset - view.window)
            body += " · <a href=\"\(layout.href(base + "?attempt=\(view.attempt)&offset=\(previous)"))\">Earlier</a>"
        }
        if view.nextOffset < view.size {
            body += " · <a href=\"\(layout.href(base + "?attempt=\(view.attempt)&offset=\(view.nextOffset)"))\">Later</a>"
        }
        if !view.text.isEmpty { body += " · <a href=\"#log-end\">Jump to the end</a>" }
        body += "</p>\n"
        if view.offset > 0 { body += "<p class=\"muted\">Showing from byte \(view.offset), line \(view.firstLine).</p>\n" }
        let follow = view.isLive && view.nextOffset >= view.size
        var attributes = follow ? " data-live-log=\"\(layout.href(raw))\" data-offset=\"\(view.nextOffset)\"" : ""
        if view.opensAtEnd { attributes += " data-open-at-end" }
        body +=
            "<pre class=\"log\"\(attributes)>\(TerminalText.html(view.text, firstLine: view.firstLine))</pre>\n<span id=\"log-end\"></span>\n"
        if view.isLive {
            body += "<p id=\"log-status\" class=\"muted\" aria-live=\"polite\">The task is running; the log follows it.</p>\n"
        }
        return layout.render(title: "\(view.task) log", body: body, refreshSeconds: follow ? 2 : nil)
    }

    /// Removes terminal control sequences (CSI such as colours and cursor moves, OSC such as
    /// window titles and hyperlinks) from log text; `HTML.escape` then shows any remaining
    /// control character as U+FFFD. A log line can therefore neither style nor rewrite the page.
    public static func neutralizeTerminal(_ text: String) -> String {
        guard text.unicodeScalars.contains("\u{1B}") || text.unicodeScalars.contains("\u{9B}") else { return text }
        var out = String.UnicodeScalarView()
        var scalars = text.unicodeScalars.makeIterator()
        while let c = scalars.next() {
            if c == "\u{9B}" {
                Self.skipCSI(&scalars)
            } else if c == "\u{1B}" {
                guard let kind = scalars.next() else { break }
                switch kind {
                case "[": Self.skipCSI(&scalars)
                case "]", "P", "_", "^", "X":
                    // String sequences end at BEL or ESC \.
                    var previous: Unicode.Scalar = " "
                    while let s = scalars.next(), s != "\u{07}", !(previous == "\u{1B}" && s == "\\") { previous = s }
                default: break  // two-character escape: dropped
                }
            } else {
                out.append(c)
            }
        }
        return String(out)
    }

    private static func skipCSI(_ scalars: inout String.UnicodeScalarView.Iterator) {
        // Parameter and intermediate bytes (0x20-0x3F), then one final byte (0x40-0x7E).
        while let s = scalars.next() {
            if (0x40...0x7E).contains(s.value) || !(0x20...0x3F).contains(s.value) { return }
        }
    }

    /// An error page.
    ///
    /// With a signed-in user (`layout.user`), a 403 or 404 also says who they are signed in as and
    /// links to who-am-I, where they can see what they may do.
    public static func error(_ layout: Layout, status: Int, message: String) -> String {
        var body = "<h1>Error \(status)</h1>\n<p>\(HTML.escape(message))</p>\n"
        if let user = layout.user, status == 403 || status == 404 {
            body +=
                "<p class=\"muted\">You are signed in as <strong>\(HTML.escape(user))</strong>. "
                + "<a href=\"\(layout.href("/whoami"))\">See what you may do</a>.</p>\n"
        }
        return layout.render(title: "Error \(status)", body: body)
    }
}
