/// Sluice is draining (host maintenance): no new job starts, running jobs go on. Shown as a
/// banner on the dashboard and above the trigger form.
public struct DrainNotice: Sendable, Hashable {
    /// Jobs admitted and not finished yet.
    public var activeJobs: Int
    /// Whether Sluice exits once nothing runs any more.
    public var exitWhenDrained: Bool

    /// Creates the notice.
    public init(activeJobs: Int, exitWhenDrained: Bool) {
        self.activeJobs = activeJobs
        self.exitWhenDrained = exitWhenDrained
    }

    /// The banner's sentence, e.g. "Draining: no new jobs start; 2 jobs still running."
    public var text: String {
        let jobs = self.activeJobs == 1 ? "1 job" : "\(self.activeJobs) jobs"
        var text = "Draining: no new jobs start; \(jobs) still running."
        text += " New triggers are accepted and wait in the queue"
        text += self.exitWhenDrained ? "; Sluice will exit once nothing runs, and they start when it is back." : " until the drain ends."
        return text
    }
}

extension Pages {
    /// The drain banner (a live region, so assistive technology announces it).
    static func drainBanner(_ notice: DrainNotice) -> String {
        "<p class=\"banner\" role=\"status\" data-drain=\"\(notice.exitWhenDrained ? "exit" : "drain")\">\(HTML.escape(notice.text))</p>\n"
    }
}
