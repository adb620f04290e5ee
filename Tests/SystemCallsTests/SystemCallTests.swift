import SystemCalls
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct SystemCallTests {
    @Test("syscall repeats a call that fails with EINTR and returns the first other result")
    func retriesEINTR() throws {
        var calls = 0
        let result = try syscall(where: "read") { () -> Int in
            calls += 1
            if calls < 3 {
                errno = EINTR
                return -1
            }
            return 42
        }
        #expect(result == 42)
        #expect(calls == 3)
    }

    @Test("syscall throws any other errno at once, with the function's name and strerror's text")
    func throwsOtherErrno() {
        var calls = 0
        let error = #expect(throws: SystemCallError.self) {
            try syscall(where: "open") { () -> Int32 in
                calls += 1
                errno = ENOENT
                return -1
            }
        }
        #expect(calls == 1)
        #expect(error == SystemCallError(function: "open", errno: ENOENT))
        #expect(error?.description == "open failed: \(String(cString: strerror(ENOENT))) (errno \(ENOENT))")
    }

    @Test("syscall returns non-negative results and does not mistake other negative values for failure")
    func otherResults() throws {
        #expect(try syscall(where: "x") { Int32(0) } == 0)
        #expect(try syscall(where: "x") { Int32(-2) } == -2)
    }

    @Test("A real failing call reports its errno")
    func realCall() {
        let error = #expect(throws: SystemCallError.self) {
            try syscall(where: "mkdir") { mkdir("/proc/sluice-no-such-directory/child", 0o700) }
        }
        #expect(error?.function == "mkdir")
        #expect(error?.errno == ENOENT)
    }

    @Test("errorNumberCall repeats EINTR, succeeds on 0, and throws any other returned number after one call")
    func errorNumberCalls() throws {
        var calls = 0
        try errorNumberCall(where: "sigwait") {
            calls += 1
            return calls == 1 ? EINTR : 0
        }
        #expect(calls == 2)

        // A persistent failure (sigwait's EINVAL) is thrown, not retried: the caller must not spin.
        calls = 0
        let error = #expect(throws: SystemCallError.self) {
            try errorNumberCall(where: "sigwait") {
                calls += 1
                return EINVAL
            }
        }
        #expect(calls == 1)
        #expect(error == SystemCallError(function: "sigwait", errno: EINVAL))
    }

    @Test("errorNumberCall reads the result, not errno")
    func errorNumberIgnoresErrno() throws {
        errno = EBADF
        try errorNumberCall(where: "posix_spawnattr_init") { 0 }
        var attributes = posix_spawnattr_t()
        try errorNumberCall(where: "posix_spawnattr_init") { posix_spawnattr_init(&attributes) }
        posix_spawnattr_destroy(&attributes)
    }

    @Test("Posix.close closes a descriptor once and reports EBADF for one that is not open")
    func closeDescriptors() throws {
        var fds: [Int32] = [-1, -1]
        try #require(pipe(&fds) == 0)
        try Posix.close(fds[0])
        try Posix.close(fds[1])
        // -1 is never a descriptor, so this cannot close another test's file.
        let error = #expect(throws: SystemCallError.self) { try Posix.close(-1) }
        #expect(error?.errno == EBADF)
    }
}
