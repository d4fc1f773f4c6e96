// Three-way merge of trees, recursive by path. Subtrees with equal ids are never read; where only one side
// changed, that side's subtree is taken whole. Values changed on both sides go to the merger of their path.
import type { Codec } from '../contents.js'
import { formatPath } from '../path.js'
import { childNode, Draft, valueBytes } from '../tree.js'
import type { Entry, ObjectReader, SubtreeEntry, TreeNode, ValueEntry } from '../tree.js'
import { MODE_FILE } from '../objects.js'
import { MergeConflict } from './mergers.js'
import type { MergeRules } from './rules.js'

/** A directory on one side of a conflict (where the other side has a value). */
export interface TreeSide { tree: string }

/** What each side holds at a conflicting path. */
export type SideKind = 'value' | 'tree' | 'absent'

/** One path the merge could not settle. */
export interface Conflict<V = unknown> {
  path: string
  /** The decoded value on each side; a directory side is `{ tree: '<id>' }` (see `sides`), an absent one undefined. */
  base: V | TreeSide | undefined
  ours: V | TreeSide | undefined
  theirs: V | TreeSide | undefined
  reason: string
  /** Which sides hold a value, a directory or nothing: tells a directory side from a value shaped like `{ tree }`. */
  sides: { base: SideKind; ours: SideKind; theirs: SideKind }
}

function kindOf(e: Entry | undefined): SideKind {
  return e === undefined ? 'absent' : e.kind
}

export interface MergeContext<V> {
  reader: ObjectReader
  codec: Codec<V>
  rules: MergeRules
  draft: Draft
  conflicts: Conflict<V>[]
}

function same(a: Entry | undefined, b: Entry | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  if (a.kind !== b.kind || a.id === undefined || a.id !== b.id) return false
  return a.kind === 'tree' || a.mode === (b as ValueEntry).mode
}

async function side<V>(ctx: MergeContext<V>, e: Entry | undefined, path: string[]): Promise<V | TreeSide | undefined> {
  if (e === undefined) return undefined
  if (e.kind === 'tree') return { tree: e.id ?? '(new)' }
  try { return ctx.codec.decode(await valueBytes(ctx.reader, e, path)) } catch { return undefined }
}

async function addConflict<V>(ctx: MergeContext<V>, path: string[], eb: Entry | undefined, eo: Entry | undefined, et: Entry | undefined, reason: string): Promise<void> {
  ctx.conflicts.push({
    path: formatPath(path), base: await side(ctx, eb, path), ours: await side(ctx, eo, path), theirs: await side(ctx, et, path), reason,
    sides: { base: kindOf(eb), ours: kindOf(eo), theirs: kindOf(et) },
  })
}

const nodeOf = <V>(ctx: MergeContext<V>, e: Entry | undefined) => (e?.kind === 'tree' ? childNode(ctx.reader, e) : Promise.resolve(undefined))

/** Merge three versions of a directory (undefined: absent). Returns the merged node, undefined when empty. */
export async function mergeNodes<V>(ctx: MergeContext<V>, base: TreeNode | undefined, ours: TreeNode | undefined, theirs: TreeNode | undefined, path: string[] = []): Promise<TreeNode | undefined> {
  const id = (n: TreeNode | undefined) => n?.id
  if (base && ours && id(base) !== undefined && id(base) === id(ours)) return theirs
  if (base && theirs && id(base) !== undefined && id(base) === id(theirs)) return ours
  if (!base && !ours) return theirs
  if (!base && !theirs) return ours
  // Equal on both sides (and changed): take it, unless a merger below must see both changes (counters).
  if (ours && theirs && id(ours) !== undefined && id(ours) === id(theirs) && ctx.rules.idempotentUnder(path)) return ours
  const out = ctx.draft.newNode()
  const names = new Set<string>()
  for (const n of [base, ours, theirs]) if (n) for (const k of n.entries.keys()) names.add(k)
  for (const name of [...names].sort()) {
    const eb = base?.entries.get(name), eo = ours?.entries.get(name), et = theirs?.entries.get(name)
    // Most entries changed on one side at most: settle those here, without an await per entry.
    const r = same(eb, eo) ? et : same(eb, et) ? eo : await mergeEntry(ctx, eb, eo, et, [...path, name])
    if (r) out.entries.set(name, r)
  }
  return out.entries.size ? out : undefined
}

function asEntry(node: TreeNode | undefined): SubtreeEntry | undefined {
  if (!node) return undefined
  return node.owner === undefined && node.id !== undefined ? { kind: 'tree', id: node.id, node: undefined } : { kind: 'tree', id: undefined, node }
}

async function mergeEntry<V>(ctx: MergeContext<V>, eb: Entry | undefined, eo: Entry | undefined, et: Entry | undefined, path: string[]): Promise<Entry | undefined> {
  if (same(eb, eo)) return et
  if (same(eb, et)) return eo
  const isTree = (e: Entry | undefined) => e?.kind === 'tree'
  const isValue = (e: Entry | undefined) => e?.kind === 'value'
  if (same(eo, et) && (eo === undefined || (isTree(eo) ? ctx.rules.idempotentUnder(path) : ctx.rules.idempotentAt(path)))) return eo
  // Directories (or a directory against nothing): merge inside.
  if ((isTree(eo) || !eo) && (isTree(et) || !et)) {
    if (isValue(eb)) {
      // A value both sides replaced with a directory: merge the directories as added on both sides.
      if (eo && et) return asEntry(await mergeNodes(ctx, undefined, await nodeOf(ctx, eo), await nodeOf(ctx, et), path))
      await addConflict(ctx, path, eb, eo, et, 'one side deleted the value, the other made it a directory')
      return eo
    }
    return asEntry(await mergeNodes(ctx, await nodeOf(ctx, eb), await nodeOf(ctx, eo), await nodeOf(ctx, et), path))
  }
  if ((isValue(eo) || !eo) && (isValue(et) || !et) && !isTree(eb)) {
    return mergeValues(ctx, eb as ValueEntry | undefined, eo as ValueEntry | undefined, et as ValueEntry | undefined, path)
  }
  if (isValue(eo) && isValue(et)) {
    // The base was a directory; both sides replaced it with values: merge them as if added on both sides.
    return mergeValues(ctx, undefined, eo as ValueEntry, et as ValueEntry, path)
  }
  const reason = isTree(eo) ? 'ours has a directory where theirs has a value' : isTree(et) ? 'ours has a value where theirs has a directory' : 'one side deleted a directory, the other replaced it with a value'
  await addConflict(ctx, path, eb, eo, et, reason)
  return eo ?? et
}

function sidesOf(eb: Entry | undefined, eo: Entry | undefined, et: Entry | undefined): Conflict['sides'] {
  return { base: kindOf(eb), ours: kindOf(eo), theirs: kindOf(et) }
}

export async function mergeValues<V>(ctx: MergeContext<V>, eb: ValueEntry | undefined, eo: ValueEntry | undefined, et: ValueEntry | undefined, path: string[]): Promise<Entry | undefined> {
  let b: V | undefined, o: V | undefined, t: V | undefined
  try {
    b = eb && ctx.codec.decode(await valueBytes(ctx.reader, eb, path))
    o = eo && ctx.codec.decode(await valueBytes(ctx.reader, eo, path))
    t = et && ctx.codec.decode(await valueBytes(ctx.reader, et, path))
  } catch (e) {
    await addConflict(ctx, path, eb, eo, et, `cannot decode a side with the ${ctx.codec.name} codec: ${(e as Error).message}`)
    return eo ?? et
  }
  const merger = ctx.rules.mergerFor(path)
  let r: unknown
  try {
    r = await merger(b, o, t, { path: formatPath(path) })
  } catch (e) {
    ctx.conflicts.push({ path: formatPath(path), base: b, ours: o, theirs: t, reason: `the merger failed: ${(e as Error).message}`, sides: sidesOf(eb, eo, et) })
    return eo ?? et
  }
  if (r instanceof MergeConflict) {
    ctx.conflicts.push({ path: formatPath(path), base: b, ours: o, theirs: t, reason: r.reason, sides: sidesOf(eb, eo, et) })
    return eo ?? et
  }
  if (r === undefined) return undefined
  let data: Uint8Array
  try { data = ctx.codec.encode(r as V) } catch (e) {
    ctx.conflicts.push({ path: formatPath(path), base: b, ours: o, theirs: t, reason: `the merger returned a value the ${ctx.codec.name} codec cannot encode: ${(e as Error).message}`, sides: sidesOf(eb, eo, et) })
    return eo ?? et
  }
  return { kind: 'value', mode: MODE_FILE, id: undefined, data }
}
