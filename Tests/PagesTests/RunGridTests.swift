import Testing

@testable import Pages

/// The run-history grid's markup.
@Suite struct RunGridTests {
    @Test("Names and tips are escaped; missing cells stay empty; the hidden-task note")
    func escaping() {
        let grid = RunGrid(
            runs: [.init(id: 3, state: "failed", created: "then"), .init(id: 4, state: "running", created: "now")],
            tasks: ["<b>x</b>"], cells: [[.init(state: "failed", duration: "1.0 s", attempts: 2), nil]], hiddenTasks: 5)
        let html = Pages.runGrid(Layout(mountPath: "/m", user: "u"), grid)
        #expect(!html.contains("<b>x</b>"))
        #expect(
            html.contains(
                "<tr><th>&lt;b&gt;x&lt;/b&gt;</th><td><a class=\"cell state-failed\" href=\"/m/jobs/3#task-&lt;b&gt;x&lt;/b&gt;\""))
        #expect(html.contains("data-tip=\"&lt;b&gt;x&lt;/b&gt; in #3: failed, 1.0 s, 2 attempts\""))
        #expect(html.contains("</a></td><td></td></tr>"))
        #expect(html.contains("5 tasks that succeeded in every run shown are left out."))
        #expect(Pages.runGrid(Layout(mountPath: "", user: nil), RunGrid(runs: [], tasks: ["a"], cells: [[]])).isEmpty)
    }
}
