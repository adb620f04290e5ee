import Pages
import Testing

@Suite struct LayoutTests {
    @Test("Links are prefixed with the mount path")
    func href() {
        #expect(Layout(mountPath: "/deep/mount", user: nil).href("/jobs/7") == "/deep/mount/jobs/7")
        #expect(Layout(mountPath: "", user: nil).href("/") == "/")
    }

    @Test("A hostile mount path is escaped inside links")
    func hostileMount() {
        let layout = Layout(mountPath: "/x\"><script>", user: nil)
        #expect(layout.href("/") == "/x&quot;&gt;&lt;script&gt;/")
        let page = layout.render(title: "t", body: "")
        #expect(!page.contains("<script>"))
    }

    @Test("The frame links home and to jobs under the mount path and never hard-codes /sluice")
    func navigation() {
        let page = Layout(mountPath: "/deep/mount", user: "bob").render(title: "T", body: "<p>body</p>")
        #expect(page.contains("href=\"/deep/mount/\""))
        #expect(page.contains("href=\"/deep/mount/jobs\""))
        #expect(!page.contains("/sluice"))
        #expect(page.contains("<p>body</p>"))
        #expect(page.hasPrefix("<!doctype html>"))
        #expect(page.contains("<meta charset=\"utf-8\">"))
    }

    @Test("The title and the user are escaped")
    func escaping() {
        let page = Layout(mountPath: "", user: "<script>alert(1)</script>").render(title: "\"><img src=x onerror=alert(1)>", body: "")
        #expect(!page.contains("<script>"))
        #expect(!page.contains("<img"))
        #expect(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(page.contains("<title>&quot;&gt;&lt;img src=x onerror=alert(1)&gt; · Sluice</title>"))
    }

    @Test("Without a user, no name is shown")
    func noUser() {
        #expect(!Layout(mountPath: "", user: nil).render(title: "t", body: "").contains("class=\"who\""))
        #expect(Layout(mountPath: "", user: "ann").render(title: "t", body: "").contains("<span class=\"who\">ann</span>"))
    }

    @Test("A refresh meta tag appears only when asked for")
    func refresh() {
        let layout = Layout(mountPath: "", user: nil)
        #expect(layout.render(title: "t", body: "", refreshSeconds: 3).contains("<meta http-equiv=\"refresh\" content=\"3\">"))
        #expect(!layout.render(title: "t", body: "").contains("http-equiv=\"refresh\""))
    }

    @Test("A state badge escapes the state and shows it as text")
    func badge() {
        #expect(Layout.badge("running") == "<span class=\"state state-running\">running</span>")
        #expect(!Layout.badge("\"><b>").contains("<b>"))
    }
}
