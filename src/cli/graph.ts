// `larix log --graph`: commits in graph order and the ASCII graph beside them, in the style of
// `git log --graph --oneline`. Pure functions over { id, parents }, so they are tested without a store.
//
// Layout. Every edge waiting for a commit runs in a lane; lane k is drawn at character 2k (`|`), and an
// edge moving one lane left or right in a row is drawn between lanes (`/` at 2k-1, `\` at 2k+1). A
// commit row puts `*` in the commit's lane (a new tip opens a lane on the right). Below it the commit's
// parents take its lane and the ones after it (`|\`); a parent already waited for in a lane on the left
// heads there (`|/`); lanes then close up, one step left per row, where two edges wait for the same
// commit. Edges only move left after the row below a commit, so lines never cross each other except
// where an edge passes a lane that stays put (criss-cross merges), drawn `|/|`.

export interface GraphNode {
  id: string
  parents: readonly string[]
}

/** One line of graph: `commit` is set on the line that shows that commit (the `*`). */
export interface GraphRow {
  graph: string
  commit?: string
}

/**
 * The order `git log --graph` shows commits in (its topological "graph order"): every commit before its
 * parents, and below a merge first the commits only its later parents reach, then its first parent's line.
 * `tips` are the commits to start from (newest first); parents missing from `nodes` are ignored.
 */
export function graphOrder(nodes: readonly GraphNode[], tips: readonly string[]): GraphNode[] {
  const byId = new Map(nodes.map(n => [n.id, n]))
  const pending = new Map<string, number>()
  for (const n of nodes) for (const p of new Set(n.parents)) if (byId.has(p)) pending.set(p, (pending.get(p) ?? 0) + 1)
  const stack: string[] = []
  const queued = new Set<string>()
  for (const t of [...tips].reverse()) {
    if (byId.has(t) && !pending.get(t) && !queued.has(t)) { stack.push(t); queued.add(t) }
  }
  const out: GraphNode[] = []
  while (stack.length) {
    const node = byId.get(stack.pop()!)!
    out.push(node)
    for (const p of new Set(node.parents)) {
      if (!byId.has(p)) continue
      const left = pending.get(p)! - 1
      pending.set(p, left)
      if (left === 0) stack.push(p)
    }
  }
  return out
}

/**
 * History simplified to the commits in `keep` (e.g. those that changed a path): each kept commit's parents
 * become the nearest kept commits its real parents lead to, as `git log --graph PATH` rewrites parents.
 * `all` must hold every commit reachable from `heads`. Returns the kept nodes and the tips to start from.
 */
export function simplify(all: readonly GraphNode[], heads: readonly string[], keep: ReadonlySet<string>): { nodes: GraphNode[]; tips: string[] } {
  const byId = new Map(all.map(n => [n.id, n]))
  // Children before parents, then walked backwards: each commit's nearest kept commits from its parents'.
  const order = graphOrder(all, heads)
  const nearest = new Map<string, readonly string[]>()
  const reach = (id: string): readonly string[] => (keep.has(id) ? [id] : nearest.get(id) ?? [])
  const nodes: GraphNode[] = []
  for (let i = order.length - 1; i >= 0; i--) {
    const n = order[i]
    const parents = [...new Set(n.parents.filter(p => byId.has(p)).flatMap(reach))]
    if (keep.has(n.id)) nodes.push({ id: n.id, parents })
    else nearest.set(n.id, parents)
  }
  return { nodes: nodes.reverse(), tips: [...new Set(heads.flatMap(reach))] }
}

interface Edge { id: string; slot: number }

/** Characters of one graph line; `put` at a character column, unset columns are spaces. */
class Line {
  private readonly chars: string[] = []
  put(col: number, ch: string): void {
    if (col < 0) return
    while (this.chars.length <= col) this.chars.push(' ')
    this.chars[col] = ch
  }
  text(width = 0): string {
    const s = this.chars.join('')
    return width > s.length ? s + ' '.repeat(width - s.length) : s.trimEnd()
  }
}

/**
 * The graph lines for `nodes` in display order (as `graphOrder` gives them), stopping after `limit`
 * commits. A commit's line is padded so that the text after it starts clear of the lines below it.
 */
export function graphRows(nodes: readonly GraphNode[], limit = Infinity): GraphRow[] {
  const rows: GraphRow[] = []
  let lanes: string[] = []
  const shown = Math.min(limit, nodes.length)
  for (let i = 0; i < shown; i++) {
    const node = nodes[i]
    let idx = lanes.indexOf(node.id)
    if (idx < 0) {
      // A new tip opens a lane on the right; right under a root commit's `*` it would look like its child.
      idx = lanes.length
      lanes.push(node.id)
      const above = rows.at(-1)?.graph ?? ''
      if (above.length > 2 * idx && above[2 * idx] !== ' ') {
        const gap = new Line()
        for (let k = 0; k < idx; k++) gap.put(2 * k, '|')
        rows.push({ graph: gap.text() })
      }
    }
    const parents = [...new Set(node.parents)]
    const left = lanes.slice(0, idx)
    const leftGoing = parents.filter(p => left.includes(p))
    const fresh = parents.filter(p => !left.includes(p))
    const n = fresh.length
    const right: Edge[] = lanes.slice(idx + 1).map((id, m) => ({ id, slot: idx + 1 + m }))

    // An octopus merge draws `*-.` (`*---.` for four parents) to its right: first move the lanes on the right out of the way.
    if (n > 2 && right.length > 0) {
      for (let step = 0; step < n - 2; step++) {
        const line = new Line()
        left.forEach((_, k) => line.put(2 * k, '|'))
        line.put(2 * idx, '|')
        for (const e of right) { line.put(2 * e.slot + 1, '\\'); e.slot++ }
        rows.push({ graph: line.text() })
      }
    }

    // The commit's line.
    const commitLine = new Line()
    left.forEach((_, k) => commitLine.put(2 * k, '|'))
    commitLine.put(2 * idx, '*')
    if (n > 2) {
      for (let col = 2 * idx + 1; col < 2 * (idx + n - 2); col++) commitLine.put(col, '-')
      commitLine.put(2 * (idx + n - 2), '.')
    }
    for (const e of right) commitLine.put(2 * e.slot, '|')
    let width = Math.max(idx + 1, ...right.map(e => e.slot + 1))

    // The line below it: parents leave the commit, lanes on the right make room or close the gap.
    // A second parent that is the very next lane joins it at once (`|\|`).
    const joinsNext = n === 2 && right.length > 0 && right[0].id === fresh[1] && right[0].slot === idx + 1
    const after = new Line()
    let moved = false
    left.forEach((_, k) => after.put(2 * k, '|'))
    const edges: Edge[] = left.map((id, k) => ({ id, slot: k }))
    for (const p of leftGoing) { after.put(2 * idx - 1, '/'); edges.push({ id: p, slot: idx - 1 }); moved = true }
    fresh.forEach((p, j) => {
      if (j === 0) after.put(2 * idx, '|')
      else { after.put(2 * (idx + j) - 1, '\\'); moved = true }
      edges.push({ id: p, slot: idx + j })
    })
    // Lanes on the right: one step left when the commit leaves its lane free, one right to make room for a
    // second parent (an octopus moved them the rest of the way above), else straight on.
    const shift = joinsNext ? 0 : n === 0 ? -1 : n === 1 ? 0 : 1
    for (const e of right) {
      if (shift < 0) after.put(2 * e.slot - 1, '/')
      else if (shift > 0) after.put(2 * e.slot + 1, '\\')
      else after.put(2 * e.slot, '|')
      if (shift !== 0) moved = true
      edges.push({ id: e.id, slot: e.slot + shift })
    }
    for (const e of edges) width = Math.max(width, e.slot + 1)
    rows.push({ graph: commitLine.text(2 * width), commit: node.id })
    if (i === shown - 1) break
    if (moved) rows.push({ graph: after.text() })

    // Close up: each edge moves one lane left per row until it reaches the lane of its commit.
    const next: string[] = []
    const laneOf = new Map<string, number>()
    const target = edges.map(e => {
      let t = laneOf.get(e.id)
      if (t === undefined) { t = next.length; next.push(e.id); laneOf.set(e.id, t) }
      return t
    })
    while (edges.some((e, k) => e.slot > target[k])) {
      const line = new Line()
      edges.forEach((e, k) => {
        if (e.slot > target[k]) { line.put(2 * e.slot - 1, '/'); e.slot-- }
        else line.put(2 * e.slot, '|')
      })
      rows.push({ graph: line.text() })
    }
    lanes = next
  }
  return rows
}
