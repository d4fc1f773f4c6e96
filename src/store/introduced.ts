// The "introduced objects" of a commit, the index that lets a server send a pack without walking trees
// (what Git's reachability bitmaps are for). For commit c: the trees and blobs of c's tree that are not at
// the same path in its first parent's tree (all of them for a root commit). Everything c reaches is either
// listed or reachable from its first parent, so by induction the union over a set of commits closed under
// ancestry (down to commits the other side has) covers everything they reach. It may list a few objects
// the parent has elsewhere (a file moved, a revert): a superset, which only costs bytes.
//
// Encoding: records of 21 bytes, a kind byte (INTRODUCED_TREE or INTRODUCED_BLOB) and the 20-byte id.
import { toHex, writeHexId } from './bytes.js'
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
