/// Where each node of a task graph goes: its layer (a column, drawn left to right) and its place within the layer.
///
/// Layering is longest-path: a node's layer is one more than the highest layer among its needs, 0 when it needs
/// nothing known. Needs that name no node are ignored, and so is every need that would close a cycle (a back edge
/// of a depth-first search in input order), so every input gets a layout and none hangs.
///
/// An edge that skips layers is routed through *bends*: thin slots in the columns it crosses, so it never passes
/// behind a task box. All long edges leaving one task share its bends (a bus that branches off at each target). When
/// that would take more than `bendLimit` bends, long edges are drawn straight instead.
///
/// Within a layer, nodes and bends start in input order and are then reordered by barycenter sweeps (each moves
/// towards the mean height of its neighbours in the layer next to it) to reduce crossings; the order with the fewest
/// crossings wins. Layering is O(nodes + edges); each sweep is O(edges + bends + nodes · log nodes). The result
/// depends only on the input.
public struct GraphLayout: Sendable {
    /// Vertical space of a task's slot in a column.
    static let nodePitch = 38
    /// Vertical space of a bend's slot in a column.
    static let bendPitch = 12

    /// Each node's layer, indexed like the input.
    public let layer: [Int]
    /// Each node's kept needs as input indices: unknown, repeated and cycle-closing needs are left out.
    /// Every kept need lies in a lower layer than the node.
    public let needs: [[Int]]
    /// The nodes of each layer in drawing order (top to bottom), as input indices.
    public private(set) var order: [[Int]]
    /// Whether edges that skip layers are routed through bends (otherwise they are drawn straight).
    public let isRouted: Bool

    /// How many layers there are (0 for an empty graph).
    public var layerCount: Int { self.order.count }

    /// The layer of every slot id: ids below `layer.count` are nodes (input indices), the others bends.
    let slotLayer: [Int]
    /// For every slot id, the ids it is joined to in earlier layers (only the previous layer when routed).
    let links: [[Int]]
    /// The slot ids of each layer in drawing order.
    private(set) var slots: [[Int]]
    /// The vertical centre of every slot id, from the top of the drawing.
    private(set) var center: [Int]
    /// The height of the tallest column.
    let height: Int

    /// Lays out `nodes`: layers them, routes long edges through at most `bendLimit` bends (default: twice the node
    /// count plus 16; 0 draws them straight), then runs `sweeps` barycenter sweeps, alternately towards the last and
    /// the first layer. With `sweeps` 0, nodes keep their input order within each layer.
    public init(_ nodes: [GraphNode], sweeps: Int = 4, bendLimit: Int? = nil) {
        let (layer, needs) = Self.layering(nodes)
        let count = layer.count
        self.layer = layer
        self.needs = needs

        // Each node's bus reaches the layer before its farthest long edge's target.
        var reach = layer
        var bends = 0
        for node in 0..<count {
            for need in needs[node] where layer[node] - 1 > reach[need] {
                bends += layer[node] - 1 - reach[need]
                reach[need] = layer[node] - 1
            }
        }
        self.isRouted = bends > 0 && bends <= (bendLimit ?? (2 * count + 16))
        var slotLayer = layer
        var links = needs
        if self.isRouted {
            // Bends of node u sit in layers layer[u] + 1 ... reach[u]; busStart[u] is the id of the first.
            var busStart = [Int](repeating: -1, count: count)
            for node in 0..<count where reach[node] > layer[node] {
                busStart[node] = slotLayer.count
                for l in (layer[node] + 1)...reach[node] {
                    links.append([l == layer[node] + 1 ? node : slotLayer.count - 1])
                    slotLayer.append(l)
                }
            }
            for node in 0..<count {
                links[node] = needs[node].map { need in
                    layer[node] - layer[need] == 1 ? need : busStart[need] + (layer[node] - 2 - layer[need])
                }
            }
        }
        self.slotLayer = slotLayer
        self.links = links

        var slots = [[Int]](repeating: [], count: (layer.max() ?? -1) + 1)
        for id in slotLayer.indices { slots[slotLayer[id]].append(id) }
        let columnHeights = slots.map { column in column.reduce(0) { $0 + ($1 < count ? Self.nodePitch : Self.bendPitch) } }
        self.height = columnHeights.max() ?? 0
        self.slots = slots
        self.center = [Int](repeating: 0, count: slotLayer.count)
        self.order = []
        let tops = columnHeights.map { (self.height - $0) / 2 }
        for l in slots.indices { self.place(l, top: tops[l]) }
        if sweeps > 0 && slots.count > 1 { self.reorder(sweeps: sweeps, tops: tops) }
        self.order = self.slots.map { $0.filter { $0 < count } }
    }

    /// How many pairs of edges between adjacent layers cross in the current order, counting each routed piece of a
    /// long edge; straight long edges are not counted. O(edges · log nodes).
    public func crossings() -> Int {
        Self.crossings(
            self.slots, position: Self.positions(self.slots, count: self.slotLayer.count), layer: self.slotLayer, links: self.links)
    }

    /// Longest-path layers and kept needs, by an iterative depth-first search (deep chains cannot overflow the stack).
    static func layering(_ nodes: [GraphNode]) -> (layer: [Int], needs: [[Int]]) {
        let count = nodes.count
        var index = [String: Int](minimumCapacity: count)
        for (i, node) in nodes.enumerated() where index[node.name] == nil { index[node.name] = i }
        var resolved = [[Int]]()
        resolved.reserveCapacity(count)
        for node in nodes {
            var needs = node.needs.compactMap { index[$0] }
            if needs.count > 1 {
                needs.sort()
                var unique = [needs[0]]
                for need in needs.dropFirst() where need != unique[unique.count - 1] { unique.append(need) }
                needs = unique
            }
            resolved.append(needs)
        }

        // 0 = not visited, 1 = on the search path, 2 = done (its layer is final).
        var mark = [UInt8](repeating: 0, count: count)
        var layer = [Int](repeating: 0, count: count)
        var kept = [[Int]](repeating: [], count: count)
        var path: [(node: Int, next: Int)] = []
        for root in 0..<count where mark[root] == 0 {
            mark[root] = 1
            path.append((root, 0))
            while let top = path.last {
                let (node, next) = top
                if next < resolved[node].count {
                    path[path.count - 1].next = next + 1
                    let need = resolved[node][next]
                    switch mark[need] {
                    case 0:
                        mark[need] = 1
                        path.append((need, 0))
                    case 2:
                        kept[node].append(need)
                        layer[node] = max(layer[node], layer[need] + 1)
                    default:
                        break  // A back edge: it would close a cycle, so it is ignored.
                    }
                } else {
                    path.removeLast()
                    mark[node] = 2
                    if let parent = path.last?.node {
                        kept[parent].append(node)
                        layer[parent] = max(layer[parent], layer[node] + 1)
                    }
                }
            }
        }
        return (layer, kept)
    }

    /// Sets the centres of layer `l`'s slots from its order, stacking them down from `top`.
    private mutating func place(_ l: Int, top: Int) {
        var y = top
        for id in self.slots[l] {
            let pitch = id < self.layer.count ? Self.nodePitch : Self.bendPitch
            self.center[id] = y + pitch / 2
            y += pitch
        }
    }

    /// Runs the barycenter sweeps and keeps the order with the fewest crossings (the latest one on ties).
    private mutating func reorder(sweeps: Int, tops: [Int]) {
        var dependents = [[Int]](repeating: [], count: self.slotLayer.count)
        for id in self.links.indices {
            for link in self.links[id] { dependents[link].append(id) }
        }
        var position = Self.positions(self.slots, count: self.slotLayer.count)
        var best = Self.crossings(self.slots, position: position, layer: self.slotLayer, links: self.links)
        var bestSlots = self.slots
        var bestCenter = self.center
        for sweep in 0..<sweeps {
            let forward = sweep % 2 == 0
            let layers = forward ? Array(1..<self.slots.count) : Array((0..<(self.slots.count - 1)).reversed())
            let neighbours = forward ? self.links : dependents
            for l in layers where self.slots[l].count > 1 {
                var keyed: [(key: Double, index: Int, id: Int)] = []
                keyed.reserveCapacity(self.slots[l].count)
                for id in self.slots[l] {
                    let around = neighbours[id]
                    var key = Double(self.center[id])
                    if !around.isEmpty {
                        var sum = 0
                        for other in around { sum += self.center[other] }
                        key = Double(sum) / Double(around.count)
                    }
                    keyed.append((key, position[id], id))
                }
                keyed.sort { ($0.key, $0.index) < ($1.key, $1.index) }
                for (index, entry) in keyed.enumerated() {
                    self.slots[l][index] = entry.id
                    position[entry.id] = index
                }
                self.place(l, top: tops[l])
            }
            let crossings = Self.crossings(self.slots, position: position, layer: self.slotLayer, links: self.links)
            if crossings <= best {
                best = crossings
                bestSlots = self.slots
                bestCenter = self.center
            }
        }
        self.slots = bestSlots
        self.center = bestCenter
    }

    /// Each slot id's index within its layer.
    private static func positions(_ slots: [[Int]], count: Int) -> [Int] {
        var position = [Int](repeating: 0, count: count)
        for ids in slots {
            for (index, id) in ids.enumerated() { position[id] = index }
        }
        return position
    }

    /// Counts crossings layer pair by layer pair as inversions, with a Fenwick tree.
    private static func crossings(_ slots: [[Int]], position: [Int], layer: [Int], links: [[Int]]) -> Int {
        guard slots.count > 1 else { return 0 }
        var total = 0
        var pairs: [(from: Int, to: Int)] = []
        var tree: [Int] = []
        for l in 1..<slots.count {
            pairs.removeAll(keepingCapacity: true)
            for id in slots[l] {
                for link in links[id] where layer[link] == l - 1 { pairs.append((position[link], position[id])) }
            }
            guard pairs.count > 1 else { continue }
            pairs.sort { ($0.from, $0.to) < ($1.from, $1.to) }
            tree = [Int](repeating: 0, count: slots[l].count + 1)
            for (seen, pair) in pairs.enumerated() {
                // Earlier edges start no lower; those that end lower than this one cross it.
                var atMost = 0
                var i = pair.to + 1
                while i > 0 {
                    atMost += tree[i]
                    i -= i & -i
                }
                total += seen - atMost
                i = pair.to + 1
                while i < tree.count {
                    tree[i] += 1
                    i += i & -i
                }
            }
        }
        return total
    }
}
