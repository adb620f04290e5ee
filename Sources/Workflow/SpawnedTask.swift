/// A task process started by `TaskProcess.spawnPiped`, not yet reaped, and the descriptors
/// that watch it.
///
/// The descriptors belong to whoever holds this value; `TaskProcess.supervise` closes both.
public struct SpawnedTask: Sendable, Equatable {
    /// The child's pid, which is also its process-group id.
    public let pid: Int32
    /// The read end of the pipe that carries the child's stdout and stderr (close-on-exec).
    public let outputFD: Int32
    /// A pidfd for the child (close-on-exec), readable once it exits; -1 if the kernel has no
    /// pidfd_open (before Linux 5.3), in which case `supervise` falls back to polling `waitpid`.
    public let pidFD: Int32

    /// Wraps a child and its descriptors; `TaskProcess.spawnPiped` makes these.
    public init(pid: Int32, outputFD: Int32, pidFD: Int32) {
        self.pid = pid
        self.outputFD = outputFD
        self.pidFD = pidFD
    }
}
