// Convergence, as a fast-check property: three replicas (memory backends) connected without sockets, each
// served by a GitServer whose git:// protocol runs over an in-memory byte stream, so every sync speaks the
// real protocol. Random commands: writes on a random replica to counter, set, lww and json paths; random
// partitions and heals; random syncs (one replicator's fetch-merge-push with one peer, sometimes two at
// once). After healing and a full exchange until quiet, every replica has the same head tree, and every
// acknowledged write is reflected: counters are the sum of all increments, sets hold every element added
// and not removed, lww holds the write with the greatest (timestamp, replica), json docs every field's
// last value.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Repo, memoryBackend, mergers } from '../src/index.js'
import { GitServer, replicate } from '../src/sync/index.js'
import type { ByteStream, Connect, Replicator } from '../src/sync/index.js'

const MERGE = { 'counters/**': mergers.counter, 'sets/**': mergers.set, 'lww/**': mergers.lww, 'docs/**': mergers.json }
const N = 3

/** An async queue of chunks, iterable once; `return()` (a reader giving up) never waits. */
class Chunks implements AsyncIterable<Uint8Array> {
  private items: Uint8Array[] = []
  private ended = false
  private wake: (() => void) | undefined
  push(c: Uint8Array): void { if (!this.ended) { this.items.push(c); this.notify() } }
  end(): void { this.ended = true; this.notify() }
  private notify(): void { const w = this.wake; this.wake = undefined; w?.() }
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: async () => {
        for (;;) {
          if (this.items.length > 0) return { done: false, value: this.items.shift()! }
          if (this.ended) return { done: true, value: undefined }
          await new Promise<void>(r => { this.wake = r })
        }
      },
      return: async () => { this.ended = true; this.items = []; return { done: true, value: undefined } },
    }
  }
}

/** git:// to host `r<i>` without sockets: a ByteStream paired with that replica's GitServer. Cut links refuse. */
function memoryConnect(servers: GitServer[], from: number, cut: Set<string>): Connect {
  return async host => {
    const to = Number(/^r(\d+)$/.exec(host)?.[1])
    if (!(to >= 0 && to < servers.length)) throw new Error(`no replica ${host}`)
    if (cut.has(link(from, to))) throw new Error(`r${from} cannot reach ${host}: partitioned`)
    const input = new Chunks(), output = new Chunks()
    void (async () => {
      try {
        for await (const c of servers[to].serveGitDaemon(input)) output.push(c)
      } finally {
        output.end()
      }
    })()
    const stream: ByteStream = {
      readable: output,
      write: async bytes => { input.push(bytes.slice()) },
      close: async () => { input.end() },
    }
    return stream
  }
}

const link = (a: number, b: number) => (a < b ? `${a}-${b}` : `${b}-${a}`)
const url = (i: number) => `git://r${i}/`

type Cmd =
  | { kind: 'counter'; r: number; key: string; delta: number }
  | { kind: 'add'; r: number }
  | { kind: 'remove'; r: number; pick: number }
  | { kind: 'lww'; r: number; bump: number; value: number }
  | { kind: 'json'; r: number; doc: string; value: number }
  | { kind: 'cut' | 'heal'; a: number; b: number }
  | { kind: 'sync'; from: number; to: number }
  | { kind: 'race'; from: number; to: number; from2: number; to2: number }

const replicaArb = fc.integer({ min: 0, max: N - 1 })
const pairArb = fc.tuple(replicaArb, replicaArb).filter(([a, b]) => a !== b)
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('counter' as const), r: replicaArb, key: fc.constantFrom('a', 'b'), delta: fc.integer({ min: -3, max: 5 }) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('add' as const), r: replicaArb }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('remove' as const), r: replicaArb, pick: fc.nat(20) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('lww' as const), r: replicaArb, bump: fc.integer({ min: 1, max: 3 }), value: fc.nat(99) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('json' as const), r: replicaArb, doc: fc.constantFrom('d0', 'd1'), value: fc.nat(99) }), weight: 2 },
  { arbitrary: pairArb.map(([a, b]) => ({ kind: 'cut' as const, a, b })), weight: 1 },
  { arbitrary: pairArb.map(([a, b]) => ({ kind: 'heal' as const, a, b })), weight: 1 },
  { arbitrary: pairArb.map(([from, to]) => ({ kind: 'sync' as const, from, to })), weight: 4 },
  { arbitrary: fc.tuple(pairArb, pairArb).map(([[from, to], [from2, to2]]) => ({ kind: 'race' as const, from, to, from2, to2 })), weight: 1 },
)

interface Register { timestamp: number; value: number; replica: string }

test('three replicas with random writes, partitions and syncs converge and lose no acknowledged write', async () => {
  await fc.assert(fc.asyncProperty(fc.array(cmdArb, { minLength: 10, maxLength: 50 }), async cmds => {
    const repos: Repo[] = []
    for (let i = 0; i < N; i++) repos.push(await Repo.open({ backend: memoryBackend(), merge: MERGE, author: `r${i} <r${i}@example.org>` }))
    const servers = repos.map(r => new GitServer(r.backend))
    const cut = new Set<string>()
    const reps: Replicator[] = repos.map((repo, i) => replicate(repo, {
      peers: repos.map((_, j) => j).filter(j => j !== i).map(url), branches: ['main'], auto: false, connect: memoryConnect(servers, i, cut),
    }))
    // The model: what every acknowledged write implies for the converged state.
    const sums: Record<string, number> = {}
    const added = new Set<string>(), removed = new Set<string>()
    const registers: Register[] = []
    const fields: Record<string, Record<string, number>> = {}
    try {
      for (const [n, c] of cmds.entries()) {
        const main = (r: number) => repos[r].branch('main')
        switch (c.kind) {
          case 'counter': {
            const v = ((await main(c.r).get(`counters/${c.key}`)) as number | undefined) ?? 0
            await main(c.r).set(`counters/${c.key}`, v + c.delta)
            sums[c.key] = (sums[c.key] ?? 0) + c.delta
            break
          }
          case 'add': {
            const s = ((await main(c.r).get('sets/s')) as string[] | undefined) ?? []
            await main(c.r).set('sets/s', [...s, `e${n}`].sort())
            added.add(`e${n}`)
            break
          }
          case 'remove': {
            const s = ((await main(c.r).get('sets/s')) as string[] | undefined) ?? []
            if (s.length === 0) break
            const gone = s[c.pick % s.length]
            await main(c.r).set('sets/s', s.filter(x => x !== gone))
            removed.add(gone)
            break
          }
          case 'lww': {
            // A clock that never goes back on a replica: above what this replica has seen.
            const cur = (await main(c.r).get('lww/x')) as Register | undefined
            const reg = { timestamp: (cur?.timestamp ?? 0) + c.bump, value: c.value, replica: `r${c.r}` }
            await main(c.r).set('lww/x', reg)
            registers.push(reg)
            break
          }
          case 'json': {
            const d = ((await main(c.r).get(`docs/${c.doc}`)) as Record<string, number> | undefined) ?? {}
            await main(c.r).set(`docs/${c.doc}`, { ...d, [`r${c.r}`]: c.value })
            ;(fields[c.doc] ??= {})[`r${c.r}`] = c.value
            break
          }
          case 'cut': cut.add(link(c.a, c.b)); break
          case 'heal': cut.delete(link(c.a, c.b)); break
          case 'sync': await reps[c.from].syncNow(url(c.to)); break
          case 'race': await Promise.all([reps[c.from].syncNow(url(c.to)), reps[c.from2].syncNow(url(c.to2))]); break
        }
      }
      // Heal, then everyone syncs with everyone until a whole round changes nothing.
      cut.clear()
      const heads = async () => Promise.all(repos.map(r => r.backend.refs.get('refs/heads/main')))
      for (let round = 0; ; round++) {
        assert.ok(round < 6, 'converges within a few rounds of full exchange')
        const before = await heads()
        for (let i = 0; i < N; i++) {
          for (let j = 0; j < N; j++) {
            if (i === j) continue
            const [s] = await reps[i].syncNow(url(j))
            assert.ok(s.healthy, `r${i} with r${j}: ${JSON.stringify(s.lastError)}`)
          }
        }
        const after = await heads()
        if (after.every(h => h === after[0]) && after.every((h, k) => h === before[k])) break
      }
      const final = await heads()
      if (final[0] === undefined) return // nothing was ever written
      const trees = await Promise.all(repos.map(async r => (await r.branch('main').head())!.tree))
      assert.ok(trees.every(t => t === trees[0]), 'the same head tree everywhere')

      const main = repos[0].branch('main')
      for (const [key, sum] of Object.entries(sums)) assert.equal(await main.get(`counters/${key}`), sum, `counter ${key}`)
      if (added.size > 0) assert.deepEqual(await main.get('sets/s'), [...added].filter(e => !removed.has(e)).sort())
      if (registers.length > 0) {
        const best = registers.reduce((m, r) => (r.timestamp > m.timestamp || (r.timestamp === m.timestamp && r.replica > m.replica) ? r : m))
        assert.deepEqual(await main.get('lww/x'), best)
      }
      for (const [doc, f] of Object.entries(fields)) assert.deepEqual(await main.get(`docs/${doc}`), f, `doc ${doc}`)
    } finally {
      for (const r of reps) await r.stop()
      for (const r of repos) await r.close()
    }
  }), { numRuns: 100 })
})
