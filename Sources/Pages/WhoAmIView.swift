/// Everything the "who am I" page shows.
public struct WhoAmIView: Sendable {
    /// The user name.
    public var user: String
    /// The identity source (and its configured name).
    public var source: String
    /// Groups.
    public var groups: [String]
    /// Roles held, each with why.
    public var roles: [(name: String, via: String)]
    /// Visible pipelines with each allowed verb and the grant that allows it.
    public var pipelines: [(name: String, verbs: [(verb: String, grant: String)])]
    /// Verbs about the Sluice instance itself (`admin`), each with the grant that allows it.
    public var instance: [(verb: String, grant: String)]
    /// Guarded upstreams (lighttpd authorizer mode) with each allowed verb and its grant; an
    /// upstream the caller may do nothing with is listed with no verbs.
    public var upstreams: [(name: String, verbs: [(verb: String, grant: String)])] = []
    /// The configuration hash in force.
    public var configHash: String
    /// Rate limits that apply, described.
    public var limits: [String]

    /// Creates the model.
    public init(
        user: String, source: String, groups: [String], roles: [(name: String, via: String)],
        pipelines: [(name: String, verbs: [(verb: String, grant: String)])], instance: [(verb: String, grant: String)] = [],
        configHash: String, limits: [String] = []
    ) {
        self.instance = instance
        self.limits = limits
        self.user = user
        self.source = source
        self.groups = groups
        self.roles = roles
        self.pipelines = pipelines
        self.configHash = configHash
    }
}

extension Pages {
    /// The "who am I" page.
    public static func whoami(_ layout: Layout, _ view: WhoAmIView) -> String {
        var body = "<h1>Who am I</h1>\n<dl>\n"
        body += "<dt>User</dt><dd>\(HTML.escape(view.user))</dd>\n<dt>Source</dt><dd>\(HTML.escape(view.source))</dd>\n"
        body += "<dt>Groups</dt><dd>\(view.groups.isEmpty ? "none" : HTML.escape(view.groups.joined(separator: ", ")))</dd>\n"
        let roles = view.roles.map { "\(HTML.escape($0.name)) <small>(\(HTML.escape($0.via)))</small>" }
        body += "<dt>Roles</dt><dd>\(roles.isEmpty ? "none" : roles.joined(separator: ", "))</dd>\n"
        body += "<dt>Configuration</dt><dd><code>\(HTML.escape(String(view.configHash.prefix(16))))</code></dd>\n"
        for limit in view.limits { body += "<dt>Rate limit</dt><dd>\(HTML.escape(limit))</dd>\n" }
        body += "</dl>\n"
        if !view.instance.isEmpty {
            body +=
                "<h2>On this Sluice</h2>\n<div class=\"scroll\"><table><thead><tr><th>Verb</th><th>Allowed by</th></tr></thead><tbody>\n"
            for v in view.instance {
                body += "<tr><td>\(HTML.escape(v.verb))</td><td><code>\(HTML.escape(v.grant))</code></td></tr>\n"
            }
            body += "</tbody></table></div>\n"
        }
        if !view.upstreams.isEmpty {
            body +=
                "<h2>Guarded services</h2>\n<div class=\"scroll\"><table><thead><tr><th>Service</th><th>Verb</th><th>Allowed by</th></tr></thead><tbody>\n"
            for u in view.upstreams {
                if u.verbs.isEmpty {
                    body += "<tr><td>\(HTML.escape(u.name))</td><td colspan=\"2\">nothing</td></tr>\n"
                }
                for v in u.verbs {
                    body +=
                        "<tr><td>\(HTML.escape(u.name))</td><td>\(HTML.escape(v.verb))</td><td><code>\(HTML.escape(v.grant))</code></td></tr>\n"
                }
            }
            body += "</tbody></table></div>\n"
        }
        body += "<h2>What I may do</h2>\n"
        if view.pipelines.isEmpty { return layout.render(title: "Who am I", body: body + "<p>No pipeline is visible to you.</p>\n") }
        body += "<div class=\"scroll\"><table><thead><tr><th>Pipeline</th><th>Verb</th><th>Allowed by</th></tr></thead><tbody>\n"
        for p in view.pipelines {
            for v in p.verbs {
                body +=
                    "<tr><td>\(HTML.escape(p.name))</td><td>\(HTML.escape(v.verb))</td><td><code>\(HTML.escape(v.grant))</code></td></tr>\n"
            }
        }
        return layout.render(title: "Who am I", body: body + "</tbody></table></div>\n")
    }
}
