// The store API: behaviour, errors, concurrency (no lost update), transactions, watches.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Repo, memoryBackend, LarixError } from '../src/index.js'
import type { Backend, Commit } from '../src/index.js'

async function open(backend: Backend = memoryBackend(), more: Parameters<typeof Repo.open>[0] = {}) {
  return Repo.open({ backend, author: 'Ann <ann@example.org>', ...more })
}

test('set, get, list, remove, head and commit info', async () => {
  let t = 1_700_000_000_000
  const repo = await open(memoryBackend(), { now: () => (t += 1000) })
  const main = repo.branch('main')
  assert.equal(await main.head(), undefined)
  assert.equal(await main.get('todo/1'), undefined)
  assert.deepEqual(await main.list(), [])
  const c1 = await main.set('todo/1', { title: 'milk' }, { message: 'add todo' })
  assert.deepEqual(await main.get('todo/1'), { title: 'milk' })
  assert.deepEqual(await main.get(['todo', '1']), { title: 'milk' })
  assert.equal(await main.get('todo'), undefined, 'a directory is not a value')
  assert.deepEqual(c1.info, { author: 'Ann <ann@example.org>', committer: 'Ann <ann@example.org>', message: 'add todo', timestamp: 1_700_000_001, timezoneOffset: c1.info.timezoneOffset })
  assert.deepEqual(c1.parents, [])
  const c2 = await main.set('todo/2', 'bread', { author: 'Bob <bob@example.org>' })
  assert.deepEqual(c2.parents, [c1.id])
  assert.equal(c2.info.author, 'Bob <bob@example.org>')
  assert.equal(c2.info.committer, 'Ann <ann@example.org>')
  assert.equal(c2.info.message, 'set todo/2')
  assert.deepEqual(await main.list('todo'), [{ name: '1', kind: 'value' }, { name: '2', kind: 'value' }])
  assert.deepEqual(await main.list(), [{ name: 'todo', kind: 'tree' }])
  assert.deepEqual((await main.head())?.id, c2.id)
  // Setting the same value again commits nothing.
  assert.equal((await main.set('todo/2', 'bread')).id, c2.id)
  const c3 = await main.remove('todo/1')
  assert.equal(await main.get('todo/1'), undefined)
  assert.equal((await main.remove('todo/1'))?.id, c3!.id, 'removing an absent key commits nothing')
  await main.remove('todo')
  assert.deepEqual(await main.list(), [], 'removing a directory removes its subtree')
  await repo.close()
})

test('a value and a directory replace each other', async () => {
  const repo = await open()
  const main = repo.branch('main')
  await main.set('a', 1)
  await main.set('a/b', 2)
  assert.equal(await main.get('a'), undefined)
  assert.equal(await main.get('a/b'), 2)
  await main.set('a', 3)
  assert.equal(await main.get('a/b'), undefined)
  assert.equal(await main.get('a'), 3)
})

test('bad paths, values, branch names and ids are refused with typed errors, and nothing is committed', async () => {
  const repo = await open()
  const main = repo.branch('main')
  await main.set('ok', 1)
  const head = (await main.head())!.id
  for (const p of ['', 'a//b', '/a', 'a/', '.', 'a/../b', 'a\0b', ['a', ''], ['x/y']]) {
    await assert.rejects(main.set(p as string, 1), { code: 'LARIX_BAD_PATH' }, JSON.stringify(p))
    await assert.rejects(main.get(p as string), (e: LarixError) => e.code === 'LARIX_BAD_PATH' || (p === '' && e.code === 'LARIX_BAD_PATH'))
  }
  for (const v of [NaN, undefined, () => 1, 1n, new Date(), { x: Symbol('s') }]) {
    await assert.rejects(main.set('v', v), { code: 'LARIX_BAD_VALUE' })
  }
  const err = await main.set('deep/v', { a: [1, NaN] }).catch(e => e)
  assert.equal(err.code, 'LARIX_BAD_VALUE')
  assert.match(err.message, /deep\/v/)
  assert.equal((await main.head())!.id, head, 'no commit after refused writes')
  for (const b of ['a..b', 'with space', '', 'x.lock', '-x']) assert.throws(() => repo.branch(b), { code: 'LARIX_BAD_REF' })
  await assert.rejects(repo.checkout('0'.repeat(40)), { code: 'LARIX_NOT_FOUND' })
  await assert.rejects(repo.checkout('nope'), { code: 'LARIX_NOT_FOUND' })
  await assert.rejects(main.reset('1'.repeat(40)), { code: 'LARIX_NOT_FOUND' })
  await assert.rejects(repo.fork('absent', 'x'), { code: 'LARIX_NOT_FOUND' })
  await assert.rejects(main.set('v', 1, { retries: -1 }), { code: 'LARIX_BAD_ARGUMENT' })
  await assert.rejects(open(memoryBackend(), { author: 'no email' }), { code: 'LARIX_BAD_ARGUMENT' })
})

test('fork, checkout (read-only snapshot), reset (rollback) and short ids', async () => {
  const repo = await open()
  const main = repo.branch('main')
  const c1 = await main.set('x', 1)
  await main.set('y', 2)
  const feature = await repo.fork('main', 'feature')
  await feature.set('z', 3)
  assert.equal(await main.get('z'), undefined, 'branches are independent')
  assert.deepEqual(await repo.branches(), ['feature', 'main'])
  await assert.rejects(repo.fork('main', 'feature'), { code: 'LARIX_EXISTS' })
  const snap = await repo.checkout(c1.id)
  assert.equal(await snap.get('x'), 1)
  assert.equal(await snap.get('y'), undefined)
  assert.equal(snap.commit.id, c1.id)
  const c2 = (await main.head())!
  await assert.rejects(main.reset(c1.id, { expected: c1.id }), { code: 'LARIX_CONFLICT' })
  await main.reset(c1.id, { expected: c2.id })
  assert.equal(await main.get('y'), undefined)
  assert.equal((await repo.commit(c1.id.slice(0, 8))).id, c1.id, 'short ids resolve')
  assert.equal(await repo.resolve('feature'), (await feature.head())!.id)
  await main.reset(c2.id)
  assert.equal(await main.get('y'), 2, 'reset forward again: nothing was lost')
  assert.equal(await repo.deleteBranch('feature'), true)
  assert.deepEqual(await repo.branches(), ['main'])
})

test('log: newest first, path filter keeps only commits that changed the path, limit', async () => {
  let t = 1_700_000_000_000
  const repo = await open(memoryBackend(), { now: () => (t += 1000) })
  const main = repo.branch('main')
  await main.set('a', 1, { message: 'a1' })
  await main.set('b', 1, { message: 'b1' })
  await main.set('a', 2, { message: 'a2' })
  await main.set('c/d', 1, { message: 'cd1' })
  await main.remove('a', { message: 'a gone' })
  const all: Commit[] = []
  for await (const c of main.log()) all.push(c)
  assert.deepEqual(all.map(c => c.info.message), ['a gone', 'cd1', 'a2', 'b1', 'a1'])
  for (let i = 0; i + 1 < all.length; i++) assert.deepEqual(all[i].parents, [all[i + 1].id])
  const onlyA = []
  for await (const c of main.log({ path: 'a' })) onlyA.push(c.info.message)
  assert.deepEqual(onlyA, ['a gone', 'a2', 'a1'])
  const onlyC = []
  for await (const c of main.log({ path: 'c' })) onlyC.push(c.info.message)
  assert.deepEqual(onlyC, ['cd1'])
  const two = []
  for await (const c of main.log({ limit: 2 })) two.push(c.info.message)
  assert.deepEqual(two, ['a gone', 'cd1'])
})

test('two writers racing on one branch: both succeed in turn, no update is lost', async () => {
  const backend = memoryBackend()
  const r1 = await open(backend), r2 = await Repo.open({ backend })
  const writes = []
  for (let i = 0; i < 50; i++) {
    writes.push(r1.branch('main').set(`one/${i}`, i))
    writes.push(r2.branch('main').set(`two/${i}`, i))
  }
  await Promise.all(writes)
  const main = r1.branch('main')
  assert.equal((await main.list('one')).length, 50)
  assert.equal((await main.list('two')).length, 50)
  let n = 0
  for await (const _ of main.log()) n++
  assert.equal(n, 100, 'one commit per write, in a single line of history')
})

test('transactions: read-modify-write is serialisable; without retries the loser gets LARIX_CONFLICT', async () => {
  const backend = memoryBackend()
  const repos = [await open(backend), await open(backend), await open(backend)]
  await repos[0].branch('main').set('counter', 0)
  const incr = (r: Repo, retries: number) => r.branch('main').transaction(async tx => {
    const v = (await tx.get('counter')) as number
    await new Promise(res => setTimeout(res, 1))
    tx.set('counter', v + 1)
    return v + 1
  }, { retries })
  await Promise.all(Array.from({ length: 30 }, (_, i) => incr(repos[i % 3], 100)))
  assert.equal(await repos[0].branch('main').get('counter'), 30)

  const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => incr(repos[i % 3], 0)))
  const ok = results.filter(r => r.status === 'fulfilled').length
  const failed = results.filter(r => r.status === 'rejected') as PromiseRejectedResult[]
  assert.ok(failed.length > 0, 'some transactions must lose the race')
  for (const f of failed) assert.equal(f.reason.code, 'LARIX_CONFLICT')
  assert.equal(await repos[0].branch('main').get('counter'), 30 + ok)
})

test('transactions: one commit for many writes; a throwing function commits nothing; a used tx is closed', async () => {
  const repo = await open()
  const main = repo.branch('main')
  const r = await main.transaction(tx => { for (let i = 0; i < 1000; i++) tx.set(`k/${i % 10}/${i}`, { i }) }, { message: 'bulk' })
  assert.equal(r.commit?.info.message, 'bulk')
  assert.equal(r.attempts, 1)
  assert.equal((await main.list('k')).length, 10)
  assert.deepEqual(await main.get('k/3/503'), { i: 503 })
  let n = 0
  for await (const _ of main.log()) n++
  assert.equal(n, 1)
  const before = (await main.head())!.id
  await assert.rejects(main.transaction(tx => { tx.set('x', 1); throw new Error('boom') }), /boom/)
  assert.equal((await main.head())!.id, before)
  let leaked: { set(p: string, v: unknown): void } | undefined
  await main.transaction(tx => { leaked = tx })
  assert.throws(() => leaked!.set('x', 1), { code: 'LARIX_TX_CLOSED' })
  await assert.rejects(main.transaction(tx => tx.set('bad//path', 1)), { code: 'LARIX_BAD_PATH' })
  await assert.rejects(main.transaction(() => 1, { strategy: 'nope' as 'test-and-set' }), { code: 'LARIX_BAD_ARGUMENT' })
})

test('a failing backend write leaves the head where it was (no half-written ref)', async () => {
  const inner = memoryBackend()
  let failPuts = false
  const backend: Backend = {
    ...inner,
    name: 'flaky',
    open: () => inner.open(),
    close: () => inner.close(),
    objects: {
      get: (id) => inner.objects.get(id),
      has: (id) => inner.objects.has(id),
      putMany: (objs) => failPuts ? Promise.reject(new Error('disk full')) : inner.objects.putMany(objs),
    },
  }
  const repo = await open(backend)
  const main = repo.branch('main')
  const c = await main.set('a', 1)
  failPuts = true
  await assert.rejects(main.set('a', 2), /disk full/)
  await assert.rejects(main.transaction(tx => tx.set('b', 1)), /disk full/)
  assert.equal((await main.head())!.id, c.id)
  failPuts = false
  await main.set('a', 3)
  assert.equal(await main.get('a'), 3)
})

test('a head that never stops moving ends in LARIX_CONFLICT after the retries, not a lost write', async () => {
  const inner = memoryBackend()
  let sabotage = false
  const backend: Backend = {
    ...inner, open: () => inner.open(), close: () => inner.close(),
    refs: {
      get: (n) => inner.refs.get(n), list: (p) => inner.refs.list(p), watch: (f) => inner.refs.watch(f),
      cas: async (n, e, x) => {
        if (sabotage) { // another writer sneaks in before every compare-and-set
          const cur = await inner.refs.get(n)
          const other = await Repo.open({ backend: inner })
          sabotage = false
          await other.branch('main').set('noise', Math.random())
          sabotage = true
          void cur
        }
        return inner.refs.cas(n, e, x)
      },
    },
  }
  const repo = await open(backend)
  await repo.branch('main').set('a', 1)
  sabotage = true
  const err = await repo.branch('main').set('a', 2, { retries: 3 }).catch(e => e)
  assert.equal(err.code, 'LARIX_CONFLICT')
  assert.equal(err.data.attempts, 4)
  sabotage = false
  assert.equal(await repo.branch('main').get('a'), 1)
})

test('watch and watchKey', async () => {
  const repo = await open()
  const main = repo.branch('main')
  const heads: (string | undefined)[] = []
  const keys: unknown[] = []
  const stop = main.watch(e => heads.push(e.after))
  const stopKey = main.watchKey('todo/1', e => { keys.push(e.value) })
  const c1 = await main.set('todo/1', 'a')
  const c2 = await main.set('other', 'x')
  const c3 = await main.set('todo/1', 'b')
  await main.remove('todo/1')
  await repo.branch('elsewhere').set('todo/1', 'zzz')
  await new Promise(r => setTimeout(r, 20))
  assert.deepEqual(heads.slice(0, 3), [c1.id, c2.id, c3.id])
  assert.deepEqual(keys, ['a', 'b', undefined])
  stop(); stopKey()
  await main.set('todo/1', 'c')
  await new Promise(r => setTimeout(r, 20))
  assert.equal(heads.length, 4)
  assert.equal(keys.length, 3)
})

test('codecs: msgpack, string and bytes stores', async () => {
  const m = await open(memoryBackend(), { contents: 'msgpack' })
  await m.branch('main').set('v', { b: new Uint8Array([1, 2]), a: [1, 'x'] })
  assert.deepEqual(await m.branch('main').get('v'), { a: [1, 'x'], b: new Uint8Array([1, 2]) })
  const s = await open(memoryBackend(), { contents: 'string' })
  await s.branch('main').set('v', 'plain\ntext')
  assert.equal(await s.branch('main').get('v'), 'plain\ntext')
  const b = await open(memoryBackend(), { contents: 'bytes' })
  await b.branch('main').set('v', new Uint8Array([0, 255]))
  assert.deepEqual(await b.branch('main').get('v'), new Uint8Array([0, 255]))
  await assert.rejects(b.branch('main').set('v', 'str' as never), { code: 'LARIX_BAD_VALUE' })
})

test('tree: lazy reads, entries, diff between commits', async () => {
  const repo = await open()
  const main = repo.branch('main')
  await main.transaction(tx => { tx.set('a/1', 1); tx.set('a/2', 2); tx.set('b', 'x') })
  const t1 = await main.tree()
  await main.transaction(tx => { tx.set('a/2', 22); tx.remove('b'); tx.set('c/d/e', true) })
  const t2 = await main.tree()
  assert.deepEqual(await t2.diff(t1), [
    { path: 'a/2', before: 2, after: 22 },
    { path: 'b', before: 'x', after: undefined },
    { path: 'c/d/e', before: undefined, after: true },
  ])
  const all = []
  for await (const e of t2.entries()) all.push(e)
  assert.deepEqual(all, [['a/1', 1], ['a/2', 22], ['c/d/e', true]])
  assert.equal(await t2.kind('c/d'), 'tree')
  assert.equal(await t2.kind('a/1'), 'value')
  assert.equal(await t2.kind('zz'), undefined)
  assert.equal(await t1.get('b'), 'x', 'old trees stay readable')
})

test('level keeps a commit-graph index: LCAs on a reopened store walk it across windows and agree', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const { levelBackend } = await import('../src/index.js')
  const dir = mkdtempSync(join(tmpdir(), 'larix-graph-'))
  try {
    let repo = await Repo.open({ backend: levelBackend(dir) })
    const main = repo.branch('main')
    await main.set('base', 0)
    const fork = (await main.head())!.id
    await repo.fork('main', 'side')
    await repo.branch('side').set('s', 1)
    // Cross a 4,096-generation window of the index.
    await main.transaction(() => undefined)
    for (let i = 0; i < 4200; i++) await main.set(`k/${i % 7}`, i)
    const head = (await main.head())!
    const entries = await repo.backend.objects.graphRange!(1, 3)
    assert.ok(entries.some(e => e.id === fork && e.generation === 1 && e.parents.length === 0))
    const second = entries.find(e => e.generation === 2)
    assert.ok(second && second.parents.length === 1 && (second.parents[0] === fork))
    await repo.close()
    repo = await Repo.open({ backend: levelBackend(dir) })
    assert.deepEqual(await repo.lcas('main', 'side'), { status: 'ok', lcas: [fork] })
    assert.deepEqual(await repo.lcas('side', head.id), { status: 'ok', lcas: [fork] })
    assert.equal(await repo.isAncestor(fork, 'main'), true)
    assert.deepEqual(await repo.lcas('main', 'side', { maxDepth: 100 }), { status: 'max-depth-reached', maxDepth: 100 })
    await repo.close()
  } finally { rmSync(dir, { recursive: true, force: true }) }
})
