// larix on its level backend (and on gitBackend: row 8), through the public API only.
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Level } from 'level'
import { levelBackend, Repo } from '../src/index.js'
import { gitBackend } from '../src/platform/node/git-backend.js'
import type { Backend, objects as git } from '../src/index.js'
import { makeDataSet } from './data.js'
import type { DataSet, Value } from './data.js'
import { cleanup, cleanupAll, git as gitCli, median, tempDir, timed } from './measure.js'

/**
 * The level backend, with the distinct ids of the objects it is asked to write collected on the side:
 * "objects written" is what larix handed its store, not an estimate. (One Set.add per object.)
 * A Proxy, so every other method and optional capability of the backend passes through untouched.
 */
function countingBackend(inner: Backend): Backend & { written: Set<string> } {
  const written = new Set<string>()
  const note = (objs: readonly git.StoredObject[]) => { for (const o of objs) written.add(o.id) }
  const objects = new Proxy(inner.objects, {
    get(target, prop, receiver) {
      if (prop === 'putMany') return (objs: readonly git.StoredObject[]) => { note(objs); return target.putMany(objs) }
      return Reflect.get(target, prop, receiver)
    },
  })
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'written') return written
      if (prop === 'objects') return objects
      if (prop === 'atomicWrite' && target.atomicWrite) {
        const write = target.atomicWrite.bind(target)
        return (objs: readonly git.StoredObject[], ref: Parameters<typeof write>[1]) => { note(objs); return write(objs, ref) }
      }
      return Reflect.get(target, prop, receiver)
    },
  }) as Backend & { written: Set<string> }
}

/** Which store larix runs on: its level backend, or a real .git (gitBackend; issue 4's row 8). */
export type LarixBackendKind = 'level' | 'git'

function openBackend(kind: LarixBackendKind, dir: string): Backend {
  return kind === 'git' ? gitBackend(dir) : levelBackend(dir)
}

/** Objects the store at `dir` holds, counted after the repo is closed. */
async function storedIn(kind: LarixBackendKind, dir: string): Promise<number> {
  if (kind === 'level') return storedObjects(dir)
  // A bare repository or a work tree's .git: loose objects plus those in packs.
  const out = await gitCli(['count-objects', '-v'], dir, dir)
  const field = (k: string) => Number(new RegExp(`^${k}: (\\d+)$`, 'm').exec(out)?.[1] ?? 0)
  return field('count') + field('in-pack')
}

/** Objects the level store at `dir` holds (keys `o<id>`), counted after the repo is closed. */
export async function storedObjects(dir: string): Promise<number> {
  const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' })
  await db.open()
  let n = 0
  for await (const _ of db.keys({ gte: 'o', lt: 'p' })) n++
  await db.close()
  return n
}

export interface LarixRun {
  importMs: number
  importObjects: number
  importTree: string
  commitMs: number
  commitObjects: number
  /** `repo.close()` right after the commits: what a store still had to write (gitBackend flushes its journal then). */
  closeMs: number
  headTree: string
  coldMs: number
  warmMs: number
}

const AUTHOR = 'Bench <bench@example.org>'

/** Rows 1–3 in a fresh store at `dir` (level by default; `git`: a real .git through gitBackend). */
export async function larixRun(ds: DataSet, dir: string, kind: LarixBackendKind = 'level'): Promise<LarixRun> {
  const backend = countingBackend(openBackend(kind, dir))
  let clock = 1_700_000_000_000
  const now = () => (clock += 1000)

  // Row 1: open a fresh store, one transaction with every key.
  const imp = await timed(async () => {
    const repo = await Repo.open<Value>({ backend, author: AUTHOR, now })
    const main = repo.branch('main')
    const r = await main.transaction(tx => { for (let i = 0; i < ds.paths.length; i++) tx.set(ds.paths[i], ds.values[i]) }, { message: 'import' })
    return { repo, main, commit: r.commit! }
  })
  const { repo, main } = imp.result
  const importObjects = backend.written.size
  backend.written.clear()

  // Row 2: one commit per update, each awaited before the next.
  const com = await timed(async () => {
    for (const u of ds.updates) await main.set(u.path, u.value)
  })
  const commitObjects = backend.written.size
  const head = (await main.head())!
  const closed = await timed(() => repo.close())
  const stored = await storedIn(kind, dir)
  if (stored !== importObjects + commitObjects) {
    throw new Error(`larix (${kind}): the store holds ${stored} objects, but ${importObjects} + ${commitObjects} were written`)
  }

  // Row 3: a freshly opened repo reads every key (cold), then reads them all again (warm).
  const got: (Value | undefined)[] = new Array(ds.readOrder.length)
  const cold = await timed(async () => {
    const r = await Repo.open<Value>({ backend: openBackend(kind, dir) })
    const b = r.branch('main')
    for (let n = 0; n < ds.readOrder.length; n++) got[n] = await b.get(ds.paths[ds.readOrder[n]])
    return { r, b }
  })
  checkReads(got, ds)
  got.fill(undefined)
  const { r: reader, b } = cold.result
  const warm = await timed(async () => {
    for (let n = 0; n < ds.readOrder.length; n++) got[n] = await b.get(ds.paths[ds.readOrder[n]])
  })
  checkReads(got, ds)
  await reader.close()

  return {
    importMs: imp.ms, importObjects, importTree: imp.result.commit.tree,
    commitMs: com.ms, commitObjects, closeMs: closed.ms, headTree: head.tree,
    coldMs: cold.ms, warmMs: warm.ms,
  }
}

const dec = new TextDecoder()
function checkReads(got: (Value | undefined)[], ds: DataSet): void {
  for (let n = 0; n < ds.readOrder.length; n++) {
    const i = ds.readOrder[n]
    if (JSON.stringify(got[n]) !== dec.decode(ds.finalBytes[i])) throw new Error(`larix: wrong value read at ${ds.paths[i]}`)
  }
}

/**
 * Row 8 alone: `node dist/bench/larix.js [--runs N]` runs rows 1–3 on level and on gitBackend alternately (the
 * same data set as `npm run bench`) and prints the medians and the git/level ratios. The commit row is timed
 * until the last commit is acknowledged, as level's is; "+ close" adds the final `repo.close()` (gitBackend's
 * last flush).
 */
async function standalone(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { runs: { type: 'string', default: '3' } } })
  const runs = Number(values.runs)
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a whole number >= 1, got ${values.runs}`)
  const ds = makeDataSet()
  const K = ds.paths.length, C = ds.updates.length
  const log = (s: string) => process.stderr.write(s + '\n')
  log(`row 8 alone: ${runs} run(s) of level and git alternately, ${K} keys, ${C} commits`)
  { const d = await tempDir('warm'); await larixRun(makeDataSet({ keys: 1000, commits: 100, seed: 7 }), d); await cleanup(d) }
  const figures: Record<LarixBackendKind, LarixRun[]> = { level: [], git: [] }
  for (let r = 0; r < runs; r++) {
    for (const kind of (r % 2 ? ['git', 'level'] : ['level', 'git']) as LarixBackendKind[]) {
      const d = await tempDir(`larix-${kind}`)
      const f = await larixRun(ds, d, kind)
      await cleanup(d)
      figures[kind].push(f)
      log(`  run ${r + 1} ${kind}: import ${f.importMs.toFixed(0)} ms, commits ${f.commitMs.toFixed(0)} ms (+ close ${f.closeMs.toFixed(0)} ms), cold ${f.coldMs.toFixed(0)} ms, warm ${f.warmMs.toFixed(0)} ms`)
    }
  }
  const g = figures.git[0], l = figures.level[0]
  if (g.importTree !== l.importTree || g.headTree !== l.headTree || g.importObjects !== l.importObjects || g.commitObjects !== l.commitObjects) {
    throw new Error(`gitBackend and level stored different things: trees ${g.importTree} ${g.headTree} vs ${l.importTree} ${l.headTree}`)
  }
  const rate = (n: number, ms: number) => (n * 1000) / ms
  const rows: [string, string, (f: LarixRun) => number][] = [
    [`1. import ${K} keys`, 'objects/s', f => rate(f.importObjects, f.importMs)],
    [`2. ${C} single-key commits (until acknowledged)`, 'commits/s', f => rate(C, f.commitMs)],
    [`2. ${C} single-key commits + close`, 'commits/s', f => rate(C, f.commitMs + f.closeMs)],
    [`3. read ${K} keys, cold`, 'reads/s', f => rate(K, f.coldMs)],
    [`3. read ${K} keys, warm`, 'reads/s', f => rate(K, f.warmMs)],
  ]
  const fmt = (x: number) => Math.round(x).toLocaleString('en-US')
  process.stdout.write(`median of ${runs} run(s)\n`)
  for (const [title, unit, fig] of rows) {
    const gm = median(figures.git.map(fig)), lm = median(figures.level.map(fig))
    process.stdout.write(`${title}: git ${fmt(gm)} vs level ${fmt(lm)} ${unit}: ${(gm / lm).toFixed(2)}x\n`)
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  standalone(process.argv.slice(2)).catch(async e => {
    await cleanupAll()
    process.stderr.write(`larix.js: ${(e as Error).stack ?? e}\n`)
    process.exit(1)
  })
}
