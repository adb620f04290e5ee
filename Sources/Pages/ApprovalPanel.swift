/// The approval section of a job page: what the job needs, the decisions so far, and the
/// approve/reject form when the viewer may decide.
public struct ApprovalPanel: Sendable, Hashable {
    /// One person's decision as shown.
    public struct Decision: Sendable, Hashable {
        public var approver: String
        public var approves: Bool
        public var comment: String
        /// When, formatted.
        public var at: String

        /// Creates a decision row.
        public init(approver: String, approves: Bool, comment: String, at: String) {
            self.approver = approver
            self.approves = approves
            self.comment = comment
            self.at = at
        }
    }

    /// Approvals needed.
    public var required: Int
    /// The decisions so far, oldest first.
    public var decisions: [Decision]
    /// When the wait ends, formatted.
    public var expires: String
    /// Whether the job still waits.
    public var isWaiting: Bool
    /// The CSRF token of the decision form; nil: no form.
    public var token: String?
    /// Why there is no form although the job waits (e.g. "You triggered this job"), if known.
    public var note: String?

    /// Creates a panel.
    public init(required: Int, decisions: [Decision], expires: String, isWaiting: Bool, token: String?, note: String?) {
        self.required = required
        self.decisions = decisions
        self.expires = expires
        self.isWaiting = isWaiting
        self.token = token
        self.note = note
    }
}

extension Pages {
    /// The job page's approval section; `jobPath` is the job page's path below the mount point.
    static func approval(_ layout: Layout, _ panel: ApprovalPanel, jobPath: String) -> String {
        let approved = panel.decisions.filter(\.approves).count
        var html = "<section class=\"approval\" aria-labelledby=\"approval\"><h2 id=\"approval\">Approval</h2>\n"
        let needs = panel.required == 1 ? "1 approval" : "\(panel.required) approvals from different people"
        html +=
            panel.isWaiting
            ? "<p>Waiting for \(needs): \(approved) so far. Expires \(HTML.escape(panel.expires)) unless approved.</p>\n"
            : "<p>Needed \(needs).</p>\n"
        if !panel.decisions.isEmpty {
            html += "<ul class=\"decisions\">\n"
            for d in panel.decisions {
                html += "<li><strong>\(HTML.escape(d.approver))</strong> \(d.approves ? "approved" : "rejected") at \(HTML.escape(d.at))"
                if !d.comment.isEmpty { html += ": <q>\(HTML.escape(d.comment))</q>" }
                html += "</li>\n"
            }
            html += "</ul>\n"
        }
        if let note = panel.note { html += "<p class=\"muted\">\(HTML.escape(note))</p>\n" }
        if let token = panel.token {
            // One form, two buttons: each posts to its own action (formaction), no script needed.
            html += "<form method=\"post\" action=\"\(layout.href(jobPath + "/approve"))\">\n"
            html += "<input type=\"hidden\" name=\"csrf\" value=\"\(HTML.escape(token))\">\n"
            html += "<label for=\"approval-comment\">Comment <small>(optional; shown to everyone who can see this job)</small></label>"
            html += "<textarea id=\"approval-comment\" name=\"comment\" rows=\"2\" maxlength=\"1000\"></textarea>\n"
            html += "<p><button type=\"submit\">Approve</button> "
            html += "<button type=\"submit\" formaction=\"\(layout.href(jobPath + "/reject"))\">Reject</button></p>\n</form>\n"
        }
        return html + "</section>\n"
    }
}
