import Pages
import Testing

@Suite struct TaskGraphTests {
    /// Layers of a graph given as (name, needs) pairs.
    private func layers(_ spec: [(String, [String])]) -> [Int] {
        GraphLayout(spec.map { GraphNode(name: $0.0, needs: $0.1) }).layer
    }

    /// How often `needle` occurs in `text`.
    private func occurrences(of needle: String, in text: String) -> Int { text.ranges(of: needle).count }

    /// A layered DAG of `layers` × `width` nodes; each node needs two nodes of the layer before, states cycle.
    private func layered(layers: Int, width: Int) -> [GraphNode] {
        let states = ["succeeded", "failed", "running", "queued", "skipped", "cancelled"]
        var nodes: [GraphNode] = []
        nodes.reserveCapacity(layers * width)
        for l in 0..<layers {
            for i in 0..<width {
                let needs = l == 0 ? [] : ["t\(l - 1)-\(i)", "t\(l - 1)-\((i + 1) % width)"]
                nodes.append(GraphNode(name: "t\(l)-\(i)", needs: needs, state: states[(l * width + i) % states.count]))
            }
        }
        return nodes
    }

    @Test("A diamond takes three layers")
    func diamond() {
        #expect(self.layers([("a", []), ("b", ["a"]), ("c", ["a"]), ("d", ["b", "c"])]) == [0, 1, 1, 2])
    }

    @Test("A chain takes one layer per task, in any input order, even when very deep")
    func chain() {
        #expect(self.layers([("a", []), ("b", ["a"]), ("c", ["b"]), ("d", ["c"])]) == [0, 1, 2, 3])
        #expect(self.layers([("d", ["c"]), ("c", ["b"]), ("b", ["a"]), ("a", [])]) == [3, 2, 1, 0])
        // Deep enough to overflow a recursive search.
        let deep = (0..<50_000).map { GraphNode(name: "n\($0)", needs: $0 == 0 ? [] : ["n\($0 - 1)"]) }.reversed()
        #expect(GraphLayout(Array(deep)).layerCount == 50_000)
    }

    @Test("A node's layer is one more than its highest need, so a shortcut edge does not pull it up")
    func longestPath() {
        #expect(self.layers([("a", []), ("b", ["a"]), ("c", ["b"]), ("d", ["a", "c"])]) == [0, 1, 2, 3])
    }

    @Test("A wide fan-out and fan-in keep the fan in one layer")
    func fanOut() {
        let leaves = (0..<50).map { ("leaf\($0)", ["root"]) }
        let layout = GraphLayout(([("root", [])] + leaves + [("join", leaves.map(\.0))]).map { GraphNode(name: $0.0, needs: $0.1) })
        #expect(layout.layerCount == 3)
        #expect(layout.order.map(\.count) == [1, 50, 1])
        #expect(layout.needs[51].count == 50)
    }

    @Test("Unknown and repeated needs are ignored")
    func unknownNeeds() {
        #expect(self.layers([("a", ["ghost"]), ("b", ["a", "ghost", "a"])]) == [0, 1])
        let layout = GraphLayout([GraphNode(name: "a", needs: ["ghost"]), GraphNode(name: "b", needs: ["a", "ghost", "a"])])
        #expect(layout.needs == [[], [0]])
    }

    @Test("A cycle or a self-need does not hang; the edge closing it is dropped and every kept need is lower")
    func cycle() {
        let nodes = [
            GraphNode(name: "a", needs: ["c"]), GraphNode(name: "b", needs: ["a"]), GraphNode(name: "c", needs: ["b"]),
            GraphNode(name: "self", needs: ["self"]), GraphNode(name: "after", needs: ["a", "self"]),
        ]
        let layout = GraphLayout(nodes)
        #expect(Set(layout.layer[0..<3]) == [0, 1, 2])
        #expect(layout.layer[3] == 0)
        for (node, needs) in layout.needs.enumerated() {
            for need in needs { #expect(layout.layer[need] < layout.layer[node]) }
        }
        #expect(layout.needs.joined().count == 4)
        let svg = TaskGraph.svg(nodes)
        #expect(svg.hasSuffix("</svg>"))
    }

    @Test("Barycenter ordering removes the crossings of a crafted case that input order has")
    func crossings() {
        // Layer 1 lists its tasks in the reverse order of what they need: every pair of edges crosses.
        let nodes = [
            GraphNode(name: "a", needs: []), GraphNode(name: "b", needs: []), GraphNode(name: "c", needs: []),
            GraphNode(name: "p", needs: ["c"]), GraphNode(name: "q", needs: ["b"]), GraphNode(name: "r", needs: ["a"]),
            GraphNode(name: "x", needs: ["p", "r"]), GraphNode(name: "y", needs: ["q"]),
        ]
        let unordered = GraphLayout(nodes, sweeps: 0)
        let ordered = GraphLayout(nodes)
        #expect(unordered.crossings() == 4)
        #expect(ordered.crossings() == 0)
        #expect(ordered.order.map { $0.count } == [3, 3, 2])
    }

    @Test("Ordering never ends with more crossings than input order")
    func orderingNeverWorse() {
        let nodes = self.layered(layers: 8, width: 12).map { node in
            var node = node
            node.needs.reverse()
            return node
        }
        #expect(GraphLayout(nodes).crossings() <= GraphLayout(nodes, sweeps: 0).crossings())
    }

    @Test("An edge that skips layers runs through bends in the columns it crosses, not behind their boxes")
    func routing() {
        let nodes = [
            GraphNode(name: "a", needs: []), GraphNode(name: "b", needs: ["a"]), GraphNode(name: "c", needs: ["b"]),
            GraphNode(name: "d", needs: ["a", "c"]), GraphNode(name: "e", needs: ["a"]),
        ]
        let layout = GraphLayout(nodes)
        #expect(layout.isRouted)
        #expect(layout.layer == [0, 1, 2, 3, 1])
        let svg = TaskGraph.svg(nodes)
        // a → d crosses layers 1 and 2: two pieces that run on across a column, then one arrow into d.
        #expect(svg.contains("<g fill=\"none\" stroke=\"#777\" stroke-width=\"1.2\">\n<path"))
        #expect(svg.matches(of: #/H[0-9]+"/#).count == 2)
        #expect(self.occurrences(of: "<path d=\"M", in: svg) == 1 + 2 + 5)  // arrowhead, two runs, five arrows
        // Too many bends (every task of a chain needs every earlier one): long edges are drawn straight.
        let closure = (0..<60).map { i in GraphNode(name: "n\(i)", needs: (0..<i).map { "n\($0)" }) }
        #expect(!GraphLayout(closure).isRouted)
        #expect(!GraphLayout(nodes, bendLimit: 0).isRouted)
        #expect(TaskGraph.svg(closure).hasSuffix("</svg>"))
    }

    @Test("The SVG is accessible: role, title and a description counting tasks per state")
    func accessibility() throws {
        let states = Array(repeating: "succeeded", count: 8) + ["failed"] + Array(repeating: "queued", count: 3)
        let nodes = states.enumerated().map { GraphNode(name: "t\($0.offset)", needs: $0.offset == 0 ? [] : ["t0"], state: $0.element) }
        let svg = TaskGraph.svg(nodes)
        #expect(svg.hasPrefix("<svg "))
        #expect(svg.contains("role=\"img\" aria-labelledby=\"task-graph-title task-graph-desc\""))
        #expect(svg.contains("<title id=\"task-graph-title\">Task graph</title>"))
        #expect(svg.contains("<desc id=\"task-graph-desc\">12 tasks in 2 layers: 8 succeeded, 1 failed, 3 queued."))
        // Natural size: one viewBox unit a CSS pixel, so the 12 px text is 12 px at every width.
        let box = try #require(svg.range(of: "viewBox=\"0 0 ").map { svg[$0.upperBound...].prefix { $0 != "\"" } })
        let parts = box.split(separator: " ")
        #expect(svg.contains("width=\"\(parts[0])\" height=\"\(parts[1])\"") && svg.contains("font-size=\"12\""))
        #expect(svg.contains("viewBox=\"0 0 "))
        // Links must stay reachable by assistive technology, which role="img" would hide.
        let linked = TaskGraph.svg([GraphNode(name: "a", needs: [], state: "running", href: "/jobs/1/tasks/a/log")], id: "job-1")
        #expect(linked.contains("role=\"group\" aria-labelledby=\"job-1-title job-1-desc\""))
        #expect(linked.contains("<a href=\"/jobs/1/tasks/a/log\" aria-label=\"a, running\" id=\"job-1-task-0\">"))
    }

    @Test("Each node states its state in text, a glyph and a stroke style, not only in colour")
    func stateText() {
        let states = ["succeeded", "failed", "running", "queued", "skipped", "cancelled"]
        let nodes = states.map { GraphNode(name: "task-\($0)", needs: [], state: $0) }
        let svg = TaskGraph.svg(nodes)
        for state in states { #expect(svg.contains("<title>task-\(state) — \(state)</title>")) }
        #expect(svg.contains("✓ task-succeeded"))
        #expect(svg.contains("✗ task-failed"))
        #expect(svg.contains("fill=\"#d4edda\" stroke=\"#155724\""))
        #expect(svg.contains("fill=\"#f8d7da\" stroke=\"#721c24\" stroke-width=\"2\""))
        #expect(svg.contains("fill=\"#cce5ff\" stroke=\"#004085\" stroke-width=\"3\""))
        #expect(svg.contains("fill=\"#eee\" stroke=\"#333\""))
        #expect(svg.contains("fill=\"#fff3cd\" stroke=\"#6b5200\" stroke-width=\"1.5\" stroke-dasharray=\"6 3\""))
        #expect(svg.contains("fill=\"#e2e3e5\" stroke=\"#383d41\" stroke-width=\"1.5\" stroke-dasharray=\"2 2\""))
        #expect(svg.contains("6 tasks in 1 layer: 1 succeeded, 1 failed, 1 running, 1 queued, 1 skipped, 1 cancelled."))
    }

    @Test("A pipeline's graph has no states and draws an edge per kept need")
    func pipelineGraph() {
        let svg = TaskGraph.svg([GraphNode(name: "build", needs: []), GraphNode(name: "test", needs: ["build", "ghost"])])
        #expect(svg.contains("<title>build</title>"))
        #expect(svg.contains("2 tasks in 2 layers."))
        #expect(self.occurrences(of: "<path d=\"M", in: svg) == 1 + 1)  // the arrowhead and one edge
        #expect(self.occurrences(of: "<rect", in: svg) == 2)
    }

    @Test("Hostile names, states and hrefs come out inert")
    func escaping() {
        let long = String(repeating: "x", count: 10_000)
        let nodes = [
            GraphNode(name: "<script>alert(1)</script>", needs: [], state: "\"><img src=x onerror=alert(1)>", href: "javascript:alert(1)"),
            GraphNode(name: "\"><img src=x onerror=alert(1)>", needs: ["<script>alert(1)</script>"], href: "//evil.example/"),
            GraphNode(name: "]]><script>x</script>", needs: [], href: "/\t/evil.example/"),
            GraphNode(name: "invoice\u{202E}fdp.exe", needs: [], href: "/\\evil.example/"),
            GraphNode(name: long, needs: [], href: "/jobs/1?a=1&b=\"x\"'"),
            GraphNode(name: "e" + String(repeating: "\u{301}", count: 5_000), needs: []),
        ]
        let svg = TaskGraph.svg(nodes, id: "\"><script>")
        #expect(!svg.contains("<script>"))
        #expect(!svg.contains("<img"))
        #expect(!svg.contains("]]>"))
        #expect(!svg.contains("\u{202E}"))
        #expect(!svg.contains("javascript:"))
        #expect(!svg.contains("evil.example"))
        #expect(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(svg.contains("]]&gt;&lt;script&gt;x&lt;/script&gt;"))
        #expect(svg.contains("invoice\u{FFFD}fdp.exe"))
        #expect(svg.contains("<a href=\"/jobs/1?a=1&amp;b=&quot;x&quot;&#39;\""))
        #expect(self.occurrences(of: "<a ", in: svg) == 1)
        // The label is cut to 24 characters; the tooltip keeps a longer (but bounded) name.
        #expect(svg.contains(">" + String(repeating: "x", count: 23) + "…</text>"))
        #expect(svg.contains("<title>" + String(repeating: "x", count: 255) + "…"))
        #expect(svg.utf8.count < 10_000)
        #expect(!svg.contains("\"><script>-title"))
    }

    @Test("No script, no style attribute or element, in any mode")
    func noStyleOrScript() {
        let small = TaskGraph.svg(self.layered(layers: 3, width: 4))
        let collapsed = TaskGraph.svg(self.layered(layers: 3, width: 4), maxNodes: 5)
        let empty = TaskGraph.svg([])
        for svg in [small, collapsed, empty] {
            #expect(!svg.contains("<script>"))
            #expect(!svg.contains("style="))
            #expect(!svg.contains("<style"))
            #expect(!svg.contains("javascript:"))
            #expect(!svg.contains(#/ on[a-z]+=/#))  // no event handler attributes
        }
        #expect(empty.contains("No tasks."))
    }

    @Test("The same input gives the same output")
    func deterministic() {
        let nodes = self.layered(layers: 6, width: 9)
        #expect(TaskGraph.svg(nodes) == TaskGraph.svg(nodes))
        #expect(TaskGraph.svg(nodes, maxNodes: 10) == TaskGraph.svg(nodes, maxNodes: 10))
    }

    @Test("Above maxNodes, each layer becomes one box with counts per state")
    func collapse() {
        var nodes = (0..<10).map { GraphNode(name: "a\($0)", needs: [], state: "succeeded") }
        nodes += (0..<10).map { GraphNode(name: "b\($0)", needs: ["a\($0)"], state: $0 < 8 ? "succeeded" : "running") }
        nodes += (0..<10).map { GraphNode(name: "c\($0)", needs: ["b\($0)"], state: "queued", href: "/x") }
        #expect(!TaskGraph.svg(nodes, maxNodes: 30).contains("summary"))
        let svg = TaskGraph.svg(nodes, maxNodes: 29)
        #expect(svg.contains("Task graph (summary)"))
        #expect(svg.contains("<title>Layer 2 · 10 tasks · 8 succeeded, 2 running</title>"))
        #expect(svg.contains(">Layer 3 · 10 tasks</text>"))
        #expect(svg.contains("30 tasks in 3 layers: 18 succeeded, 2 running, 10 queued."))
        #expect(!svg.contains("<a "))
        #expect(!svg.contains("a0"))
    }

    // No wall-clock assertions here: on a shared 2-core machine they fail under load and prove
    // nothing; the drawing's speed is measured by scripts/bench.
    @Test("A 100,000-task layered DAG collapses to a small SVG")
    func hugeGraph() {
        let nodes = self.layered(layers: 1_000, width: 100)
        let svg = TaskGraph.svg(nodes)
        let rects = self.occurrences(of: "<rect", in: svg)
        #expect(rects > 0 && rects <= 60 * 7)
        #expect(svg.utf8.count < 60_000)
        #expect(svg.contains("100000 tasks in 1000 layers"))
        #expect(svg.contains("each box summarises 17 layers"))
        #expect(svg.contains(">Layers 1–17 · 1700 tasks</text>"))
        #expect(svg.contains(">Layers 987–1000 · 1400 tasks</text>"))
    }

    @Test("A 1,000-task graph still draws every task")
    func thousand() {
        let nodes = self.layered(layers: 20, width: 50)
        let svg = TaskGraph.svg(nodes, maxNodes: 1_000)
        #expect(self.occurrences(of: "<rect", in: svg) == 1_000)
    }
}
