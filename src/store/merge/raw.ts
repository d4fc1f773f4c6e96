// The three-way tree merge on Git's own bytes: the fast path of mergeNodes (trees.ts) for trees that are all
// stored. The three tree bodies are walked side by side in Git's entry order, comparing names and 20-byte ids
// as bytes; entries that at most one side changed are copied as they are, so a tree where both sides changed
// different keys is merged without decoding a name, an id or a node. Only entries both sides changed are
// looked at: subtrees recurse here, values go to the path's merger (mergeValues, as in trees.ts). Anything
// unusual — a name that is a value on one side and a directory on another, a mode other than 100644/40000 —
// hands that directory to mergeNodes, so the result (tree id and conflicts) is the same as mergeNodes gives.
import { toHex, utf8, writeHexId } from '../bytes.js'
import { CorruptObjectError } from '../errors.js'
import { EMPTY_TREE_ID, MODE_FILE, objectId } from '../objects.js'
import type { StoredObject } from '../objects.js'
import { Draft } from '../tree.js'
import type { TreeNode, ValueEntry } from '../tree.js'
import { mergeNodes, mergeValues } from './trees.js'
import type { MergeContext } from './trees.js'

/** The entries of one tree body, as offsets: no strings are made. */
interface RawTree {
  body: Uint8Array
  n: number
  /** Where each entry starts (its mode), where its name starts and ends (the NUL); the id follows the NUL. */
  start: Int32Array
  name: Int32Array
  nul: Int32Array
  tree: Uint8Array
}

const FILE_MODE = utf8(MODE_FILE + ' ')
const TREE_MODE = utf8('40000 ')

/** Parse a tree body; undefined when it holds a mode this fast path leaves to mergeNodes. */
function parseRaw(id: string, body: Uint8Array): RawTree | undefined {
  // Entries are at least 28 bytes ("40000 x\0" + 20); size the arrays for the most there can be.
  const max = Math.ceil(body.length / 28) + 1
  const t: RawTree = { body, n: 0, start: new Int32Array(max), name: new Int32Array(max), nul: new Int32Array(max), tree: new Uint8Array(max) }
  let i = 0
  while (i < body.length) {
    let isTree: number
    if (body[i] === 0x31 && body[i + 1] === 0x30 && body[i + 2] === 0x30 && body[i + 3] === 0x36 && body[i + 4] === 0x34 && body[i + 5] === 0x34 && body[i + 6] === 0x20) isTree = 0
    else if (body[i] === 0x34 && body[i + 1] === 0x30 && body[i + 2] === 0x30 && body[i + 3] === 0x30 && body[i + 4] === 0x30 && body[i + 5] === 0x20) isTree = 1
    else return undefined
    const nameAt = i + (isTree ? 6 : 7)
    const nul = body.indexOf(0, nameAt)
    if (nul < 0 || nul === nameAt || nul + 21 > body.length) throw new CorruptObjectError(`tree ${id} has a truncated entry`, { id, type: 'tree' })
    if (t.n === max) throw new CorruptObjectError(`tree ${id} is malformed`, { id, type: 'tree' })
    t.start[t.n] = i
    t.name[t.n] = nameAt
    t.nul[t.n] = nul
    t.tree[t.n] = isTree
    t.n++
    i = nul + 21
  }
  return t
}

/** Git's order of entry `i` of `a` against entry `j` of `b`: names as bytes, a directory's name followed by '/'. */
function compareEntries(a: RawTree, i: number, b: RawTree, j: number): number {
  const ab = a.body, bb = b.body
  let p = a.name[i]!, q = b.name[j]!
  const pe = a.nul[i]!, qe = b.nul[j]!
  while (p < pe && q < qe) {
    const d = ab[p]! - bb[q]!
    if (d !== 0) return d
    p++; q++
  }
  const c1 = p < pe ? ab[p]! : a.tree[i] ? 0x2f : 0
  const c2 = q < qe ? bb[q]! : b.tree[j] ? 0x2f : 0
  return c1 - c2
}

function sameName(a: RawTree, i: number, b: RawTree, j: number): boolean {
  const len = a.nul[i]! - a.name[i]!
  if (b.nul[j]! - b.name[j]! !== len) return false
  const ab = a.body, bb = b.body, p = a.name[i]!, q = b.name[j]!
  for (let k = 0; k < len; k++) if (ab[p + k] !== bb[q + k]) return false
  return true
}

/** Same kind, same id (modes are implied by the kind here). */
function sameEntry(a: RawTree, i: number, b: RawTree, j: number): boolean {
  if (a.tree[i] !== b.tree[j]) return false
  const ab = a.body, bb = b.body, p = a.nul[i]! + 1, q = b.nul[j]! + 1
  for (let k = 0; k < 20; k++) if (ab[p + k] !== bb[q + k]) return false
  return true
}

/** True when some tree holds entry `i` of `a`'s name with the other kind (a value against a directory). */
function kindClash(a: RawTree, i: number, trees: readonly (RawTree | undefined)[]): boolean {
  for (const t of trees) {
    if (!t) continue
    for (let j = 0; j < t.n; j++) if (t.tree[j] !== a.tree[i] && sameName(a, i, t, j)) return true
  }
  return false
}

const nameOf = (t: RawTree, i: number) => new TextDecoder().decode(t.body.subarray(t.name[i]!, t.nul[i]!))
const idOf = (t: RawTree, i: number) => toHex(t.body, t.nul[i]! + 1, t.nul[i]! + 21)

/** Where the fast path puts the trees and blobs it makes (they are not in the store yet). */
export interface RawMergeContext<V> extends MergeContext<V> {
  made: StoredObject[]
}

class Fallback extends Error {}

async function rawTree<V>(ctx: RawMergeContext<V>, id: string | undefined): Promise<RawTree | undefined> {
  if (id === undefined || id === EMPTY_TREE_ID) return undefined
  const o = await ctx.reader.object(id, 'tree')
  const t = parseRaw(id, o.body)
  if (!t) throw new Fallback()
  return t
}

/** A tree the fast path made, or the same merge done by mergeNodes for a directory it leaves to it. */
async function slowPath<V>(ctx: RawMergeContext<V>, base: string | undefined, ours: string | undefined, theirs: string | undefined, path: string[]): Promise<string | undefined> {
  const node = (id: string | undefined) => (id === undefined ? Promise.resolve(undefined) : ctx.reader.tree(id))
  const draft = new Draft(ctx.reader, { id: undefined, entries: new Map(), owner: undefined })
  const sub: MergeContext<V> = { ...ctx, draft }
  const merged = await mergeNodes(sub, await node(base), await node(ours), await node(theirs), path)
  if (!merged) return undefined
  draft.root = merged
  const { id, objects } = draft.seal()
  for (const o of objects) ctx.made.push(o)
  return id
}

/**
 * Merge three trees given by id (undefined: absent) and return the merged tree's id (undefined: empty). New
 * objects go to `ctx.made`; conflicts to `ctx.conflicts`, as mergeNodes reports them.
 */
export async function mergeTreeIds<V>(ctx: RawMergeContext<V>, base: string | undefined, ours: string | undefined, theirs: string | undefined, path: string[] = []): Promise<string | undefined> {
  if (base === EMPTY_TREE_ID) base = undefined
  if (ours === EMPTY_TREE_ID) ours = undefined
  if (theirs === EMPTY_TREE_ID) theirs = undefined
  if (base !== undefined && base === ours) return theirs
  if (base !== undefined && base === theirs) return ours
  if (base === undefined && ours === undefined) return theirs
  if (base === undefined && theirs === undefined) return ours
  if (ours !== undefined && ours === theirs && ctx.rules.idempotentUnder(path)) return ours
  const conflicts = ctx.conflicts.length, made = ctx.made.length
  try {
    return await mergeRaw(ctx, base, ours, theirs, path)
  } catch (e) {
    if (!(e instanceof Fallback)) throw e
    // Start this directory over on the slow path: forget what the fast one reported or made below it.
    ctx.conflicts.length = conflicts
    ctx.made.length = made
    return slowPath(ctx, base, ours, theirs, path)
  }
}

async function mergeRaw<V>(ctx: RawMergeContext<V>, baseId: string | undefined, oursId: string | undefined, theirsId: string | undefined, path: string[]): Promise<string | undefined> {
  const b = await rawTree(ctx, baseId), o = await rawTree(ctx, oursId), t = await rawTree(ctx, theirsId)
  const all = [b, o, t]
  const parts: Uint8Array[] = []
  let size = 0
  const copy = (x: RawTree, i: number) => {
    const piece = x.body.subarray(x.start[i]!, x.nul[i]! + 21)
    parts.push(piece)
    size += piece.length
  }
  const emit = (isTree: boolean, name: Uint8Array, id: string) => {
    const mode = isTree ? TREE_MODE : FILE_MODE
    const piece = new Uint8Array(mode.length + name.length + 21)
    piece.set(mode, 0)
    piece.set(name, mode.length)
    const at = mode.length + name.length + 1
    writeHexId(id, piece, at)
    parts.push(piece)
    size += piece.length
  }
  let ib = 0, io = 0, it = 0
  const nb = b?.n ?? 0, no = o?.n ?? 0, nt = t?.n ?? 0
  while (ib < nb || io < no || it < nt) {
    // The smallest entry among the three cursors, in Git's order; which sides hold it.
    let lead: RawTree | undefined, li = 0
    if (ib < nb) { lead = b; li = ib }
    if (io < no && (!lead || compareEntries(o!, io, lead, li) < 0)) { lead = o; li = io }
    if (it < nt && (!lead || compareEntries(t!, it, lead, li) < 0)) { lead = t; li = it }
    const hb = ib < nb && compareEntries(b!, ib, lead!, li) === 0
    const ho = io < no && compareEntries(o!, io, lead!, li) === 0
    const ht = it < nt && compareEntries(t!, it, lead!, li) === 0
    const cb = ib, co = io, ct = it
    if (hb) ib++
    if (ho) io++
    if (ht) it++
    // A name added or deleted somewhere may be a value on one side and a directory on another: mergeNodes' rules.
    if (!(hb && ho && ht) && kindClash(lead!, li, all)) throw new Fallback()
    const baseOurs = hb ? ho && sameEntry(b!, cb, o!, co) : !ho
    const baseTheirs = hb ? ht && sameEntry(b!, cb, t!, ct) : !ht
    if (baseOurs) { if (ht) copy(t!, ct); continue }
    if (baseTheirs) { if (ho) copy(o!, co); continue }
    const isTree = lead!.tree[li] === 1
    const name = nameOf(lead!, li)
    const sub = [...path, name]
    const oursSame = ho ? ht && sameEntry(o!, co, t!, ct) : !ht
    if (oursSame && (!ho || (isTree ? ctx.rules.idempotentUnder(sub) : ctx.rules.idempotentAt(sub)))) { if (ho) copy(o!, co); continue }
    const nameBytes = lead!.body.subarray(lead!.name[li]!, lead!.nul[li]!)
    if (isTree) {
      const id = await mergeTreeIds(ctx, hb ? idOf(b!, cb) : undefined, ho ? idOf(o!, co) : undefined, ht ? idOf(t!, ct) : undefined, sub)
      if (id !== undefined) emit(true, nameBytes, id)
      continue
    }
    const value = (x: RawTree | undefined, has: boolean, i: number): ValueEntry | undefined => (has ? { kind: 'value', mode: MODE_FILE, id: idOf(x!, i), data: undefined } : undefined)
    const r = await mergeValues(ctx, value(b, hb, cb), value(o, ho, co), value(t, ht, ct), sub)
    if (r === undefined) continue
    if (r.kind !== 'value') throw new Fallback()
    let id = r.id
    if (r.data !== undefined) {
      id ??= objectId('blob', r.data)
      ctx.made.push({ id, type: 'blob', body: r.data })
      ctx.reader.rememberBlob(id, r.data)
    }
    emit(false, nameBytes, id!)
  }
  if (size === 0) return undefined
  const body = new Uint8Array(size)
  let at = 0
  for (const p of parts) { body.set(p, at); at += p.length }
  const id = objectId('tree', body)
  ctx.made.push({ id, type: 'tree', body })
  return id
}

/** The node of a tree this merge made (not stored yet), or of a stored one. */
export async function madeNode<V>(ctx: RawMergeContext<V>, id: string): Promise<TreeNode> {
  for (let i = ctx.made.length - 1; i >= 0; i--) {
    const o = ctx.made[i]!
    if (o.id === id && o.type === 'tree') return ctx.reader.nodeOf(id, o.body)
  }
  return ctx.reader.tree(id)
}
