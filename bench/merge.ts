// Issue 3's rows: a merge on a 100,000-key tree against `git merge-tree --write-tree`, and an LCA search between
// heads 10,000 commits apart against `git merge-base`. Same content in both stores; the merged trees must match.
import { Repo, levelBackend } from '../src/index.js'
import { makeDataSet } from './data.js'
import type { Value } from './data.js'
import { git, median, run, timed } from './measure.js'

const enc = new TextEncoder()
const IDENT = 'Bench <bench@example.org>'
/** Merge rounds run before the measured ones, for both larix and git. */
const WARMUP_ROUNDS = 2
const TUNED = { args: ['-c', 'core.fsync=none'], env: { GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=268435456' } }

export interface MergeFigures {
  larixMergeMs: number[]
  gitMergeTreeMs: number[]
  larixLcaColdMs: number[]
  larixLcaWarmMs: number[]
  gitMergeBaseMs: number[]
  keys: number
  changesPerSide: number
  chain: number
}

/** A changed value, keys in sorted order so JSON.stringify is canonical JSON (what larix stores). */
function changed(v: Value, side: string): Value & { side: string } {
  return { id: v.id, note: v.note, rev: v.rev + 1, score: v.score, side, tags: v.tags }
}

function data(body: Uint8Array | string): Uint8Array[] {
  const b = typeof body === 'string' ? enc.encode(body) : body
  return [enc.encode(`data ${b.length}\n`), b, enc.encode('\n')]
}

/** fast-import stream: the base commit on main, then one commit on main and one on feature, each changing its keys. */
function gitMergeStream(paths: string[], base: Uint8Array[], a: [number, Uint8Array][], b: [number, Uint8Array][]): Uint8Array {
  const parts: Uint8Array[] = []
  let mark = 0
  const blob = (bytes: Uint8Array) => { parts.push(enc.encode(`blob\nmark :${++mark}\n`), ...data(bytes)); return mark }
  const baseMarks = base.map(blob)
  let files = ''
  for (let i = 0; i < paths.length; i++) files += `M 100644 :${baseMarks[i]} ${paths[i]}\n`
  const baseCommit = ++mark
  parts.push(enc.encode(`commit refs/heads/main\nmark :${baseCommit}\ncommitter ${IDENT} 1700000000 +0000\n`), ...data('base\n'), enc.encode(files + '\n'))
  for (const [ref, changes, t] of [['main', a, 1], ['feature', b, 2]] as const) {
    const marks = changes.map(([, bytes]) => blob(bytes))
    let m = ''
    changes.forEach(([k], i) => { m += `M 100644 :${marks[i]} ${paths[k]}\n` })
    parts.push(enc.encode(`commit refs/heads/${ref}\ncommitter ${IDENT} ${1700000000 + t} +0000\n`), ...data(`${ref} changes\n`),
      enc.encode(`from :${baseCommit}\n${m}\n`))
  }
  return Buffer.concat(parts)
}

function gitChainStream(n: number): Uint8Array {
  const parts: Uint8Array[] = []
  parts.push(enc.encode(`blob\nmark :1\n`), ...data('0'))
  parts.push(enc.encode(`commit refs/heads/main\nmark :2\ncommitter ${IDENT} 1700000000 +0000\n`), ...data('root\n'), enc.encode('M 100644 :1 base\n\n'))
  parts.push(enc.encode(`commit refs/heads/feature\ncommitter ${IDENT} 1700000001 +0000\n`), ...data('feature\n'), enc.encode('from :2\nM 100644 :1 f\n\n'))
  for (let i = 0; i < n; i++) {
    parts.push(enc.encode(`blob\nmark :${3 + 2 * i}\n`), ...data(String(i + 1)))
    parts.push(enc.encode(`commit refs/heads/main\nmark :${4 + 2 * i}\ncommitter ${IDENT} ${1700000002 + i} +0000\n`), ...data(`c${i}\n`),
      enc.encode(`${i === 0 ? 'from :2\n' : ''}M 100644 :${3 + 2 * i} k/${i % 50}\n\n`))
  }
  return Buffer.concat(parts)
}

/** The larix side of row 4: a level store at `larixDir` with a 100,000-key base, `main` and `feature` each changing its own keys. */
export async function buildMergeStore(larixDir: string, opts = { keys: 100_000, changes: 1000 }) {
  const ds = makeDataSet({ keys: opts.keys, commits: 0, seed: 0x3e26e })
  // Two disjoint sets of keys, spread over the whole tree.
  const order = Array.from({ length: opts.keys }, (_, i) => i).sort((x, y) => ((x * 2654435761) % 4294967296) - ((y * 2654435761) % 4294967296))
  const sideA = order.slice(0, opts.changes).map(k => [k, changed(ds.values[k], 'a')] as const)
  const sideB = order.slice(opts.changes, 2 * opts.changes).map(k => [k, changed(ds.values[k], 'b')] as const)
  const repo = await Repo.open({ backend: levelBackend(larixDir), author: IDENT })
  await repo.branch('main').transaction(tx => { for (let i = 0; i < opts.keys; i++) tx.set(ds.paths[i], ds.values[i]) }, { message: 'base' })
  await repo.fork('main', 'feature')
  await repo.branch('main').transaction(tx => { for (const [k, v] of sideA) tx.set(ds.paths[k], v) })
  await repo.branch('feature').transaction(tx => { for (const [k, v] of sideB) tx.set(ds.paths[k], v) })
  const mainBefore = (await repo.branch('main').head())!.id
  await repo.close()
  return { ds, sideA, sideB, mainBefore }
}

/** Runs `runs` times; `dir` is a scratch directory the caller removes. */
export async function mergeBench(dir: string, home: string, runs: number, log: (s: string) => void, opts = { keys: 100_000, changes: 1000, chain: 10_000 }): Promise<MergeFigures> {
  log('    merge: building the 100,000-key stores')
  const larixDir = `${dir}/larix-merge`
  const { ds, sideA, sideB, mainBefore } = await buildMergeStore(larixDir, opts)
  let repo: Repo<unknown>

  const gitDir = `${dir}/git-merge.git`
  await git(['init', '--quiet', '--bare', '--initial-branch=main', gitDir], home, home)
  const stream = gitMergeStream(ds.paths, ds.bytes, sideA.map(([k, v]) => [k, enc.encode(JSON.stringify(v))]), sideB.map(([k, v]) => [k, enc.encode(JSON.stringify(v))]))
  await run('git', [...TUNED.args, 'fast-import', '--quiet'], { cwd: gitDir, input: stream, home, env: TUNED.env })

  const figures: MergeFigures = { larixMergeMs: [], gitMergeTreeMs: [], larixLcaColdMs: [], larixLcaWarmMs: [], gitMergeBaseMs: [], keys: opts.keys, changesPerSide: opts.changes, chain: opts.chain }
  // Two rounds first for each side, not counted: the stores were just written, and LevelDB's compactions and
  // the page cache's writeback of that import slow the first merges of both (git's too) by up to 2-3x.
  for (let r = -WARMUP_ROUNDS; r < runs; r++) {
    repo = await Repo.open({ backend: levelBackend(larixDir), author: IDENT })
    const main = repo.branch('main')
    const m = await timed(() => main.merge('feature', { message: 'merge' }))
    if (m.result.status !== 'merged') throw new Error(`larix merge: ${m.result.status}`)
    const larixTree = m.result.commit.tree
    await main.reset(mainBefore)
    await repo.close()
    const g = await timed(() => run('git', [...TUNED.args, 'merge-tree', '--write-tree', 'main', 'feature'], { cwd: gitDir, home, env: TUNED.env }))
    const gitTree = g.result.stdout.toString().trim().split('\n')[0]
    if (gitTree !== larixTree) throw new Error(`merged trees differ: larix ${larixTree}, git ${gitTree}`)
    if (r < 0) continue
    figures.larixMergeMs.push(m.ms)
    figures.gitMergeTreeMs.push(g.ms)
  }

  log(`    lca: building a ${opts.chain.toLocaleString('en-US')}-commit chain`)
  const lcaDir = `${dir}/larix-lca`
  repo = await Repo.open({ backend: levelBackend(lcaDir), author: IDENT })
  await repo.branch('main').set('base', 0)
  await repo.fork('main', 'feature')
  await repo.branch('feature').set('f', 0)
  for (let i = 0; i < opts.chain; i++) await repo.branch('main').set(`k/${i % 50}`, i + 1)
  await repo.close()
  const lcaGit = `${dir}/git-lca.git`
  await git(['init', '--quiet', '--bare', '--initial-branch=main', lcaGit], home, home)
  await run('git', [...TUNED.args, 'fast-import', '--quiet'], { cwd: lcaGit, input: gitChainStream(opts.chain), home, env: TUNED.env })
  for (let r = 0; r < runs; r++) {
    repo = await Repo.open({ backend: levelBackend(lcaDir) })
    const cold = await timed(() => repo.lcas('main', 'feature'))
    const warm = await timed(() => repo.lcas('main', 'feature'))
    if (cold.result.status !== 'ok' || cold.result.lcas.length !== 1) throw new Error(`larix lcas: ${JSON.stringify(cold.result)}`)
    await repo.close()
    const g = await timed(() => run('git', ['merge-base', '--all', 'main', 'feature'], { cwd: lcaGit, home }))
    if (g.result.stdout.toString().trim().split('\n').length !== 1) throw new Error('git merge-base: expected one LCA')
    figures.larixLcaColdMs.push(cold.ms)
    figures.larixLcaWarmMs.push(warm.ms)
    figures.gitMergeBaseMs.push(g.ms)
  }
  return figures
}

/** The two rows as text (or Markdown) lines. */
export function mergeTable(f: MergeFigures, style: 'text' | 'markdown'): string {
  const ms = (xs: number[]) => median(xs).toFixed(1) + ' ms'
  const rows = [
    ['row', 'larix', 'git', 'larix vs git', 'target', 'met'],
    [`4. merge 2 × ${f.changesPerSide.toLocaleString('en-US')} changes on ${f.keys.toLocaleString('en-US')} keys (LCA + tree merge + commit)`, ms(f.larixMergeMs), `${ms(f.gitMergeTreeMs)} (merge-tree --write-tree)`,
      `${(median(f.gitMergeTreeMs) / median(f.larixMergeMs)).toFixed(2)}x as fast`, '≤ git\'s time', median(f.larixMergeMs) <= median(f.gitMergeTreeMs) ? 'yes' : 'NO'],
    [`5. LCA of heads ${f.chain.toLocaleString('en-US')} commits apart, store just opened`, ms(f.larixLcaColdMs), `${ms(f.gitMergeBaseMs)} (merge-base --all, whole process)`,
      '-', '< 50 ms', median(f.larixLcaColdMs) < 50 ? 'yes' : 'NO'],
    [`5. the same LCA again (commits cached)`, ms(f.larixLcaWarmMs), '-', '-', '< 50 ms', median(f.larixLcaWarmMs) < 50 ? 'yes' : 'NO'],
  ]
  if (style === 'markdown') {
    return [`| ${rows[0].join(' | ')} |`, `| ${rows[0].map(() => '---').join(' | ')} |`, ...rows.slice(1).map(r => `| ${r.join(' | ')} |`)].join('\n')
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map(r => r[i].length)))
  return rows.map(r => r.map((c, i) => c.padEnd(w[i])).join('  ')).join('\n')
}
