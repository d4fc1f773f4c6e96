// The "introduced objects" of a commit, the index that lets a server send a pack without walking trees
// (what Git's reachability bitmaps are for). For commit c: the trees and blobs of c's tree that are not at
// the same path in its first parent's tree (all of them for a root commit). Everything c reaches is either
// listed or reachable from its first parent, so by induction the union over a set of commits closed under
// ancestry (down to commits the other side has) covers everything they reach. It may list a few objects
// the parent has elsewhere (a file moved, a revert): a superset, which only costs bytes.
//
// Encoding: records of 21 bytes, a kind byte (INTRODUCED_TREE or INTRODUCED_BLOB) and the 20-byte id.
import { concatBytes, toHex, writeHexId } from './bytes.js'
import { CorruptObjectError, NotFoundError } from './errors.js'
import type { ObjectType, StoredObject } from './objects.js'
import type { ObjectReader, TreeNode } from './tree.js'

export const INTRODUCED_TREE = 2
export const INTRODUCED_BLOB = 3
/** Bytes per object in an entry. */
export const INTRODUCED_RECORD = 21
const RECORD = INTRODUCED_RECORD

/** One commit's entry of the index. */
export interface IntroducedEntry { commit: string; introduced: Uint8Array }


/**
 * The introduced objects of a commit whose tree is `tree` and whose first parent's tree is `parentTree`
 * (undefined for a root commit), encoded. Trees are read through `reader` (its cache first: at commit time
 * the new trees and the parent's are there already), or found in `unstored` (a commit's batch, not written yet).
 */
export async function introducedObjects(reader: ObjectReader, tree: string, parentTree: string | undefined, unstored?: readonly StoredObject[]): Promise<Uint8Array> {
  let made: Map<string, Uint8Array> | undefined
  /** A tree the reader's cache lacks (the callers look there first, without an await). */
  const nodeOf = async (id: string): Promise<TreeNode> => {
    if (unstored) {
      made ??= new Map(unstored.filter(o => o.type === 'tree').map(o => [o.id, o.body]))
      const body = made.get(id)
      if (body) return reader.nodeOf(id, body)
    }
    return reader.tree(id)
  }
  const kinds: number[] = []
  const ids: string[] = []
  const seen = new Set<string>()
  /** Trees listed, each with the tree at the same path in the parent (if any), whose entries are to compare. */
  const stack: (string | undefined)[] = []
  const list = (kind: number, id: string) => { seen.add(id); kinds.push(kind); ids.push(id) }
  if (tree !== parentTree) { list(INTRODUCED_TREE, tree); stack.push(tree, parentTree) }
  while (stack.length > 0) {
    const before = stack.pop(), id = stack.pop()!
    const node = reader.cachedTree(id) ?? await nodeOf(id)
    const old = before === undefined ? undefined : reader.cachedTree(before) ?? await nodeOf(before)
    node.entries.forEach((e, name) => {
      const o = old?.entries.get(name)
      const eid = e.id!
      if ((o !== undefined && o.id === eid) || seen.has(eid)) return // the parent has it here, or it is listed (at another path)
      if (e.kind === 'tree') { list(INTRODUCED_TREE, eid); stack.push(eid, o?.kind === 'tree' ? o.id : undefined) }
      else if (e.mode !== '160000') list(INTRODUCED_BLOB, eid) // a gitlink names a commit of another repository
    })
  }
  const out = new Uint8Array(RECORD * ids.length)
  for (let i = 0; i < ids.length; i++) {
    out[RECORD * i] = kinds[i]
    writeHexId(ids[i], out, RECORD * i + 1)
  }
  return out
}

/** True when `data` is a well-formed entry (whole records of known kinds). */
export function isIntroducedEntry(data: Uint8Array): boolean {
  if (data.length % RECORD !== 0) return false
  for (let at = 0; at < data.length; at += RECORD) {
    const k = data[at]
    if (k !== INTRODUCED_TREE && k !== INTRODUCED_BLOB) return false
  }
  return true
}

/** Call `visit` with each object of a well-formed entry: hex id and type. */
export function forEachIntroduced(data: Uint8Array, visit: (id: string, type: ObjectType) => void): void {
  for (let at = 0; at + RECORD <= data.length; at += RECORD) visit(toHex(data, at + 1, at + RECORD), data[at] === INTRODUCED_TREE ? 'tree' : 'blob')
}

/** One entry of a tree body, as positions in it. */
interface RawEntry { isTree: boolean; gitlink: boolean; name: number; nameEnd: number; id: number; next: number }

/** The entry of `body` at `at`, or undefined at the end; throws on a malformed body. */
function rawEntry(body: Uint8Array, at: number, treeId: string): RawEntry | undefined {
  if (at >= body.length) return undefined
  const sp = body.indexOf(0x20, at)
  const nul = sp < 0 ? -1 : body.indexOf(0, sp + 1)
  if (sp <= at || nul < 0 || nul + 21 > body.length) throw new CorruptObjectError(`tree ${treeId} is malformed`, { id: treeId, type: 'tree' })
  const isTree = sp - at === 5 && body[at] === 0x34 && body[at + 1] === 0x30 // 40000
  const gitlink = sp - at === 6 && body[at] === 0x31 && body[at + 1] === 0x36 // 160000
  return { isTree, gitlink, name: sp + 1, nameEnd: nul, id: nul + 1, next: nul + 21 }
}

/** Git's order of tree entries (a tree's name compares as if it ended in '/'). */
function compareEntries(a: Uint8Array, x: RawEntry, b: Uint8Array, y: RawEntry): number {
  const la = x.nameEnd - x.name, lb = y.nameEnd - y.name
  const n = Math.min(la, lb)
  for (let i = 0; i < n; i++) {
    const d = a[x.name + i] - b[y.name + i]
    if (d !== 0) return d
  }
  const ca = la > n ? a[x.name + n] : x.isTree ? 0x2f : 0
  const cb = lb > n ? b[y.name + n] : y.isTree ? 0x2f : 0
  return ca - cb
}

function sameId(a: Uint8Array, i: number, b: Uint8Array, j: number): boolean {
  for (let k = 0; k < 20; k++) if (a[i + k] !== b[j + k]) return false
  return true
}

/** Appends 21-byte records to a growing buffer. */
class Records {
  private parts: Uint8Array[] = []
  private cur = new Uint8Array(RECORD * 64)
  private used = 0
  push(kind: number, src: Uint8Array, at: number): void {
    if (this.used === this.cur.length) { this.parts.push(this.cur); this.cur = new Uint8Array(this.cur.length * 2); this.used = 0 }
    const c = this.cur, u = this.used
    c[u] = kind
    for (let k = 0; k < 20; k++) c[u + 1 + k] = src[at + k]
    this.used += RECORD
  }
  bytes(): Uint8Array {
    const last = this.cur.slice(0, this.used)
    return this.parts.length === 0 ? last : concatBytes([...this.parts, last])
  }
}

/**
 * The same entries as introducedObjects, for many commits (`tree` and first parent's `parentTree` each),
 * computed on tree bodies: level by level over all of them, each level's trees read with one `readMany`
 * (ids sorted: LevelDB then reads its blocks in order), and the two versions of a tree matched by a merge
 * of their entries' bytes (no decoded nodes). `readMany` gives undefined for a tree it lacks: NotFoundError.
 * This is what a server building the entries of thousands of received commits needs.
 */
export async function introducedFromBodies(readMany: (ids: string[]) => Promise<(Uint8Array | undefined)[]>,
  jobs: readonly { tree: string; parentTree: string | undefined }[]): Promise<Uint8Array[]> {
  const records = jobs.map(() => new Records())
  const seen = jobs.map(() => new Set<string>())
  /** Pairs to compare at this level: a tree of job `job` and the tree at its path in the parent, if any. */
  let level: { job: number; id: string; before: string | undefined }[] = []
  jobs.forEach((j, job) => { if (j.tree !== j.parentTree) level.push({ job, id: j.tree, before: j.parentTree }) })
  const rootBytes = new Uint8Array(20)
  for (const p of level) {
    writeHexId(p.id, rootBytes, 0)
    records[p.job].push(INTRODUCED_TREE, rootBytes, 0)
    seen[p.job].add(p.id)
  }
  while (level.length > 0) {
    const want = new Set<string>()
    for (const p of level) { want.add(p.id); if (p.before !== undefined) want.add(p.before) }
    const ids = [...want].sort()
    const got = await readMany(ids)
    const bodies = new Map<string, Uint8Array>()
    for (let i = 0; i < ids.length; i++) {
      if (got[i] === undefined) throw new NotFoundError('tree', ids[i])
      bodies.set(ids[i], got[i]!)
    }
    const next: typeof level = []
    for (const { job, id, before } of level) {
      const a = bodies.get(id)!
      const b = before === undefined ? undefined : bodies.get(before)!
      const out = records[job]
      let y = b === undefined ? undefined : rawEntry(b, 0, before!)
      for (let x = rawEntry(a, 0, id); x !== undefined; x = rawEntry(a, x.next, id)) {
        while (y !== undefined && compareEntries(b!, y, a, x) < 0) y = rawEntry(b!, y.next, before!)
        const same = y !== undefined && compareEntries(b!, y, a, x) === 0
        if (same && sameId(a, x.id, b!, y!.id)) continue
        if (x.isTree) {
          const sub = toHex(a, x.id, x.id + 20)
          if (seen[job].has(sub)) continue // listed at another path already: what it holds is covered from there
          seen[job].add(sub)
          out.push(INTRODUCED_TREE, a, x.id)
          next.push({ job, id: sub, before: same && y!.isTree ? toHex(b!, y!.id, y!.id + 20) : undefined })
        } else if (!x.gitlink) out.push(INTRODUCED_BLOB, a, x.id)
      }
    }
    level = next
  }
  return records.map(r => r.bytes())
}
