/// The frame around every page: title, navigation relative to the mount path, the caller's name.
public struct Layout: Sendable {
    /// The mount path, e.g. `/sluice` (no trailing slash; empty when mounted at the root).
    public var mountPath: String
    /// The signed-in user, if any.
    public var user: String?

    /// Creates a layout.
    public init(mountPath: String, user: String?) {
        self.mountPath = mountPath
        self.user = user
    }

    /// An href for `path` (which starts with `/`) under the mount path, escaped for an attribute.
    public func href(_ path: String) -> String { HTML.escape(self.mountPath + path) }

    /// Renders a full page around `body` (already HTML). `refreshSeconds` adds a meta refresh,
    /// which keeps live pages updating with JavaScript off.
    public func render(title: String, body: String, refreshSeconds: Int? = nil) -> String {
        var head = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(HTML.escape(title)) · Sluice</title>
            """
        if let seconds = refreshSeconds { head += "<meta http-equiv=\"refresh\" content=\"\(seconds)\">\n" }
        head += "<style>\(Self.style)</style></head>\n"
        let who = self.user.map { "<span class=\"who\">\(HTML.escape($0))</span>" } ?? ""
        return head + """
            <body><header><a class="brand" href="\(self.href("/"))">Sluice</a> <a href="\(self.href("/jobs"))">Jobs</a> <a href="\(self.href("/whoami"))">Who am I</a> \(who)</header>
            <main>
            \(body)
            </main></body></html>

            """
    }

    static let style = """
        body{font:15px/1.4 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
        header{background:#1f3a5f;color:#fff;padding:.6em 1em}header a{color:#fff;margin-right:1em}
        .brand{font-weight:700}.who{float:right}main{padding:1em;max-width:70em}
        table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid #ddd}
        .state{font-weight:600;padding:.1em .45em;border-radius:.3em}
        .state-succeeded{background:#d4edda;color:#155724}.state-failed{background:#f8d7da;color:#721c24}
        .state-running{background:#cce5ff;color:#004085}.state-queued{background:#eee;color:#333}
        .state-skipped{background:#fff3cd;color:#6b5200}.state-cancelled{background:#e2e3e5;color:#383d41}
        pre{background:#111;color:#eee;padding:1em;overflow:auto;white-space:pre-wrap;word-break:break-all}
        dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:600}
        """

    /// A state badge; the state word is the visible text, so it reads without colour too.
    public static func badge(_ state: String) -> String {
        "<span class=\"state state-\(HTML.escape(state))\">\(HTML.escape(state))</span>"
    }
}
