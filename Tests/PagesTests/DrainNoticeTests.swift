import Pages
import Testing

/// The drain banner on the dashboard, the trigger form, and who-am-I's instance verbs.
@Suite struct DrainNoticeTests {
    let layout = Layout(mountPath: "/sluice", user: "bob")

    @Test("The banner counts jobs (one job, several, none) and says whether Sluice will exit")
    func text() {
        #expect(DrainNotice(activeJobs: 1, exitWhenDrained: false).text.hasPrefix("Draining: no new jobs start; 1 job still running."))
        #expect(DrainNotice(activeJobs: 0, exitWhenDrained: false).text.hasPrefix("Draining: no new jobs start; 0 jobs still running."))
        let plain = DrainNotice(activeJobs: 3, exitWhenDrained: false).text
        #expect(plain.contains("3 jobs still running") && plain.contains("until the drain ends") && !plain.contains("exit"))
        let exiting = DrainNotice(activeJobs: 3, exitWhenDrained: true).text
        #expect(exiting.contains("Sluice will exit once nothing runs") && exiting.contains("start when it is back"))
    }

    @Test("The dashboard shows the banner first and refreshes itself only while draining (or busy)")
    func dashboard() {
        let idle = Pages.dashboard(self.layout, pipelines: [], recent: [])
        #expect(!idle.contains("class=\"banner\"") && !idle.contains("http-equiv=\"refresh\""))
        let draining = Pages.dashboard(self.layout, pipelines: [], recent: [], drain: DrainNotice(activeJobs: 2, exitWhenDrained: true))
        let banner = "<p class=\"banner\" role=\"status\" data-drain=\"exit\">Draining: no new jobs start; 2 jobs still running."
        #expect(draining.contains(banner))
        #expect(draining.range(of: banner)!.lowerBound < draining.range(of: "<h1>Pipelines</h1>")!.lowerBound)
        #expect(draining.contains("http-equiv=\"refresh\""))
    }

    @Test("The trigger form carries the banner while draining; without the trigger verb there is no form and no banner")
    func pipelinePage() {
        var detail = PipelineDetail(
            name: "etl", description: "", tasks: [("t", [])], parameters: [], triggerToken: "tok", message: nil, recent: [])
        #expect(!Pages.pipeline(self.layout, detail).contains("Draining"))
        detail.drain = DrainNotice(activeJobs: 1, exitWhenDrained: false)
        let html = Pages.pipeline(self.layout, detail)
        #expect(html.range(of: "Draining: no new jobs start")!.lowerBound > html.range(of: "id=\"trigger\"")!.lowerBound)
        detail.triggerToken = nil
        #expect(!Pages.pipeline(self.layout, detail).contains("Draining"))
    }

    @Test("Who-am-I lists instance verbs in their own table, escaped")
    func whoami() {
        let view = WhoAmIView(
            user: "ada", source: "remote_user", groups: [], roles: [("ops", "user ada")], pipelines: [],
            instance: [("admin", "roles.<b>ops</b>.grants[0]")], configHash: "abc")
        let html = Pages.whoami(self.layout, view)
        #expect(html.contains("<h2>On this Sluice</h2>"))
        #expect(html.contains("<td>admin</td><td><code>roles.&lt;b&gt;ops&lt;/b&gt;.grants[0]</code></td>"))
        let none = WhoAmIView(user: "bob", source: "remote_user", groups: [], roles: [], pipelines: [], configHash: "abc")
        #expect(!Pages.whoami(self.layout, none).contains("On this Sluice"))
    }
}
