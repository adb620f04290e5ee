import ByteStrings

/// The named resources tasks hold while they run, and how much of each is in use.
///
/// Pure bookkeeping: the runner asks it before starting a task and tells it when one ends.
/// Names are compared as bytes: "K" and U+212A are different resources.
struct ResourcePool: Equatable {
    /// Amount in use per resource.
    private(set) var use: [ByteString: Int] = [:]

    /// Takes what a task wants if every part of it is free; returns what it now holds (by the
    /// task's own spelling), or nil (taking nothing) if something is short.
    ///
    /// A job keeps the amounts it was triggered with, so after a reload lowered a capacity
    /// below such an amount the task takes the whole capacity instead of waiting forever; a
    /// resource no longer configured is unlimited (and not held).
    mutating func acquire(_ wanted: [String: Int], capacities: [String: Int]) -> [String: Int]? {
        let held = Self.amounts(wanted, capacities: capacities)
        for (name, amount) in held {
            let capacity = capacities[exactly: name] ?? 0
            if self.use[ByteString(name), default: 0] + amount > capacity { return nil }
        }
        self.take(held)
        return held
    }

    /// Takes what a task that is already running holds (re-adopted after a restart), even if
    /// that exceeds a capacity now: the task runs whether the pool agrees or not, and new tasks
    /// must wait until it ends.
    mutating func adopt(_ wanted: [String: Int], capacities: [String: Int]) -> [String: Int] {
        let held = Self.amounts(wanted, capacities: capacities)
        self.take(held)
        return held
    }

    /// Gives back what `acquire` or `adopt` returned.
    mutating func release(_ held: [String: Int]) {
        for (name, amount) in held {
            let key = ByteString(name)
            let left = self.use[key, default: 0] - amount
            self.use[key] = left > 0 ? left : nil
        }
    }

    /// The amount in use of `name`.
    func inUse(_ name: String) -> Int { self.use[ByteString(name), default: 0] }

    private mutating func take(_ held: [String: Int]) {
        for (name, amount) in held { self.use[ByteString(name), default: 0] += amount }
    }

    /// What a task would hold: each configured resource it wants, capped at the capacity.
    private static func amounts(_ wanted: [String: Int], capacities: [String: Int]) -> [String: Int] {
        var held: [String: Int] = [:]
        for (name, amount) in wanted {
            guard let capacity = capacities[exactly: name] else { continue }
            held[name] = min(amount, capacity)
        }
        return held
    }
}
