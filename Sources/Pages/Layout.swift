/// The frame around every page: title, navigation relative to the mount path, the caller's name.
public struct Layout: Sendable {
    /// The mount path, e.g. `/sluice` (no trailing slash; empty when mounted at the root).
    public var mountPath: String
    /// The signed-in user, if any.
    public var user: String?
    /// Whether the navigation links to the audit log (the user may read some of it).
    public var showsAudit: Bool

    /// Creates a layout.
    public init(mountPath: String, user: String?, showsAudit: Bool = false) {
        self.mountPath = mountPath
        self.user = user
        self.showsAudit = showsAudit
    }

    /// An href for `path` (which starts with `/`) under the mount path, escaped for an attribute.
    public func href(_ path: String) -> String { HTML.escape(self.mountPath + path) }

    /// Renders a full page around `body` (already HTML).
    ///
    /// Live pages (`refreshSeconds` set) update in two ways: with JavaScript, `app.js` follows
    /// the element carrying a `data-live-*` attribute (see `Layout.script`); without it, a meta
    /// refresh inside `<noscript>` reloads the page. There is no inline script or style: the
    /// Content-Security-Policy allows only Sluice's own files.
    public func render(title: String, body: String, refreshSeconds: Int? = nil) -> String {
        var head = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(HTML.escape(title)) · Sluice</title>
            <link rel="stylesheet" href="\(self.href("/static/app.css?v=" + Self.assetVersion))">
            <script src="\(self.href("/static/app.js?v=" + Self.assetVersion))" defer></script>

            """
        if let seconds = refreshSeconds { head += "<noscript><meta http-equiv=\"refresh\" content=\"\(seconds)\"></noscript>\n" }
        head += "</head>\n"
        let who = self.user.map { "<span class=\"who\">\(HTML.escape($0))</span>" } ?? ""
        let audit = self.showsAudit ? "<a href=\"\(self.href("/audit"))\">Audit</a> " : ""
        return head + """
            <body><a class="skip" href="#main">Skip to content</a>
            <header><nav aria-label="Sluice"><a class="brand" href="\(self.href("/"))">Sluice</a> <a href="\(self.href("/jobs"))">Jobs</a> \(audit)<a href="\(self.href("/whoami"))">Who am I</a> \(who)</nav></header>
            <main id="main">
            \(body)
            </main></body></html>

            """
    }

    /// Changes whenever the stylesheet or script does, so browsers may cache them for long.
    public static let assetVersion: String = {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a: a cache key, not a security property
        for byte in (Self.style + Self.script).utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }()

    /// Sluice's stylesheet, served as `/static/app.css`.
    public static var stylesheet: String { Self.style }

    static let style = """
        body{font:15px/1.4 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
        header{background:#1f3a5f;color:#fff;padding:.6em 1em}header a{color:#fff;margin-right:1em}
        header nav{display:flex;flex-wrap:wrap;gap:.3em 0;align-items:baseline}
        .brand{font-weight:700}.who{margin-left:auto;overflow-wrap:anywhere}main{padding:1em;max-width:70em}
        table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid #ddd}
        .state{font-weight:600;padding:.1em .45em;border-radius:.3em}
        .state-succeeded{background:#d4edda;color:#155724}.state-failed{background:#f8d7da;color:#721c24}
        .state-running{background:#cce5ff;color:#004085}.state-queued{background:#eee;color:#333}
        .state-skipped{background:#fff3cd;color:#6b5200}.state-cancelled{background:#e2e3e5;color:#383d41}
        .state-awaiting_approval{background:#fff3cd;color:#6b5200}.state-rejected{background:#f8d7da;color:#721c24}.state-expired{background:#e2e3e5;color:#383d41}
        .approval{border-left:6px solid #b38600;background:#fff;padding:.2em .9em;margin:.6em 0}textarea{font:inherit;width:100%;max-width:40em}
        pre{background:#111;color:#eee;padding:1em;overflow:auto;white-space:pre-wrap;word-break:break-all}
        dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:600}
        a{color:#0b4f9c}header a{color:#fff}a:focus,button:focus,input:focus,select:focus{outline:3px solid #f0a500;outline-offset:2px}
        .skip{position:absolute;left:-999px}.skip:focus{left:1em;top:.5em;background:#fff;color:#000;padding:.3em;z-index:9}
        .scroll{overflow-x:auto}.nowrap{white-space:nowrap}
        pre.log .line:target{background:#2d3b55}
        .ln{display:inline-block;min-width:3.5em;margin-right:1em;text-align:right;color:#8a8a8a;text-decoration:none;user-select:none}
        .t-b{font-weight:700}.t-i{font-style:italic}.t-u{text-decoration:underline}
        .t-f0{color:#6e6e6e}.t-f1{color:#ff6b6b}.t-f2{color:#69d26b}.t-f3{color:#e5c04b}.t-f4{color:#6ea8ff}.t-f5{color:#d98cf0}.t-f6{color:#4fd6d6}.t-f7{color:#e6e6e6}
        .t-f8{color:#9a9a9a}.t-f9{color:#ff8f8f}.t-f10{color:#8ff08f}.t-f11{color:#ffe07a}.t-f12{color:#9cc4ff}.t-f13{color:#f0b0ff}.t-f14{color:#8ff0f0}.t-f15{color:#fff}
        .t-g0{background:#000}.t-g1{background:#7a1f1f}.t-g2{background:#1f5a22}.t-g3{background:#6b5a12}.t-g4{background:#1f3a7a}.t-g5{background:#5a1f6b}.t-g6{background:#125a5a}.t-g7{background:#5a5a5a}
        .t-g8{background:#333}.t-g9{background:#a33}.t-g10{background:#383}.t-g11{background:#995}.t-g12{background:#36a}.t-g13{background:#939}.t-g14{background:#399}.t-g15{background:#777}
        .failure{border-left:6px solid #c0392b;background:#fff;padding:.2em .9em;margin:.6em 0}.failure h3{margin:.4em 0}
        table.grid{width:auto}table.grid th,table.grid td{padding:.15em .25em;text-align:center}table.grid tbody th{text-align:left;font-weight:400}
        .cell{display:inline-block;min-width:1.8em;line-height:1.8em;text-decoration:none;border-radius:.2em;position:relative}
        .cell:hover::after,.cell:focus::after{content:attr(data-tip);position:absolute;left:0;top:2em;z-index:5;white-space:nowrap;background:#1b1b1b;color:#fff;padding:.2em .5em;border-radius:.2em}
        .attempts a,.attempts strong{display:inline-block;min-width:2.75em;min-height:2.75em;line-height:2.75em;text-align:center}
        .graph svg{display:block}.muted{color:#555}
        .task-graph :target>rect{stroke:#1b1b1b;stroke-width:4px}tr:target{outline:3px solid #004085}
        label{display:block;font-weight:600;margin-top:.6em}.error{color:#721c24;font-weight:600}
        input,select,button{font:inherit;padding:.3em .5em;max-width:100%}form.action{display:inline}
        .banner{background:#fff3cd;color:#4d3b00;border:1px solid #e0c36a;border-left:6px solid #b38600;padding:.6em .9em;font-weight:600}
        .filters{display:flex;flex-wrap:wrap;gap:.2em 1em;align-items:end}.filters label{margin-top:0}
        @media (max-width:40em){main{padding:.5em}th,td{padding:.3em}.hide-narrow{display:none}}
        """

    /// Sluice's script, served as `/static/app.js`: progressive enhancement only (every page
    /// works without it). It follows live elements:
    /// - `data-live-job="<api url>"`: long-polls the job JSON with `?wait=25&task_limit=1` (one task
    ///   and the counts per state: a change of any task's state changes it, and it stays small for a
    ///   job of 100,000 tasks) and `If-None-Match`;
    ///   when it changes, fetches the page again and swaps `<main>`'s content (no reload, no
    ///   lost scroll position), then polls again after four times what the page took (at least
    ///   0.1 s, at most 10 s); stops once the job is finished.
    /// - `data-live-log="<raw log url>"` with `data-offset`: appends new log bytes as text
    ///   (never as HTML), with terminal escapes and control characters removed, until the
    ///   server says the task is complete; keeps the page at the end if the reader was there.
    /// - `data-open-at-end`: scrolls to the end of the page on load, unless the URL names a line.
    public static let script = #"""
        "use strict";
        (function () {
          function clean(t) { return t.replace(/\u001b\[[0-?]*[ -\/]*[@-~]/g, "").replace(/\u001b\][^\u0007\u001b]*(\u0007|\u001b\\)/g, "").replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g, "\ufffd"); }
          function followJob(el) {
            var url = el.getAttribute("data-live-job"), tag = null, live = ["queued", "running", "awaiting_approval"];
            function poll() {
              var h = { "Accept": "application/json" }; if (tag) { h["If-None-Match"] = tag; }
              fetch(url + "?wait=25&task_limit=1", { headers: h, credentials: "same-origin" }).then(function (r) {
                if (r.status === 304) { return null; }
                if (!r.ok) { throw new Error("status " + r.status); }
                var first = tag === null; tag = r.headers.get("ETag");
                // The first answer is only the baseline, unless the job already finished
                // (then the page is stale now, and no later poll would ever differ).
                return r.json().then(function (job) { return first && live.indexOf(job.state) >= 0 ? null : job; });
              }).then(function (job) {
                if (!job) { return setTimeout(poll, 100); }
                function swap() {
                  // Someone writing an approval comment keeps their text: the page is swapped
                  // once the box is left empty and unfocused.
                  var c = document.getElementById("approval-comment");
                  if (c && (c === document.activeElement || c.value)) { return setTimeout(swap, 2000); }
                  var began = Date.now();
                  return fetch(location.href, { credentials: "same-origin" }).then(function (r) { return r.text(); }).then(function (html) {
                    var doc = new DOMParser().parseFromString(html, "text/html"), fresh = doc.getElementById("main");
                    if (fresh) { document.getElementById("main").replaceChildren.apply(document.getElementById("main"), Array.from(fresh.childNodes)); }
                    var next = document.querySelector("[data-live-job]");
                    // A page that was slow to draw (a job of 100,000 tasks) is not asked for again at
                    // once: waiting four times as long keeps one viewer to a fifth of a server thread.
                    if (next && live.indexOf(job.state) >= 0) { setTimeout(poll, Math.min(10000, Math.max(100, 4 * (Date.now() - began)))); }
                  }).catch(function () { setTimeout(poll, 5000); });
                }
                return swap();
              }).catch(function () { setTimeout(poll, 5000); });
            }
            poll();
          }
          function followLog(el) {
            var url = el.getAttribute("data-live-log"), offset = parseInt(el.getAttribute("data-offset") || "0", 10);
            function poll() {
              fetch(url + (url.indexOf("?") < 0 ? "?" : "&") + "offset=" + offset, { credentials: "same-origin" }).then(function (r) {
                if (!r.ok) { throw new Error("status " + r.status); }
                var next = parseInt(r.headers.get("X-Log-Next-Offset") || String(offset), 10), done = r.headers.get("X-Log-Complete") === "true";
                return r.text().then(function (t) {
                  var atEnd = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
                  if (next < offset) { el.textContent = ""; }
                  if (t) { el.appendChild(document.createTextNode(clean(t))); }
                  if (t && atEnd) { window.scrollTo(0, document.body.scrollHeight); }
                  offset = next;
                  if (!done) { setTimeout(poll, 1000); } else { var s = document.getElementById("log-status"); if (s) { s.textContent = "Task finished."; } }
                });
              }).catch(function () { setTimeout(poll, 5000); });
            }
            poll();
          }
          document.addEventListener("DOMContentLoaded", function () {
            var job = document.querySelector("[data-live-job]"); if (job) { followJob(job); }
            var log = document.querySelector("[data-live-log]"); if (log) { followLog(log); }
            // A running or failed attempt opens at its end, unless a line was linked (#L12).
            if (document.querySelector("[data-open-at-end]") && !location.hash) { window.scrollTo(0, document.body.scrollHeight); }
          });
        })();

        """#

    /// A state badge; the state word is the visible text, so it reads without colour too.
    public static func badge(_ state: String) -> String {
        "<span class=\"state state-\(HTML.escape(state))\">\(HTML.escape(state))</span>"
    }
}
