// The results table: larix's figure per row, the peers' figures, the ratios and whether the target is met.
import { readFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, release } from 'node:os'
import { median } from './measure.js'

export interface Row {
  id: string
  title: string
  unit: string
  /** Per-run figures (higher is better), one per measured run. */
  larix: number[]
  isogit: number[]
  git: number[]
  /** git with its default settings (fsync of packs on), for reference. */
  gitDefaults?: number[]
  /** larix must reach `factor` × git's figure. */
  target: number
  note?: string
}

export interface RowSummary {
  id: string
  title: string
  unit: string
  larix: number
  isogit: number
  git: number
  gitDefaults?: number
  vsIsogit: number
  vsGit: number
  target: string
  met: boolean
  note?: string
  runs: { larix: number[]; isogit: number[]; git: number[]; gitDefaults?: number[] }
}

export function summarise(rows: Row[]): RowSummary[] {
  return rows.map(r => {
    const larix = median(r.larix), isogit = median(r.isogit), git = median(r.git)
    const s: RowSummary = {
      id: r.id, title: r.title, unit: r.unit, larix, isogit, git,
      vsIsogit: larix / isogit, vsGit: larix / git,
      target: `≥ ${r.target}x git`, met: larix >= r.target * git,
      runs: { larix: r.larix, isogit: r.isogit, git: r.git },
    }
    if (r.gitDefaults) { s.gitDefaults = median(r.gitDefaults); s.runs.gitDefaults = r.gitDefaults }
    if (r.note) s.note = r.note
    return s
  })
}

const fmt = (x: number) => Math.round(x).toLocaleString('en-US')
const ratio = (x: number) => (x >= 10 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toFixed(3)) + 'x'

/** A plain-text table; the same layout goes into docs/PERFORMANCE.md. */
export function table(rows: RowSummary[], style: 'text' | 'markdown'): string {
  const right = (i: number) => (i >= 2 && i <= 6) || i === 9 || i === 10
  const head = ['row', 'unit', 'larix', 'isomorphic-git', 'git (tuned)', 'vs isomorphic-git', 'vs git (tuned)', 'target', 'met vs tuned', 'git (as installed)', 'vs git (as installed)', 'met vs as installed']
  const factor = (r: RowSummary) => Number(/≥ ([\d.]+)x/.exec(r.target)?.[1] ?? 1)
  const body = rows.map(r => [r.title, r.unit, fmt(r.larix), fmt(r.isogit), fmt(r.git), ratio(r.vsIsogit), ratio(r.vsGit), r.target, r.met ? 'yes' : 'NO',
    r.gitDefaults === undefined ? '-' : fmt(r.gitDefaults), r.gitDefaults === undefined ? '-' : ratio(r.larix / r.gitDefaults),
    r.gitDefaults === undefined ? '-' : r.larix >= factor(r) * r.gitDefaults ? 'yes' : 'NO'])
  if (style === 'markdown') {
    const line = (cells: string[]) => `| ${cells.join(' | ')} |`
    return [line(head), line(head.map((_, i) => (right(i) ? '---:' : '---'))), ...body.map(line)].join('\n')
  }
  const widths = head.map((h, i) => Math.max(h.length, ...body.map(b => b[i].length)))
  const line = (cells: string[]) => cells.map((c, i) => (right(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd()
  return [line(head), widths.map(w => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n')
}

export interface Machine {
  cpus: number; cpu: string; node: string; git: string; os: string; date: string
  /** The 1-minute load average when the run started: other work on the machine skews every figure. */
  load: number
  /** The larix source measured: `git describe --always --dirty` of the checkout. */
  source: string
}

export function machine(gitVersion: string, source: string): Machine {
  let cpu = cpus()[0]?.model ?? 'unknown'
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpu
  } catch { /* not Linux: os.cpus() has it */ }
  return { cpus: availableParallelism(), cpu, node: process.version, git: gitVersion, os: `${process.platform} ${release()}`, date: new Date().toISOString(), load: loadavg()[0], source }
}
