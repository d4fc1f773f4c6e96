// Faults with real processes on 127.0.0.1: `larix serve` killed with SIGKILL while it receives a push, after
// it applied one but before the client heard, and while it serves a clone; a `larix clone` and a `larix pull`
// killed mid-transfer. The fault proxy stalls the transfer at a chosen byte so the kill lands mid-operation.
// Afterwards every level store opens, every ref's closure is present, nothing acknowledged is lost, and the
// retried operation succeeds.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { levelBackend, memoryBackend, LarixError, Repo } from '../src/index.js'
import { startServer } from '../src/platform/node/serve.js'
import { cloneInto, push } from '../src/sync/index.js'
import { assertComplete } from './helpers/complete.js'
import { startFaultProxy } from './helpers/fault-proxy.js'

const tmp = mkdtempSync(join(tmpdir(), 'larix-faults-process-'))
let counter = 0
const fresh = (name: string) => join(tmp, `${name}-${counter++}`)
const BIN = join(process.cwd(), 'bin', 'larix.js')

const children = new Set<ChildProcess>()
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  rmSync(tmp, { recursive: true, force: true })
})

function larix(args: string[]): { child: ChildProcess; exit: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  let stdout = '', stderr = ''
  child.stdout!.on('data', c => { stdout += c })
  child.stderr!.on('data', c => { stderr += c })
  const exit = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>(resolve => {
    child.on('exit', (code, signal) => { children.delete(child); resolve({ code, signal, stdout, stderr }) })
  })
  return { child, exit }
}

async function kill(p: ReturnType<typeof larix>): Promise<void> {
  p.child.kill('SIGKILL')
  const r = await p.exit
  assert.equal(r.signal, 'SIGKILL')
}

interface Served { proc: ReturnType<typeof larix>; http: number; git: number }

/** `larix serve` on a level store, on free ports; resolves once it listens. */
async function serve(store: string): Promise<Served> {
  const proc = larix(['--store', store, '--json', 'serve', '--http', '0', '--git', '0'])
  let out = ''
  proc.child.stdout!.on('data', c => { out += c })
  for (let i = 0; !out.includes('\n'); i++) {
    if (i > 300 || proc.child.exitCode !== null) throw new Error(`larix serve did not start: ${out} ${(await Promise.race([proc.exit, Promise.resolve(undefined)]))?.stderr ?? ''}`)
    await new Promise(r => setTimeout(r, 20))
  }
  const urls = JSON.parse(out.split('\n')[0]) as { http: string; git: string }
  return { proc, http: Number(new URL(urls.http).port), git: Number(new URL(urls.git).port) }
}

/** Open the level store at `dir` (as a restarted process would), check it, close it. */
async function inspect(dir: string): Promise<Record<string, string>> {
  const backend = levelBackend(dir)
  await backend.open()
  try {
    return (await assertComplete(backend)).refs
  } finally {
    await backend.close()
  }
}

function noise(seed: number, n: number): string {
  let x = seed * 2654435761 >>> 0
  let s = ''
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    s += String.fromCharCode(33 + (x >>> 16) % 90)
  }
  return s
}

/** Commits with values that deflate poorly, so a transfer takes many segments. */
async function write(repo: Repo, from: number, to: number): Promise<string> {
  const main = repo.branch('main')
  for (let i = from; i < to; i++) await main.set(`items/${i % 7}`, { i, text: noise(i, 2000) }, { message: `commit ${i}` })
  return (await main.head())!.id
}

/** A level store at a new path holding commits [0, n) on main. */
async function levelStore(n: number): Promise<{ dir: string; head: string }> {
  const dir = fresh('store')
  const repo = await Repo.open({ backend: levelBackend(dir), author: 'Ann <ann@example.org>' })
  const head = await write(repo, 0, n)
  await repo.close()
  return { dir, head }
}

const signal = () => AbortSignal.timeout(15_000)

/** Clone the level store `from` into `to`: an open repo, or a level directory (left closed). */
async function copyStore(from: string, to: Repo | string): Promise<void> {
  const src = levelBackend(from)
  await src.open()
  const repo = typeof to === 'string' ? await Repo.open({ backend: levelBackend(to) }) : to
  const url = await startServer(src, { http: 0 })
  try {
    await cloneInto(repo, url.http!.url, { signal: signal() })
  } finally {
    await url.close()
    await src.close()
    if (typeof to === 'string') await repo.close()
  }
}

let base: { dir: string; head: string }
before(async () => { base = await levelStore(10) })

test('larix serve killed with SIGKILL mid-push, and again after applying a push it had not yet reported: the store opens complete, the retry works', async () => {
  const server = fresh('server')
  await copyStore(base.dir, server)
  const client = await Repo.open({ backend: memoryBackend(), author: 'Bob <bob@example.org>' })
  await copyStore(base.dir, client)
  const b = await write(client, 10, 25)
  let served = await serve(server)
  let proxy = await startFaultProxy({ port: served.git })
  try {
    // 1. Killed while the pack arrives: nothing moved.
    proxy.arm({ kind: 'stall', direction: 'up', after: 8000 })
    const pushing = push(client, proxy.url('git'), { signal: signal() }).then(() => undefined, (e: unknown) => e)
    await proxy.whenFired()
    await kill(served.proc)
    proxy.release()
    const failure = await pushing
    assert.ok(failure instanceof LarixError, `a typed error, not ${String(failure)}`)
    assert.equal((await inspect(server))['refs/heads/main'], base.head)

    served = await serve(server)
    await proxy.close()
    proxy = await startFaultProxy({ port: served.git })
    const r = await push(client, proxy.url('git'), { signal: signal() })
    assert.equal(r.status, 'updated')

    // 2. Killed after it moved the ref, before its report reached the client: the push is there.
    const c = await write(client, 25, 30)
    // Held from the first byte of its report on ("unpack ok" comes only after the ref moved).
    proxy.arm({ kind: 'stall', direction: 'down', after: 0, match: 'unpack ok' })
    const second = push(client, proxy.url('git'), { signal: signal() }).then(() => undefined, (e: unknown) => e)
    await proxy.whenFired()
    await kill(served.proc)
    // The report the proxy holds must never reach the client (releasing it could race the server's death):
    // the client's connection goes down with the server.
    await proxy.close()
    const secondResult = await second
    assert.ok(secondResult instanceof LarixError, `a typed error, not ${String(secondResult)} ${(secondResult as Error)?.stack ?? ""}`)
    assert.equal((await inspect(server))['refs/heads/main'], c, 'the server applied the push before it died')

    served = await serve(server)
    const again = await push(client, `git://127.0.0.1:${served.git}/`, { signal: signal() })
    assert.equal(again.status, 'up-to-date')
    await kill(served.proc)
    const refs = await inspect(server)
    assert.equal(refs['refs/heads/main'], c)
    assert.notEqual(b, c)
  } finally {
    await proxy.close()
    if (served.proc.child.exitCode === null && served.proc.child.signalCode === null) await kill(served.proc)
    await client.close()
  }
})

test('larix serve killed with SIGKILL while it serves a clone: both stores open complete, the clone is retried and succeeds', async () => {
  const server = fresh('server')
  await copyStore(base.dir, server)
  let served = await serve(server)
  const proxy = await startFaultProxy({ port: served.http })
  const dir = fresh('clone')
  let backend = levelBackend(dir)
  try {
    proxy.arm({ kind: 'stall', direction: 'down', after: 9000 })
    const repo = await Repo.open({ backend })
    const cloning = cloneInto(repo, proxy.url('http'), { signal: signal() }).then(() => undefined, (e: unknown) => e)
    await proxy.whenFired()
    await kill(served.proc)
    // What the proxy holds must never reach the client (releasing it could race the server's death, and a
    // small clone's whole answer may already be held): the client's connection goes down with the server.
    await proxy.close()
    const failure = await cloning
    assert.ok(failure instanceof LarixError, `a typed error, not ${String(failure)}`)
    await repo.close()
    assert.equal((await inspect(dir))['refs/heads/main'], undefined)
    assert.equal((await inspect(server))['refs/heads/main'], base.head)

    served = await serve(server)
    backend = levelBackend(dir)
    const retry = await Repo.open({ backend })
    await cloneInto(retry, `http://127.0.0.1:${served.http}/`, { signal: signal() })
    assert.equal((await retry.branch('main').head())!.id, base.head)
    await retry.close()
    assert.equal((await inspect(dir))['refs/heads/main'], base.head)
  } finally {
    await proxy.close()
    await backend.close().catch(() => {})
    if (served.proc.child.exitCode === null && served.proc.child.signalCode === null) await kill(served.proc)
  }
})

test('larix clone and larix pull killed with SIGKILL mid-transfer: the store opens complete, and larix pull then works', async () => {
  const source = await Repo.open({ backend: memoryBackend(), author: 'Ann <ann@example.org>' })
  await copyStore(base.dir, source)
  const running = await startServer(source.backend, { http: 0 })
  const proxy = await startFaultProxy({ port: running.http!.port })
  try {
    // larix clone, killed: whatever it wrote is unreferenced; a pull into the store then brings main.
    const dir = fresh('cli-clone')
    proxy.arm({ kind: 'stall', direction: 'down', after: 9000 })
    const cloning = larix(['clone', proxy.url('http'), dir])
    await proxy.whenFired()
    await kill(cloning)
    proxy.release()
    assert.deepEqual(await inspect(dir), {})
    const pulled = await larix(['--store', dir, 'pull', proxy.url('http')]).exit
    assert.equal(pulled.code, 0, pulled.stderr)
    assert.equal((await inspect(dir))['refs/heads/main'], base.head)

    // larix pull, killed: main stays, the store is complete, and the next pull fast-forwards.
    const head = await write(source, 10, 20)
    proxy.arm({ kind: 'stall', direction: 'down', after: 6000 })
    const pulling = larix(['--store', dir, 'pull', proxy.url('http')])
    await proxy.whenFired()
    await kill(pulling)
    proxy.release()
    assert.equal((await inspect(dir))['refs/heads/main'], base.head)
    const again = await larix(['--store', dir, 'pull', proxy.url('http')]).exit
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, /Fast-forward/)
    assert.equal((await inspect(dir))['refs/heads/main'], head)
  } finally {
    await proxy.close()
    await running.close()
    await source.close()
  }
})
