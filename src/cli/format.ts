// Plain-text renderings for people. Scripts use --json, which prints the data these are made from.
import type { Commit, Conflict, ListEntry } from '../store/index.js'

/** A commit time as ISO 8601 in the committer's own time zone, e.g. `2024-05-01T14:03:09+02:00`. */
export function isoDate(timestamp: number, timezoneOffset: number): string {
  const local = new Date((timestamp + timezoneOffset * 60) * 1000).toISOString().slice(0, 19)
  if (timezoneOffset === 0) return local + 'Z'
  const abs = Math.abs(timezoneOffset)
  const hh = String(Math.floor(abs / 60)).padStart(2, '0'), mm = String(abs % 60).padStart(2, '0')
  return `${local}${timezoneOffset < 0 ? '-' : '+'}${hh}:${mm}`
}

const firstLine = (message: string) => message.split('\n', 1)[0]

/** One line of `larix log`: full id (so it can be fed to reset and show), date, subject. */
export function logLine(c: Commit): string {
  return `${c.id} ${isoDate(c.info.timestamp, c.info.timezoneOffset)} ${firstLine(c.info.message)}`
}

/** What a write prints: `[main <id>] subject`. */
export function commitLine(branch: string, c: Commit): string {
  return `[${branch} ${c.id}] ${firstLine(c.info.message)}`
}

/** A value on one line, as JSON. */
export const compact = (v: unknown): string => JSON.stringify(v)

/** A value for reading, as indented JSON. */
export const pretty = (v: unknown): string => JSON.stringify(v, null, 2)

export function listLine(e: ListEntry): string {
  return e.kind === 'tree' ? e.name + '/' : e.name
}

/** One change a commit made: a value added, removed or changed. */
export interface Change {
  path: string
  op: 'add' | 'remove' | 'change'
  before?: unknown
  after?: unknown
}

/** `larix show`: a Git-like header, then one line per change (`+` added, `-` removed, `~` changed). */
export function showText(c: Commit, changes: readonly Change[]): string[] {
  const lines = [`commit ${c.id}`]
  if (c.parents.length > 1) lines.push(`Merge: ${c.parents.join(' ')}`)
  else if (c.parents.length === 1) lines.push(`Parent: ${c.parents[0]}`)
  lines.push(`Author: ${c.info.author}`)
  if (c.info.committer !== c.info.author) lines.push(`Committer: ${c.info.committer}`)
  lines.push(`Date:   ${isoDate(c.info.timestamp, c.info.timezoneOffset)}`, '')
  for (const l of c.info.message.split('\n')) lines.push(l ? '    ' + l : '')
  lines.push('')
  if (changes.length === 0) lines.push('(no changes)')
  for (const ch of changes) {
    if (ch.op === 'add') lines.push(`+ ${ch.path} ${compact(ch.after)}`)
    else if (ch.op === 'remove') lines.push(`- ${ch.path} ${compact(ch.before)}`)
    else lines.push(`~ ${ch.path} ${compact(ch.before)} -> ${compact(ch.after)}`)
  }
  return lines
}

/** Quote an argument for a POSIX shell, so printed commands can be pasted back. */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`
}

/** One side of a conflict: the value as compact JSON, `(absent)`, or `(directory <id>)`. */
export function conflictSide(v: unknown, kind: 'value' | 'tree' | 'absent'): string {
  if (kind === 'absent' || v === undefined) return '(absent)'
  if (kind === 'tree') return `(directory ${(v as { tree: string }).tree})`
  return compact(v) ?? String(v)
}

/** The conflicts path by path: `CONFLICT path: reason`, then base, ours and theirs indented below. */
export function conflictLines(conflicts: readonly Conflict[]): string[] {
  const lines: string[] = []
  for (const c of conflicts) {
    lines.push(`CONFLICT ${c.path}: ${c.reason}`)
    lines.push(`  base:   ${conflictSide(c.base, c.sides.base)}`, `  ours:   ${conflictSide(c.ours, c.sides.ours)}`, `  theirs: ${conflictSide(c.theirs, c.sides.theirs)}`)
  }
  return lines
}

/** A commit on one line for the graph, as `git log --oneline`: short id, branch heads there, subject. */
export function onelineLine(c: Commit, heads: readonly string[] = []): string {
  return `${c.id.slice(0, 12)}${heads.length ? ` (${heads.join(', ')})` : ''} ${firstLine(c.info.message)}`
}
