/// One parameter of the trigger form.
public struct ParameterField: Sendable, Hashable {
    public var name: String
    public var description: String
    public var isRequired: Bool
    public var defaultValue: String?
    /// The value the user entered last time (after a validation error).
    public var value: String?
    /// The validation error shown next to the field.
    public var error: String?
    /// The parameter type's name (`string`, `int`, `float`, `bool`, `date`, `datetime`, `choice`, `list`), or
    /// `secret` for a secret parameter (a password input that is never filled in).
    public var type: String
    /// The allowed values of a `choice`.
    public var choices: [String]

    /// Creates a field.
    public init(
        name: String, description: String, isRequired: Bool, defaultValue: String?, value: String?, error: String?,
        type: String = "string", choices: [String] = []
    ) {
        self.type = type
        self.choices = choices
        self.name = name
        self.description = description
        self.isRequired = isRequired
        self.defaultValue = defaultValue
        self.value = value
        self.error = error
    }
}

/// Everything the pipeline page shows.
public struct PipelineDetail: Sendable {
    public var name: String
    public var description: String
    /// Tasks with what they need, in dependency order.
    public var tasks: [(name: String, needs: [String])]
    /// The task graph as inline SVG (already safe HTML), or empty.
    public var graphSVG: String = ""
    public var parameters: [ParameterField]
    /// The CSRF token of the trigger form; nil hides the form (the viewer may not trigger).
    public var triggerToken: String?
    /// A message above the form (e.g. after a validation error).
    public var message: String?
    public var recent: [JobRow]
    /// Set while Sluice drains: a job triggered now waits in the queue.
    public var drain: DrainNotice? = nil
    /// Recent runs × tasks, or nil.
    public var runGrid: RunGrid? = nil
    /// The pipeline's schedules, with their next runs.
    public var schedules: [ScheduleRow] = []

    /// Creates the model.
    public init(
        name: String, description: String, tasks: [(name: String, needs: [String])], parameters: [ParameterField], triggerToken: String?,
        message: String?, recent: [JobRow]
    ) {
        self.name = name
        self.description = description
        self.tasks = tasks
        self.parameters = parameters
        self.triggerToken = triggerToken
        self.message = message
        self.recent = recent
    }
}

/// A state-changing button on the job page, posted as a form with its CSRF token.
public struct JobAction: Sendable, Hashable {
    public var label: String
    /// The path below the mount point the form posts to.
    public var path: String
    public var token: String

    /// Creates an action.
    public init(label: String, path: String, token: String) {
        self.label = label
        self.path = path
        self.token = token
    }
}

extension Pages {
    /// The pipeline page.
    public static func pipeline(_ layout: Layout, _ p: PipelineDetail) -> String {
        var body = "<h1>\(HTML.escape(p.name))</h1>\n"
        if !p.description.isEmpty { body += "<p>\(HTML.escape(p.description))</p>\n" }
        body += "<h2>Tasks</h2>\n"
        if !p.graphSVG.isEmpty { body += "<div class=\"graph scroll\">\(p.graphSVG)</div>\n<details><summary>As a list</summary>\n" }
        body += "<ol>\n"
        for t in p.tasks {
            let needs = t.needs.isEmpty ? "" : " <small>after \(HTML.escape(t.needs.joined(separator: ", ")))</small>"
            body += "<li>\(HTML.escape(t.name))\(needs)</li>\n"
        }
        body += "</ol>\n"
        if !p.graphSVG.isEmpty { body += "</details>\n" }
        if let token = p.triggerToken {
            body += "<h2 id=\"trigger\">Trigger</h2>\n"
            if let drain = p.drain { body += Self.drainBanner(drain) }
            if let message = p.message { body += "<p role=\"alert\"><strong>\(HTML.escape(message))</strong></p>\n" }
            body += "<form method=\"post\" action=\"\(layout.href("/pipelines/" + HTML.pathSegment(p.name) + "/jobs"))\">\n"
            body += "<input type=\"hidden\" name=\"csrf\" value=\"\(HTML.escape(token))\">\n"
            for f in p.parameters {
                let id = "p-\(HTML.escape(f.name))"
                body +=
                    "<p><label for=\"\(id)\">\(HTML.escape(f.name))\(f.isRequired ? " <abbr title=\"required\">*</abbr>" : "")</label>"
                body += self.input(f, id: id)
                if !f.description.isEmpty { body += " <small id=\"\(id)-help\">\(HTML.escape(f.description))</small>" }
                if let error = f.error { body += "<br><strong class=\"error\" id=\"\(id)-error\">\(HTML.escape(error))</strong>" }
                body += "</p>\n"
            }
            body += "<p><button type=\"submit\">Trigger \(HTML.escape(p.name))</button></p>\n</form>\n"
        }
        body += self.schedules(p.schedules)
        if let grid = p.runGrid { body += self.runGrid(layout, grid) }
        body += "<h2>Recent jobs</h2>\n" + self.jobTable(layout, p.recent)
        return layout.render(title: p.name, body: body)
    }

    /// The input matching a parameter's type: a select for choices and booleans, number and date
    /// inputs for numbers and dates, text otherwise (the server validates every value anyway).
    static func input(_ f: ParameterField, id: String) -> String {
        let current = f.type == "secret" ? "" : (f.value ?? f.defaultValue ?? "")
        var attributes = "id=\"\(id)\" name=\"p.\(HTML.escape(f.name))\"\(f.isRequired ? " required aria-required=\"true\"" : "")"
        var described: [String] = []
        if f.error != nil {
            attributes += " aria-invalid=\"true\""
            described.append("\(id)-error")
        }
        if !f.description.isEmpty { described.append("\(id)-help") }
        if !described.isEmpty { attributes += " aria-describedby=\"\(described.joined(separator: " "))\"" }
        let options: [String]? = f.type == "choice" ? f.choices : (f.type == "bool" ? ["true", "false"] : nil)
        if let options {
            var html = "<select \(attributes)>"
            if !f.isRequired && f.defaultValue == nil { html += "<option value=\"\"></option>" }
            for option in options {
                html += "<option\(option == current ? " selected" : "")>\(HTML.escape(option))</option>"
            }
            return html + "</select>"
        }
        let type =
            switch f.type {
            case "int": "number\" step=\"1"
            case "float": "number\" step=\"any"
            case "date": "date"
            case "secret": "password\" autocomplete=\"off"
            default: "text"
            }
        return "<input type=\"\(type)\" \(attributes) value=\"\(HTML.escape(current))\">"
    }

    /// The buttons of the job page.
    static func actions(_ layout: Layout, _ actions: [JobAction]) -> String {
        actions.map {
            "<form method=\"post\" action=\"\(layout.href($0.path))\" class=\"action\"><input type=\"hidden\" name=\"csrf\" value=\"\(HTML.escape($0.token))\">"
                + "<button type=\"submit\">\(HTML.escape($0.label))</button></form>"
        }.joined(separator: "\n")
    }
}
