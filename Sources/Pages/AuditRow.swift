/// An audit record on the audit page.
public struct AuditRow: Sendable, Hashable {
    public var id: Int64
    public var at: String
    public var event: String
    public var decision: String
    public var user: String
    public var source: String
    public var pipeline: String
    public var jobID: Int64?
    public var reason: String
    public var client: String
    public var configHash: String

    /// Creates a row.
    public init(
        id: Int64, at: String, event: String, decision: String, user: String, source: String, pipeline: String, jobID: Int64?,
        reason: String, client: String, configHash: String
    ) {
        self.id = id
        self.at = at
        self.event = event
        self.decision = decision
        self.user = user
        self.source = source
        self.pipeline = pipeline
        self.jobID = jobID
        self.reason = reason
        self.client = client
        self.configHash = configHash
    }
}

extension Pages {
    /// The audit log page.
    ///
    /// A plain GET form filters by pipeline (of `pipelines`, those the reader may audit), user,
    /// event and decision, so filters are bookmarkable and work without JavaScript; `filters`
    /// holds the values in force, `olderQuery` the query of the next (older) page.
    public static func audit(
        _ layout: Layout, _ rows: [AuditRow], filters: [String: String] = [:], pipelines: [String] = [], olderQuery: String? = nil
    ) -> String {
        var body = "<h1>Audit log</h1>\n"
        body += "<form method=\"get\" action=\"\(layout.href("/audit"))\" class=\"filters\" role=\"search\">\n"
        func value(_ name: String) -> String { HTML.escape(filters[name] ?? "") }
        func select(_ name: String, _ label: String, _ options: [(String, String)]) -> String {
            self.filterSelect(id: "a-\(name)", name: name, label: label, options: options, current: filters[name])
        }
        body += select("pipeline", "Pipeline", [("", "all")] + pipelines.map { ($0, $0) })
        body += "<div><label for=\"a-user\">User</label><input id=\"a-user\" name=\"user\" value=\"\(value("user"))\"></div>\n"
        body +=
            "<div><label for=\"a-event\">Event</label><input id=\"a-event\" name=\"event\" value=\"\(value("event"))\" "
            + "placeholder=\"trigger, authenticate, upstream:luigi\"></div>\n"
        body += select("decision", "Decision", [("", "any"), ("allow", "allow"), ("deny", "deny")])
        body += "<div><button type=\"submit\">Filter</button></div>\n</form>\n"
        guard !rows.isEmpty else { return layout.render(title: "Audit log", body: body + "<p>No records.</p>\n") }
        body +=
            "<div class=\"scroll\"><table><thead><tr><th>#</th><th>Time</th><th>Event</th><th>Decision</th><th>User</th><th>Source</th><th>Pipeline</th><th>Job</th><th>Reason</th><th>Client</th><th>Config</th></tr></thead><tbody>\n"
        for r in rows {
            let job = r.jobID.map { "<a href=\"\(layout.href("/jobs/\($0)"))\">#\($0)</a>" } ?? ""
            body +=
                "<tr><td>\(r.id)</td><td class=\"nowrap\">\(HTML.escape(r.at))</td><td>\(HTML.escape(r.event))</td><td>\(HTML.escape(r.decision))</td>"
                + "<td>\(HTML.escape(r.user))</td><td>\(HTML.escape(r.source))</td><td>\(HTML.escape(r.pipeline))</td><td>\(job)</td>"
                + "<td>\(HTML.escape(r.reason))</td><td>\(HTML.escape(r.client))</td><td><code>\(HTML.escape(r.configHash))</code></td></tr>\n"
        }
        body += "</tbody></table></div>\n"
        if let older = olderQuery { body += "<p><a rel=\"next\" href=\"\(layout.href("/audit?" + older))\">Older records</a></p>\n" }
        return layout.render(title: "Audit log", body: body)
    }
}
