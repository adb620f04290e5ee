/// One webhook delivery as the admins' deliveries page shows it.
public struct DeliveryRow: Sendable, Hashable {
    public var id: Int64
    public var jobID: Int64
    public var pipeline: String
    public var webhook: String
    public var event: String
    public var state: String
    public var attempts: Int
    /// When it was made, formatted.
    public var created: String
    /// The last attempt: when (formatted), its status and error, if any.
    public var lastAttempt: String
    public var lastStatus: Int?
    public var lastError: String
    /// When the next attempt is due (pending only), formatted.
    public var next: String
    /// The CSRF token of its "Deliver again" button; nil: no button (delivered).
    public var redeliverToken: String?

    /// Creates a row.
    public init(
        id: Int64, jobID: Int64, pipeline: String, webhook: String, event: String, state: String, attempts: Int, created: String,
        lastAttempt: String, lastStatus: Int?, lastError: String, next: String, redeliverToken: String?
    ) {
        self.id = id
        self.jobID = jobID
        self.pipeline = pipeline
        self.webhook = webhook
        self.event = event
        self.state = state
        self.attempts = attempts
        self.created = created
        self.lastAttempt = lastAttempt
        self.lastStatus = lastStatus
        self.lastError = lastError
        self.next = next
        self.redeliverToken = redeliverToken
    }
}

extension Pages {
    /// The admins' page of webhook deliveries, newest first, with a state filter and, for
    /// failed and pending ones, a button asking for another attempt.
    public static func deliveries(_ layout: Layout, _ rows: [DeliveryRow], state: String?, olderQuery: String?) -> String {
        var body = "<h1>Webhook deliveries</h1>\n"
        body += "<form method=\"get\" action=\"\(layout.href("/admin/deliveries"))\" class=\"filters\" role=\"search\">\n"
        body += self.filterSelect(
            id: "d-state", name: "state", label: "State",
            options: [("", "any"), ("pending", "pending"), ("delivered", "delivered"), ("failed", "failed")], current: state)
        body += "<div><button type=\"submit\">Filter</button></div>\n</form>\n"
        guard !rows.isEmpty else { return layout.render(title: "Webhook deliveries", body: body + "<p>No deliveries.</p>\n") }
        body +=
            "<div class=\"scroll\"><table><thead><tr><th>#</th><th>Job</th><th>Event</th><th>Webhook</th><th>State</th><th>Attempts</th>"
            + "<th>Last attempt</th><th>Next</th><th></th></tr></thead><tbody>\n"
        for r in rows {
            var last = HTML.escape(r.lastAttempt)
            if let status = r.lastStatus { last += " · HTTP \(status)" }
            if !r.lastError.isEmpty { last += "<br><small>\(HTML.escape(r.lastError))</small>" }
            var action = ""
            if let token = r.redeliverToken {
                action =
                    "<form class=\"action\" method=\"post\" action=\"\(layout.href("/admin/deliveries/\(r.id)/redeliver"))\">"
                    + "<input type=\"hidden\" name=\"csrf\" value=\"\(HTML.escape(token))\"><button type=\"submit\">Deliver again</button></form>"
            }
            body +=
                "<tr><td>\(r.id)</td><td><a href=\"\(layout.href("/jobs/\(r.jobID)"))\">#\(r.jobID)</a> \(HTML.escape(r.pipeline))</td>"
                + "<td>\(HTML.escape(r.event))</td><td>\(HTML.escape(r.webhook))</td><td>\(Layout.badge(r.state))</td><td>\(r.attempts)</td>"
                + "<td>\(last)</td><td class=\"nowrap\">\(HTML.escape(r.next))</td><td>\(action)</td></tr>\n"
        }
        body += "</tbody></table></div>\n"
        if let older = olderQuery {
            body += "<p><a rel=\"next\" href=\"\(layout.href("/admin/deliveries?" + older))\">Older deliveries</a></p>\n"
        }
        return layout.render(title: "Webhook deliveries", body: body)
    }
}
