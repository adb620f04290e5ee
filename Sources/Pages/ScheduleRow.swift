/// One schedule of a pipeline, as its page lists it.
public struct ScheduleRow: Sendable, Hashable {
    /// The schedule's name.
    public var name: String
    /// The cron expression as written.
    public var expression: String
    /// The IANA time zone it is read in.
    public var timeZone: String
    /// Its next fire times, already formatted on the zone's clock.
    public var nextRuns: [String]
    /// The parameters it sets, as `name=template`.
    public var params: [String]
    /// What it does about missed runs, for people ("the latest", "none", "all, at most 10").
    public var missed: String

    /// Creates a row.
    public init(name: String, expression: String, timeZone: String, nextRuns: [String], params: [String], missed: String) {
        self.name = name
        self.expression = expression
        self.timeZone = timeZone
        self.nextRuns = nextRuns
        self.params = params
        self.missed = missed
    }
}

extension Pages {
    /// The schedules section of a pipeline page: when each fires next, with which parameters.
    static func schedules(_ rows: [ScheduleRow]) -> String {
        guard !rows.isEmpty else { return "" }
        var body = "<h2 id=\"schedules\">Schedules</h2>\n<div class=\"scroll\"><table>\n"
        body += "<thead><tr><th scope=\"col\">Schedule</th><th scope=\"col\">When</th><th scope=\"col\">Next runs</th>"
        body += "<th scope=\"col\">Parameters</th><th scope=\"col\">Missed runs</th></tr></thead>\n<tbody>\n"
        for row in rows {
            let next = row.nextRuns.isEmpty ? "none within nine years" : row.nextRuns.map(HTML.escape).joined(separator: "<br>")
            let params = row.params.map { "<code>\(HTML.escape($0))</code>" }.joined(separator: " ")
            body += "<tr id=\"schedule-\(HTML.escape(row.name))\"><th scope=\"row\">\(HTML.escape(row.name))</th>"
            body += "<td><code>\(HTML.escape(row.expression))</code> <small>\(HTML.escape(row.timeZone))</small></td>"
            body += "<td>\(next)</td><td>\(params)</td><td>\(HTML.escape(row.missed))</td></tr>\n"
        }
        return body + "</tbody></table></div>\n"
    }
}
