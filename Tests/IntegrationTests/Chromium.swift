import Foundation
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Headless Chromium (Debian's `chromium` package), driven through its command line only:
/// `--dump-dom` prints the DOM after the page's scripts ran, `--screenshot` saves a PNG.
///
/// `--virtual-time-budget` lets the page run for that many milliseconds of *virtual* time before
/// the DOM is dumped. Virtual time stands still while a network request is pending and jumps
/// ahead when the page is idle, so a long poll (`app.js` on a live job page) holds the dump until
/// the server answers, while timers fire at once. Console messages (CSP violations among them)
/// reach stderr through `--enable-logging=stderr`, as lines with `CONSOLE`.
///
/// ```swift
/// let chromium = try Chromium(directory: harness.directory)
/// let page = try await chromium.dumpDOM(harness.origin + "/sluice/")
/// #expect(page.cspViolations.isEmpty)
/// ```
struct Chromium: Sendable {
    /// The `chromium` executable.
    let path: String
    /// Where profiles and captured output go (the harness's temporary directory).
    let directory: String

    /// Finds Chromium (see `find()`); fails, never skips, when it is missing.
    init(directory: String) throws {
        self.path = try Self.find()
        self.directory = directory
    }

    /// The DOM after scripts ran, and what the page logged to the console.
    struct Page: Sendable {
        /// The serialized DOM (`document.documentElement.outerHTML` with a doctype).
        let dom: String
        /// Console messages, one per line as Chromium logged them.
        let console: [String]

        /// Console messages about Content-Security-Policy violations ("Refused to …" in older
        /// versions, "… violates the following Content Security Policy directive …" in newer).
        var cspViolations: [String] {
            self.console.filter { $0.contains("Content Security Policy") || $0.contains("Refused to") }
        }

        /// Console messages about uncaught script errors.
        var scriptErrors: [String] { self.console.filter { $0.contains("Uncaught") } }
    }

    /// Chromium: `$CHROMIUM` if set, else `chromium` or `chromium-browser` in `/usr/bin` or on `PATH`.
    /// - Throws: `HarnessError` with the install hint when there is none: CI installs it, and a
    ///   silently skipped browser suite would hide every rendering problem.
    static func find() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["CHROMIUM"], !path.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw HarnessError("CHROMIUM=\(path) is not an executable file")
            }
            return path
        }
        var candidates: [String] = []
        let directories = ["/usr/bin"] + (environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for name in ["chromium", "chromium-browser"] {
            candidates += directories.map { "\($0)/\(name)" }
        }
        guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw HarnessError(
                "chromium is not installed (tried \(candidates.prefix(6))…); the browser tests need it: "
                    + "apt-get install --no-install-recommends chromium fonts-liberation, or run scripts/test, which installs it")
        }
        return path
    }

    /// Where screenshots go: `$SLUICE_SCREENSHOTS`, else `<package root>/.build/screenshots`.
    static func screenshotDirectory(filePath: String = #filePath) throws -> String {
        var path = ProcessInfo.processInfo.environment["SLUICE_SCREENSHOTS"] ?? ""
        if path.isEmpty {
            // This file is <root>/Tests/IntegrationTests/Chromium.swift.
            let root = URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent()
            path = root.appendingPathComponent(".build/screenshots").path
        }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Starts Chromium on `url` with a fresh profile; the caller waits for it.
    /// - Parameters:
    ///   - actions: `--dump-dom`, or `--screenshot=…` with a `--window-size`.
    ///   - virtualTimeBudget: Milliseconds of virtual time the page may run first.
    func start(_ url: String, actions: [String], virtualTimeBudget: Int) throws -> ChildProcess {
        // Inside `directory`, so it goes when the harness removes that.
        let profile = try TemporaryDirectory(prefix: "chromium-profile", in: self.directory).path
        let arguments =
            [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--mute-audio", "--hide-scrollbars",
                "--force-device-scale-factor=1", "--lang=en-US", "--user-data-dir=\(profile)",
                "--enable-logging=stderr", "--v=0", "--virtual-time-budget=\(virtualTimeBudget)",
            ] + actions + [url]
        return try ChildProcess(path: self.path, arguments: arguments, directory: self.directory)
    }

    /// Loads `url` and returns its DOM once the page has been idle for `virtualTimeBudget` ms of
    /// virtual time.
    /// - Throws: `HarnessError` if Chromium fails or does not finish within `timeout`.
    func dumpDOM(_ url: String, virtualTimeBudget: Int = 3000, timeout: Duration = .seconds(60)) async throws -> Page {
        let command = try self.start(url, actions: ["--dump-dom"], virtualTimeBudget: virtualTimeBudget)
        return try await Self.page(of: command, url: url, timeout: timeout)
    }

    /// Waits for a `--dump-dom` run started with `start` and returns its page.
    static func page(of command: ChildProcess, url: String, timeout: Duration) async throws -> Page {
        let result = await command.wait(timeout: timeout)
        guard result.succeeded, result.stdout.contains("<html") else {
            throw HarnessError("chromium --dump-dom \(url): \(result)\nstdout: \(result.stdout.prefix(2000))")
        }
        return Page(dom: result.stdout, console: Self.consoleLines(result.stderr))
    }

    /// Saves a PNG of `url` at `width`×`height` CSS pixels to `file` and returns the console.
    /// - Throws: `HarnessError` if Chromium fails or writes no PNG.
    @discardableResult
    func screenshot(_ url: String, to file: String, width: Int, height: Int, timeout: Duration = .seconds(60)) async throws
        -> [String]
    {
        try? FileManager.default.removeItem(atPath: file)
        let command = try self.start(
            url, actions: ["--screenshot=\(file)", "--window-size=\(width),\(height)"], virtualTimeBudget: 2000)
        let result = await command.wait(timeout: timeout)
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47]
        guard result.succeeded, let data = FileManager.default.contents(atPath: file), Array(data.prefix(4)) == signature
        else {
            throw HarnessError("chromium --screenshot \(url) → \(file): \(result)")
        }
        return Self.consoleLines(result.stderr)
    }

    /// The console lines among Chromium's log lines.
    static func consoleLines(_ stderr: String) -> [String] {
        stderr.split(separator: "\n").filter { $0.contains("CONSOLE") }.map(String.init)
    }
}
