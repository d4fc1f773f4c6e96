// Mergers: how one value is merged when both sides changed it. A merger gets the base, ours and theirs
// (undefined for absent: added on both sides, or deleted on one) and returns the merged value, `undefined`
// to delete, or `conflict(reason)`.
import { canonicalJson } from '../contents.js'
import { mergeText } from './diff3.js'

/** What a merger returns when it cannot merge. */
export class MergeConflict {
  constructor(readonly reason: string) {}
}

/** Build the conflict answer of a merger. */
export function conflict(reason: string): MergeConflict {
  return new MergeConflict(reason)
}

export interface MergeContext {
  /** The path of the value, `a/b/c`. */
  path: string
}

/**
 * Merge one value three ways. May be async. A merger is called whenever both sides changed a value, even to
 * the same thing (two increments of a counter from 10 to 15 make 20), unless it is marked `idempotent`:
 * then equal sides are taken as they are without calling it. The built-ins other than `counter` are.
 */
export type Merger<V = any> = ((base: V | undefined, ours: V | undefined, theirs: V | undefined, ctx: MergeContext) =>
  V | undefined | MergeConflict | Promise<V | undefined | MergeConflict>) & { idempotent?: boolean }

/** Mark a merger idempotent: equal sides merge to that side without calling it. */
export function idempotent<V>(m: Merger<V>): Merger<V> {
  m.idempotent = true
  return m
}

function key(v: unknown): string {
  return v instanceof Uint8Array ? 'bytes:' + Array.from(v).join(',') : canonicalJson(v)
}
function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (a === undefined || b === undefined) return false
  try { return key(a) === key(b) } catch { return false }
}
function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)
}
function deleteModify(base: unknown, ours: unknown, theirs: unknown, where: string): MergeConflict | undefined {
  if (base !== undefined && (ours === undefined || theirs === undefined)) {
    return conflict(`${ours === undefined ? 'ours' : 'theirs'} deleted ${where} while the other side changed it`)
  }
  return undefined
}

/** Where inside a JSON value, for people: `title`, `a.b[2]`… or "the value" at the top. */
function at(where: string): string {
  return where === '' ? 'the value' : where.replace(/^\./, '')
}

function jsonMerge(base: unknown, ours: unknown, theirs: unknown, where: string): unknown {
  if (equal(ours, theirs)) return ours
  if (equal(base, ours)) return theirs
  if (equal(base, theirs)) return ours
  if (isObject(ours) && isObject(theirs) && (base === undefined || isObject(base))) {
    const out: Record<string, unknown> = {}
    const keys = new Set([...Object.keys(ours), ...Object.keys(theirs), ...(base ? Object.keys(base) : [])])
    for (const k of [...keys].sort()) {
      const get = (o: Record<string, unknown> | undefined) => (o && Object.hasOwn(o, k) ? o[k] : undefined)
      const r = jsonMerge(get(base as Record<string, unknown> | undefined), get(ours), get(theirs), `${where}.${k}`)
      if (r instanceof MergeConflict) return r
      if (r !== undefined) Object.defineProperty(out, k, { value: r, enumerable: true, writable: true, configurable: true })
    }
    return out
  }
  const dm = deleteModify(base, ours, theirs, at(where))
  if (dm) return dm
  return conflict(base === undefined ? `both sides added different values at ${at(where)}` : `both sides changed ${at(where)}`)
}

/**
 * The laws every built-in keeps before its own rule: equal sides merge to that side, and a side unchanged
 * from the base yields the other side (a deletion included).
 */
function structural<V>(rule: Merger<V>, { sameSidesMerge = true } = {}): Merger<V> {
  const m: Merger<V> = (base, ours, theirs, ctx) => {
    if (sameSidesMerge && equal(ours, theirs)) return ours
    if (equal(base, ours)) return theirs
    if (equal(base, theirs)) return ours
    return rule(base, ours, theirs, ctx)
  }
  m.idempotent = sameSidesMerge
  return m
}

/** Recursive per-key JSON merge: objects merge key by key; arrays and scalars are values (both changed: conflict). */
export const json: Merger = idempotent((base, ours, theirs) => jsonMerge(base, ours, theirs, ''))

/**
 * A counter: the base plus both sides' deltas (the same change on both sides counts twice: they are two
 * increments). Absent at the base counts as 0.
 */
export const counter: Merger<number> = structural((base, ours, theirs, ctx) => {
  const dm = deleteModify(base, ours, theirs, ctx.path)
  if (dm) return dm
  const b = base ?? 0
  for (const [side, v] of [['base', b], ['ours', ours], ['theirs', theirs]] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v)) return conflict(`${side} is not a counter (a finite number)`)
  }
  // (ours + theirs) - base: the same bits whichever side is ours (IEEE addition commutes).
  const r = (ours! + theirs!) - b
  return Number.isFinite(r) ? r : conflict('the counter overflows')
}, { sameSidesMerge: false })

/** A last-writer-wins register: `{ timestamp, value, replica? }`. */
export interface LwwRegister<T = unknown> { timestamp: number; value: T; replica?: string }

function isRegister(v: unknown): v is LwwRegister {
  return isObject(v) && typeof v.timestamp === 'number' && Number.isFinite(v.timestamp) && Object.hasOwn(v, 'value') &&
    (v.replica === undefined || typeof v.replica === 'string')
}

/**
 * Last writer wins: the register with the larger timestamp; on a tie the larger replica name, then the
 * larger canonical JSON, so every replica picks the same one whatever the order of merges.
 */
export const lww: Merger<LwwRegister> = structural((base, ours, theirs, ctx) => {
  const dm = deleteModify(base, ours, theirs, ctx.path)
  if (dm) return dm
  if (!isRegister(ours) || !isRegister(theirs)) return conflict('not an lww register ({ timestamp, value, replica? })')
  if (ours.timestamp !== theirs.timestamp) return ours.timestamp > theirs.timestamp ? ours : theirs
  const ro = ours.replica ?? '', rt = theirs.replica ?? ''
  if (ro !== rt) return ro > rt ? ours : theirs
  return key(ours) >= key(theirs) ? ours : theirs
})

/**
 * A set (a JSON array, kept sorted and without duplicates): an element of the base stays only if both sides
 * kept it; an element added on either side is in. The result does not depend on the order of merges.
 */
export const set: Merger<unknown[]> = structural((base, ours, theirs, ctx) => {
  const dm = deleteModify(base, ours, theirs, ctx.path)
  if (dm) return dm
  const b = base ?? []
  if (!Array.isArray(b) || !Array.isArray(ours) || !Array.isArray(theirs)) return conflict('not a set (an array)')
  const kb = new Set(b.map(key)), ko = new Map(ours.map(v => [key(v), v])), kt = new Map(theirs.map(v => [key(v), v]))
  const out = new Map<string, unknown>()
  for (const [k, v] of ko) if (kt.has(k) || !kb.has(k)) out.set(k, v)
  for (const [k, v] of kt) if (!kb.has(k)) out.set(k, v)
  return [...out].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)).map(([, v]) => v)
})

/** Text merged line by line (diff3); overlapping different changes conflict. */
export const text: Merger<string> = structural((base, ours, theirs, ctx) => {
  const dm = deleteModify(base, ours, theirs, ctx.path)
  if (dm) return dm
  const b = base ?? ''
  if (typeof b !== 'string' || typeof ours !== 'string' || typeof theirs !== 'string') return conflict('not text (a string)')
  const r = mergeText(b, ours, theirs)
  return r.ok ? r.text : conflict(`both sides changed the lines from line ${r.line + 1}`)
})

/** Opaque values: equal sides merge, anything else conflicts. */
export const bytes: Merger = structural((base, ours, theirs, ctx) =>
  deleteModify(base, ours, theirs, ctx.path) ?? conflict('both sides changed an opaque value'))

export const mergers = { json, counter, lww, set, text, bytes, conflict, idempotent }
