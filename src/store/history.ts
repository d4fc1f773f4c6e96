// Walking the commit graph: newest first, like `git log`, optionally keeping only commits that changed a path.
import type { CommitObject } from './objects.js'
import type { Path } from './path.js'
import { lookup, type ObjectReader } from './tree.js'

/** A max-heap ordered by `key`, ties broken by insertion order (earlier first). */
export class Heap<T> {
  private readonly items: { key: number; seq: number; v: T }[] = []
  private seq = 0
  get size(): number { return this.items.length }
  push(key: number, v: T): void {
    const a = this.items
    a.push({ key, seq: this.seq++, v })
    let i = a.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.before(a[i], a[p])) break
      ;[a[i], a[p]] = [a[p], a[i]]
      i = p
    }
  }
  pop(): T | undefined {
    const a = this.items
    if (a.length === 0) return undefined
    const top = a[0]
    const last = a.pop()!
    if (a.length) {
      a[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1, r = l + 1
        let m = i
        if (l < a.length && this.before(a[l], a[m])) m = l
        if (r < a.length && this.before(a[r], a[m])) m = r
        if (m === i) break
        ;[a[i], a[m]] = [a[m], a[i]]
        i = m
      }
    }
    return top.v
  }
  private before(x: { key: number; seq: number }, y: { key: number; seq: number }): boolean {
    return x.key > y.key || (x.key === y.key && x.seq < y.seq)
  }
}

async function idAtPath(reader: ObjectReader, treeId: string, path: Path): Promise<string | undefined> {
  if (path.length === 0) return treeId
  const root = reader.cachedTree(treeId) ?? await reader.tree(treeId)
  return (await lookup(reader, root, path))?.id
}

export interface WalkOptions {
  /** Only commits that changed this path (compared with every parent; a root commit counts if the path exists). */
  path?: Path
  /** Stop after this many commits. */
  limit?: number
}

/** The commits reachable from `heads`, newest committer date first, each once. */
export async function* walkCommits(reader: ObjectReader, heads: readonly string[], opts: WalkOptions = {}): AsyncGenerator<[string, CommitObject]> {
  const heap = new Heap<[string, CommitObject]>()
  const seen = new Set<string>()
  for (const h of heads) {
    if (seen.has(h)) continue
    seen.add(h)
    const c = await reader.commit(h)
    heap.push(c.committer.timestamp, [h, c])
  }
  let left = opts.limit ?? Infinity
  while (heap.size && left > 0) {
    const [id, c] = heap.pop()!
    for (const p of c.parents) {
      if (seen.has(p)) continue
      seen.add(p)
      const pc = await reader.commit(p)
      heap.push(pc.committer.timestamp, [p, pc])
    }
    if (opts.path) {
      const mine = await idAtPath(reader, c.tree, opts.path)
      let changed: boolean
      if (c.parents.length === 0) changed = mine !== undefined
      else {
        changed = true
        for (const p of c.parents) {
          if (await idAtPath(reader, (await reader.commit(p)).tree, opts.path) === mine) { changed = false; break }
        }
      }
      if (!changed) continue
    }
    left--
    yield [id, c]
  }
}

/** The answer of an LCA search: the LCAs, or which limit stopped it. */
export type LcaResult =
  | { status: 'ok'; lcas: string[] }
  | { status: 'max-depth-reached'; maxDepth: number }
  | { status: 'too-many-lcas'; max: number }

export interface LcaOptions {
  /** Give up (status 'max-depth-reached') when the search goes deeper than this many commits below a head. */
  maxDepth?: number
  /** Give up (status 'too-many-lcas') when there are more LCAs than this. */
  max?: number
}

const P1 = 1, P2 = 2, STALE = 4, RESULT = 8

interface WalkState { flags: number; depth: number; queued: number }

/**
 * All lowest common ancestors of the commits `as` and `bs` (Git's merge-base --all), walking by generation
 * number so that the search stops once every path left is below a common ancestor: it touches the commits
 * between the heads and the LCAs, not the whole history.
 */
export async function findLcas(reader: ObjectReader, as: readonly string[], bs: readonly string[], opts: LcaOptions = {}): Promise<LcaResult> {
  const maxDepth = opts.maxDepth ?? Infinity
  const max = opts.max ?? Infinity
  for (const a of as) if (bs.includes(a)) return max < 1 ? { status: 'too-many-lcas', max } : { status: 'ok', lcas: [a] }
  const state = new Map<string, WalkState>()
  const heap = new Heap<string>()
  let nonStaleQueued = 0 // heap entries whose commit is not stale: the search ends when none is left
  const generation = (id: string) => reader.generationOf(id)
  const push = async (id: string, s: WalkState, d: number) => {
    if (d < s.depth) s.depth = d
    heap.push(await generation(id), id)
    s.queued++
    if (!(s.flags & STALE)) nonStaleQueued++
  }
  const start = async (id: string, flag: number) => {
    let s = state.get(id)
    if (!s) state.set(id, s = { flags: 0, depth: 0, queued: 0 })
    s.flags |= flag
    await push(id, s, 0)
  }
  for (const a of as) await start(a, P1)
  for (const b of bs) await start(b, P2)
  const results: string[] = []
  while (heap.size && nonStaleQueued > 0) {
    const id = heap.pop()!
    const s = state.get(id)!
    s.queued--
    let f = s.flags & (P1 | P2 | STALE)
    if (!(f & STALE)) nonStaleQueued--
    if (f === (P1 | P2)) {
      if (!(s.flags & RESULT)) { s.flags |= RESULT; results.push(id) }
      f |= STALE
    }
    // The parents are a generation or more below: have their part of the commit-graph index ready.
    const g = reader.cachedGeneration(id)
    if (g !== undefined) { const pending = reader.prefetchGraph(g - 1); if (pending) await pending }
    for (const p of await reader.parentsOf(id)) {
      let ps = state.get(p)
      if (ps && (ps.flags & f) === f) continue
      if (!(f & STALE) && s.depth + 1 > maxDepth) return { status: 'max-depth-reached', maxDepth }
      if (!ps) state.set(p, ps = { flags: 0, depth: Infinity, queued: 0 })
      // Entries of p already queued stop counting once p turns stale.
      if ((f & STALE) && !(ps.flags & STALE)) nonStaleQueued -= ps.queued
      ps.flags |= f
      await push(p, ps, s.depth + 1)
    }
  }
  const lcas = await removeRedundant(reader, results)
  if (lcas.length > max) return { status: 'too-many-lcas', max }
  return { status: 'ok', lcas: lcas.sort() }
}

/** True when `ancestor` is reachable from `descendant` (a commit is its own ancestor). */
export async function isAncestor(reader: ObjectReader, ancestor: string, descendant: string): Promise<boolean> {
  if (ancestor === descendant) return true
  const floor = await reader.generation(ancestor)
  const seen = new Set<string>([descendant])
  const stack = [descendant]
  while (stack.length) {
    const id = stack.pop()!
    for (const p of (await reader.commit(id)).parents) {
      if (p === ancestor) return true
      if (seen.has(p)) continue
      seen.add(p)
      if ((await reader.generation(p)) > floor) stack.push(p)
    }
  }
  return false
}

/** Drop candidates that are ancestors of other candidates. */
async function removeRedundant(reader: ObjectReader, ids: string[]): Promise<string[]> {
  if (ids.length < 2) return ids
  const keep: string[] = []
  for (const x of ids) {
    let redundant = false
    for (const y of ids) if (y !== x && await isAncestor(reader, x, y)) { redundant = true; break }
    if (!redundant) keep.push(x)
  }
  return keep
}
