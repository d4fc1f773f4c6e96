// Which merger a path gets: glob rules over path segments (`*` is one segment or part of one, `**` any
// number of segments). The most specific rule wins: more literal segments first, then fewer `**`, then
// fewer wildcards, then the longer pattern.
import { BadArgumentError } from '../errors.js'
import type { Merger } from './mergers.js'
import { json } from './mergers.js'

interface Rule { pattern: string; parts: string[]; merger: Merger; score: number[] }

function segmentRegex(seg: string): RegExp {
  return new RegExp('^' + seg.split('*').map(s => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*') + '$')
}

function matches(parts: readonly string[], path: readonly string[], i = 0, j = 0): boolean {
  if (i === parts.length) return j === path.length
  if (parts[i] === '**') {
    for (let k = j; k <= path.length; k++) if (matches(parts, path, i + 1, k)) return true
    return false
  }
  if (j === path.length) return false
  const p = parts[i]
  if (p.includes('*') ? !segmentRegex(p).test(path[j]) : p !== path[j]) return false
  return matches(parts, path, i + 1, j + 1)
}

/** Could `parts` match some path strictly below the directory `prefix`? */
function couldMatchBelow(parts: readonly string[], prefix: readonly string[], i = 0, j = 0): boolean {
  if (j === prefix.length) return i < parts.length
  if (i === parts.length) return false
  if (parts[i] === '**') return couldMatchBelow(parts, prefix, i + 1, j) || couldMatchBelow(parts, prefix, i, j + 1)
  const p = parts[i]
  if (p.includes('*') ? !segmentRegex(p).test(prefix[j]) : p !== prefix[j]) return false
  return couldMatchBelow(parts, prefix, i + 1, j + 1)
}

/** Compiled merge rules. */
export class MergeRules {
  private readonly rules: Rule[]
  private readonly cache = new Map<string, Merger>()
  constructor(spec: Record<string, Merger> = {}, private readonly fallback: Merger = json) {
    if (typeof spec !== 'object' || spec === null) throw new BadArgumentError('merge rules are an object of glob → merger', 'merge')
    this.rules = Object.entries(spec).map(([pattern, merger]) => {
      if (typeof merger !== 'function') throw new BadArgumentError(`the merger for ${JSON.stringify(pattern)} is not a function`, 'merge')
      const parts = pattern.split('/').filter(p => p !== '')
      if (parts.length === 0) throw new BadArgumentError(`empty merge rule pattern ${JSON.stringify(pattern)}`, 'merge')
      const literal = parts.filter(p => !p.includes('*')).length
      const globstars = parts.filter(p => p === '**').length
      const wild = parts.filter(p => p.includes('*')).length
      return { pattern, parts, merger, score: [literal, -globstars, -wild, pattern.length] }
    })
    this.rules.sort((a, b) => {
      for (let i = 0; i < a.score.length; i++) if (a.score[i] !== b.score[i]) return b.score[i] - a.score[i]
      return a.pattern < b.pattern ? -1 : 1
    })
  }

  /**
   * True when, under the directory `prefix`, every value's merger is idempotent, so that two sides with
   * equal content there merge to it without being read.
   */
  idempotentUnder(prefix: readonly string[]): boolean {
    if (this.fallback.idempotent !== true) return false
    for (const r of this.rules) if (r.merger.idempotent !== true && couldMatchBelow(r.parts, prefix)) return false
    return true
  }

  /** True when the merger for the value at `path` is idempotent. */
  idempotentAt(path: readonly string[]): boolean {
    return this.mergerFor(path).idempotent === true
  }

  /** The merger for a path (segments). */
  mergerFor(path: readonly string[]): Merger {
    const k = path.join('/')
    const hit = this.cache.get(k)
    if (hit) return hit
    const m = this.rules.find(r => matches(r.parts, path))?.merger ?? this.fallback
    if (this.cache.size > 10_000) this.cache.clear()
    this.cache.set(k, m)
    return m
  }
}
