/// One node of a task graph.
public struct GraphNode: Sendable, Hashable {
    /// Task name, unique within the graph (a repeated name can be drawn but never needed).
    public var name: String
    /// Names of the tasks it needs; names that match no node are ignored.
    public var needs: [String]
    /// Task state for a job's graph (queued/running/succeeded/failed/skipped/cancelled), nil for a pipeline's graph.
    public var state: String?
    /// Link target (already a full path, e.g. the task's log page), nil for none. Only a path that starts with a
    /// single `/` becomes a link; anything else (another origin, a `javascript:` URL) is dropped.
    public var href: String?

    /// Creates a node.
    public init(name: String, needs: [String], state: String? = nil, href: String? = nil) {
        self.name = name
        self.needs = needs
        self.state = state
        self.href = href
    }
}

/// The task graph (DAG) as an inline SVG computed on the server, laid out by ``GraphLayout``.
///
/// Layers run left to right, as stages in a CI view, so a wide fan-out grows downwards (which scrolls) rather than
/// sideways. The SVG uses presentation attributes only (no `style`, no script), so a strict Content-Security-Policy
/// allows it. It is drawn at its natural size (one viewBox unit a CSS pixel, so its 12 px text is 12 px on every
/// screen) inside a container that scrolls sideways: a wide graph scrolls rather than shrinking its text below a
/// readable size, and a one-task graph is not blown up to the page's width.
public enum TaskGraph {
    /// Size of a task's box; its slot in a column is ``GraphLayout/nodePitch`` tall.
    static let boxWidth = 188
    /// Height of a task's box.
    static let boxHeight = 28
    /// Space between columns, where edges curve.
    static let columnGap = 40
    /// Space around the drawing.
    static let margin = 8
    /// Visible characters of a label, ellipsis included.
    static let labelLimit = 24
    /// Characters of a name in a tooltip; longer names are cut with an ellipsis.
    static let titleLimit = 256
    /// The narrowest viewBox, so a graph of one or two tasks is not blown up to the page's width.
    static let minimumWidth = 480
    /// Above this many tasks a graph collapses to one box per layer (or run of layers), unless told otherwise.
    public static let defaultMaxNodes = 250
    /// At most this many boxes in a collapsed graph; deeper graphs group consecutive layers per box.
    static let collapsedRowLimit = 60

    /// An inline `<svg>` of the DAG. Above `maxNodes` nodes it collapses to one box per layer (or per run of layers)
    /// summarising counts per state, so a 100,000-task job still renders a small SVG quickly.
    ///
    /// `id` prefixes the element ids the SVG defines (title, description, arrow marker); give each SVG on a page its own.
    ///
    /// `layerHref`, for a collapsed graph: a same-origin path to which a box's layers (counted from 1: "3", or "3-4"
    /// for a run) and `#tasks` are appended to link the box to its tasks.
    ///
    /// `layers`, when the caller has them: each node's layer as ``GraphLayout`` computes it (with no sweeps), so a
    /// collapsed graph is not layered twice.
    public static func svg(
        _ nodes: [GraphNode], maxNodes: Int = Self.defaultMaxNodes, id: String = "task-graph", layerHref: String? = nil,
        layers: [Int]? = nil
    ) -> String {
        let prefix = self.identifier(id)
        if nodes.count > max(0, maxNodes) {
            let layers = layers.flatMap { $0.count == nodes.count ? $0 : nil } ?? self.layers(of: nodes)
            return self.collapsed(nodes, layers: layers, prefix: prefix, layerHref: layerHref)
        }
        let layout = GraphLayout(nodes)
        let columns = layout.layerCount
        let width = max(
            self.minimumWidth, 2 * self.margin + columns * self.boxWidth + max(0, columns - 1) * self.columnGap)
        // Slots leave (pitch - box height) / 2 above and below each box; the margin absorbs that.
        let origin = self.margin - (GraphLayout.nodePitch - self.boxHeight) / 2
        let height = max(self.boxHeight + 2 * self.margin, layout.height + 2 * origin)
        func x(_ id: Int) -> Int { self.margin + layout.slotLayer[id] * (self.boxWidth + self.columnGap) }
        func y(_ id: Int) -> Int { origin + layout.center[id] }

        let hasLinks = nodes.contains { self.safeHref($0.href) != nil }
        var summary = "\(self.count(nodes.count, "task")) in \(self.count(columns, "layer"))"
        let states = self.stateSummary(nodes.lazy.compactMap(\.state))
        if !states.isEmpty { summary += ": " + states }
        summary += ". Arrows point from a task to the tasks that need it."
        var svg = self.open(
            prefix: prefix, width: width, height: height, role: hasLinks ? "group" : "img", title: "Task graph", desc: summary)
        svg += self.arrowMarker(prefix)
        if nodes.isEmpty {
            svg += "<text x=\"\(self.margin)\" y=\"\(self.margin + 18)\" fill=\"#333\">No tasks.</text>\n"
        }

        // Edges: a curve from the right side of what is needed to the left side of what needs it. A piece that ends
        // in a bend runs on across the bend's column instead of ending in an arrowhead.
        var arrows = ""
        var runs = ""
        for column in layout.slots {
            for id in column {
                let isNode = id < nodes.count
                let endX = isNode ? x(id) - 1 : x(id)
                let endY = y(id)
                for link in layout.links[id] {
                    let startX = x(link) + self.boxWidth
                    let startY = y(link)
                    let bend = min(endX - startX, self.columnGap) / 2 + 4
                    let piece = "<path d=\"M\(startX) \(startY)C\(startX + bend) \(startY) \(endX - bend) \(endY) \(endX) \(endY)"
                    if isNode {
                        arrows += piece + "\"/>\n"
                    } else {
                        runs += piece + "H\(endX + self.boxWidth)\"/>\n"
                    }
                }
            }
        }
        if !runs.isEmpty { svg += "<g fill=\"none\" stroke=\"#777\" stroke-width=\"1.2\">\n\(runs)</g>\n" }
        svg += "<g fill=\"none\" stroke=\"#777\" stroke-width=\"1.2\" marker-end=\"url(#\(prefix)-arrow)\">\n\(arrows)</g>\n"

        for column in layout.order {
            for node in column {
                svg += self.box(nodes[node], x: x(node), y: y(node) - self.boxHeight / 2, id: self.nodeID(prefix, node))
            }
        }
        return svg + "</svg>"
    }

    /// One task: a box with a state glyph and a truncated label, the full name and state in its tooltip, and a link
    /// when the node has a usable href.
    static func box(_ node: GraphNode, x: Int, y: Int, id: String) -> String {
        let style = StateStyle(node.state)
        let name = self.text(node.name, limit: self.titleLimit)
        let state = node.state.map { self.text($0, limit: self.labelLimit) }
        let title = state.map { "\(name) — \($0)" } ?? name
        let inner =
            "<title>\(title)</title><rect x=\"\(x)\" y=\"\(y)\" width=\"\(self.boxWidth)\" height=\"\(self.boxHeight)\" rx=\"4\"\(style.attributes)/>"
            + "<text x=\"\(x + 8)\" y=\"\(y + 18)\" fill=\"\(style.ink)\">\(style.glyph.map { $0 + " " } ?? "")\(self.text(node.name, limit: self.labelLimit))</text>"
        guard let href = self.safeHref(node.href) else { return "<g id=\"\(id)\">\(inner)</g>\n" }
        let label = state.map { "\(name), \($0)" } ?? name
        return "<a href=\"\(HTML.escape(href))\" aria-label=\"\(label)\" id=\"\(id)\">\(inner)</a>\n"
    }

    /// The element id of the node at `index` in a graph drawn with `id` (when drawn one by one), for links
    /// to it from elsewhere on the page.
    public static func nodeID(_ id: String, _ index: Int) -> String { "\(self.identifier(id))-task-\(index)" }

    /// The collapsed graph: a vertical stack of boxes, one per layer (or per run of consecutive layers when there are
    /// more than ``collapsedRowLimit`` layers), each with its task count, counts per state and a proportion bar.
    static func collapsed(_ nodes: [GraphNode], layers layerOf: [Int], prefix: String, layerHref: String?) -> String {
        var layers = [LayerCount](repeating: LayerCount(tasks: 0, states: [:]), count: (layerOf.max() ?? -1) + 1)
        for (node, l) in layerOf.enumerated() {
            layers[l].tasks += 1
            if let state = nodes[node].state { layers[l].states[state, default: 0] += 1 }
        }
        return self.collapsed(layers, prefix: prefix, layerHref: layerHref)
    }

    /// The tasks of one layer of a graph: how many, and how many in each state (for a job's graph).
    public struct LayerCount: Sendable, Hashable {
        /// How many tasks the layer has.
        public var tasks: Int
        /// How many of them are in each state; empty for a pipeline's graph.
        public var states: [String: Int]

        /// Creates a count.
        public init(tasks: Int, states: [String: Int]) {
            self.tasks = tasks
            self.states = states
        }
    }

    /// The collapsed graph drawn from counts per layer (index: layer, counted from 0) rather than
    /// from nodes, for a caller that has only the counts (a large job's kept overview). The same
    /// drawing as `svg` draws above `maxNodes` nodes.
    public static func collapsed(_ layers: [LayerCount], id: String = "task-graph", layerHref: String? = nil) -> String {
        self.collapsed(layers, prefix: self.identifier(id), layerHref: layerHref)
    }

    static func collapsed(_ layerCounts: [LayerCount], prefix: String, layerHref: String?) -> String {
        let layers = layerCounts.count
        let perRow = self.layersPerRun(layers)
        let rows = (layers + perRow - 1) / perRow
        var tasks = [Int](repeating: 0, count: rows)
        var counts = [[String: Int]](repeating: [:], count: rows)
        var total = 0
        var all: [String: Int] = [:]
        for (l, layer) in layerCounts.enumerated() {
            tasks[l / perRow] += layer.tasks
            total += layer.tasks
            for (state, n) in layer.states {
                counts[l / perRow][state, default: 0] += n
                all[state, default: 0] += n
            }
        }

        let width = 640
        let boxHeight = 46
        let pitch = boxHeight + 14
        let height = 2 * self.margin + max(1, rows) * pitch - 14
        var summary = "\(self.count(total, "task")) in \(self.count(layers, "layer"))"
        let states = self.stateSummary(all)
        if !states.isEmpty { summary += ": " + states }
        summary += ". Too many tasks to draw one by one, so each box summarises \(perRow == 1 ? "a layer" : "\(perRow) layers")."
        var svg = self.open(prefix: prefix, width: width, height: height, role: "img", title: "Task graph (summary)", desc: summary)
        svg += self.arrowMarker(prefix)
        let barWidth = width - 2 * self.margin - 16
        for row in 0..<rows {
            let top = self.margin + row * pitch
            let first = row * perRow + 1
            let last = min(layers, (row + 1) * perRow)
            let heading = self.layerHeading(first, last) + " · \(self.count(tasks[row], "task"))"
            let rowStates = self.stateSummary(counts[row])
            let frame =
                counts[row]["failed", default: 0] > 0
                ? StateStyle("failed") : counts[row]["running", default: 0] > 0 ? StateStyle("running") : StateStyle(nil)
            let href = layerHref.flatMap { self.safeHref($0 + self.layerRange(first, last) + "#tasks") }
            svg += href.map { "<a href=\"\(HTML.escape($0))\" aria-label=\"\(heading), its tasks\">" } ?? ""
            svg += "<g><title>\(heading)\(rowStates.isEmpty ? "" : " · " + rowStates)</title>"
            svg +=
                "<rect x=\"\(self.margin)\" y=\"\(top)\" width=\"\(width - 2 * self.margin)\" height=\"\(boxHeight)\" rx=\"4\" fill=\"#fff\" stroke=\"\(frame.stroke)\" stroke-width=\"\(frame.strokeWidth)\"/>"
            svg += "<text x=\"\(self.margin + 8)\" y=\"\(top + 17)\" font-weight=\"600\" fill=\"#1b1b1b\">\(heading)</text>"
            if !rowStates.isEmpty {
                svg += "<text x=\"\(self.margin + 8)\" y=\"\(top + 33)\" fill=\"#333\">\(rowStates)</text>"
                var done = 0
                for (state, count) in self.sortedCounts(counts[row]) {
                    let from = barWidth * done / tasks[row]
                    done += count
                    let to = barWidth * done / tasks[row]
                    guard to > from else { continue }
                    svg +=
                        "<rect x=\"\(self.margin + 8 + from)\" y=\"\(top + 38)\" width=\"\(to - from)\" height=\"4\" fill=\"\(StateStyle(state).stroke)\"/>"
                }
            }
            svg += href == nil ? "</g>\n" : "</g></a>\n"
            if row + 1 < rows {
                let arrowX = self.margin + 24
                svg +=
                    "<path d=\"M\(arrowX) \(top + boxHeight + 1)V\(top + pitch - 1)\" stroke=\"#777\" stroke-width=\"1.2\" marker-end=\"url(#\(prefix)-arrow)\"/>\n"
            }
        }
        return svg + "</svg>"
    }
}

extension TaskGraph {
    /// How many consecutive layers one box of a collapsed graph (and one row of a grouped timeline)
    /// summarises, for a graph of `layerCount` layers: 1 up to ``collapsedRowLimit`` layers.
    public static func layersPerRun(_ layerCount: Int) -> Int {
        max(1, (layerCount + self.collapsedRowLimit - 1) / self.collapsedRowLimit)
    }

    /// The runs of layers (counted from 0) that the boxes of a collapsed graph of `layerCount` layers summarise.
    public static func layerRuns(_ layerCount: Int) -> [ClosedRange<Int>] {
        let perRun = self.layersPerRun(layerCount)
        return stride(from: 0, to: layerCount, by: perRun).map { $0...min(layerCount, $0 + perRun) - 1 }
    }

    /// Each node's layer (counted from 0) as a collapsed graph groups them: ``GraphLayout``'s
    /// layering, without the sweeps and bends only a drawn graph needs.
    public static func layers(of nodes: [GraphNode]) -> [Int] { GraphLayout(nodes, sweeps: 0, bendLimit: 0).layer }

    /// How a run of layers counted from 1 is named for people: "Layer 3", or "Layers 3–4".
    public static func layerHeading(_ first: Int, _ last: Int) -> String { first == last ? "Layer \(first)" : "Layers \(first)–\(last)" }

    /// How a run of layers counted from 1 is written in a link and in `?layer=`: "3", or "3-4".
    public static func layerRange(_ first: Int, _ last: Int) -> String { first == last ? "\(first)" : "\(first)-\(last)" }

    /// The opening `<svg>` tag with its accessible title and description (both already HTML).
    static func open(
        prefix: String, className: String = "task-graph", width: Int, height: Int, role: String, title: String, desc: String
    ) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"\(className)\" role=\"\(role)\" aria-labelledby=\"\(prefix)-title \(prefix)-desc\""
            + " viewBox=\"0 0 \(width) \(height)\" width=\"\(width)\" height=\"\(height)\" preserveAspectRatio=\"xMinYMin meet\""
            + " font-family=\"system-ui, sans-serif\" font-size=\"12\">\n"
            + "<title id=\"\(prefix)-title\">\(title)</title>\n<desc id=\"\(prefix)-desc\">\(desc)</desc>\n"
    }

    /// The arrowhead that edges end with.
    static func arrowMarker(_ prefix: String) -> String {
        "<defs><marker id=\"\(prefix)-arrow\" viewBox=\"0 0 8 8\" refX=\"8\" refY=\"4\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\">"
            + "<path d=\"M0 0L8 4L0 8z\" fill=\"#777\"/></marker></defs>\n"
    }

    /// "1 task", "3 tasks".
    static func count(_ count: Int, _ noun: String) -> String { "\(count) \(noun)\(count == 1 ? "" : "s")" }

    /// Counts per state in badge order (succeeded, failed, running, queued, skipped, cancelled), then any other state
    /// by name, e.g. "8 succeeded, 1 failed, 3 queued" (HTML).
    static func stateSummary(_ states: some Sequence<String>) -> String {
        var counts: [String: Int] = [:]
        for state in states { counts[state, default: 0] += 1 }
        return self.stateSummary(counts)
    }

    /// Like ``stateSummary(_:)-(some Sequence<String>)`` for counts already made.
    static func stateSummary(_ counts: [String: Int]) -> String {
        self.sortedCounts(counts).map { "\($0.count) \(self.text($0.state, limit: Self.labelLimit))" }.joined(separator: ", ")
    }

    /// Non-zero counts in badge order, then other states by name.
    static func sortedCounts(_ counts: [String: Int]) -> [(state: String, count: Int)] {
        let known = StateStyle.order.compactMap { state in counts[state].map { (state, $0) } }
        let other = counts.filter { !StateStyle.order.contains($0.key) }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        return (known + other).filter { $0.1 > 0 }
    }

    /// `text` made safe to show: bidirectional controls and line/paragraph separators become U+FFFD (so a name
    /// cannot reorder what follows it), it is cut to `limit` characters with an ellipsis, then HTML-escaped.
    static func text(_ text: String, limit: Int) -> String {
        var shown = text
        let total = text.unicodeScalars.count
        if total > limit && (total > 4 * limit || text.count > limit) {
            // Characters, capped in scalars too so a pile of combining marks stays short.
            var kept = ""
            var scalars = 0
            for character in text {
                let size = character.unicodeScalars.count
                if kept.count == limit - 1 || scalars + size > 4 * limit { break }
                kept.append(character)
                scalars += size
            }
            shown = kept + "…"
        }
        var clean = ""
        clean.unicodeScalars.reserveCapacity(shown.unicodeScalars.count)
        for scalar in shown.unicodeScalars {
            switch scalar.value {
            case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0x2028, 0x2029:
                clean.unicodeScalars.append("\u{FFFD}")
            default:
                clean.unicodeScalars.append(scalar)
            }
        }
        return HTML.escape(clean)
    }

    /// `id` reduced to letters, digits, `-` and `_`, so it is safe in `id`, `aria-labelledby` and `url(#…)`.
    static func identifier(_ id: String) -> String {
        var out = ""
        for byte in id.utf8.prefix(64) {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "_"
            }
        }
        return out.first?.isLetter == true ? out : "g" + out
    }

    /// `href` if it is a same-origin path: starts with one `/` and holds no backslash, space or control character
    /// (browsers drop tabs and newlines from URLs and read `\` as `/`, which could turn it into `//other.host`).
    static func safeHref(_ href: String?) -> String? {
        guard let href, href.hasPrefix("/"), !href.hasPrefix("//") else { return nil }
        for scalar in href.unicodeScalars where scalar.value <= 0x20 || scalar == "\\" || (0x7f...0x9f).contains(scalar.value) {
            return nil
        }
        return href
    }
}

/// How a state is drawn. Colours match the page badges in ``Layout``; the stroke style and glyph differ too, so a
/// state reads in greyscale.
struct StateStyle {
    /// States in badge order.
    static let order = ["succeeded", "failed", "running", "queued", "skipped", "cancelled"]

    /// Background colour.
    var fill: String
    /// Border colour.
    var stroke: String
    /// Text colour.
    var ink: String
    /// Border width.
    var strokeWidth: String
    /// Border dash pattern, nil for solid.
    var dash: String?
    /// A glyph shown before the label, nil for none.
    var glyph: String?

    /// The style of `state` (nil: a pipeline's task with no state; an unknown state: neutral, no glyph).
    init(_ state: String?) {
        switch state {
        case "succeeded": (fill, stroke, strokeWidth, dash, glyph) = ("#d4edda", "#155724", "1", nil, "✓")
        case "failed": (fill, stroke, strokeWidth, dash, glyph) = ("#f8d7da", "#721c24", "2", nil, "✗")
        case "running": (fill, stroke, strokeWidth, dash, glyph) = ("#cce5ff", "#004085", "3", nil, "▸")
        case "queued": (fill, stroke, strokeWidth, dash, glyph) = ("#eee", "#333", "1", nil, "○")
        case "skipped": (fill, stroke, strokeWidth, dash, glyph) = ("#fff3cd", "#6b5200", "1.5", "6 3", "↷")
        case "cancelled": (fill, stroke, strokeWidth, dash, glyph) = ("#e2e3e5", "#383d41", "1.5", "2 2", "⊘")
        default: (fill, stroke, strokeWidth, dash, glyph) = ("#fff", "#6c757d", "1", nil, nil)
        }
        self.ink = self.stroke == "#6c757d" ? "#1b1b1b" : self.stroke
    }

    /// ` fill=… stroke=… stroke-width=…` and the dash pattern, as presentation attributes.
    var attributes: String {
        " fill=\"\(self.fill)\" stroke=\"\(self.stroke)\" stroke-width=\"\(self.strokeWidth)\""
            + (self.dash.map { " stroke-dasharray=\"\($0)\"" } ?? "")
    }
}
