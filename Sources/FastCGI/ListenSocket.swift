internal import CFastCGI
import SystemCalls

#if canImport(Glibc)
    import Glibc
#endif

/// Where the FastCGI front end accepts connections.
public enum ListenSource: Sendable, Equatable {
    /// The listening socket the spawner left on fd 0 (lighttpd `bin-path`, spawn-fcgi), or
    /// systemd's fd 3 when `LISTEN_FDS`/`LISTEN_PID` say so.
    case inherited
    /// A unix socket this process creates at the path, with mode 0660.
    case unixSocket(path: String)
}

/// Errors raised while opening or serving the FastCGI socket.
public struct FastCGIError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, for the operator.
    public let reason: String
    /// The `errno` at the failure, if any.
    public let errno: Int32?

    init(_ reason: String, errno: Int32? = nil) {
        self.reason = reason
        self.errno = errno
    }

    /// `reason` failed because of the system call `cause`.
    init(_ reason: String, cause: SystemCallError) {
        self.init(reason, errno: cause.errno)
    }

    public var description: String {
        if let e = self.errno { return "\(self.reason): \(String(cString: strerror(e)))" }
        return self.reason
    }
}

/// A listening socket file descriptor, opened from a `ListenSource`.
struct ListenSocket {
    let fd: Int32
    let path: String?

    /// Opens or adopts the socket. Must be called after `FCGX_Init`.
    static func open(_ source: ListenSource) throws(FastCGIError) -> ListenSocket {
        switch source {
        case .inherited:
            let env = { (name: String) in getenv(name).map { String(cString: $0) } }
            if let fds = env("LISTEN_FDS"), let pid = env("LISTEN_PID"), fds == "1", pid == String(getpid()) {
                // systemd socket activation passes the first socket as fd 3 (sd_listen_fds(3)).
                return ListenSocket(fd: 3, path: nil)
            }
            // FCGX_IsCGI() is true when fd 0 is not a listening socket, i.e. nobody handed us one.
            if FCGX_IsCGI() != 0 {
                throw FastCGIError(
                    "fd 0 is not a FastCGI listening socket; start under lighttpd bin-path or spawn-fcgi, or pass --socket PATH")
            }
            return ListenSocket(fd: 0, path: nil)
        case .unixSocket(let path):
            return try self.bindUnix(path)
        }
    }

    /// Creates the unix socket ourselves instead of with `FCGX_OpenSocket`, which unlinks any
    /// existing path without asking and calls `exit()` when bind or listen fails.
    private static func bindUnix(_ path: String) throws(FastCGIError) -> ListenSocket {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else { throw FastCGIError("socket path longer than \(capacity - 1) bytes: \(path)") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        if self.isLive(address) { throw FastCGIError("another process is already listening on \(path)") }
        unlink(path)  // a stale socket left by a crashed run; a live one was refused above
        let fd: Int32
        do {
            fd = try syscall(where: "socket") { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        } catch {
            throw FastCGIError("socket()", cause: error)
        }
        // The socket file's mode comes from the umask at bind(); 0117 yields 0660, so only the
        // owner and the front server's group can connect (libfcgi's parser must not face strangers:
        // CVE-2025-23016's follow-up fix is not in Debian's libfcgi).
        let old = umask(0o117)
        // `syscall` reads errno as soon as bind returns, before umask runs again.
        let bound = Result { () throws(SystemCallError) -> Int32 in
            try syscall(where: "bind") {
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
                }
            }
        }
        umask(old)
        do {
            _ = try bound.get()
            chmod(path, 0o660)  // already 0660 from the umask; this only makes it explicit
            try syscall(where: "listen") { listen(fd, 1024) }
        } catch {
            try? Posix.close(fd)
            throw FastCGIError("\(error.function)(\(path))", cause: error)
        }
        return ListenSocket(fd: fd, path: path)
    }

    /// Whether something accepts connections at `address` right now.
    private static func isLive(_ address: sockaddr_un) -> Bool {
        var address = address
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { try? Posix.close(fd) }
        // Not `syscall`: connect must not be repeated after EINTR (it goes on in the background
        // and a second call reports EALREADY). EINTR needs a signal handler to run, and the only
        // handler Sluice has at this point is libfcgi's SIGPIPE no-op, which connect cannot trigger.
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return rc == 0
    }

    /// Wakes every thread blocked in `accept()` on this socket: after `shutdown()`, Linux fails
    /// pending and future `accept()` calls with EINVAL, and `FCGX_Accept_r` returns -22.
    func shutdown() {
        _ = Glibc.shutdown(self.fd, Int32(SHUT_RDWR))
    }

    /// Removes the socket file if this process created it.
    func unlinkIfOwned() {
        if let path = self.path { unlink(path) }
    }
}
