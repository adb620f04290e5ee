import HTTP

/// Response headers every answer carries, set in one place.
///
/// HTML pages get a Content-Security-Policy that allows only Sluice's own stylesheet and script
/// (no inline script or style at all, so an injected `<script>` or `style=` is inert even if
/// escaping ever failed), forbids framing, and limits forms and fetches to Sluice itself.
enum SecurityHeaders {
    /// The policy of HTML pages.
    static let pagePolicy =
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    /// The policy of everything else (JSON, logs, assets): nothing may run or embed it.
    static let otherPolicy = "default-src 'none'; frame-ancestors 'none'; sandbox"

    static func apply(to response: inout HTTPResponse) {
        let isHTML = response.header("Content-Type")?.hasPrefix("text/html") ?? false
        let isAsset = response.header("Content-Type").map { $0.hasPrefix("text/css") || $0.hasPrefix("text/javascript") } ?? false
        if response.header("Content-Security-Policy") == nil && !isAsset {
            response.setHeader("Content-Security-Policy", isHTML ? self.pagePolicy : self.otherPolicy)
        }
        response.setHeader("X-Content-Type-Options", "nosniff")
        response.setHeader("X-Frame-Options", "DENY")
        response.setHeader("Referrer-Policy", "same-origin")
        if response.header("Cache-Control") == nil { response.setHeader("Cache-Control", "private, no-cache") }
    }
}
