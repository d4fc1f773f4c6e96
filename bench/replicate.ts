// Issue 5's rows: replication lag between two replicas linked over mutual TLS, and catching up 10,000 commits
// over TLS against `git fetch` of the same commits from `git daemon`.
//
// The replicas are what `larix serve --peer` runs: a level store, startServer with HTTPS (and so the wss://
// WebSocket endpoints /git and /api/v1/watch) and git over TLS, and startReplication with the other replica as
// its wss:// peer: git over a WebSocket over TLS, and the watch channel on the same listener (mutual TLS: one
// CA, each side presents a client certificate). That is the link a real deployment uses: only http(s)/ws(s)
// peers get the push-style watch channel (a larix+tls:// peer falls back to the 30 s poll for the peer's
// changes), and smart HTTP over https:// takes the global fetch(), which does not take options.tls.
//
// Each replica runs in its own Node process (a child forked from this file with `--replica`), as in a real
// deployment; `lag` can also run both in this one process, for comparison (`mode: 'in-process'`).
// Times across processes are wall-clock (performance.timeOrigin + performance.now()), same machine.
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { cp } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { fetch as larixFetch, levelBackend, Repo, startReplication, startServer } from '../src/index.js'
import type { Replicator, RunningServer, TlsOptions } from '../src/index.js'
import { makePki } from '../test/pki.js'
import { makeDataSet } from './data.js'
import type { DataSet } from './data.js'
import type { Pki } from '../test/pki.js'
import { cleanup, git, median, run, tempDir } from './measure.js'
import { gitDaemon } from './http-backend.js'

const AUTHOR = 'Bench <bench@example.org>'
/** The PEM texts a replica needs (sent over IPC). */
const pem = (p: Pki): TlsFiles => ({ ca: p.ca, serverCert: p.serverCert, serverKey: p.serverKey, clientCert: p.clientCert, clientKey: p.clientKey })
/** Updates in the data set: enough for 60 s at 100 writes/s and for the 10,000 commits of the catch-up. */
const UPDATES = 10_000
const now = () => performance.timeOrigin + performance.now()

// ---------------------------------------------------------------------------------------------------------
// One replica, driven by messages (over IPC in a child process, or by direct calls in this one).

interface TlsFiles { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string }

type Msg =
  | { op: 'open'; dir: string; pki: TlsFiles }
  | { op: 'replicate'; peer: string }
  | { op: 'seed' }
  | { op: 'commits'; n: number }
  | { op: 'write'; rate: number; ms: number }
  | { op: 'observe' }
  | { op: 'observed' }
  | { op: 'head' }
  | { op: 'catchUp'; url: string }
  | { op: 'close' }

interface Head { id: string | null; tree: string | null }

class Replica {
  repo?: Repo<unknown>
  server?: RunningServer
  replicator?: Replicator
  tls?: TlsOptions
  seen: [number, number][] = []
  unwatch?: () => void
  /** The bench's data set (bench/data.ts): 10,000 keys three levels deep, ~100-byte values; its updates are the writes. */
  private dataSet?: DataSet
  get ds(): DataSet { return this.dataSet ??= makeDataSet({ commits: UPDATES }) }

  async handle(m: Msg): Promise<unknown> {
    switch (m.op) {
      case 'open': {
        this.repo = await Repo.open<unknown>({ backend: levelBackend(m.dir), author: AUTHOR })
        this.tls = { ca: m.pki.ca, cert: m.pki.clientCert, key: m.pki.clientKey }
        this.server = await startServer(this.repo, {
          http: 0, https: true, gitTls: 0, git: 0, tls: { cert: m.pki.serverCert, key: m.pki.serverKey, ca: m.pki.ca },
        })
        return { wss: this.server.websocket!.url, gitTls: this.server.gitTls!.url, git: this.server.git!.url }
      }
      case 'replicate':
        this.replicator = startReplication(this.repo!, [m.peer], { tls: this.tls! })
        await this.replicator.syncNow()
        return this.replicator.status()
      case 'seed': {
        const main = this.repo!.branch('main')
        const ds = this.ds
        await main.transaction(tx => { for (let i = 0; i < ds.paths.length; i++) tx.set(ds.paths[i]!, ds.values[i]) }, { message: 'base' })
        return this.head()
      }
      case 'commits': {
        const main = this.repo!.branch('main')
        const u = this.ds.updates
        for (let i = 0; i < m.n; i++) await main.set(u[i % u.length]!.path, u[i % u.length]!.value, { message: `commit ${i}` })
        return this.head()
      }
      case 'write': return this.write(m.rate, m.ms)
      case 'observe': {
        // B: the time of every head change, and the last write its new head contains.
        const repo = this.repo!
        this.unwatch = repo.branch('main').watch(change => {
          const t = now()
          if (change.after === undefined) return
          void lastWrite(repo, change.after).then(seq => { this.seen.push([t, seq]) }, () => { this.seen.push([t, -2]) })
        })
        return null
      }
      case 'observed': { this.unwatch?.(); const s = this.seen; this.seen = []; return s }
      case 'head': return this.head()
      case 'catchUp': return this.catchUp(m.url)
      case 'close':
        await this.replicator?.stop()
        await this.server?.close()
        await this.repo?.close()
        return null
    }
  }

  async head(): Promise<Head> {
    const h = await this.repo!.branch('main').head()
    return { id: h?.id ?? null, tree: h?.tree ?? null }
  }

  /** A: `rate` single-key writes per second for `ms`, on a timer; each write's completion time. */
  async write(rate: number, ms: number): Promise<{ done: number[]; startedAt: number; endedAt: number }> {
    const main = this.repo!.branch('main')
    const period = 1000 / rate, n = Math.round((ms * rate) / 1000)
    const done: number[] = []
    const t0 = now()
    for (let i = 0; i < n; i++) {
      const due = t0 + i * period - now()
      if (due > 0) await new Promise(r => setTimeout(r, due))
      const u = this.ds.updates[i % UPDATES]!
      await main.set(u.path, u.value, { message: `write ${i}` })
      done.push(now())
    }
    return { done, startedAt: t0, endedAt: now() }
  }

  /** B: fetch main from `url` (larix+tls://) and fast-forward main to it. */
  async catchUp(url: string): Promise<{ ms: number; fetchMs: number; objects: number; merge: string; head: Head }> {
    const repo = this.repo!
    const t0 = now()
    const f = await larixFetch(repo, url, { tls: this.tls!, remote: 'a', refs: ['main'], tags: false })
    const t1 = now()
    const m = await repo.branch('main').merge(f.refs.find(r => r.remoteRef === 'refs/heads/main')!.id)
    const t2 = now()
    return { ms: t2 - t0, fetchMs: t1 - t0, objects: f.objects, merge: m.status, head: await this.head() }
  }
}

/** The highest `write N` a commit contains (its own, or its parents' for a merge commit). */
async function lastWrite(repo: Repo<unknown>, id: string): Promise<number> {
  let best = -1
  const todo = [id], done = new Set<string>()
  while (todo.length > 0 && done.size < 64) {
    const c = await repo.commit(todo.pop()!)
    if (done.has(c.id)) continue
    done.add(c.id)
    const m = /^write (\d+)/.exec(c.info.message)
    if (m) best = Math.max(best, Number(m[1]))
    else todo.push(...c.parents)
  }
  return best
}

interface Handle { call<T>(m: Msg): Promise<T>; kill(): Promise<void> }

function inProcess(): Handle {
  const r = new Replica()
  return { call: async <T>(m: Msg) => (await r.handle(m)) as T, kill: async () => {} }
}

/** A replica in its own Node process (this file, run with --replica). */
function child(): Handle {
  const proc: ChildProcess = fork(fileURLToPath(import.meta.url), ['--replica'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // e.g. LARIX_BENCH_REPLICA_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the replicas.
    execArgv: (process.env.LARIX_BENCH_REPLICA_ARGS ?? '').split(' ').filter(Boolean),
  })
  let pending: { resolve(v: unknown): void; reject(e: Error): void } | undefined
  proc.on('message', (reply: { ok: boolean; value?: unknown; error?: string }) => {
    const p = pending
    pending = undefined
    if (reply.ok) p?.resolve(reply.value)
    else p?.reject(new Error(`replica process: ${reply.error}`))
  })
  proc.on('exit', code => { pending?.reject(new Error(`replica process exited with ${code}`)); pending = undefined })
  return {
    call: <T>(m: Msg) => new Promise<T>((resolve, reject) => {
      if (pending) { reject(new Error('one call at a time')); return }
      pending = { resolve: v => resolve(v as T), reject }
      proc.send(m)
    }),
    // After 'close' the child exits by itself (and writes its profile, if asked to); SIGTERM if it lingers.
    kill: () => new Promise<void>(resolve => {
      if (proc.exitCode !== null || proc.signalCode !== null) { resolve(); return }
      const t = setTimeout(() => proc.kill(), 3000)
      proc.once('exit', () => { clearTimeout(t); resolve() })
    }),
  }
}

async function replicaMain(): Promise<void> {
  const r = new Replica()
  let chain = Promise.resolve()
  process.on('message', (m: Msg) => {
    chain = chain.then(async () => {
      try {
        const value = await r.handle(m)
        process.send!({ ok: true, value })
        if (m.op === 'close') process.disconnect()
      } catch (e) {
        process.send!({ ok: false, error: (e as Error).stack ?? String(e) })
      }
    })
  })
}

// ---------------------------------------------------------------------------------------------------------
// Row 1: lag.

export interface LagFigures {
  mode: 'processes' | 'in-process'
  writes: number
  /** Writes per second achieved (writes / time from the first scheduled write to the last completed). */
  rate: number
  lagMs: { median: number; p99: number; max: number; mean: number }
  /** Head changes B saw. */
  headChanges: number
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!
}

async function untilSame(a: Handle, b: Handle, ms: number): Promise<{ a: Head; b: Head }> {
  const end = Date.now() + ms
  for (;;) {
    const [ha, hb] = [await a.call<Head>({ op: 'head' }), await b.call<Head>({ op: 'head' })]
    if (ha.id === hb.id || Date.now() > end) return { a: ha, b: hb }
    await new Promise(r => setTimeout(r, 50))
  }
}

export async function lagRun(pki: Pki, mode: 'processes' | 'in-process', writeMs: number, rate = 100): Promise<LagFigures> {
  const dirA = await tempDir('replica-a'), dirB = await tempDir('replica-b')
  const make = mode === 'processes' ? child : inProcess
  const A = make(), B = make()
  try {
    const urlA = await A.call<{ wss: string }>({ op: 'open', dir: dirA, pki: pem(pki) })
    const urlB = await B.call<{ wss: string }>({ op: 'open', dir: dirB, pki: pem(pki) })
    await A.call({ op: 'seed' })
    await A.call({ op: 'replicate', peer: urlB.wss })
    await B.call({ op: 'replicate', peer: urlA.wss })
    const base = await untilSame(A, B, 10_000)
    if (base.a.id !== base.b.id) throw new Error('lag: the replicas did not converge on the base commit')
    await B.call({ op: 'observe' })
    const w = await A.call<{ done: number[]; startedAt: number; endedAt: number }>({ op: 'write', rate, ms: writeMs })
    const end = await untilSame(A, B, 10_000)
    const seen = await B.call<[number, number][]>({ op: 'observed' })
    if (end.a.id !== end.b.id || end.a.tree !== end.b.tree) throw new Error(`lag: B's head ${end.b.id} is not A's ${end.a.id} after the writes`)
    // For each write: the first head change on B whose head contains it.
    seen.sort((x, y) => x[0] - y[0])
    if (seen.some(s => s[1] === -2)) throw new Error('lag: B could not read a head it changed to')
    const lags: number[] = []
    let j = 0, maxSeq = -1
    for (let i = 0; i < w.done.length; i++) {
      while (maxSeq < i && j < seen.length) maxSeq = Math.max(maxSeq, seen[j++]![1])
      if (maxSeq < i) throw new Error(`lag: write ${i} was never seen on B (B saw up to write ${maxSeq})`)
      lags.push(seen[j - 1]![0] - w.done[i]!)
    }
    lags.sort((x, y) => x - y)
    return {
      mode, writes: w.done.length, rate: (w.done.length * 1000) / (w.endedAt - w.startedAt), headChanges: seen.length,
      lagMs: { median: median(lags), p99: quantile(lags, 0.99), max: lags[lags.length - 1]!, mean: lags.reduce((s, x) => s + x, 0) / lags.length },
    }
  } finally {
    await Promise.all([A.call({ op: 'close' }).catch(() => {}), B.call({ op: 'close' }).catch(() => {})])
    await Promise.all([A.kill(), B.kill()])
    await cleanup(dirA); await cleanup(dirB)
  }
}

// ---------------------------------------------------------------------------------------------------------
// Row 2: catch-up.

export interface CatchUpFigures {
  commits: number
  objects: number
  /** larix: fetch over larix+tls:// plus the fast-forward, in B's process. */
  larixMs: number
  larixFetchMs: number
  /** git fetch from git daemon, git as installed and with core.fsync=none. */
  gitMs: number
  gitTunedMs: number
}

/** A with `commits` commits that B (and a git repo) lack on top of a common base; `runs` catch-ups each way. */
export async function catchUpBench(pki: Pki, home: string, commits: number, runs: number, log: (s: string) => void): Promise<CatchUpFigures[]> {
  const root = await tempDir('catchup')
  const A = child()
  let B: Handle | undefined
  let daemon: { url: string; close(): Promise<void> } | undefined
  const out: CatchUpFigures[] = []
  try {
    const urls = await A.call<{ gitTls: string; git: string }>({ op: 'open', dir: join(root, 'a'), pki: pem(pki) })
    await A.call({ op: 'seed' })
    // The base: a larix store and a bare git repo, both fetched from A.
    B = child()
    await B.call({ op: 'open', dir: join(root, 'b-base'), pki: pem(pki) })
    const baseB = await B.call<{ head: Head }>({ op: 'catchUp', url: urls.gitTls })
    await B.call({ op: 'close' }); await B.kill(); B = undefined
    await git(['clone', '-q', '--bare', urls.git, join(root, 'git-base.git')], root, home)
    const tip = await A.call<Head>({ op: 'commits', n: commits })
    await git(['clone', '-q', '--bare', urls.git, join(root, 'srv', 'a.git')], root, home)
    if ((await git(['rev-parse', 'main'], join(root, 'srv', 'a.git'), home)) !== tip.id) throw new Error('catch-up: git\'s copy of A has another head')
    if ((await git(['rev-parse', 'main'], join(root, 'git-base.git'), home)) !== baseB.head.id) throw new Error('catch-up: the git base is not the larix base')
    daemon = await gitDaemon(join(root, 'srv'), { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', LC_ALL: 'C' })
    for (let r = 0; r < runs; r++) {
      // larix: a copy of B's base store, in its own process.
      const dirB = join(root, `b-${r}`)
      await cp(join(root, 'b-base'), dirB, { recursive: true })
      B = child()
      await B.call({ op: 'open', dir: dirB, pki: pem(pki) })
      const l = await B.call<{ ms: number; fetchMs: number; objects: number; merge: string; head: Head }>({ op: 'catchUp', url: urls.gitTls })
      await B.call({ op: 'close' }); await B.kill(); B = undefined
      await cleanup(dirB).catch(() => {})
      if (l.head.id !== tip.id || l.head.tree !== tip.tree || l.merge !== 'fast-forward') throw new Error(`catch-up: B ended at ${l.head.id} (${l.merge}), A is at ${tip.id}`)
      // git, as installed and tuned, each into a fresh copy of the base.
      const gitMs: number[] = []
      for (const tuned of [false, true]) {
        const g = join(root, `git-${r}-${tuned}.git`)
        await cp(join(root, 'git-base.git'), g, { recursive: true })
        const t0 = now()
        await run('git', [...(tuned ? ['-c', 'core.fsync=none'] : []), 'fetch', '-q', `${daemon.url}/a.git`, 'main:refs/remotes/a/main'], { cwd: g, home })
        gitMs.push(now() - t0)
        if ((await git(['rev-parse', 'refs/remotes/a/main'], g, home)) !== tip.id) throw new Error('catch-up: git fetched another head')
        await cleanup(g).catch(() => {})
      }
      out.push({ commits, objects: l.objects, larixMs: l.ms, larixFetchMs: l.fetchMs, gitMs: gitMs[0]!, gitTunedMs: gitMs[1]! })
      log(`    catch-up run ${r + 1}: larix ${l.ms.toFixed(0)} ms (fetch ${l.fetchMs.toFixed(0)} ms, ${l.objects} objects), git ${gitMs[0]!.toFixed(0)} ms, tuned ${gitMs[1]!.toFixed(0)} ms`)
    }
  } finally {
    if (B) { await B.call({ op: 'close' }).catch(() => {}); await B.kill() }
    await A.call({ op: 'close' }).catch(() => {})
    await A.kill()
    await daemon?.close()
    await cleanup(root)
  }
  return out
}

// ---------------------------------------------------------------------------------------------------------
// Both rows, and their table.

export interface ReplicationResults {
  /** Load averages (1, 5, 15 min) when the rows started and when they ended. */
  loadAtStart: number[]
  load: number[]
  lag: LagFigures[]
  /** The same lag measurement with both replicas in one process, once, for comparison. */
  lagInProcess?: LagFigures
  catchUp: CatchUpFigures[]
  link: string
}

export async function replicationBench(home: string, opts: { runs: number; quick: boolean }, log: (s: string) => void): Promise<ReplicationResults> {
  const { loadavg } = await import('node:os')
  const loadAtStart = loadavg()
  const pkiDir = await tempDir('pki')
  try {
    const pki = makePki(pkiDir)
    const writeMs = opts.quick ? 5_000 : 60_000
    const lagRuns = opts.quick ? 1 : Math.min(opts.runs, 3)
    const lag: LagFigures[] = []
    for (let r = 0; r < lagRuns; r++) {
      log(`    lag run ${r + 1}/${lagRuns}: 100 writes/s for ${writeMs / 1000} s, replicas in two processes`)
      lag.push(await lagRun(pki, 'processes', writeMs))
      const f = lag[lag.length - 1]!
      log(`      median ${f.lagMs.median.toFixed(1)} ms, p99 ${f.lagMs.p99.toFixed(1)} ms, max ${f.lagMs.max.toFixed(1)} ms, ${f.rate.toFixed(1)} writes/s`)
    }
    log(`    lag, both replicas in this process (for comparison), ${(opts.quick ? 5_000 : 20_000) / 1000} s`)
    const lagInProcess = await lagRun(pki, 'in-process', opts.quick ? 5_000 : 20_000)
    log(`      median ${lagInProcess.lagMs.median.toFixed(1)} ms, p99 ${lagInProcess.lagMs.p99.toFixed(1)} ms, max ${lagInProcess.lagMs.max.toFixed(1)} ms`)
    const commits = opts.quick ? 1_000 : 10_000
    log(`    catch-up: ${commits} commits`)
    const catchUp = await catchUpBench(pki, home, commits, opts.runs, log)
    return { loadAtStart, load: loadavg(), lag, lagInProcess, catchUp, link: 'lag over wss:// (git over WebSocket + the wss:// watch channel), catch-up over larix+tls://; mutual TLS' }
  } finally {
    await cleanup(pkiDir)
  }
}

const ms = (x: number) => `${x.toFixed(1)} ms`

export function replicationTable(r: ReplicationResults, style: 'text' | 'markdown'): string {
  const lagMed = (k: 'median' | 'p99' | 'max') => median(r.lag.map(f => f.lagMs[k]))
  const rate = median(r.lag.map(f => f.rate))
  const c = r.catchUp
  const n = c[0]?.commits ?? 0
  const larix = median(c.map(f => (f.commits * 1000) / f.larixMs))
  const gitD = median(c.map(f => (f.commits * 1000) / f.gitMs))
  const gitT = median(c.map(f => (f.commits * 1000) / f.gitTunedMs))
  const head = ['row (issue 5)', 'larix', 'reference', 'target', 'met']
  const rows = [
    [`lag A→B, median (${rate.toFixed(1)} writes/s, ${r.lag[0]?.writes ?? 0} writes, 2 processes)`, ms(lagMed('median')), '-', '< 50 ms', lagMed('median') < 50 ? 'yes' : 'NO'],
    ['lag A→B, p99', ms(lagMed('p99')), '-', '< 200 ms', lagMed('p99') < 200 ? 'yes' : 'NO'],
    ['lag A→B, max', ms(lagMed('max')), '-', '-', '-'],
    ...(r.lagInProcess ? [[`lag, both replicas in one process (median / p99 / max)`, `${ms(r.lagInProcess.lagMs.median)} / ${ms(r.lagInProcess.lagMs.p99)} / ${ms(r.lagInProcess.lagMs.max)}`, '-', '(not judged)', '-']] : []),
    [`catch-up ${n.toLocaleString('en-US')} commits (commits/s) vs git fetch, as installed`, Math.round(larix).toLocaleString('en-US'), Math.round(gitD).toLocaleString('en-US'), '≥ 0.8x git', larix >= 0.8 * gitD ? `yes (${(larix / gitD).toFixed(2)}x)` : `NO (${(larix / gitD).toFixed(2)}x)`],
    [`catch-up vs git fetch, core.fsync=none`, Math.round(larix).toLocaleString('en-US'), Math.round(gitT).toLocaleString('en-US'), '≥ 0.8x git', larix >= 0.8 * gitT ? `yes (${(larix / gitT).toFixed(2)}x)` : `NO (${(larix / gitT).toFixed(2)}x)`],
  ]
  if (style === 'markdown') {
    const line = (cells: string[]) => `| ${cells.join(' | ')} |`
    return [line(head), line(['---', '---:', '---:', '---', '---']), ...rows.map(line)].join('\n')
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map(b => b[i]!.length)))
  const line = (cells: string[]) => cells.map((x, i) => (i === 1 || i === 2 ? x.padStart(widths[i]!) : x.padEnd(widths[i]!))).join('  ').trimEnd()
  return [`Replication (issue 5): ${r.link}; load average ${r.loadAtStart[0]!.toFixed(2)} at the start, ${r.load[0]!.toFixed(2)} at the end`, line(head), widths.map(w => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv.includes('--replica')) {
    void replicaMain()
  } else if (process.argv.includes('--catch-up-only')) {
    // The catch-up row alone: node dist/bench/replicate.js --catch-up-only [--commits N] [--runs N]
    const arg = (name: string, dflt: number) => {
      const i = process.argv.indexOf(name)
      const v = i < 0 ? dflt : Number(process.argv[i + 1])
      if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a whole number >= 1, got ${process.argv[i + 1]}`)
      return v
    }
    const commits = arg('--commits', 10_000), runs = arg('--runs', 3)
    const home = await tempDir('home'), pkiDir = await tempDir('pki')
    try {
      const c = await catchUpBench(makePki(pkiDir), home, commits, runs, s => process.stderr.write(s + '\n'))
      const larix = median(c.map(f => f.larixMs)), gitMs = median(c.map(f => f.gitMs))
      process.stdout.write(`catch-up ${commits} commits: larix ${larix.toFixed(0)} ms, git fetch ${gitMs.toFixed(0)} ms (medians of ${runs}): ${(gitMs / larix).toFixed(2)}x git\n`)
    } finally {
      await cleanup(pkiDir)
      await cleanup(home)
    }
  } else {
    // Standalone: node dist/bench/replicate.js [--quick] [--markdown]; --catch-up-only: above
    const quick = process.argv.includes('--quick')
    const home = await tempDir('home')
    const res = await replicationBench(home, { runs: quick ? 1 : 3, quick }, s => process.stderr.write(s + '\n'))
    process.stdout.write(replicationTable(res, 'text') + '\n')
    if (process.argv.includes('--markdown')) process.stdout.write('\n' + replicationTable(res, 'markdown') + '\n')
    process.stdout.write(JSON.stringify(res, null, 2) + '\n')
    await cleanup(home)
  }
}
