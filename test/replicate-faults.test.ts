// Replication through faults: connections between two replicas cut at random bytes again and again while both
// sides write, and a replica process killed with SIGKILL in the middle of receiving a replication push and
// restarted. Afterwards both stores are complete (every ref's closure present), nothing acknowledged is lost
// (counters hold every increment, every key written is there), and the replicas converge.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { Repo, levelBackend, memoryBackend, mergers } from '../src/index.js'
import { startServer } from '../src/platform/node/serve.js'
import { replicate } from '../src/sync/index.js'
import { assertComplete } from './helpers/complete.js'
import { startFaultProxy } from './helpers/fault-proxy.js'

const tmp = mkdtempSync(join(tmpdir(), 'larix-replicate-faults-'))
const children = new Set<ChildProcess>()
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  rmSync(tmp, { recursive: true, force: true })
})
const BIN = join(process.cwd(), 'bin', 'larix.js')
const MERGE = { 'counters/**': mergers.counter, 'docs/**': mergers.json }
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

test('replication through connections cut at random bytes, again and again: both replicas complete, every increment kept, converged', async (t) => {
  let firedCuts = 0
  await fc.assert(fc.asyncProperty(
    fc.array(fc.record({ direction: fc.constantFrom('up' as const, 'down' as const), after: fc.integer({ min: 0, max: 6000 }) }), { minLength: 2, maxLength: 5 }),
    fc.array(fc.record({ onA: fc.boolean(), key: fc.constantFrom('x', 'y'), by: fc.integer({ min: 1, max: 9 }) }), { minLength: 4, maxLength: 12 }),
    async (cuts, writes) => {
      const a = { backend: memoryBackend() }, b = { backend: memoryBackend() }
      const repoA = await Repo.open({ backend: a.backend, merge: MERGE, author: 'A <a@example.org>' })
      const repoB = await Repo.open({ backend: b.backend, merge: MERGE, author: 'B <b@example.org>' })
      await repoA.branch('main').set('docs/start', { at: 'a' })
      const server = await startServer(b.backend, { http: 0 })
      const proxy = await startFaultProxy({ port: server.http!.port })
      const rep = replicate(repoA, { peers: [proxy.url('http')], branches: ['main'], backoff: { minMs: 5, maxMs: 40 } })
      const expected: Record<string, number> = { x: 0, y: 0 }
      try {
        let w = 0
        for (const cut of cuts) {
          proxy.arm({ kind: 'cut', direction: cut.direction, after: cut.after })
          // Writes on both sides while the cut is armed: each commit is acknowledged before the next.
          for (const end = w + Math.ceil(writes.length / cuts.length); w < end && w < writes.length; w++) {
            const { onA, key, by } = writes[w]!
            const repo = onA ? repoA : repoB
            await repo.branch('main').transaction(async tx => { tx.set(`counters/${key}`, ((await tx.get(`counters/${key}`)) as number | undefined ?? 0) + by) })
            expected[key]! += by
          }
          await Promise.race([proxy.whenFired(), sleep(300)])
          if (proxy.fired) firedCuts++
        }
        proxy.arm({ kind: 'pass' })
        const settled = async () => {
          const [ha, hb] = [await a.backend.refs.get('refs/heads/main'), await b.backend.refs.get('refs/heads/main')]
          if (ha === undefined || ha !== hb) { void rep.syncNow().catch(() => {}); return false }
          return true
        }
        await waitFor('A and B to converge', settled)
        for (const repo of [repoA, repoB]) {
          for (const k of ['x', 'y']) assert.equal((await repo.branch('main').get(`counters/${k}`)) ?? 0, expected[k], `counter ${k}`)
          assert.deepEqual(await repo.branch('main').get('docs/start'), { at: 'a' })
        }
        await assertComplete(a.backend)
        await assertComplete(b.backend)
      } finally {
        await rep.stop()
        await proxy.close()
        await server.close()
        await repoA.close()
        await repoB.close()
      }
    }), { numRuns: 10 })
  t.diagnostic(`${firedCuts} connections cut mid-replication`)
  assert.ok(firedCuts >= 8, `only ${firedCuts} cuts landed: the test would not show much`)
})

function serveChild(store: string, port: number): { child: ChildProcess; ready: Promise<number>; exit: Promise<string | null> } {
  const child = spawn(process.execPath, [BIN, '--store', store, '--json', 'serve', '--http', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  let out = '', err = ''
  child.stderr!.on('data', c => { err += c })
  const ready = new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', c => {
      out += c
      const m = /"http":"http:\/\/127\.0\.0\.1:(\d+)\//.exec(out)
      if (m) resolve(Number(m[1]))
    })
    child.on('exit', () => reject(new Error(`larix serve exited: ${out} ${err.slice(-1000)}`)))
  })
  const exit = new Promise<string | null>(resolve => child.on('exit', (_c, s) => { children.delete(child); resolve(s) }))
  ready.catch(() => {})
  return { child, ready, exit }
}

test('a replica killed with SIGKILL while it receives a replication push restarts complete, and replication resumes and converges', async () => {
  const storeB = join(tmp, 'b')
  let b = serveChild(storeB, 0)
  const port = await b.ready
  const proxy = await startFaultProxy({ port })
  const repoA = await Repo.open({ backend: levelBackend(join(tmp, 'a')), merge: MERGE, author: 'A <a@example.org>' })
  const rep = replicate(repoA, { peers: [proxy.url('http')], branches: ['main'], backoff: { minMs: 10, maxMs: 100 }, watchRemote: false })
  try {
    await repoA.branch('main').set('docs/first', { n: 1 })
    await waitFor('the first sync', async () => rep.status()[0]!.syncs > 0 && rep.status()[0]!.healthy)
    // A big commit: its pack is far larger than the stall point, so B dies in the middle of receiving it.
    proxy.arm({ kind: 'stall', direction: 'up', after: 20_000 })
    await repoA.branch('main').transaction(tx => { for (let i = 0; i < 3000; i++) tx.set(`docs/bulk/${i}`, { i, pad: 'x'.repeat(60) + i }) })
    await proxy.whenFired()
    b.child.kill('SIGKILL')
    assert.equal(await b.exit, 'SIGKILL')

    // B's store opens complete, without the half-received commit.
    const check = levelBackend(storeB)
    await check.open()
    const { refs } = await assertComplete(check)
    await check.close()
    assert.ok(refs['refs/heads/main'], 'B kept the commit it had acknowledged before')

    // B restarts on the same port (the proxy in front of it passes from now on); A's replicator, backing off
    // meanwhile, pushes again, and the two converge.
    b = serveChild(storeB, port)
    await b.ready
    await waitFor('A and B to converge after the restart', async () => {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/branches`)
      const heads = (await res.json()) as { branches: { name: string; head: string }[] }
      const hb = heads.branches.find(x => x.name === 'main')?.head
      return hb !== undefined && hb === (await repoA.backend.refs.get('refs/heads/main'))
    })
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/branches/main/tree/docs/bulk/2999`)
    assert.equal(res.status, 200)
    assert.deepEqual(((await res.json()) as { value: unknown }).value, { i: 2999, pad: 'x'.repeat(60) + 2999 })
    assert.ok(rep.status()[0]!.healthy, JSON.stringify(rep.status()[0]))
  } finally {
    await rep.stop()
    await proxy.close()
    await repoA.close()
    if (b.child.exitCode === null && b.child.signalCode === null) { b.child.kill('SIGTERM'); await b.exit }
  }
})
