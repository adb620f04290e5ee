import ByteStrings
import Foundation
import JSON
import Workflow

extension ConfigLoader {
    /// Reads `webhooks: { NAME: { url, secret_file | secret_env, timeout_seconds, max_attempts,
    /// retry_delay_seconds } }`, in name order.
    static func readWebhooks(_ value: JSONValue?, directory: String, problems: ProblemList) -> [WebhookSettings] {
        guard let value else { return [] }
        var all = ConfigReader(value, path: "webhooks", problems: problems)
        var webhooks: [WebhookSettings] = []
        for name in all.keys {
            let path = "webhooks.\(name)"
            if !ObjectName.isValid(name) {
                problems.add(path, "invalid webhook name (use letters, digits, . _ -; start with a letter or digit)")
            }
            var r = ConfigReader(all.value(name), path: path, problems: problems)
            let url = r.string("url").flatMap { text -> URL? in
                if let problem = Self.webhookURLProblem(text) {
                    problems.add("\(path).url", problem)
                    return nil
                }
                return URL(string: text)
            }
            if r.value("url") == nil { problems.add("\(path).url", "required: where notifications are POSTed (http or https)") }
            let file = r.string("secret_file")
            let env = r.string("secret_env")
            var secret: WebhookSettings.SecretSource? = nil
            switch (file, env) {
            case (let file?, nil):
                if file.isEmpty {
                    problems.add("\(path).secret_file", "must not be empty")
                } else {
                    secret = .file(
                        file.hasPrefix("/") ? file : URL(fileURLWithPath: directory).appendingPathComponent(file).standardizedFileURL.path)
                }
            case (nil, let env?):
                if !EnvironmentName.isValid(env) {
                    problems.add("\(path).secret_env", "invalid variable name \"\(env)\"")
                } else {
                    secret = .environment(env)
                }
            case (nil, nil):
                problems.add(path, "required: secret_file or secret_env (every notification is signed)")
            case (.some, .some):
                problems.add(path, "give secret_file or secret_env, not both")
            }
            let timeout = r.int("timeout_seconds", in: 1...120) ?? 10
            let attempts = r.int("max_attempts", in: 1...100) ?? 12
            let delay = r.number("retry_delay_seconds") ?? 10
            if !(0.1...WebhookSettings.maxRetryDelay).contains(delay) {
                problems.add("\(path).retry_delay_seconds", "must be between 0.1 and \(Int(WebhookSettings.maxRetryDelay))")
            }
            r.finish()
            if let url, let secret {
                webhooks.append(
                    WebhookSettings(name: name, url: url, secret: secret, timeout: timeout, maxAttempts: attempts, retryDelay: delay))
            }
        }
        return webhooks
    }

    /// Why `text` is not a webhook URL, or nil if it is one: ASCII, `http` or `https`, a host,
    /// no user or password (they would be logged and shown), no fragment.
    static func webhookURLProblem(_ text: String) -> String? {
        guard text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            return "must be ASCII without spaces (percent-encode anything else)"
        }
        guard let components = URLComponents(string: text), let scheme = components.scheme,
            scheme.utf8.elementsEqual("http".utf8) || scheme.utf8.elementsEqual("https".utf8)
        else { return "must be an http:// or https:// URL (in lower case)" }
        guard let host = components.host, !host.isEmpty else { return "has no host" }
        if components.user != nil || components.password != nil {
            return "must not hold a user or password (the webhook is authenticated by its signature)"
        }
        if components.fragment != nil { return "must not have a #fragment" }
        return nil
    }

    /// Reads a pipeline's `notify`: an array of `{ webhook, events }`. That the webhooks exist
    /// is checked by `checkNotifications`.
    static func readNotifications(_ r: inout ConfigReader, path: String, problems: ProblemList) -> [PipelineNotification] {
        guard let entries = r.array("notify") else { return [] }
        var notifications: [PipelineNotification] = []
        for (index, entry) in entries.enumerated() {
            let p = "\(path).notify[\(index)]"
            var e = ConfigReader(entry, path: p, problems: problems)
            let webhook = e.string("webhook")
            if webhook == nil && e.value("webhook") == nil { problems.add("\(p).webhook", "required: the name of a webhook") }
            var events = NotificationEvent.whenOmitted
            if let names = e.strings("events") {
                events = []
                for (i, name) in names.enumerated() {
                    // Compared as bytes: only the exact lower-case spelling names an event.
                    if let event = NotificationEvent.allCases.first(where: { $0.rawValue.utf8.elementsEqual(name.utf8) }) {
                        events.insert(event)
                    } else {
                        problems.add(
                            "\(p).events[\(i)]",
                            "unknown event \"\(name)\" (known: \(NotificationEvent.allCases.map(\.rawValue).joined(separator: ", ")))")
                    }
                }
                if names.isEmpty {
                    problems.add("\(p).events", "must name at least one event (or be left out: succeeded, failed, cancelled)")
                }
            }
            e.finish()
            if let webhook { notifications.append(PipelineNotification(webhook: webhook, events: events)) }
        }
        return notifications
    }

    /// Checks that every pipeline's `notify` names a configured webhook (as bytes), once.
    static func checkNotifications(_ pipelines: [String: PipelineDefinition], webhooks: [WebhookSettings], problems: ProblemList) {
        let known = Set(webhooks.map { ByteString($0.name) })
        for name in pipelines.keys.sorted() {
            var seen: Set<ByteString> = []
            for (index, notification) in pipelines[name]!.notifications.enumerated() {
                let key = ByteString(notification.webhook)
                if !known.contains(key) {
                    problems.add("pipelines.\(name).notify[\(index)].webhook", "no webhook is named \(notification.webhook)")
                } else if !seen.insert(key).inserted {
                    problems.add(
                        "pipelines.\(name).notify[\(index)].webhook", "\(notification.webhook) is listed twice (list its events once)")
                }
            }
        }
    }
}
