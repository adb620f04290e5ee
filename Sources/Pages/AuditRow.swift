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
    public static func audit(_ layout: Layout, _ rows: [AuditRow]) -> String {
        var body = "<h1>Audit log</h1>\n"
        guard !rows.isEmpty else { return layout.render(title: "Audit log", body: body + "<p>No records.</p>\n") }
        body +=
            "<div class=\"scroll\"><table><thead><tr><th>#</th><th>Time</th><th>Event</th><th>Decision</th><th>User</th><th>Source</th><th>Pipeline</th><th>Job</th><th>Reason</th><th>Client</th><th>Config</th></tr></thead><tbody>\n"
        for r in rows {
            let job = r.jobID.map { "<a href=\"\(layout.href("/jobs/\($0)"))\">#\($0)</a>" } ?? ""
            body +=
                "<tr><td>\(r.id)</td><td>\(HTML.escape(r.at))</td><td>\(HTML.escape(r.event))</td><td>\(HTML.escape(r.decision))</td>"
                + "<td>\(HTML.escape(r.user))</td><td>\(HTML.escape(r.source))</td><td>\(HTML.escape(r.pipeline))</td><td>\(job)</td>"
                + "<td>\(HTML.escape(r.reason))</td><td>\(HTML.escape(r.client))</td><td><code>\(HTML.escape(r.configHash))</code></td></tr>\n"
        }
        return layout.render(title: "Audit log", body: body + "</tbody></table></div>\n")
    }
}
