/// A pipeline's recent runs × its tasks, each cell coloured by the task's state in that run
/// (Airflow's grid view): a flaky task shows as a row of mixed colours at a glance.
public struct RunGrid: Sendable, Hashable {
    /// One run (a column), oldest on the left.
    public struct Run: Sendable, Hashable {
        public var id: Int64
        public var state: String
        public var created: String
        /// Creates a run.
        public init(id: Int64, state: String, created: String) {
            self.id = id
            self.state = state
            self.created = created
        }
    }

    /// One task in one run.
    public struct Cell: Sendable, Hashable {
        public var state: String
        public var duration: String
        public var attempts: Int
        /// Creates a cell.
        public init(state: String, duration: String, attempts: Int) {
            self.state = state
            self.duration = duration
            self.attempts = attempts
        }
    }

    /// The columns, oldest first.
    public var runs: [Run]
    /// The rows: task names, in the pipeline's order.
    public var tasks: [String]
    /// `cells[task][run]`; nil where the run has no such task (the pipeline changed since).
    public var cells: [[Cell?]]
    /// Tasks left out (a large pipeline shows only the tasks that did not always succeed).
    public var hiddenTasks: Int

    /// Creates a grid.
    public init(runs: [Run], tasks: [String], cells: [[Cell?]], hiddenTasks: Int = 0) {
        self.runs = runs
        self.tasks = tasks
        self.cells = cells
        self.hiddenTasks = hiddenTasks
    }

    /// A one-character mark per state, so the grid reads without colour too.
    static func mark(_ state: String) -> String {
        switch state {
        case "succeeded": return "✓"
        case "failed": return "✗"
        case "running": return "▶"
        case "queued": return "…"
        case "skipped": return "–"
        case "cancelled": return "⊘"
        default: return "?"
        }
    }
}

extension Pages {
    /// The run-history grid: a column per run (linked to the job), a row per task, each cell a
    /// link to the task's row on that job's page, with its state, duration and attempts on hover
    /// and on focus (`data-tip`, shown by the stylesheet; also the cell's accessible name).
    public static func runGrid(_ layout: Layout, _ grid: RunGrid) -> String {
        guard !grid.runs.isEmpty, !grid.tasks.isEmpty else { return "" }
        var html = "<h2 id=\"history\">Run history</h2>\n<div class=\"scroll\"><table class=\"grid\"><thead><tr><th>Task</th>"
        for run in grid.runs {
            html +=
                "<th><a href=\"\(layout.href("/jobs/\(run.id)"))\" title=\"\(HTML.escape("#\(run.id) \(run.state), \(run.created)"))\">#\(run.id)</a></th>"
        }
        html += "</tr></thead><tbody>\n"
        for (row, task) in grid.tasks.enumerated() {
            html += "<tr><th>\(HTML.escape(task))</th>"
            for (column, run) in grid.runs.enumerated() {
                guard let cell = grid.cells[row][column] else {
                    html += "<td></td>"
                    continue
                }
                var tip = "\(task) in #\(run.id): \(cell.state)"
                if !cell.duration.isEmpty { tip += ", \(cell.duration)" }
                if cell.attempts > 1 { tip += ", \(cell.attempts) attempts" }
                html +=
                    "<td><a class=\"cell state-\(HTML.escape(cell.state))\" href=\"\(layout.href("/jobs/\(run.id)"))#task-\(HTML.escape(task))\" "
                    + "data-tip=\"\(HTML.escape(tip))\" aria-label=\"\(HTML.escape(tip))\">\(RunGrid.mark(cell.state))</a></td>"
            }
            html += "</tr>\n"
        }
        html += "</tbody></table></div>\n"
        if grid.hiddenTasks > 0 {
            html += "<p class=\"muted\">\(grid.hiddenTasks) tasks that succeeded in every run shown are left out.</p>\n"
        }
        return html
    }
}
