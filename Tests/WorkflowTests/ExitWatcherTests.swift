import Foundation
import Locking
import Supervisor
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite(.timeLimit(.minutes(1))) struct ExitWatcherTests {
    /// Tokens the watcher reported, in order.
    final class Reports: Sendable {
        let tokens = Locked<[UInt64]>([])
        var all: [UInt64] { self.tokens.withLock { $0 } }
        func record(_ token: UInt64) { self.tokens.withLock { $0.append(token) } }
    }

    static func sleeper() throws -> ChildProcess {
        try ChildProcess(path: "/bin/sleep", arguments: ["30"], stdout: .null, stderr: .null)
    }

    @Test("A watched process that is killed is reported once, with its token")
    func reportedOnce() throws {
        let reports = Reports()
        let watcher = try ExitWatcher { reports.record($0) }
        defer { watcher.stop() }
        let child = try Self.sleeper()
        defer { child.terminate(signal: SIGKILL) }
        let process = try #require(SupervisedProcess.adopt(pid: child.pid))
        defer { process.close() }
        #expect(process.pid == child.pid && process.pidFD >= 0 && !process.isChild)
        #expect(watcher.watch(process, token: 7))
        usleep(100_000)
        #expect(reports.all.isEmpty)  // nothing while it runs
        kill(child.pid, SIGKILL)
        #expect(Poll.blockingUntil(within: .seconds(10)) { !reports.all.isEmpty })
        child.terminate()  // reap it: a reaped process must not be reported again either
        usleep(300_000)
        #expect(reports.all == [7])
    }

    @Test("A process that exited before it was watched is reported at once")
    func alreadyExited() throws {
        let reports = Reports()
        let watcher = try ExitWatcher { reports.record($0) }
        defer { watcher.stop() }
        let child = try Self.sleeper()
        let process = try #require(SupervisedProcess.adopt(pid: child.pid))
        defer { process.close() }
        child.terminate(signal: SIGKILL)
        #expect(ProcessTable.isGone(child.pid))
        #expect(watcher.watch(process, token: 99))
        #expect(Poll.blockingUntil(within: .seconds(10)) { reports.all == [99] })
        usleep(200_000)
        #expect(reports.all == [99])
    }

    @Test("200 watched processes are each reported exactly once, with their own tokens")
    func manyProcesses() throws {
        let count = 200
        let reports = Reports()
        let watcher = try ExitWatcher { reports.record($0) }
        defer { watcher.stop() }
        var children: [ChildProcess] = []
        var processes: [SupervisedProcess] = []
        defer {
            for child in children { child.terminate(signal: SIGKILL, timeout: .seconds(1)) }
            for process in processes { process.close() }
        }
        for i in 0..<count {
            let child = try Self.sleeper()
            children.append(child)
            let process = try #require(SupervisedProcess.adopt(pid: child.pid))
            processes.append(process)
            #expect(watcher.watch(process, token: UInt64(1000 + i)))
        }
        // Kill them in an order other than the tokens'.
        for i in stride(from: count - 1, through: 0, by: -2) { kill(children[i].pid, SIGKILL) }
        for i in stride(from: 0, to: count, by: 2) { kill(children[i].pid, SIGKILL) }
        #expect(Poll.blockingUntil(within: .seconds(20)) { reports.all.count >= count })
        usleep(300_000)
        let tokens = reports.all
        #expect(tokens.count == count)
        #expect(tokens.sorted() == (0..<count).map { UInt64(1000 + $0) })
    }

    @Test("Only the processes that exited are reported; the others stay watched")
    func onlyExited() throws {
        let reports = Reports()
        let watcher = try ExitWatcher { reports.record($0) }
        defer { watcher.stop() }
        let (a, b) = (try Self.sleeper(), try Self.sleeper())
        defer {
            a.terminate(signal: SIGKILL)
            b.terminate(signal: SIGKILL)
        }
        let pa = try #require(SupervisedProcess.adopt(pid: a.pid))
        let pb = try #require(SupervisedProcess.adopt(pid: b.pid))
        defer {
            pa.close()
            pb.close()
        }
        #expect(watcher.watch(pa, token: 1) && watcher.watch(pb, token: 2))
        kill(b.pid, SIGTERM)
        #expect(Poll.blockingUntil(within: .seconds(10)) { reports.all == [2] })
        usleep(200_000)
        #expect(reports.all == [2])
        kill(a.pid, SIGKILL)
        #expect(Poll.blockingUntil(within: .seconds(10)) { reports.all == [2, 1] })
    }

    @Test("adopt returns nil for a pid no process has, and for pids 1 and below")
    func adoptDeadPID() throws {
        #expect(SupervisedProcess.adopt(pid: try ProcessTable.deadProcessID()) == nil)
        #expect(SupervisedProcess.adopt(pid: 1) == nil)
        #expect(SupervisedProcess.adopt(pid: 0) == nil)
        #expect(SupervisedProcess.adopt(pid: -1) == nil)
    }

    @Test("signal reaches a running process and returns false once it has exited")
    func signalAfterExit() throws {
        let child = try Self.sleeper()
        defer { child.terminate(signal: SIGKILL) }
        let process = try #require(SupervisedProcess.adopt(pid: child.pid))
        defer { process.close() }
        #expect(process.signal(0))
        #expect(process.signal(SIGTERM))
        #expect(Poll.blockingUntil(within: .seconds(10)) { child.waitStatus != nil })
        #expect(child.terminationDescription == "signal \(SIGTERM)")
        #expect(!process.signal(SIGTERM))
        #expect(!process.signal(0))
    }

    @Test("Without a pidfd only a child of this process is signalled by pid, never an adopted one")
    func signalWithoutPidfd() throws {
        let child = try Self.sleeper()
        defer { child.terminate(signal: SIGKILL) }
        #expect(!SupervisedProcess(pid: child.pid, pidFD: -1, isChild: false).signal(0))
        #expect(SupervisedProcess(pid: child.pid, pidFD: -1, isChild: true).signal(0))
        #expect(child.isRunning)
    }

    @Test("watch refuses a process without a pidfd, and reports nothing for it")
    func watchWithoutPidfd() throws {
        let reports = Reports()
        let watcher = try ExitWatcher { reports.record($0) }
        defer { watcher.stop() }
        let child = try Self.sleeper()
        #expect(!watcher.watch(SupervisedProcess(pid: child.pid, pidFD: -1, isChild: false), token: 5))
        child.terminate(signal: SIGKILL)
        usleep(200_000)
        #expect(reports.all.isEmpty)
    }

    @Test("stop returns promptly while processes are still watched, and reports nothing for them")
    func stopPromptly() throws {
        let reports = Reports()
        let watcher = try ExitWatcher { reports.record($0) }
        let child = try Self.sleeper()
        defer { child.terminate(signal: SIGKILL) }
        let process = try #require(SupervisedProcess.adopt(pid: child.pid))
        defer { process.close() }
        #expect(watcher.watch(process, token: 3))
        let clock = ContinuousClock()
        let elapsed = clock.measure { watcher.stop() }
        #expect(elapsed < .seconds(1), "stop took \(elapsed)")
        kill(child.pid, SIGKILL)
        usleep(200_000)
        #expect(reports.all.isEmpty)
        #expect(fcntl(process.pidFD, F_GETFD) >= 0)  // the pidfd is the caller's: stop leaves it open
    }

    @Test("stop returns promptly for a watcher that never watched anything")
    func stopIdle() throws {
        let watcher = try ExitWatcher { _ in }
        let elapsed = ContinuousClock().measure { watcher.stop() }
        #expect(elapsed < .seconds(1), "stop took \(elapsed)")
    }
}
