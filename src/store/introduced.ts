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
  const nodeOf = async (id: string): Promise<TreeNode> => {
    const hit = reader.cachedTree(id)
    if (hit) return hit
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
  // `id` is a tree that differs from `before` (the tree at the same path in the parent, if any).
  const visit = async (id: string, before: string | undefined): Promise<void> => {
    if (seen.has(id)) return // listed at another path already: what it holds is covered from there
    seen.add(id)
    kinds.push(INTRODUCED_TREE)
    ids.push(id)
    const node = await nodeOf(id)
    const old = before === undefined ? undefined : await nodeOf(before)
    for (const [name, e] of node.entries) {
      const o = old?.entries.get(name)
      if (o !== undefined && o.id === e.id) continue
      if (e.kind === 'tree') await visit(e.id!, o?.kind === 'tree' ? o.id : undefined)
      else if (e.mode !== '160000' && !seen.has(e.id!)) { // a gitlink names a commit of another repository
        seen.add(e.id!)
        kinds.push(INTRODUCED_BLOB)
        ids.push(e.id!)
      }
    }
  }
  if (tree !== parentTree) await visit(tree, parentTree)
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

/**
 * The same entry as introducedObjects, computed on the tree bodies as `read` returns them (no decoded
 * nodes: entries of the two versions of a tree are matched by a merge on their bytes, which is what a
 * server building entries for thousands of received commits needs). `read` throws or returns undefined
 * for a missing tree (undefined: NotFoundError).
 */
export async function introducedFromBodies(read: (id: string) => Promise<Uint8Array | undefined>, tree: string, parentTree: string | undefined): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let cur = new Uint8Array(RECORD * 256)
  let used = 0
  const push = (kind: number, src: Uint8Array, at: number) => {
    if (used === cur.length) { parts.push(cur); cur = new Uint8Array(cur.length * 2); used = 0 }
    cur[used] = kind
    for (let k = 0; k < 20; k++) cur[used + 1 + k] = src[at + k]
    used += RECORD
  }
  const seenTrees = new Set<string>()
  const body = async (id: string) => {
    const b = await read(id)
    if (b === undefined) throw new NotFoundError('tree', id)
    return b
  }
  const visit = async (id: string, idBytes: Uint8Array, idAt: number, before: string | undefined): Promise<void> => {
    if (seenTrees.has(id)) return
    seenTrees.add(id)
    push(INTRODUCED_TREE, idBytes, idAt)
    const a = await body(id)
    const b = before === undefined ? undefined : await body(before)
    let y = b === undefined ? undefined : rawEntry(b, 0, before!)
    for (let x = rawEntry(a, 0, id); x !== undefined; x = rawEntry(a, x.next, id)) {
      while (y !== undefined && compareEntries(b!, y, a, x) < 0) y = rawEntry(b!, y.next, before!)
      const same = y !== undefined && compareEntries(b!, y, a, x) === 0
      if (same && sameId(a, x.id, b!, y!.id)) continue
      if (x.isTree) await visit(toHex(a, x.id, x.id + 20), a, x.id, same && y!.isTree ? toHex(b!, y!.id, y!.id + 20) : undefined)
      else if (!x.gitlink) push(INTRODUCED_BLOB, a, x.id)
    }
  }
  if (tree !== parentTree) {
    const rootBytes = new Uint8Array(20)
    writeHexId(tree, rootBytes, 0)
    await visit(tree, rootBytes, 0, parentTree)
  }
  parts.push(cur.subarray(0, used))
  return parts.length === 1 ? parts[0].slice() : concatBytes(parts)
}
