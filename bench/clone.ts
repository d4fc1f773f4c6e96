// Issue 4's speed rows (6 and 7; row 8 is bench/larix.ts on gitBackend, tabled here):
//   6. `larix clone` from `git http-backend` into a level store, against `git clone --bare` and isomorphic-git's
//      clone over the same http-backend; peak RSS of a larix clone in a child process, for the repository and
//      for one twice its size (is memory bounded?).
//   7. `git clone --bare` from `larix serve` (a level store holding the same history, served by startServer
//      in a child process) against `git clone --bare` from http-backend; peak RSS of the serving process.
// The repository: a deterministic key/value history made with `git fast-import` (JSON values a few levels
// deep, a few keys changed per commit), repacked as a host would keep it.
//
// Run as a script, this file is the child of the RSS rows:
//   node dist/bench/clone.js child-clone URL DIR   clone URL into a level store at DIR, print {objects, maxRssKiB}
//   node dist/bench/clone.js child-serve DIR       serve the level store at DIR, print {url}; on stdin's end
//                                                  stop and print {maxRssKiB}
// and, alone, rows 6 and 7 without the rest of `npm run bench`:
//   node dist/bench/clone.js bench [--runs N] [--no-iso] [--markdown]
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import * as iso from 'isomorphic-git'
import isoHttp from 'isomorphic-git/http/node'
import { Repo, levelBackend } from '../src/index.js'
import { cloneInto } from '../src/sync/index.js'
import { startServer } from '../src/platform/node/serve.js'
import { prng } from './data.js'
import { httpBackend } from './http-backend.js'
import { storedObjects } from './larix.js'
import type { LarixRun } from './larix.js'
import { cleanup, git, median, run, tempDir, timed } from './measure.js'

const enc = new TextEncoder()
const IDENT = 'Bench <bench@example.org>'
const WORDS = ['alder', 'birch', 'cedar', 'elm', 'fir', 'hazel', 'larch', 'maple', 'oak', 'pine', 'rowan', 'yew']

/** Keys `t03/u11/k07.json`: 16 × 16 × 20 = 5,120 possible keys. */
const T = 16, U = 16, KEYS = 20
function keyPath(n: number): string {
  const t = Math.floor(n / (U * KEYS)), u = Math.floor(n / KEYS) % U, k = n % KEYS
  return `t${String(t).padStart(2, '0')}/u${String(u).padStart(2, '0')}/k${String(k).padStart(2, '0')}.json`
}

/**
 * The history as a fast-import stream: a first commit with 1,024 keys, then `commits - 1` commits each
 * setting 3 keys (new or existing) to nested JSON values; every 25th commit also deletes a key.
 * ~11 objects per commit (3 blobs, the trees above them, the root, the commit).
 */
export function cloneHistory(commits: number, seed = 0xc10e): Uint8Array {
  const rand = prng(seed)
  const pick = () => WORDS[Math.floor(rand() * WORDS.length)]
  const parts: string[] = []
  const data = (s: string) => { parts.push(`data ${enc.encode(s).length}\n${s}\n`) }
  const live = new Set<number>()
  const value = (key: number, rev: number) => JSON.stringify({
    id: key,
    meta: { geo: { lat: Math.floor(rand() * 180e4) / 1e4 - 90, lon: Math.floor(rand() * 360e4) / 1e4 - 180 }, owner: pick(), tags: [pick(), pick()] },
    note: `${pick()} ${pick()} ${pick()}`,
    rev,
  })
  for (let c = 1; c <= commits; c++) {
    parts.push(`commit refs/heads/main\ncommitter ${IDENT} ${1700000000 + c * 60} +0000\n`)
    data(`commit ${c}\n`)
    const changes: string[] = []
    const set = (key: number) => { live.add(key); changes.push(`M 100644 inline ${keyPath(key)}\n`); data2(changes, value(key, c)) }
    if (c === 1) for (let n = 0; n < 1024; n++) set(n * 5)
    else {
      for (let j = 0; j < 3; j++) set(Math.floor(rand() * T * U * KEYS))
      if (c % 25 === 0) {
        const gone = [...live][Math.floor(rand() * live.size)]
        live.delete(gone)
        changes.push(`D ${keyPath(gone)}\n`)
      }
    }
    parts.push(changes.join(''), '\n')
    if (c % 1000 === 0) parts.push(`tag v${c / 1000}\nfrom refs/heads/main\ntagger ${IDENT} ${1700000000 + c * 60} +0000\n`), data(`release ${c / 1000}\n`)
  }
  return enc.encode(parts.join(''))
}
function data2(out: string[], s: string): void { out.push(`data ${enc.encode(s).length}\n${s}\n`) }

const gitEnv = (home: string): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', LC_ALL: 'C',
})

/** A bare repository `<root>/<name>` holding `commits` commits, fully packed. */
export async function makeRepo(root: string, name: string, commits: number, home: string): Promise<{ dir: string; objects: number; refs: string }> {
  const dir = `${root}/${name}`
  await git(['init', '--quiet', '--bare', '--initial-branch=main', dir], home, home)
  await run('git', ['fast-import', '--quiet'], { cwd: dir, input: cloneHistory(commits), home })
  await run('git', ['repack', '-adq'], { cwd: dir, home })
  return { dir, objects: await objectCount(dir, home), refs: await git(['show-ref'], dir, home) }
}

async function objectCount(repo: string, home: string): Promise<number> {
  const out = await git(['count-objects', '-v'], repo, home)
  const field = (k: string) => Number(new RegExp(`^${k}: (\\d+)$`, 'm').exec(out)?.[1] ?? 0)
  return field('count') + field('in-pack')
}

/** `git show-ref` output of a larix store: its branches and tags, sorted, as Git prints them. */
async function larixRefs(repo: Repo<unknown>): Promise<string> {
  const refs = (await repo.backend.refs.list()).filter(r => r.name.startsWith('refs/heads/') || r.name.startsWith('refs/tags/'))
  return refs.sort((a, b) => (a.name < b.name ? -1 : 1)).map(r => `${r.id} ${r.name}`).join('\n')
}

export interface CloneFigures {
  commits: number
  objects: number
  bigObjects: number
  larixMs: number[]
  /**
   * Per larix run, ms from the start: store open, first 256 pack entries parsed (progress comes every
   * 256), last entry parsed and its batch written, fetch done (refs stored), store closed.
   */
  larixPhases: ClonePhases[]
  gitMs: number[]
  isoMs: number[]
  /** Peak RSS (KiB) of a larix clone in a child process: the repository, and one with twice the history. */
  larixRssKiB: number
  larixBigRssKiB: number
  /**
   * Peak RSS (KiB) of `git clone --bare` of the same two repositories: the largest of its processes (git,
   * remote-http, index-pack), from GNU time's %M (wait4's rusage). NaN when /usr/bin/time is missing.
   */
  gitRssKiB: number
  gitBigRssKiB: number
  /** Row 7: git clone --bare from larix serve, and from http-backend (the row-6 git figures are the same run's). */
  fromLarixMs: number[]
  fromHttpBackendMs: number[]
  /** The same with clone packs off (as a store's first clone is served), against http-backend in the same runs. */
  fromLarixPlainMs: number[]
  fromHttpBackendPlainMs: number[]
  /** Building the clone pack that fromLarixMs is served from. */
  clonePackBuildMs: number
  serveRssKiB: number
}

export interface ClonePhases { open: number; firstEntry: number; parsed: number; fetched: number; closed: number }

/** Spawn `node clone.js <args>`; each stdout line is JSON, handed to `onLine`. Resolves with the child. */
function child(args: string[], onLine: (v: Record<string, unknown>) => void) {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
  createInterface({ input: proc.stdout }).on('line', l => onLine(JSON.parse(l) as Record<string, unknown>))
  const exited = new Promise<void>((resolve, reject) => proc.on('close', code => (code === 0 ? resolve() : reject(new Error(`clone.js ${args[0]} exited with ${code}`)))))
  return { proc, exited }
}

async function childClone(url: string, dir: string): Promise<{ objects: number; maxRssKiB: number }> {
  let out: { objects: number; maxRssKiB: number } | undefined
  const c = child(['child-clone', url, dir], v => { out = v as typeof out })
  c.proc.stdin.end()
  await c.exited
  if (!out) throw new Error('child-clone printed nothing')
  return out
}

/** Peak RSS (KiB) of `git clone --bare url dir` and its children, by GNU time; NaN without it. */
async function gitCloneRss(url: string, dir: string, home: string, objects: number): Promise<number> {
  const time = '/usr/bin/time'
  if (!fs.existsSync(time)) return NaN
  const out = `${dir}.rss`
  try {
    await run(time, ['-f', '%M', '-o', out, 'git', 'clone', '--bare', '-q', url, dir], { home })
    if (await objectCount(dir, home) !== objects) throw new Error(`git clone of ${url}: wrong object count`)
    const kib = Number(fs.readFileSync(out, 'utf8').trim().split('\n').pop())
    if (!(kib > 0)) throw new Error(`GNU time printed no peak RSS for git clone of ${url}`)
    return kib
  } finally {
    await cleanup(dir)
    await cleanup(out)
  }
}

/** Runs `runs` times; `dir` is a scratch directory the caller removes. */
export async function cloneBench(dir: string, home: string, runs: number, log: (s: string) => void, opts: { commits: number; iso: boolean } = { commits: 5000, iso: true }): Promise<CloneFigures> {
  log(`    clone: building the ${opts.commits.toLocaleString('en-US')}-commit repositories`)
  const root = `${dir}/served`
  const base = await makeRepo(root, 'data.git', opts.commits, home)
  const big = await makeRepo(root, 'big.git', 2 * opts.commits, home)
  const backend = await httpBackend(root, gitEnv(home))
  const f: CloneFigures = {
    commits: opts.commits, objects: base.objects, bigObjects: big.objects, larixMs: [], larixPhases: [], gitMs: [], isoMs: [],
    larixRssKiB: 0, larixBigRssKiB: 0, gitRssKiB: NaN, gitBigRssKiB: NaN, fromLarixMs: [], fromHttpBackendMs: [], fromLarixPlainMs: [], fromHttpBackendPlainMs: [], clonePackBuildMs: NaN, serveRssKiB: 0,
  }
  const url = `${backend.url}/data.git`
  const larixDir = `${dir}/larix-clone`
  try {
    // A warm-up clone of the small repository's prefix, so run 1 is not mostly JIT compilation.
    await makeRepo(root, 'warm.git', 300, home)
    { const d = `${dir}/warm`; const r = await Repo.open({ backend: levelBackend(d) }); await cloneInto(r, `${backend.url}/warm.git`); await r.close(); await cleanup(d) }

    for (let r = 0; r < runs; r++) {
      log(`    clone: run ${r + 1}/${runs}`)
      // Row 6, larix: in-process clone into a fresh level store (open and close included).
      await cleanup(larixDir)
      const t0 = performance.now()
      const ph: ClonePhases = { open: NaN, firstEntry: NaN, parsed: NaN, fetched: NaN, closed: NaN }
      const l = await timed(async () => {
        const repo = await Repo.open({ backend: levelBackend(larixDir) })
        ph.open = performance.now() - t0
        const res = await cloneInto(repo, url, {
          onProgress: p => {
            if (p.phase !== 'receiving') return
            if (Number.isNaN(ph.firstEntry) && (p.objects ?? 0) > 0) ph.firstEntry = performance.now() - t0
            if (p.objects === p.total) ph.parsed = performance.now() - t0
          },
        })
        ph.fetched = performance.now() - t0
        const refs = await larixRefs(repo)
        await repo.close()
        ph.closed = performance.now() - t0
        return { res, refs }
      })
      f.larixPhases.push(ph)
      if (l.result.res.fetch.objects !== base.objects) throw new Error(`larix clone received ${l.result.res.fetch.objects} objects, git holds ${base.objects}`)
      if (l.result.refs !== base.refs) throw new Error(`larix clone's refs differ from git's:\n${l.result.refs}\n---\n${base.refs}`)
      const stored = await storedObjects(larixDir)
      if (stored !== base.objects) throw new Error(`the larix clone holds ${stored} objects, git ${base.objects}`)
      f.larixMs.push(l.ms)

      // Row 6, native git.
      const g = `${dir}/git-clone-${r}.git`
      f.gitMs.push((await timed(() => run('git', ['clone', '--bare', '-q', url, g], { cwd: dir, home }))).ms)
      if (await objectCount(g, home) !== base.objects || await git(['show-ref'], g, home) !== base.refs) throw new Error('git clone: wrong objects or refs')
      await cleanup(g)

      // Row 6, isomorphic-git (whole clone, no checkout).
      if (opts.iso) {
        const d = `${dir}/iso-${r}`
        const t = await timed(() => iso.clone({ fs, http: isoHttp, dir: d, url, noCheckout: true }))
        if (await objectCount(`${d}/.git`, home) !== base.objects) throw new Error('isomorphic-git clone: wrong object count')
        f.isoMs.push(t.ms)
        await cleanup(d)
      }
    }

    log('    clone: peak RSS of larix clones in a child process')
    const rssDir = `${dir}/rss`
    const small = await childClone(url, rssDir)
    if (small.objects !== base.objects) throw new Error(`child clone received ${small.objects} objects`)
    await cleanup(rssDir)
    const large = await childClone(`${backend.url}/big.git`, rssDir)
    if (large.objects !== big.objects) throw new Error(`child clone of the big repository received ${large.objects} objects, expected ${big.objects}`)
    await cleanup(rssDir)
    f.larixRssKiB = small.maxRssKiB
    f.larixBigRssKiB = large.maxRssKiB
    f.gitRssKiB = await gitCloneRss(url, `${dir}/git-rss.git`, home, base.objects)
    f.gitBigRssKiB = await gitCloneRss(`${backend.url}/big.git`, `${dir}/git-rss.git`, home, big.objects)

    // Row 7: git clone --bare from larix serve (a child process serving the row-6 level clone): first with
    // clone packs off (every object read and framed one by one, as for a store's first clone), then with
    // the clone pack the server builds (timed) before the clones.
    for (const mode of ['plain', 'pack'] as const) {
      log(`    clone: git clone from larix serve (${mode === 'pack' ? 'clone pack' : 'object by object'})`)
      let served: string | undefined
      let rss = 0
      const srv = child(['child-serve', larixDir, mode], v => {
        if (typeof v.url === 'string') served = v.url
        if (typeof v.buildMs === 'number') f.clonePackBuildMs = v.buildMs
        if (typeof v.maxRssKiB === 'number') rss = v.maxRssKiB
      })
      const times = mode === 'pack' ? f.fromLarixMs : f.fromLarixPlainMs
      const hb = mode === 'pack' ? f.fromHttpBackendMs : f.fromHttpBackendPlainMs
      try {
        while (served === undefined) await new Promise(res => setTimeout(res, 20))
        for (let r = 0; r < runs; r++) {
          for (const [from, into] of [[`${served}`, times], [url, hb]] as const) {
            const g = `${dir}/git-from-${r}.git`
            into.push((await timed(() => run('git', ['clone', '--bare', '-q', from, g], { cwd: dir, home }))).ms)
            if (await objectCount(g, home) !== base.objects) throw new Error(`git clone from ${from}: ${await objectCount(g, home)} objects, expected ${base.objects}`)
            const refs = await git(['show-ref'], g, home)
            if (refs !== base.refs) throw new Error(`git clone from ${from}: refs differ:\n${refs}\n---\n${base.refs}`)
            await git(['fsck', '--connectivity-only', '--no-progress'], g, home)
            await cleanup(g)
          }
        }
      } finally {
        srv.proc.stdin.end()
        await srv.exited
      }
      f.serveRssKiB = Math.max(f.serveRssKiB, rss)
    }
    return f
  } finally {
    await backend.close()
  }
}

const rate = (n: number, ms: number) => (n * 1000) / ms
const fmt = (x: number) => Math.round(x).toLocaleString('en-US')
const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`

/** Issue 4's rows as text (or Markdown) lines; `level` and `gitStore` are rows 1–3 of bench/larix.ts on each backend. */
export function cloneTable(f: CloneFigures, level: LarixRun[], gitStore: LarixRun[], style: 'text' | 'markdown'): string {
  const larix = median(f.larixMs.map(ms => rate(f.objects, ms)))
  const native = median(f.gitMs.map(ms => rate(f.objects, ms)))
  const isoRate = f.isoMs.length ? median(f.isoMs.map(ms => rate(f.objects, ms))) : NaN
  const fromLarix = median(f.fromLarixMs.map(ms => rate(f.objects, ms)))
  const fromHb = median(f.fromHttpBackendMs.map(ms => rate(f.objects, ms)))
  const fromLarixPlain = median(f.fromLarixPlainMs.map(ms => rate(f.objects, ms)))
  const fromHbPlain = median(f.fromHttpBackendPlainMs.map(ms => rate(f.objects, ms)))
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`
  const met = (ok: boolean) => (ok ? 'yes' : 'NO')
  const rows: string[][] = [
    ['row', 'larix', 'peer', 'larix vs peer', 'target', 'met'],
    [`6. larix clone from http-backend into level (${fmt(f.objects)} objects, ${fmt(f.commits)} commits)`, `${fmt(larix)} objects/s`,
      `git clone --bare ${fmt(native)}/s; isomorphic-git ${Number.isNaN(isoRate) ? '-' : fmt(isoRate)}/s`,
      `${ratio(larix, native)} git; ${Number.isNaN(isoRate) ? '-' : ratio(larix, isoRate)} iso`, '≥ 0.8x git', met(larix >= 0.8 * native)],
    [`6. peak RSS of a clone (larix: child process; git: its largest process): ${fmt(f.objects)} / ${fmt(f.bigObjects)} objects`, `${mib(f.larixRssKiB)} / ${mib(f.larixBigRssKiB)}`,
      Number.isNaN(f.gitRssKiB) ? 'git clone --bare - (no /usr/bin/time)' : `git clone --bare ${mib(f.gitRssKiB)} / ${mib(f.gitBigRssKiB)}`,
      `larix ${ratio(f.larixBigRssKiB, f.larixRssKiB)}, git ${Number.isNaN(f.gitRssKiB) ? '-' : ratio(f.gitBigRssKiB, f.gitRssKiB)} for ${ratio(f.bigObjects, f.objects)} the objects`, 'bounded', met(f.larixBigRssKiB < 1.5 * f.larixRssKiB)],
    [`7. git clone --bare from larix serve (level, child process; from its clone pack, built in ${fmt(f.clonePackBuildMs)} ms)`, `${fmt(fromLarix)} objects/s`, `from http-backend ${fmt(fromHb)}/s`,
      ratio(fromLarix, fromHb), '≥ 0.8x', met(fromLarix >= 0.8 * fromHb)],
    [`7. the same object by object (clone packs off, as a store's first clone is served)`, `${fmt(fromLarixPlain)} objects/s`, `from http-backend ${fmt(fromHbPlain)}/s`,
      ratio(fromLarixPlain, fromHbPlain), '-', '-'],
    [`7. peak RSS of the larix serve process`, mib(f.serveRssKiB), '-', '-', 'bounded', '-'],
  ]
  const objs = (r: LarixRun, ms: number) => rate(r.importObjects, ms)
  const pairs: [string, (r: LarixRun) => number, string][] = [
    ['import', r => objs(r, r.importMs), 'objects/s'],
    ['single-key commits', r => 1 / r.commitMs, 'x'],
    ['single-key commits + close (everything flushed)', r => 1 / (r.commitMs + r.closeMs), 'x'],
    ['reads, cold', r => 1 / r.coldMs, 'x'],
    ['reads, warm', r => 1 / r.warmMs, 'x'],
  ]
  for (const [name, speed] of level.length ? pairs : []) {
    const lv = median(level.map(speed)), gt = median(gitStore.map(speed))
    rows.push([`8. gitBackend vs level: ${name} (issue 2's row)`, `git ${ratio(gt, lv)} of level`, '-', ratio(gt, lv), '≥ 0.33x (within 3x)', met(gt >= lv / 3)])
  }
  if (style === 'markdown') {
    return [`| ${rows[0].join(' | ')} |`, `| ${rows[0].map(() => '---').join(' | ')} |`, ...rows.slice(1).map(r => `| ${r.join(' | ')} |`)].join('\n')
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map(r => r[i].length)))
  return rows.map(r => r.map((c, i) => c.padEnd(w[i])).join('  ')).join('\n')
}

// ------------------------------------------------------------------------------------------ child mode

/**
 * This process's peak RSS in KiB. Linux's VmHWM belongs to the address space made at exec; getrusage's
 * maxRSS (the fallback elsewhere) also counts the parent's pages at fork, so a child of a big bench
 * process would report the parent's size.
 */
function peakRssKiB(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))
    if (m) return Number(m[1])
  } catch { /* not Linux */ }
  return process.resourceUsage().maxRSS
}

async function childMain(mode: string, args: string[]): Promise<void> {
  if (mode === 'child-clone') {
    const [url, dir] = args
    const repo = await Repo.open({ backend: levelBackend(dir) })
    const r = await cloneInto(repo, url)
    await repo.close()
    process.stdout.write(JSON.stringify({ objects: r.fetch.objects, maxRssKiB: peakRssKiB() }) + '\n')
    return
  }
  if (mode === 'child-serve') {
    const repo = await Repo.open({ backend: levelBackend(args[0]) })
    const pack = args[1] !== 'plain'
    const running = await startServer(repo, { http: 0, websocket: false, clonePack: pack })
    let buildMs: number | undefined
    if (pack) {
      const t = performance.now()
      await running.server.context.clonePacks!.build(running.server.context)
      buildMs = performance.now() - t
    }
    process.stdout.write(JSON.stringify({ url: running.http!.url, ...(buildMs !== undefined ? { buildMs } : {}) }) + '\n')
    process.stdin.resume()
    await new Promise<void>(res => process.stdin.on('end', () => res()))
    await running.close()
    await repo.close()
    process.stdout.write(JSON.stringify({ maxRssKiB: peakRssKiB() }) + '\n')
    return
  }
  if (mode === 'bench') {
    const { values } = parseArgs({ args, options: { runs: { type: 'string', default: '3' }, 'no-iso': { type: 'boolean', default: false }, markdown: { type: 'boolean', default: false } } })
    const runs = Number(values.runs)
    if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a whole number >= 1, got ${values.runs}`)
    const home = await tempDir('home'), dir = await tempDir('clone')
    try {
      const f = await cloneBench(dir, home, runs, s => process.stderr.write(s + '\n'), { commits: 5000, iso: !values['no-iso'] })
      process.stderr.write(`row 6 larix ms: ${f.larixMs.map(Math.round).join(' ')}; git ms: ${f.gitMs.map(Math.round).join(' ')}\n`)
      const phase = (k: keyof ClonePhases) => Math.round(median(f.larixPhases.map(p => p[k])))
      process.stderr.write(`row 6 larix phases (median ms from the start): open ${phase('open')}, first 256 entries ${phase('firstEntry')}, last entry parsed and written ${phase('parsed')}, refs stored ${phase('fetched')}, closed ${phase('closed')}\n`)
      process.stderr.write(`row 7 from larix (clone pack, built in ${Math.round(f.clonePackBuildMs)} ms) ms: ${f.fromLarixMs.map(Math.round).join(' ')}; from http-backend ms: ${f.fromHttpBackendMs.map(Math.round).join(' ')}\n`)
    process.stderr.write(`row 7 from larix object by object ms: ${f.fromLarixPlainMs.map(Math.round).join(' ')}; from http-backend ms: ${f.fromHttpBackendPlainMs.map(Math.round).join(' ')}\n`)
      process.stdout.write(cloneTable(f, [], [], values.markdown ? 'markdown' : 'text') + '\n')
    } finally {
      await cleanup(dir)
      await cleanup(home)
    }
    return
  }
  throw new Error(`unknown mode ${mode}`)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  childMain(process.argv[2] ?? '', process.argv.slice(3)).catch(e => {
    process.stderr.write(`clone.js ${process.argv[2]}: ${(e as Error).stack ?? e}\n`)
    process.exit(1)
  })
}
