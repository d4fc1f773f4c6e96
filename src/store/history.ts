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
