// Continuous replication between real servers on 127.0.0.1 (startServer, smart HTTP): a write on one replica
// reaches the other, concurrent writes with counter / set / lww / json mergers converge, a refused push
// becomes fetch-merge-push, a peer that is down is backed off from and caught up with when it returns, a
// restarted replicator resumes from its tracking refs, conflicts are reported and not retried, stop()
// leaves no timer, and `larix replicate` runs until SIGTERM.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Repo, levelBackend, memoryBackend, mergers } from '../src/index.js'
import type { Backend } from '../src/index.js'
import { startServer } from '../src/platform/node/serve.js'
import type { RunningServer } from '../src/platform/node/serve.js'
import { aheadBehind, peerId, replicate } from '../src/sync/index.js'
import type { PeerStatus, Replicator, SyncEvent, WatchRemote } from '../src/sync/index.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const BIN = join(ROOT, 'bin', 'larix.js')
const tmp = mkdtempSync(join(tmpdir(), 'larix-replicate-'))
after(() => rmSync(tmp, { recursive: true, force: true }))
let dirs = 0
const fresh = () => join(tmp, `store-${dirs++}`)

const MERGE = { 'counters/**': mergers.counter, 'sets/**': mergers.set, 'lww/**': mergers.lww, 'docs/**': mergers.json }

interface Replica { name: string; backend: Backend; repo: Repo; server: RunningServer; url: string; port: number }

let replicas = 0
async function replica(kind: 'memory' | 'level' = 'memory', dir?: string): Promise<Replica> {
  const name = `r${replicas++}`
  const backend = kind === 'memory' ? memoryBackend() : levelBackend(dir ?? fresh())
  const repo = await Repo.open({ backend, merge: MERGE, author: `${name} <${name}@example.org>` })
  const server = await startServer(backend, { http: 0 })
  return { name, backend, repo, server, url: server.http!.url, port: server.http!.port }
}

async function closeAll(...rs: Replica[]): Promise<void> {
  for (const r of rs) {
    await r.server.close()
    await r.repo.close()
  }
}

/** A notification channel without sockets: it watches the peer's ref store in this process. */
function inProcessWatch(byUrl: Map<string, Backend>): WatchRemote {
  return (url, o) => {
    const backend = byUrl.get(url)
    if (!backend) throw new Error(`no replica at ${url}`)
    const stop = backend.refs.watch(c => {
      if (c.name.startsWith('refs/heads/')) o.onHead({ branch: c.name.slice('refs/heads/'.length), commit: c.new ?? null })
    })
    queueMicrotask(() => o.onOpen?.())
    return { close: async () => stop() }
  }
}

async function waitFor(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(r => setTimeout(r, 10))
  }
}

const head = async (r: Replica, b = 'main') => r.backend.refs.get(`refs/heads/${b}`)

test('a write on A appears on B, and one on B appears on A through the notification channel', async () => {
  const a = await replica(), b = await replica()
  const rep = replicate(a.repo, { peers: [b.url], branches: ['main'], watchRemote: inProcessWatch(new Map([[b.url, b.backend]])) })
  try {
    await a.repo.branch('main').set('docs/a', { from: 'a' })
    await waitFor('B to get A\'s write', async () => (await b.repo.branch('main').get('docs/a')) !== undefined)
    assert.deepEqual(await b.repo.branch('main').get('docs/a'), { from: 'a' })
    // No poll runs (a channel is given): only the remote notification can bring B's write over.
    await b.repo.branch('main').set('docs/b', { from: 'b' })
    await waitFor('A to get B\'s write', async () => (await a.repo.branch('main').get('docs/b')) !== undefined, 3000)
    await rep.whenIdle()
    await waitFor('both heads equal', async () => (await head(a)) === (await head(b)))
    const [s] = rep.status()
    assert.equal(s.peer, b.url.replace(/\/$/, ''))
    assert.equal(s.id, peerId(b.url))
    assert.equal(s.healthy, true)
    assert.ok(s.lastSync! > 0)
    assert.deepEqual(s.lag.main, { ahead: 0, behind: 0 })
    assert.equal(await a.backend.refs.get(`refs/remotes/${s.id}/main`), await head(b))
  } finally {
    await rep.stop()
    await closeAll(a, b)
  }
})

test('a burst of local writes is coalesced, and a reconnect of the notification channel re-syncs', async () => {
  const a = await replica(), b = await replica()
  let reopen: (() => void) | undefined
  let opened = 0
  // A channel that delivers no head events at all: only its (re)connections can wake the replicator.
  const silent: WatchRemote = (_url, o) => {
    reopen = () => { opened++; o.onOpen?.() }
    reopen()
    return { close: async () => { reopen = undefined } }
  }
  const rep = replicate(a.repo, { peers: [b.url], branches: ['main'], watchRemote: silent, debounceMs: 20 })
  const events: SyncEvent[] = []
  rep.on('sync', e => events.push(e))
  try {
    await waitFor('the first sync', () => events.length >= 1)
    await rep.whenIdle()
    const before = events.length
    for (let i = 0; i < 20; i++) await a.repo.branch('main').set('counters/n', i + 1)
    await waitFor('the burst on B', async () => (await b.repo.branch('main').get('counters/n')) === 20)
    await rep.whenIdle()
    assert.ok(events.length - before <= 10, `${events.length - before} syncs for a burst of 20 writes`)
    // B moves; nothing tells A until the channel reconnects.
    await b.repo.branch('main').set('docs/b', 'b')
    await new Promise(r => setTimeout(r, 60))
    assert.equal(await a.repo.branch('main').get('docs/b'), undefined)
    reopen!()
    await waitFor('a re-sync after the reconnect', async () => (await a.repo.branch('main').get('docs/b')) === 'b')
    assert.equal(opened, 2)
  } finally {
    await rep.stop()
    await closeAll(a, b)
  }
  assert.equal(reopen, undefined, 'stop() closed the channel')
})

test('concurrent writes on both sides with counter, set, lww and json mergers converge', async () => {
  const a = await replica(), b = await replica('level')
  const byUrl = new Map([[a.url, a.backend], [b.url, b.backend]])
  const watch = inProcessWatch(byUrl)
  const ra = replicate(a.repo, { peers: [b.url], branches: ['main'], watchRemote: watch, backoff: { minMs: 5, maxMs: 50 } })
  const rb = replicate(b.repo, { peers: [a.url], branches: ['main'], watchRemote: watch, backoff: { minMs: 5, maxMs: 50 } })
  try {
    const write = async (r: Replica, i: number) => {
      const main = r.repo.branch('main')
      await main.transaction(async tx => {
        tx.set('counters/hits', ((await tx.get('counters/hits')) as number | undefined ?? 0) + 1)
        const s = ((await tx.get('sets/tags')) as string[] | undefined) ?? []
        tx.set('sets/tags', [...new Set([...s, `${r.name}-${i}`])].sort())
        tx.set('lww/title', { timestamp: i * 10 + (r === a ? 1 : 2), value: `${r.name} ${i}`, replica: r.name })
        const d = ((await tx.get('docs/shared')) as Record<string, number> | undefined) ?? {}
        tx.set('docs/shared', { ...d, [r.name]: i })
      }, { message: `${r.name} write ${i}` })
    }
    const N = 12
    await Promise.all([a, b].map(async r => {
      for (let i = 1; i <= N; i++) {
        await write(r, i)
        if (i % 3 === 0) await new Promise(res => setTimeout(res, 3))
      }
    }))
    await waitFor('convergence', async () => {
      await Promise.all([ra.whenIdle(), rb.whenIdle()])
      const [ha, hb] = [await head(a), await head(b)]
      return ha === hb && (await a.repo.branch('main').get('counters/hits')) === 2 * N
    }, 10_000)
    for (const r of [a, b]) {
      const main = r.repo.branch('main')
      assert.equal(await main.get('counters/hits'), 2 * N)
      const tags = (await main.get('sets/tags')) as string[]
      assert.deepEqual([...tags].sort(), [...[a, b].flatMap(x => Array.from({ length: N }, (_, i) => `${x.name}-${i + 1}`))].sort())
      assert.deepEqual(await main.get('lww/title'), { timestamp: N * 10 + 2, value: `${b.name} ${N}`, replica: b.name })
      assert.deepEqual(await main.get('docs/shared'), { [a.name]: N, [b.name]: N })
    }
    for (const s of [...ra.status(), ...rb.status()]) assert.equal(s.lastError?.code === 'LARIX_CONFLICT', false, 'no conflicts')
  } finally {
    await ra.stop()
    await rb.stop()
    await closeAll(a, b)
  }
})

test('a push refused because the peer moved meanwhile becomes fetch, merge, push again', async () => {
  const a = await replica(), b = await replica()
  await b.repo.branch('main').set('counters/n', 1)
  let moved = 0
  // The peer's branch moves between our fetch and our push: another writer commits just before the push
  // request arrives, so the server's compare-and-set refuses it.
  const httpFetch: typeof globalThis.fetch = async (input, init) => {
    if (init?.method === 'POST' && String(input).endsWith('/git-receive-pack') && moved === 0) {
      moved++
      const n = (await b.repo.branch('main').get('counters/n')) as number
      await b.repo.branch('main').set('counters/n', n + 10, { message: 'the other writer' })
    }
    return globalThis.fetch(input, init)
  }
  const rep = replicate(a.repo, { peers: [b.url], branches: ['main'], auto: false, httpFetch })
  const events: SyncEvent[] = []
  rep.on('sync', e => events.push(e))
  try {
    let [s] = await rep.syncNow()
    assert.equal(s.healthy, true)
    assert.equal(await a.repo.branch('main').get('counters/n'), 1)
    await a.repo.branch('main').set('counters/n', 1 + 100)
    ;[s] = await rep.syncNow()
    assert.equal(s.healthy, true, JSON.stringify(s.lastError))
    assert.equal(moved, 1)
    const last = events.at(-1)!.branches[0]
    assert.equal(last.retries, 1, 'one fetch-merge-push round')
    assert.equal(last.merge, 'merged')
    assert.equal(last.push, 'updated')
    // 1 + 100 (ours) + 10 (theirs, meanwhile) on both sides.
    assert.equal(await b.repo.branch('main').get('counters/n'), 111)
    assert.equal(await a.repo.branch('main').get('counters/n'), 111)
    assert.equal(await head(a), await head(b))
  } finally {
    await rep.stop()
    await closeAll(a, b)
  }
})

test('a peer that is down is backed off from, with the error in the status, and caught up with when it returns', async () => {
  const a = await replica(), b = await replica()
  const statuses: PeerStatus[] = []
  const rep = replicate(a.repo, { peers: [b.url], branches: ['main'], backoff: { minMs: 20, maxMs: 80 }, pollMs: 0, onStatus: s => statuses.push(s) })
  let server2: RunningServer | undefined
  try {
    await a.repo.branch('main').set('docs/first', 1)
    await waitFor('first write on B', async () => (await b.repo.branch('main').get('docs/first')) === 1)
    await b.server.close()
    await a.repo.branch('main').set('docs/second', 2)
    await waitFor('a back-off', () => rep.status()[0].state === 'backoff' && rep.status()[0].attempts >= 2)
    const s = rep.status()[0]
    assert.equal(s.lastError?.code, 'LARIX_TRANSPORT')
    assert.match(s.lastError!.message, /127\.0\.0\.1/)
    assert.equal(s.healthy, false)
    assert.ok(s.retryAt! >= Date.now() - 5)
    assert.equal(s.lag.main.ahead, 1)
    // Exponential, capped: retries do not hammer the peer.
    const a0 = rep.status()[0].attempts
    await new Promise(r => setTimeout(r, 300))
    const attempts = rep.status()[0].attempts
    assert.ok(attempts > a0 && attempts - a0 <= 14, `${attempts - a0} attempts within 300 ms at 10..80 ms each`)
    server2 = await startServer(b.backend, { http: b.port })
    await waitFor('second write on B', async () => (await b.repo.branch('main').get('docs/second')) === 2)
    await waitFor('a healthy status', () => rep.status()[0].healthy && rep.status()[0].state === 'idle')
    assert.equal(rep.status()[0].attempts, 0)
    assert.deepEqual(rep.status()[0].lag.main, { ahead: 0, behind: 0 })
    assert.ok(statuses.some(x => x.state === 'backoff') && statuses.some(x => x.state === 'syncing'))
  } finally {
    await rep.stop()
    await server2?.close()
    await closeAll(a)
    await b.repo.close()
  }
})

test('a restarted replicator over the same level store resumes from its tracking refs', async () => {
  const dir = fresh()
  const b = await replica()
  for (let i = 0; i < 30; i++) await b.repo.branch('main').set(`docs/k${i}`, { i, pad: 'x'.repeat(50) })
  let a = await replica('level', dir)
  let rep: Replicator = replicate(a.repo, { peers: [b.url], branches: ['main'], auto: false })
  const id = peerId(b.url)
  try {
    await rep.syncNow()
    assert.equal(await head(a), await head(b))
    await rep.stop()
    await closeAll(a)
    // Meanwhile: one new commit on B; two local commits on A (written with the store closed to replication).
    await b.repo.branch('main').set('docs/while-away', true)
    a = await replica('level', dir)
    await a.repo.branch('main').set('docs/local1', 1)
    await a.repo.branch('main').set('docs/local2', 2)
    const tracking = await a.backend.refs.get(`refs/remotes/${id}/main`)
    assert.ok(tracking !== undefined, 'the tracking ref survived the restart')
    assert.deepEqual(await aheadBehind(a.repo, await head(a), tracking), { ahead: 2, behind: 0 })
    const events: SyncEvent[] = []
    rep = replicate(a.repo, { peers: [b.url], branches: ['main'], pollMs: 0 })
    rep.on('sync', e => events.push(e))
    const first = await new Promise<PeerStatus>(resolve => rep.on('status', s => { if (s.state === 'idle' && s.syncs === 0) resolve(s) }))
    // Before its first sync, the new replicator knows the lag from the tracking ref.
    assert.deepEqual(first.lag.main, { ahead: 2, behind: 0 })
    await waitFor('a first sync', () => events.length > 0)
    // Only what is new came over: one commit, its root tree, the docs tree and one blob.
    assert.ok(events[0].objects > 0 && events[0].objects <= 4, `fetched ${events[0].objects} objects`)
    await rep.whenIdle()
    assert.equal(await b.repo.branch('main').get('docs/local2'), 2)
    assert.equal(await a.repo.branch('main').get('docs/while-away'), true)
    assert.deepEqual(rep.status()[0].lag.main, { ahead: 0, behind: 0 })
  } finally {
    await rep.stop()
    await closeAll(a, b)
  }
})

test('a merge conflict is reported with its conflicts, leaves both branches as they were, and is not retried', async () => {
  const a = await replica(), b = await replica()
  await a.repo.branch('main').set('docs/title', 'base')
  const rep = replicate(a.repo, { peers: [b.url], branches: ['main'], auto: false })
  try {
    await rep.syncNow()
    await a.repo.branch('main').set('docs/title', 'from a')
    await b.repo.branch('main').set('docs/title', 'from b')
    const [ha, hb] = [await head(a), await head(b)]
    let errors = 0
    rep.on('error', () => errors++)
    const [s] = await rep.syncNow()
    assert.equal(s.state, 'idle', 'no back-off for a conflict')
    assert.equal(s.healthy, false)
    assert.equal(s.lastError?.code, 'LARIX_CONFLICT')
    assert.equal(s.lastError?.branch, 'main')
    assert.equal(s.lastError?.conflicts?.[0].path, 'docs/title')
    assert.equal(s.lastError?.conflicts?.[0].ours, 'from a')
    assert.equal(s.lastError?.conflicts?.[0].theirs, 'from b')
    assert.deepEqual(s.lag.main, { ahead: 1, behind: 1 })
    assert.equal(await head(a), ha)
    assert.equal(await head(b), hb)
    assert.equal(errors, 1)
    await new Promise(r => setTimeout(r, 50))
    assert.equal(rep.status()[0].syncs, 2, 'no retry on its own')
    // Resolved on one side: the next sync goes through.
    await a.repo.branch('main').set('docs/title', 'from b')
    const [t] = await rep.syncNow()
    assert.equal(t.healthy, true, JSON.stringify(t.lastError))
    assert.equal(await head(a), await head(b))
  } finally {
    await rep.stop()
    await closeAll(a, b)
  }
})

test('branches: all replicates every branch both ways and creates the missing ones', async () => {
  const a = await replica(), b = await replica()
  await a.repo.branch('main').set('docs/x', 1)
  await a.repo.branch('feature').set('docs/y', 2)
  await b.repo.branch('other').set('docs/z', 3)
  const rep = replicate(a.repo, { peers: [{ url: b.url, name: 'bee' }], auto: false })
  try {
    const [s] = await rep.syncNow('bee')
    assert.equal(s.id, 'bee')
    assert.equal(s.healthy, true, JSON.stringify(s.lastError))
    assert.deepEqual(await b.repo.branches(), ['feature', 'main', 'other'])
    assert.deepEqual(await a.repo.branches(), ['feature', 'main', 'other'])
    assert.equal(await a.repo.branch('other').get('docs/z'), 3)
    assert.equal(await a.backend.refs.get('refs/remotes/bee/feature'), await a.backend.refs.get('refs/heads/feature'))
    assert.deepEqual(Object.keys(s.lag).sort(), ['feature', 'main', 'other'])
  } finally {
    await rep.stop()
    await closeAll(a, b)
  }
})

test('a branch deleted on either side is deleted on the other; deleted on both, its tracking ref goes', async () => {
  const a = await replica(), b = await replica()
  await a.repo.branch('main').set('docs/x', 1)
  await a.repo.branch('gone-here').set('docs/y', 2)
  await a.repo.branch('gone-there').set('docs/z', 3)
  await a.repo.branch('gone-both').set('docs/w', 4)
  const rep = replicate(a.repo, { peers: [{ url: b.url, name: 'bee' }], auto: false })
  const results = new Map<string, unknown>()
  rep.on('sync', ev => { for (const r of ev.branches) results.set(r.branch, { merge: r.merge, push: r.push }) })
  try {
    await rep.syncNow()
    assert.deepEqual(await b.repo.branches(), ['gone-both', 'gone-here', 'gone-there', 'main'])
    assert.equal(await a.repo.deleteBranch('gone-here'), true)
    assert.equal(await b.repo.deleteBranch('gone-there'), true)
    assert.equal(await a.repo.deleteBranch('gone-both'), true)
    assert.equal(await b.repo.deleteBranch('gone-both'), true)
    const [s] = await rep.syncNow()
    assert.equal(s.healthy, true, JSON.stringify(s.lastError))
    assert.deepEqual(await a.repo.branches(), ['main'])
    assert.deepEqual(await b.repo.branches(), ['main'])
    assert.deepEqual(results.get('gone-here'), { merge: 'none', push: 'deleted' })
    assert.deepEqual(results.get('gone-there'), { merge: 'deleted', push: 'none' })
    assert.deepEqual((await a.backend.refs.list('refs/remotes/bee/')).map(r => r.name), ['refs/remotes/bee/main'])
    // The commits stay in both stores: a deletion only removes the name.
    assert.equal(await a.repo.backend.objects.has((await b.backend.refs.get('refs/heads/main'))!), true)
    // Nothing left to do: a further sync changes nothing.
    await rep.syncNow()
    assert.deepEqual(await a.repo.branches(), ['main'])
    assert.deepEqual(await b.repo.branches(), ['main'])
  } finally {
    await rep.stop()
    await closeAll(a, b)
  }
})

test('a branch deleted on one side and written on the other comes back on both with the new commit', async () => {
  const a = await replica(), b = await replica()
  await a.repo.branch('main').set('docs/x', 1)
  await a.repo.branch('f1').set('docs/y', 1)
  await a.repo.branch('f2').set('docs/y', 1)
  const rep = replicate(a.repo, { peers: [{ url: b.url, name: 'bee' }], branches: ['main', 'f1', 'f2'], auto: false })
  try {
    await rep.syncNow()
    // f1: deleted here, written there. f2: written here, deleted there.
    await a.repo.deleteBranch('f1')
    await b.repo.branch('f1').set('docs/y', 2)
    await a.repo.branch('f2').set('docs/y', 3)
    await b.repo.deleteBranch('f2')
    const [s] = await rep.syncNow()
    assert.equal(s.healthy, true, JSON.stringify(s.lastError))
    for (const r of [a, b]) {
      assert.equal(await r.repo.branch('f1').get('docs/y'), 2, `${r.name} f1`)
      assert.equal(await r.repo.branch('f2').get('docs/y'), 3, `${r.name} f2`)
    }
    assert.equal(await head(a, 'f1'), await head(b, 'f1'))
    assert.equal(await head(a, 'f2'), await head(b, 'f2'))
  } finally {
    await rep.stop()
    await closeAll(a, b)
  }
})

test('a branch deleted while the replicator was stopped is deleted on the peer when it starts again', async () => {
  const dir = fresh()
  const a = await replica('level', dir), b = await replica()
  await a.repo.branch('main').set('docs/x', 1)
  await a.repo.branch('temp').set('docs/t', 1)
  let rep = replicate(a.repo, { peers: [{ url: b.url, name: 'bee' }], auto: false })
  await rep.syncNow()
  await rep.stop()
  assert.deepEqual(await b.repo.branches(), ['main', 'temp'])
  await a.repo.deleteBranch('temp')
  // Started again with its wake-ups on: the tracking refs say the peer still has temp as it was.
  rep = replicate(a.repo, { peers: [{ url: b.url, name: 'bee' }], watchRemote: false, pollMs: 0 })
  try {
    await waitFor('B to lose temp', async () => (await b.repo.branches()).join() === 'main')
    await rep.whenIdle()
    assert.deepEqual(await a.repo.branches(), ['main'])
  } finally {
    await rep.stop()
    await closeAll(a, b)
  }
})

test('bad options are refused with LARIX_BAD_ARGUMENT', async () => {
  const repo = await Repo.open({ backend: memoryBackend() })
  const bad = (o: object, re: RegExp) => assert.throws(() => replicate(repo, o as never), (e: { code?: string; message: string }) => e.code === 'LARIX_BAD_ARGUMENT' && re.test(e.message))
  bad({ peers: [] }, /at least one peer/)
  bad({ peers: ['ftp://example.org/x'] }, /scheme/)
  bad({ peers: ['http://127.0.0.1:1/'], branches: ['a..b'] }, /bad branch name/)
  bad({ peers: [{ url: 'http://127.0.0.1:1/', name: 'a/b' }] }, /bad peer name/)
  bad({ peers: ['http://127.0.0.1:1/', 'http://127.0.0.1:1/'] }, /share the id/)
  bad({ peers: ['http://127.0.0.1:1/'], backoff: { minMs: -1 } }, /backoff.minMs/)
  const rep = replicate(repo, { peers: ['http://127.0.0.1:1/'], auto: false })
  await assert.rejects(rep.syncNow('http://127.0.0.1:2/'), /no such peer/)
  await rep.stop()
  // Peer ids never carry credentials, and differ for different URLs.
  assert.equal(peerId('http://ann:secret@127.0.0.1:8080/data.git').includes('secret'), false)
  assert.equal(peerId('http://ann:secret@127.0.0.1:8080/data.git'), peerId('http://127.0.0.1:8080/data.git'))
  assert.notEqual(peerId('http://127.0.0.1:8080/a'), peerId('http://127.0.0.1:8080/b'))
  await repo.close()
})

test('stop() waits for the sync in flight and leaves no timer behind', async () => {
  const timers = () => process.getActiveResourcesInfo().filter(x => x === 'Timeout').length
  const a = await replica(), b = await replica()
  const before = timers()
  // A down peer (backoff timers), a poll and a debounce all running.
  const down = await replica()
  await down.server.close()
  const rep = replicate(a.repo, { peers: [b.url, down.url], branches: ['main'], pollMs: 40, backoff: { minMs: 30, maxMs: 60 } })
  try {
    await a.repo.branch('main').set('docs/a', 1)
    await waitFor('a back-off on the down peer', () => rep.status()[1].state === 'backoff')
    await a.repo.branch('main').set('docs/b', 2)
    const syncing = rep.syncNow(b.url)
    await rep.stop()
    await syncing
    assert.ok(rep.status().every(s => s.state === 'stopped'))
    assert.ok(timers() <= before, `timers after stop: ${timers()}, before: ${before}`)
    // Stopped means stopped: writes no longer travel.
    await a.repo.branch('main').set('docs/c', 3)
    await new Promise(r => setTimeout(r, 80))
    assert.equal(await b.repo.branch('main').get('docs/c'), undefined)
  } finally {
    await rep.stop()
    await closeAll(a, b)
    await down.repo.close()
  }
})

test('larix replicate URL syncs until SIGTERM, prints JSON status lines, and exits 0', async () => {
  const b = await replica()
  const store = fresh()
  try {
    await b.repo.branch('main').set('docs/remote', 'r')
    const larix = (...args: string[]) => spawnSync(process.execPath, [BIN, '--store', store, ...args], { encoding: 'utf8' })
    assert.equal(larix('set', 'docs/local', '"l"').status, 0)
    const child = spawn(process.execPath, [BIN, '--store', store, 'replicate', b.url, '--branch', 'main', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = '', err = ''
    child.stdout.setEncoding('utf8').on('data', d => { out += d })
    child.stderr.setEncoding('utf8').on('data', d => { err += d })
    const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)))
    await waitFor('the local write on B', async () => (await b.repo.branch('main').get('docs/local')) === 'l', 10_000)
    await waitFor('an idle status line', () => out.split('\n').some(l => l.includes('"state":"idle"') && l.includes('"syncs":1')), 5000)
    child.kill('SIGTERM')
    assert.equal(await exited, 0, err)
    const lines = out.trim().split('\n').map(l => JSON.parse(l) as Record<string, unknown>)
    assert.ok(lines.some(l => l.state === 'syncing'))
    assert.equal(lines.at(-1)!.stopped, 'SIGTERM')
    assert.equal(larix('get', 'docs/remote').stdout.trim(), '"r"')
    // Human output, and a bad URL.
    const bad = larix('replicate', 'ftp://nowhere/')
    assert.equal(bad.status, 1)
    assert.match(bad.stderr, /LARIX_BAD_ARGUMENT/)
  } finally {
    await closeAll(b)
  }
})
