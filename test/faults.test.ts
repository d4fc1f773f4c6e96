// Faults, in one process: nothing is lost when a connection is cut at any byte of a clone, pull or push
// (smart HTTP and git://, memory and level stores on both sides, larix and the real git CLI), or when the
// disk fills during receive-pack or fetch. After each fault: the stores open, every ref's closure is
// present (assertComplete), what was acknowledged is there, and the same operation, retried, succeeds.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { levelBackend, memoryBackend, LarixError, Repo } from '../src/index.js'
import type { Backend } from '../src/index.js'
import type { StoredObject } from '../src/store/objects.js'
import { startServer } from '../src/platform/node/serve.js'
import type { RunningServer } from '../src/platform/node/serve.js'
import { clone, cloneInto, pull, push } from '../src/sync/index.js'
import { assertComplete, fullDiskBackend, refsOf } from './helpers/complete.js'
import { startFaultProxy } from './helpers/fault-proxy.js'
import type { Direction, FaultProxy } from './helpers/fault-proxy.js'

const tmp = mkdtempSync(join(tmpdir(), 'larix-faults-'))
after(() => rmSync(tmp, { recursive: true, force: true }))
let counter = 0
const fresh = (name: string) => join(tmp, `${name}-${counter++}`)

type Kind = 'memory' | 'level'
type Transport = 'http' | 'git'
type Op = 'clone' | 'pull' | 'push'

// --------------------------------------------------------------------------------------------- history

/** Two states of one history: `base` (main at A) and `ahead` (main at B, A's descendant), as object lists. */
interface History { a: string; b: string; base: StoredObject[]; ahead: StoredObject[] }
let history: History

/** Text that deflates poorly, so packs span many TCP segments. */
function noise(seed: number, n: number): string {
  let x = seed * 2654435761 >>> 0
  let s = ''
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    s += String.fromCharCode(33 + (x >>> 16) % 90)
  }
  return s
}

before(async () => {
  const backend = memoryBackend()
  let clock = 1_700_000_000_000
  const repo = await Repo.open({ backend, author: 'Ann <ann@example.org>', now: () => (clock += 1000) })
  const main = repo.branch('main')
  const snapshot = () => [...(backend.objects as unknown as { map: Map<string, { type: StoredObject['type']; body: Uint8Array; generation?: number }> }).map]
    .map(([id, o]): StoredObject => ({ id, ...o }))
  for (let i = 0; i < 12; i++) await main.set(`items/${i % 5}`, { i, text: noise(i, 1500) }, { message: `base ${i}` })
  const a = (await main.head())!.id
  const base = snapshot()
  for (let i = 0; i < 12; i++) {
    await main.transaction(tx => {
      tx.set(`more/${i % 4}`, { i, text: noise(100 + i, 1500) })
      if (i % 5 === 0) tx.remove(`items/${i % 5}`)
    }, { message: `ahead ${i}` })
  }
  const b = (await main.head())!.id
  history = { a, b, base, ahead: snapshot() }
  await repo.close()
})

function newBackend(kind: Kind): Backend {
  return kind === 'memory' ? memoryBackend() : levelBackend(fresh('level'))
}

/** Reopen a store as a restarted process would: a new backend object on the same data. */
async function reopen(kind: Kind, backend: Backend): Promise<Backend> {
  await backend.close()
  const next = kind === 'level' ? levelBackend((backend as Backend & { location: string }).location) : backend
  await next.open()
  return next
}

/** An open repo on `backend` holding `objects`, with `refs` set. */
async function seeded(backend: Backend, objects: readonly StoredObject[], refs: Record<string, string>): Promise<Repo> {
  const repo = await Repo.open({ backend, author: 'Bob <bob@example.org>' })
  await backend.objects.putMany(objects)
  for (const [name, id] of Object.entries(refs)) assert.ok(await backend.refs.cas(name, undefined, id))
  return repo
}

const serverOptions = (errors: unknown[]) => ({ http: 0, git: 0, onError: (e: unknown) => errors.push(e) })

// ------------------------------------------------------------------------------------------- scenarios

interface Scenario {
  server: Kind
  client: Kind
  transport: Transport
  op: Op
}

interface Setup {
  serverBackend: Backend
  running: RunningServer
  clientBackend: Backend
  /** The client's repo; absent for a clone that has not opened it yet. */
  clientRepo: Repo | undefined
  proxy: FaultProxy
  url: string
  close(): Promise<void>
}

async function setUp(s: Scenario): Promise<Setup> {
  const serverBackend = newBackend(s.server)
  const clientBackend = newBackend(s.client)
  const { a, b, base, ahead } = history
  // clone: the server has everything, the client nothing. pull: the server is ahead. push: the client is.
  const serverState = s.op === 'push' ? { objects: base, main: a } : { objects: ahead, main: b }
  const serverRepo = await seeded(serverBackend, serverState.objects, { 'refs/heads/main': serverState.main })
  let clientRepo: Repo | undefined
  if (s.op === 'pull') clientRepo = await seeded(clientBackend, base, { 'refs/heads/main': a, 'refs/remotes/origin/main': a })
  if (s.op === 'push') clientRepo = await seeded(clientBackend, ahead, { 'refs/heads/main': b, 'refs/remotes/origin/main': a })
  const running = await startServer(serverBackend, serverOptions([]))
  const proxy = await startFaultProxy({ port: s.transport === 'http' ? running.http!.port : running.git!.port })
  const setup: Setup = {
    serverBackend, running, clientBackend, clientRepo, proxy, url: proxy.url(s.transport),
    async close() {
      await proxy.close()
      await running.close()
      await serverRepo.close().catch(() => {})
      await setup.clientBackend.close().catch(() => {})
      await setup.serverBackend.close().catch(() => {})
    },
  }
  return setup
}

/** Every operation gives up after 15 s rather than hang the suite. */
const opts = () => ({ signal: AbortSignal.timeout(15_000) })

/** Run the scenario's operation once; returns what it acknowledged. */
async function runOp(s: Scenario, setup: Setup): Promise<void> {
  if (s.op === 'clone') {
    if (setup.clientRepo) {
      await cloneInto(setup.clientRepo, setup.url, opts())
      return
    }
    setup.clientRepo = await clone(setup.url, { backend: setup.clientBackend, ...opts() })
    return
  }
  if (s.op === 'pull') {
    const r = await pull(setup.clientRepo!, setup.url, opts())
    // up-to-date when a cut came after everything had arrived (the first try did it all).
    assert.ok(r.merge.status === 'fast-forward' || r.merge.status === 'up-to-date', r.merge.status)
    return
  }
  const r = await push(setup.clientRepo!, setup.url, opts())
  assert.ok(r.status === 'updated' || r.status === 'up-to-date', r.status)
}

/** Where main is on both sides once any of the operations has succeeded. */
const expected = () => ({ client: history.b, server: history.b })

/** Bytes each way of a clean run of (op, transport), measured once. */
const totals = new Map<string, { up: number; down: number }>()
async function measure(s: Scenario): Promise<{ up: number; down: number }> {
  const key = `${s.op}/${s.transport}`
  const known = totals.get(key)
  if (known) return known
  const setup = await setUp({ ...s, server: 'memory', client: 'memory' })
  try {
    await runOp(s, setup)
    const t = { ...setup.proxy.bytes }
    totals.set(key, t)
    return t
  } finally {
    await setup.close()
  }
}

/** Cut the connection after a fraction `at` of the bytes going `direction`; then check and retry. */
async function cutAndRetry(s: Scenario, direction: Direction, at: number): Promise<void> {
  const total = (await measure(s))[direction]
  const after = Math.min(total - 1, Math.floor(at * total))
  const setup = await setUp(s)
  try {
    setup.proxy.arm({ kind: 'cut', direction, after })
    let failure: unknown
    try { await runOp(s, setup) } catch (e) { failure = e }
    assert.ok(setup.proxy.fired, `the cut at ${after}/${total} bytes ${direction} never happened`)
    if (process.env.LARIX_FAULT_LOG) console.log(s, direction, `${after}/${total}`, failure === undefined ? 'ok' : `${(failure as LarixError).code}: ${(failure as Error).message.slice(0, 120)}`)
    if (failure !== undefined) {
      assert.ok(failure instanceof LarixError || (failure as Error).name === 'AbortError',
        `a cut connection must give a typed error, got ${(failure as Error)?.stack ?? failure}`)
    }

    // The stores open again and are complete; what was acknowledged is there; nothing else moved.
    await setup.clientRepo?.close().catch(() => {})
    setup.clientRepo = undefined
    setup.clientBackend = await reopen(s.client, setup.clientBackend)
    const client = await assertComplete(setup.clientBackend)
    const server = await assertComplete(setup.serverBackend)
    const want = expected()
    if (failure === undefined) {
      assert.equal(client.refs['refs/heads/main'], want.client)
      assert.equal(server.refs['refs/heads/main'], want.server)
    } else if (s.op === 'pull') {
      assert.equal(client.refs['refs/heads/main'], history.a, 'a failed pull left main where it was')
    } else if (s.op === 'push') {
      // The cut may come after the server moved the ref and before the client heard: either is fine.
      assert.ok([history.a, history.b].includes(server.refs['refs/heads/main']))
    } else {
      assert.ok(client.refs['refs/heads/main'] === undefined || client.refs['refs/heads/main'] === want.client)
    }

    // The retry, through the same proxy (now passing everything), succeeds.
    setup.proxy.arm({ kind: 'pass' })
    setup.clientRepo = await Repo.open({ backend: setup.clientBackend, author: 'Bob <bob@example.org>' })
    const cloned = s.op === 'clone' && (await setup.clientRepo.branches()).length > 0
    if (!cloned) await runOp(s, setup)
    const c2 = await assertComplete(setup.clientBackend)
    const s2 = await assertComplete(setup.serverBackend)
    assert.equal(c2.refs['refs/heads/main'], want.client)
    assert.equal(s2.refs['refs/heads/main'], want.server)
    assert.equal(await setup.clientRepo.branch('main').get('more/3').then(v => (v as { i: number }).i), 11)
  } finally {
    await setup.clientRepo?.close().catch(() => {})
    await setup.close()
  }
}

/** Runs per property (LARIX_FAULT_RUNS=200 for a long search). */
const RUNS = Number(process.env.LARIX_FAULT_RUNS ?? 12)
const kinds = fc.constantFrom<Kind>('memory', 'level')
const transports = fc.constantFrom<Transport>('http', 'git')
const directions = fc.constantFrom<Direction>('up', 'down')
/** Where to cut, as a fraction of the bytes going that way: uniform (fast-check's bias would pick 0 most of the time). */
const offsets = fc.noBias(fc.integer({ min: 0, max: 999_999 })).map(n => n / 1_000_000)

for (const op of ['clone', 'pull', 'push'] as const) {
  test(`a connection cut at a random byte during ${op} (HTTP and git://, memory and level on each side): complete stores, retry works`, async () => {
    await fc.assert(fc.asyncProperty(kinds, kinds, transports, directions, offsets, async (server, client, transport, direction, at) => {
      await cutAndRetry({ server, client, transport, op }, direction, at)
    }), {
      numRuns: RUNS,
      // Always one cut in the middle of the pack over git:// (once a raw ECONNRESET escaped from there).
      examples: [['memory', 'level', 'git', 'down', 0.5], ['level', 'memory', 'http', 'down', 0.5]],
    })
  })
}

// ---------------------------------------------------------------------------------------------- git CLI

const GIT_ENV: Record<string, string> = {
  GIT_CONFIG_NOSYSTEM: '1', HOME: tmp, GIT_TERMINAL_PROMPT: '0',
  GIT_AUTHOR_NAME: 'Git User', GIT_AUTHOR_EMAIL: 'git@example.org', GIT_COMMITTER_NAME: 'Git User', GIT_COMMITTER_EMAIL: 'git@example.org',
}

/** Run git without blocking the event loop (the server is in this process). */
function gitRun(cwd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise(resolve => {
    execFile('git', args, { cwd, env: { ...process.env, ...GIT_ENV }, encoding: 'utf8', timeout: 15_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr })
    })
  })
}

async function git(cwd: string, args: string[]): Promise<string> {
  const r = await gitRun(cwd, args)
  assert.equal(r.code, 0, `git ${args.join(' ')}: ${r.stderr}`)
  return r.stdout.trim()
}

test('git push to larix serve cut at a random byte (HTTP and git://, memory and level): complete store, main at the old or the new commit, git push again works', async () => {
  const gitTotals = new Map<string, { up: number; down: number }>()
  await fc.assert(fc.asyncProperty(kinds, transports, directions, offsets, async (kind, transport, direction, at) => {
    const backend = newBackend(kind)
    const repo = await seeded(backend, history.base, { 'refs/heads/main': history.a })
    const running = await startServer(backend, serverOptions([]))
    const proxy = await startFaultProxy({ port: transport === 'http' ? running.http!.port : running.git!.port })
    try {
      const dir = fresh('git-work')
      await git(tmp, ['clone', '--quiet', running.http!.url, dir])
      for (let i = 0; i < 3; i++) {
        await git(dir, ['commit', '--quiet', '--allow-empty', '-m', `git ${i}`])
      }
      writeFileSync(join(dir, 'from-git.txt'), noise(7, 20_000))
      await git(dir, ['add', 'from-git.txt'])
      await git(dir, ['commit', '--quiet', '-m', 'a file from git'])
      const tip = await git(dir, ['rev-parse', 'HEAD'])
      const key = transport
      let total = gitTotals.get(key)
      if (!total) {
        // Measure a clean push of the same commits to a scratch copy of the server.
        const scratch = await seeded(memoryBackend(), history.base, { 'refs/heads/main': history.a })
        const s2 = await startServer(scratch.backend, serverOptions([]))
        const p2 = await startFaultProxy({ port: transport === 'http' ? s2.http!.port : s2.git!.port })
        try {
          await git(dir, ['push', '--quiet', p2.url(transport), 'main'])
          total = { ...p2.bytes }
          gitTotals.set(key, total)
        } finally {
          await p2.close(); await s2.close(); await scratch.close()
        }
      }
      const after = Math.min(total[direction] - 1, Math.floor(at * total[direction]))
      proxy.arm({ kind: 'cut', direction, after })
      const first = await gitRun(dir, ['push', '--quiet', proxy.url(transport), 'main'])
      assert.ok(proxy.fired)
      const done = await assertComplete(backend)
      if (first.code === 0) assert.equal(done.refs['refs/heads/main'], tip, 'git was told the push succeeded')
      else assert.ok([history.a, tip].includes(done.refs['refs/heads/main']), `main moved to ${done.refs['refs/heads/main']}`)
      proxy.arm({ kind: 'pass' })
      await git(dir, ['push', '--quiet', proxy.url(transport), 'main'])
      const again = await assertComplete(backend)
      assert.equal(again.refs['refs/heads/main'], tip)
    } finally {
      await proxy.close()
      await running.close()
      await repo.close()
    }
  }), { numRuns: Math.max(4, Math.ceil(RUNS / 2)) })
})

// -------------------------------------------------------------------------------------------- full disk

const pushed = () => history.ahead.length - history.base.length

test('a full disk during receive-pack: the push fails with a typed error, no ref moves, the server keeps serving; once freed, the retry works', async () => {
  await fc.assert(fc.asyncProperty(kinds, transports, fc.noBias(fc.integer({ min: 0, max: pushed() })), async (kind, transport, room) => {
    const inner = newBackend(kind)
    const disk = fullDiskBackend(inner)
    const errors: unknown[] = []
    const serverRepo = await seeded(disk.backend, history.base, { 'refs/heads/main': history.a })
    const running = await startServer(disk.backend, serverOptions(errors))
    const client = await seeded(memoryBackend(), history.ahead, { 'refs/heads/main': history.b })
    try {
      const url = transport === 'http' ? running.http!.url : running.git!.url
      const before = await refsOf(inner)
      disk.fill(room)
      const failure = await push(client, url, opts()).then(() => undefined, (e: unknown) => e)
      assert.ok(failure instanceof LarixError, `expected a typed error, got ${String(failure)}`)
      assert.ok(['LARIX_REMOTE', 'LARIX_PUSH_REJECTED'].includes(failure.code), failure.code)
      assert.match(failure.message, /space/, 'the error says the disk is full')
      assert.ok(disk.refused > 0)
      assert.deepEqual(await refsOf(inner), before, 'no ref moved')
      await assertComplete(inner)
      // Still serving, with the disk still full: reads need no space.
      const copy = await clone(url, { backend: memoryBackend(), ...opts() })
      assert.equal((await copy.branch('main').head())!.id, history.a)
      await copy.close()

      disk.free()
      const r = await push(client, url, opts())
      assert.equal(r.status, 'updated')
      assert.equal((await assertComplete(inner)).refs['refs/heads/main'], history.b)
      await serverRepo.close()
      const reopened = await reopen(kind, inner)
      assert.equal((await assertComplete(reopened)).refs['refs/heads/main'], history.b)
      await reopened.close()
    } finally {
      await running.close()
      await serverRepo.close().catch(() => {})
      await client.close()
    }
  }), { numRuns: 8, examples: [['level', 'http', pushed()], ['memory', 'git', 0]] })
})

test('a full disk during fetch, pull, clone and a local write: a typed LARIX_BACKEND error, no ref moved, complete; once freed, the retry works', async () => {
  await fc.assert(fc.asyncProperty(kinds, transports, fc.noBias(fc.integer({ min: 0, max: pushed() + 1 })), async (kind, transport, room) => {
    const server = await seeded(memoryBackend(), history.ahead, { 'refs/heads/main': history.b })
    const running = await startServer(server.backend, serverOptions([]))
    const url = transport === 'http' ? running.http!.url : running.git!.url
    try {
      // pull into a store whose disk fills
      {
        const inner = newBackend(kind)
        const disk = fullDiskBackend(inner)
        const repo = await seeded(disk.backend, history.base, { 'refs/heads/main': history.a, 'refs/remotes/origin/main': history.a })
        const before = await refsOf(inner)
        disk.fill(room)
        const failure = await pull(repo, url, opts()).then(() => undefined, (e: unknown) => e)
        if (failure === undefined) {
          assert.equal((await refsOf(inner))['refs/heads/main'], history.b)
        } else {
          assert.ok(failure instanceof LarixError && failure.code === 'LARIX_BACKEND', `expected LARIX_BACKEND, got ${String(failure)}`)
          const now = await refsOf(inner)
          assert.equal(now['refs/heads/main'], history.a, 'main did not move')
          // The fetch may have completed (its objects and the tracking ref) before the merge's write failed.
          assert.ok([before['refs/remotes/origin/main'], history.b].includes(now['refs/remotes/origin/main']))
          // A local commit on the full disk fails too, and is not there afterwards.
          disk.fill(0)
          await assert.rejects(repo.branch('main').set('local', 1), (e: LarixError) => e.code === 'LARIX_BACKEND')
          assert.equal((await refsOf(inner))['refs/heads/main'], history.a)
        }
        await assertComplete(inner)
        disk.free()
        const r = await pull(repo, url, opts())
        assert.ok(['fast-forward', 'up-to-date'].includes(r.merge.status))
        await repo.close()
        const reopened = await reopen(kind, inner)
        assert.equal((await assertComplete(reopened)).refs['refs/heads/main'], history.b)
        await reopened.close()
      }
      // clone into a store whose disk fills (objects go straight to the store: a failure leaves garbage, no ref)
      {
        const inner = newBackend(kind)
        const disk = fullDiskBackend(inner)
        disk.fill(room)
        const failure = await clone(url, { backend: disk.backend, ...opts() }).then(async r => { await r.close(); return undefined }, (e: unknown) => e)
        const reopened = await reopen(kind, inner)
        if (failure !== undefined) {
          assert.ok(failure instanceof LarixError && failure.code === 'LARIX_BACKEND', `expected LARIX_BACKEND, got ${String(failure)}`)
          assert.equal((await refsOf(reopened))['refs/heads/main'], undefined)
        }
        await assertComplete(reopened)
        const repo = await Repo.open({ backend: reopened })
        if (failure !== undefined) await cloneInto(repo, url, opts())
        assert.equal((await assertComplete(reopened)).refs['refs/heads/main'], history.b)
        await repo.close()
      }
    } finally {
      await running.close()
      await server.close()
    }
  }), { numRuns: 8, examples: [['level', 'git', 0], ['level', 'http', pushed()]] })
})
