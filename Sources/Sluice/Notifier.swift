import Foundation
import JSON
import JobStore
import Locking
import Logging
import Workflow

/// Sends pipelines' job notifications to their webhooks (`notify`, `webhooks`).
///
/// Two steps, both durable:
/// 1. It reads the store's job events (`JobEvent`) from its own cursor (`consumer`) and makes a
///    `Delivery` for each event and subscribed webhook, with the job's JSON as its body, in the
///    transaction that moves the cursor: an event is passed with its deliveries made or not at
///    all, and an event read twice (a crash, two hosts) makes one delivery.
/// 2. It claims the deliveries that are due and POSTs them, signed (`WebhookSignature`); a 2xx
///    answer delivers, anything else (a redirect too, which is not followed) is retried with
///    doubling waits (`WebhookSettings.retryDelay`) until `max_attempts`, then given up
///    (`failed`; an admin may ask for another attempt). Every attempt sends the same body and
///    delivery id, so a receiver can drop a repeat: delivery is at least once.
///
/// A new store (no cursor yet) starts at its latest event: history is not notified.
final class Notifier: Sendable {
    /// The cursor's name in the store.
    static let consumer = "notifications"
    /// Events read, and deliveries claimed, per pass.
    static let pageSize = 100
    static let batchSize = 16
    /// How often the store is asked for new events and due deliveries.
    static let interval: TimeInterval = 1
    /// Delivered and failed deliveries are deleted this long after their last attempt.
    static let keepFor: TimeInterval = 30 * 86_400
    static let pruneInterval: TimeInterval = 600

    private let app: App
    private let sender: @Sendable ([WebhookRequest]) -> [WebhookAnswer]
    private let logger = Logger(label: "notify")
    private let loop = BackgroundLoop()
    private let lastPrune = Locked(Date.distantPast)
    private let now: @Sendable () -> Date
    private let jitter: @Sendable () -> Double

    /// A notifier sending with `sender` (tests give their own; nil: `WebhookSender.shared`).
    init(
        app: App, sender: (@Sendable ([WebhookRequest]) -> [WebhookAnswer])? = nil, now: @escaping @Sendable () -> Date = Date.init,
        jitter: @escaping @Sendable () -> Double = { Double.random(in: 0...1) }
    ) {
        self.app = app
        if let sender {
            self.sender = sender
        } else {
            self.sender = { WebhookSender.shared.send($0) }
        }
        self.now = now
        self.jitter = jitter
    }

    /// One pass: makes the deliveries of new events, then sends what is due. Returns whether
    /// more work is waiting at once (a full page of events or a full batch of deliveries).
    @discardableResult
    func pass() -> Bool {
        let more = self.enqueue()
        let sent = self.sendDue()
        self.pruneIfDue()
        return more || sent == Self.batchSize
    }

    /// Makes the deliveries of the events after the cursor (at most a page); returns whether a
    /// whole page was read.
    @discardableResult
    func enqueue() -> Bool {
        let store = self.app.store
        do {
            let cursor = try store.eventCursor(Self.consumer) ?? store.advanceEventCursor(Self.consumer, to: nil)
            let events = try store.jobEvents(after: cursor, limit: Self.pageSize)
            guard let last = events.last else { return false }
            let snapshot = self.app.currentSnapshot
            let configuration = snapshot.configuration
            var wanted: [(JobEvent, NotificationEvent, [String])] = []
            for event in events {
                guard let kind = NotificationEvent(event.state), let pipeline = snapshot.pipeline(named: event.pipeline) else { continue }
                let hooks = pipeline.notifications.filter { $0.events.contains(kind) }.map(\.webhook)
                if !hooks.isEmpty { wanted.append((event, kind, hooks)) }
            }
            var deliveries: [NewDelivery] = []
            if !wanted.isEmpty {
                let ids = Array(Set(wanted.map(\.0.jobID)))
                let jobs = Dictionary(
                    try store.jobs(JobQuery(limit: ids.count, ids: ids)).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
                let mountPath = configuration.server.basePath ?? ""
                for (event, kind, hooks) in wanted {
                    // A job deleted since (retention) is not notified: there is nothing to say about it.
                    guard let job = jobs[event.jobID] else {
                        self.logger.warning(
                            "job event not notified: the job no longer exists", ["event": "\(event.id)", "job.id": "\(event.jobID)"])
                        continue
                    }
                    let body = Self.body(event: event, kind: kind, job: job, mountPath: mountPath)
                    for hook in hooks {
                        deliveries.append(
                            NewDelivery(
                                eventID: event.id, jobID: job.id, pipeline: job.pipeline, webhook: hook, event: kind.wireName, body: body))
                    }
                }
            }
            try store.enqueueDeliveries(deliveries, consumer: Self.consumer, through: last.id)
            if !deliveries.isEmpty { self.logger.debug("deliveries made", ["count": "\(deliveries.count)"]) }
            return events.count == Self.pageSize
        } catch {
            self.logger.error("cannot read job events or make their deliveries; retrying", ["error": "\(error)"])
            return false
        }
    }

    /// The body of a notification: `{"event", "event_id", "occurred_at", "job"}`, `job` as the
    /// job list shows it (no tasks; `links.self` has them).
    static func body(event: JobEvent, kind: NotificationEvent, job: JobRecord, mountPath: String) -> String {
        var w = JSONWriter(capacity: 512)
        w.object { w in
            w.key("event")
            w.string(kind.wireName)
            w.key("event_id")
            w.int(event.id)
            w.key("job")
            w.raw(Array(JobJSON.bytes(job, mountPath: mountPath, includeTasks: false).dropLast()))
            w.key("occurred_at")
            w.string(JobJSON.time(event.at))
        }
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// Claims the due deliveries (at most a batch), sends them at once, and records each
    /// outcome. Returns how many were claimed.
    @discardableResult
    func sendDue() -> Int {
        let store = self.app.store
        let configuration = self.app.currentSnapshot.configuration
        let started = self.now()
        let longest = configuration.webhooks.map(\.timeout).max() ?? 10
        let claimed: [Delivery]
        do {
            // Claimed past the longest attempt, so no other pass or host sends them meanwhile;
            // a crash during the attempt leaves them due again once the claim runs out.
            claimed = try store.claimDueDeliveries(now: started, limit: Self.batchSize, claimUntil: started + Double(longest) + 30)
        } catch {
            self.logger.error("cannot claim due deliveries; retrying", ["error": "\(error)"])
            return 0
        }
        guard !claimed.isEmpty else { return 0 }
        var secrets: [String: Result<[UInt8], WebhookSecretError>] = [:]
        var requests: [WebhookRequest] = []
        var sent: [(Delivery, WebhookSettings)] = []
        var outcomes: [(Delivery, DeliveryAttempt)] = []
        let timestamp = Int64(started.timeIntervalSince1970)
        for delivery in claimed {
            guard let webhook = configuration.webhook(named: delivery.webhook) else {
                outcomes.append(
                    (
                        delivery,
                        DeliveryAttempt(
                            at: started, status: nil, error: "webhook \(delivery.webhook) is no longer configured", next: .failed)
                    ))
                continue
            }
            let secret = secrets[webhook.name] ?? Result { () throws(WebhookSecretError) in try webhook.readSecret() }
            secrets[webhook.name] = secret
            switch secret {
            case .failure(let error):
                outcomes.append((delivery, self.attempt(delivery, webhook, at: started, status: nil, error: "cannot sign: \(error)")))
            case .success(let key):
                let body = Array(delivery.body.utf8)
                requests.append(
                    WebhookRequest(
                        url: webhook.url,
                        headers: [
                            ("Content-Type", "application/json"), ("User-Agent", "Sluice-Webhook/1"),
                            ("X-Sluice-Delivery", "\(delivery.id)"), ("X-Sluice-Event", delivery.event),
                            ("X-Sluice-Attempt", "\(delivery.attempts + 1)"),
                            (WebhookSignature.timestampHeader, "\(timestamp)"),
                            (WebhookSignature.header, WebhookSignature.value(secret: key, timestamp: timestamp, body: body)),
                        ], body: body, timeout: webhook.timeout))
                sent.append((delivery, webhook))
            }
        }
        let answers = requests.isEmpty ? [] : self.sender(requests)
        let finished = self.now()
        for (index, (delivery, webhook)) in sent.enumerated() {
            let answer = index < answers.count ? answers[index] : .failed("no answer")
            switch answer {
            case .status(let status) where (200..<300).contains(status):
                outcomes.append((delivery, DeliveryAttempt(at: finished, status: status, error: nil, next: .delivered)))
            case .status(let status) where (300..<400).contains(status):
                outcomes.append(
                    (
                        delivery,
                        self.attempt(delivery, webhook, at: finished, status: status, error: "HTTP \(status): redirects are not followed")
                    ))
            case .status(let status):
                outcomes.append((delivery, self.attempt(delivery, webhook, at: finished, status: status, error: "HTTP \(status)")))
            case .failed(let reason):
                outcomes.append((delivery, self.attempt(delivery, webhook, at: finished, status: nil, error: reason)))
            }
        }
        for (delivery, outcome) in outcomes {
            do {
                try store.recordDeliveryAttempt(id: delivery.id, claimedUntil: delivery.nextAttemptAt, outcome)
            } catch {
                // The claim runs out and the delivery is sent again, with the same id.
                self.logger.error("cannot record a delivery attempt", ["delivery": "\(delivery.id)", "error": "\(error)"])
            }
            switch outcome.next {
            case .delivered: break
            case .retry(let at):
                self.logger.warning(
                    "notification not delivered; will retry",
                    [
                        "delivery": "\(delivery.id)", "webhook": delivery.webhook, "attempt": "\(delivery.attempts + 1)",
                        "error": outcome.error ?? "", "retry_in_s": String(format: "%.1f", at.timeIntervalSince(outcome.at)),
                    ])
            case .failed:
                self.logger.error(
                    "notification given up",
                    [
                        "delivery": "\(delivery.id)", "webhook": delivery.webhook, "attempts": "\(delivery.attempts + 1)",
                        "error": outcome.error ?? "",
                    ])
            }
        }
        return claimed.count
    }

    /// The outcome of a failed attempt: another one after the backoff, or given up after the
    /// webhook's last.
    private func attempt(_ delivery: Delivery, _ webhook: WebhookSettings, at: Date, status: Int?, error: String) -> DeliveryAttempt {
        let made = delivery.attempts + 1
        guard made < webhook.maxAttempts else { return DeliveryAttempt(at: at, status: status, error: error, next: .failed) }
        let wait = webhook.retryDelay(afterAttempts: made, jitter: self.jitter())
        return DeliveryAttempt(at: at, status: status, error: error, next: .retry(at: at + wait))
    }

    /// Deletes deliveries finished more than `keepFor` ago, at most every `pruneInterval`.
    private func pruneIfDue() {
        let now = self.now()
        let due = self.lastPrune.withLock { last -> Bool in
            guard now.timeIntervalSince(last) >= Self.pruneInterval else { return false }
            last = now
            return true
        }
        guard due else { return }
        do {
            let pruned = try self.app.store.pruneDeliveries(finishedBefore: now - Self.keepFor, limit: 10_000)
            if pruned > 0 { self.logger.info("pruned old deliveries", ["deliveries": "\(pruned)"]) }
        } catch {
            self.logger.warning("cannot prune deliveries", ["error": "\(error)"])
        }
    }

    /// Runs passes on a background thread until `stop()`: every `interval`, at once again while
    /// there is more.
    func start() {
        self.loop.start(name: "sluice.notify") { [self] in self.pass() ? 0 : Self.interval }
    }

    /// Stops the thread after its current pass (which may be waiting for receivers), waiting at
    /// most `timeout` seconds.
    func stop(timeout: TimeInterval = 15) { self.loop.stop(timeout: timeout) }
}
