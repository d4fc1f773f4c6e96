// Where larix spends the time of one benchmark row: runs the row under V8's sampling profiler and prints
// self time by function and by source file. Not part of `npm run bench`.
//   node dist/bench/profile.js import|commits|cold|warm|merge [--repeat N] [--out FILE.cpuprofile]
import { writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { levelBackend, Repo } from '../src/index.js'
import { makeDataSet } from './data.js'
import { buildMergeStore } from './merge.js'
import type { DataSet, Value } from './data.js'
import { cleanup, tempDir } from './measure.js'

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: { repeat: { type: 'string', default: '3' }, out: { type: 'string' }, top: { type: 'string', default: '25' } },
})
const row = positionals[0]
if (!['import', 'commits', 'cold', 'warm', 'merge'].includes(row)) {
  process.stderr.write('usage: node dist/bench/profile.js import|commits|cold|warm|merge [--repeat N] [--out FILE] [--top N]\n')
  process.exit(2)
}
const repeat = Number(opts.repeat)

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

async function importInto(ds: DataSet, dir: string): Promise<Repo<Value>> {
  const repo = await Repo.open<Value>({ backend: levelBackend(dir) })
  await repo.branch('main').transaction(tx => { for (let i = 0; i < ds.paths.length; i++) tx.set(ds.paths[i], ds.values[i]) })
  return repo
}

let mergeStore: { dir: string; mainBefore: string } | undefined

/** Set up outside the profile, then return the part to profile. */
async function prepare(ds: DataSet, dir: string): Promise<{ work: () => Promise<void>; done: () => Promise<void> }> {
  if (row === 'merge') {
    // Row 4 of the merge bench: the store is built once; each round opens it, merges, and resets main.
    mergeStore ??= await (async () => { const d = await tempDir("merge"); return { dir: d + "/store", ...(await buildMergeStore(d + "/store")) } })()
    const { dir: mdir, mainBefore } = mergeStore
    let repo: Repo<unknown> | undefined
    return {
      work: async () => {
        repo = await Repo.open({ backend: levelBackend(mdir) })
        const r = await repo.branch('main').merge('feature', { message: 'merge' })
        if (r.status !== 'merged') throw new Error(r.status)
      },
      done: async () => { await repo!.branch('main').reset(mainBefore); await repo!.close() },
    }
  }
  if (row === 'import') {
    let repo: Repo<Value> | undefined
    return { work: async () => { repo = await importInto(ds, dir) }, done: async () => { await repo?.close() } }
  }
  const repo = await importInto(ds, dir)
  const main = repo.branch('main')
  if (row === 'commits') return { work: async () => { for (const u of ds.updates) await main.set(u.path, u.value) }, done: () => repo.close() }
  await repo.close()
  if (row === 'cold') {
    let r: Repo<Value> | undefined
    return {
      work: async () => {
        r = await Repo.open<Value>({ backend: levelBackend(dir) })
        const b = r.branch('main')
        for (const i of ds.readOrder) await b.get(ds.paths[i])
      },
      done: async () => { await r?.close() },
    }
  }
  const r = await Repo.open<Value>({ backend: levelBackend(dir) })
  const b = r.branch('main')
  for (const i of ds.readOrder) await b.get(ds.paths[i])
  return { work: async () => { for (const i of ds.readOrder) await b.get(ds.paths[i]) }, done: () => r.close() }
}

const root = fileURLToPath(new URL('../..', import.meta.url))
function place(url: string): string {
  if (!url) return '(native/V8)'
  const p = url.startsWith('file://') ? relative(root, fileURLToPath(url)) : url
  return p.replace(/^dist\//, '').replace(/\.js$/, '.ts')
}

function report(p: Profile, top: number): string {
  const byId = new Map(p.nodes.map(n => [n.id, n]))
  // Samples taken while the inspector itself works (Profiler.stop serialising the profile) are not larix's.
  const excluded = new Set<number>()
  const exclude = (id: number) => { excluded.add(id); for (const c of byId.get(id)!.children ?? []) exclude(c) }
  for (const n of p.nodes) if (n.callFrame.url === 'node:inspector' && !excluded.has(n.id)) exclude(n.id)
  const self = new Map<number, number>()
  for (let i = 0; i < p.samples.length; i++) {
    if (!excluded.has(p.samples[i])) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0))
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  const fn = new Map<string, number>(), file = new Map<string, number>()
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame
    const where = place(url)
    const key = `${functionName || '(anonymous)'}  ${where}${url ? `:${lineNumber + 1}` : ''}`
    fn.set(key, (fn.get(key) ?? 0) + us)
    const area = where.startsWith('src/') ? where : where.startsWith('node_modules/') ? where.split('/').slice(0, 2).join('/') : where.startsWith('node:') ? 'node: built-ins' : where
    file.set(area, (file.get(area) ?? 0) + us)
  }
  const lines = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([k, us]) => `${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(1).padStart(8)} ms  ${k}`).join('\n')
  return `self time by area (${(total / 1000).toFixed(0)} ms sampled)\n${lines(file)}\n\nself time by function\n${lines(fn)}\n`
}

async function main(): Promise<void> {
  const ds = makeDataSet()
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: 100 })
  let profile: Profile | undefined
  for (let r = 0; r < repeat; r++) {
    const dir = await tempDir('profile')
    const { work, done } = await prepare(ds, dir)
    const last = r === repeat - 1 // earlier rounds warm the JIT; the last is profiled
    if (last) await session.post('Profiler.start')
    const t0 = performance.now()
    await work()
    const ms = performance.now() - t0
    if (last) profile = (await session.post('Profiler.stop')).profile as unknown as Profile
    await done()
    await cleanup(dir)
    process.stderr.write(`round ${r + 1}: ${ms.toFixed(1)} ms${last ? ' (profiled)' : ''}\n`)
  }
  session.disconnect()
  if (opts.out) await writeFile(opts.out, JSON.stringify(profile))
  process.stdout.write(report(profile!, Number(opts.top)))
}

main().catch((e) => { process.stderr.write(`${(e as Error).stack ?? e}\n`); process.exit(1) })
