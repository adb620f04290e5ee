import ByteStrings
import Supervisor

extension PipelineDefinition {
    /// Tasks whose program cannot be started on this machine as configured: `run[0]` names a
    /// file that does not exist or is not executable, or a name that no directory of the task's
    /// PATH holds (`TaskProcess.resolve`, as the task's start would find it). Only what can be
    /// told without a job: a program, PATH or working directory with `{param}` placeholders,
    /// and a relative path without a literal absolute `working_dir`, are not looked at.
    ///
    /// Warnings, not problems: `sluice check` often runs where the pipelines' programs are not
    /// installed (the policy repository's CI), and a program may be installed after the check.
    public func programProblems() -> [DefinitionProblem] {
        var problems: [DefinitionProblem] = []
        for task in self.tasks where task.kind == .command {
            guard let first = task.run.first, first.parameterNames.isEmpty else { continue }
            let program = first.text
            let path: String
            if let template = task.environment[exactly: "PATH"] {
                guard template.parameterNames.isEmpty else { continue }
                path = template.text
            } else {
                path = Runner.defaultEnvironment["PATH"] ?? "/usr/bin:/bin"
            }
            var directory = "/"
            if program.contains("/") && !program.hasPrefix("/") {
                guard let dir = task.workingDirectory, dir.parameterNames.isEmpty, dir.text.hasPrefix("/") else { continue }
                directory = dir.text
            }
            do {
                _ = try TaskProcess.resolve(program, path: path, workingDirectory: directory)
            } catch {
                problems.append(
                    .init(
                        path: "pipelines.\(self.name).tasks.\(task.name).run[0]",
                        message: "\(error.reason); the task will fail to start on this machine until that changes"))
            }
        }
        return problems
    }
}
