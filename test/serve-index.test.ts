// The introduced-objects index (src/store/introduced.ts) that `larix serve` sends packs from: `git clone` and
// `git fetch` against larix serve on memory and level stores get exactly the objects git finds reachable
// (`git rev-list --objects --all`, `git fsck --strict`), with the index present (larix commits), absent (an
// old store: every entry deleted) and partly present (commits pushed by git have none until a fetch builds
// them); histories with merges, reverts and a file turning into a directory; a property on random histories
// that the index-based walk gives a superset of the tree walk's objects (and exactly them for a clone); and
// the entries' safety: written in the commit's own batch, so a SIGKILL never leaves one naming missing objects.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import fc from 'fast-check'
import { Level } from 'level'
import { levelBackend, memoryBackend, Repo } from '../src/index.js'
import type { Backend } from '../src/index.js'
import type { ObjectStore } from '../src/store/backend.js'
import { forEachIntroduced, introducedFromBodies, introducedObjects, isIntroducedEntry } from '../src/store/introduced.js'
import { LRU } from '../src/store/lru.js'
import { ObjectReader } from '../src/store/tree.js'
import { startServer } from '../src/platform/node/serve.js'
import type { RunningServer } from '../src/platform/node/serve.js'
import { walkObjects } from '../src/sync/serve/index.js'
import { sortedRecords } from '../src/sync/serve/walk.js'

const tmp = mkdtempSync(join(tmpdir(), 'larix-serve-index-'))
let n = 0
const fresh = (name: string) => join(tmp, `${name}-${n++}`)
after(() => rmSync(tmp, { recursive: true, force: true }))

const run = promisify(execFile)
const ENV = {
  ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: tmp, GIT_TERMINAL_PROMPT: '0',
  GIT_AUTHOR_NAME: 'G', GIT_AUTHOR_EMAIL: 'g@example.org', GIT_COMMITTER_NAME: 'G', GIT_COMMITTER_EMAIL: 'g@example.org',
}
async function git(cwd: string, ...args: string[]): Promise<string> {
  return (await run('git', args, { cwd, env: ENV, maxBuffer: 64 << 20 })).stdout.trim()
}

type Kind = 'memory' | 'level'

interface Store { kind: Kind; dir: string; backend: Backend; repo: Repo; running: RunningServer; url: string; errors: unknown[] }

/** Stores still open: closed after the tests, so a failing test cannot leave a server keeping the process alive. */
const opened = new Set<Store>()
after(async () => { for (const s of [...opened]) await close(s) })

async function open(kind: Kind, dir: string, backend: Backend = kind === 'memory' ? memoryBackend() : levelBackend(dir)): Promise<Store> {
  let clock = 1_700_000_000_000
  const repo = await Repo.open({ backend, author: 'Ann <ann@example.org>', now: () => (clock += 1000) })
  const errors: unknown[] = []
  const running = await startServer(backend, { http: 0, onError: e => errors.push(e) })
  const s = { kind, dir, backend, repo, running, url: running.http!.url, errors }
  opened.add(s)
  return s
}

async function close(s: Store): Promise<void> {
  opened.delete(s)
  await s.running.close()
  await s.repo.close()
}

/** Merges, values set back to older ones, reverts, and a file that becomes a directory (and back, by revert). */
async function richHistory(repo: Repo, rounds: number): Promise<void> {
  const main = repo.branch('main')
  for (let i = 0; i < rounds; i++) {
    await main.set(`items/${i % 7}`, { i }, { message: `set ${i}` })
    await main.set('x', { file: i }, { message: `x is a file ${i}` })
    const toDir = await main.transaction(tx => { tx.remove('x'); tx.set('x/inner', { dir: i }) }, { message: `x is a directory ${i}` })
    if (i % 2 === 0) await main.revert(toDir.commit!.id, { message: `revert ${i}` })
    await main.set('items/0', { i: 0 }, { message: `items/0 back to an old value ${i}` })
    const side = await repo.fork('main', `side-${i}`)
    await side.set(`side/${i}`, { i }, { message: `side ${i}` })
    await side.set('items/1', { side: i }, { message: `side items/1 ${i}` })
    await main.set(`main/${i}`, { i }, { message: `main ${i}` })
    const r = await main.merge(`side-${i}`, { message: `merge ${i}` })
    assert.equal(r.status, 'merged')
  }
}

/** Every commit id reachable from the store's refs (first and other parents). */
async function allCommits(repo: Repo): Promise<string[]> {
  const reader = new ObjectReader(repo.backend.objects)
  const seen = new Set<string>()
  const stack = (await repo.backend.refs.list('refs/')).map(r => r.id)
  while (stack.length) {
    const id = stack.pop()!
    if (seen.has(id)) continue
    const o = await repo.backend.objects.get(id)
    if (o?.type !== 'commit') continue
    seen.add(id)
    stack.push(...(await reader.commit(id)).parents)
  }
  return [...seen]
}

/** Entries present for `commits`, and each names only stored objects. */
async function indexedCount(store: ObjectStore, commits: readonly string[]): Promise<number> {
  let count = 0
  for (const c of commits) {
    const e = await store.getIntroduced!(c)
    if (e === undefined) continue
    assert.ok(isIntroducedEntry(e), `entry of ${c} is well formed`)
    const ids: string[] = []
    forEachIntroduced(e, id => ids.push(id))
    for (const id of ids) assert.ok(await store.has(id), `entry of ${c} names ${id}, which is stored`)
    count++
  }
  return count
}

/** The same store without the index: walks fall back to reading trees. */
function withoutIndex(store: ObjectStore): ObjectStore {
  return { get: id => store.get(id), has: id => store.has(id), putMany: o => store.putMany(o) }
}

/** A bare clone from `s`: what git received must be exactly what it finds reachable, and fsck-clean. */
async function cloneChecked(s: Store): Promise<{ dir: string; objects: number }> {
  const dir = fresh(`clone-${s.kind}`)
  await git(tmp, 'clone', '--bare', '--quiet', s.url, dir)
  await git(dir, 'fsck', '--strict', '--no-dangling', '--no-progress')
  const inPack = Number(/in-pack: (\d+)/.exec(await git(dir, 'count-objects', '-v'))![1])
  const reachable = (await git(dir, 'rev-list', '--objects', '--all')).split('\n').length
  assert.equal(inPack, reachable, 'the pack holds exactly the reachable objects')
  // And the same objects as the tree walk of the store, without the index.
  const refs = await s.backend.refs.list('refs/')
  const tree = await walkObjects(withoutIndex(s.backend.objects), new ObjectReader(withoutIndex(s.backend.objects)), { wants: refs.map(r => r.id), haves: [] })
  assert.equal(inPack, tree.objects.length)
  assert.equal(await git(dir, 'rev-parse', 'refs/heads/main'), (await s.repo.branch('main').head())!.id)
  return { dir, objects: inPack }
}

/**
 * Delete every index entry: memory's map (and a new server, as on a store opened again: a server keeps the
 * entries it has read in memory), or (with the store closed) the `i` keys of the LevelDB.
 */
async function dropIndex(s: Store): Promise<Store> {
  if (s.kind === 'memory') {
    (s.backend.objects as unknown as { introduced: Map<string, Uint8Array> }).introduced.clear()
    await s.running.close()
    s.running = await startServer(s.backend, { http: 0, onError: e => s.errors.push(e) })
    s.url = s.running.http!.url
    return s
  }
  await close(s)
  const db = new Level<string, Uint8Array>(s.dir, { keyEncoding: 'utf8', valueEncoding: 'view' })
  await db.open()
  const keys: string[] = []
  for await (const k of db.keys({ gte: 'i', lt: 'j' })) keys.push(k)
  await db.batch(keys.map(key => ({ type: 'del' as const, key })))
  await db.close()
  return open(s.kind, s.dir)
}

for (const kind of ['memory', 'level'] as const) {
  test(`${kind}: clone and fetch with the index present, absent (old store) and partly present (pushed commits)`, async () => {
    let s = await open(kind, fresh(kind))
    await richHistory(s.repo, 6)
    const commits = await allCommits(s.repo)
    // Present: every larix commit but the merges got its entry when it was written (a merge's would cost more
    // than the merge); the first clone builds the merges' entries.
    const merges: string[] = []
    for (const id of commits) if ((await s.repo.reader.commit(id)).parents.length > 1) merges.push(id)
    assert.ok(merges.length >= 6)
    assert.equal(await indexedCount(s.backend.objects, commits), commits.length - merges.length)
    assert.equal(await indexedCount(s.backend.objects, merges), 0)
    const first = await cloneChecked(s)
    assert.equal(await indexedCount(s.backend.objects, commits), commits.length, 'the clone built the merges\' entries')
    assert.ok(Number(await git(first.dir, 'rev-list', '--count', '--merges', 'main')) >= 6)

    // Absent: the walk builds the entries (and stores them), and sends the same objects.
    s = await dropIndex(s)
    assert.equal(await indexedCount(s.backend.objects, commits), 0)
    assert.equal((await cloneChecked(s)).objects, first.objects)
    assert.equal(await indexedCount(s.backend.objects, commits), commits.length, 'the clone stored the entries it built')
    if (kind === 'level') { // ...durably
      await close(s)
      s = await open(kind, s.dir)
      assert.equal(await indexedCount(s.backend.objects, commits), commits.length)
    }

    // Partly: commits pushed by git (a file→directory change among them) have no entry; larix commits on top do.
    const work = fresh('work')
    await git(tmp, 'clone', '--quiet', s.url, work)
    const before = await git(work, 'rev-parse', 'HEAD')
    for (let i = 0; i < 3; i++) {
      rmSync(join(work, 'x'), { recursive: true, force: true })
      writeFileSync(join(work, 'x'), JSON.stringify({ git: i }))
      writeFileSync(join(work, 'items', `g${i}`), JSON.stringify({ git: i }))
      await git(work, 'add', '-A')
      await git(work, 'commit', '--quiet', '-m', `git ${i}`)
    }
    await git(work, 'push', '--quiet', 'origin', 'main')
    const pushed = (await git(work, 'rev-list', `${before}..HEAD`)).split('\n')
    assert.equal(await indexedCount(s.backend.objects, pushed), 0)
    await s.repo.branch('main').set('items/after-push', { larix: true })
    // A fetch from the clone made before the push gets the new objects (maybe a few it has: a superset).
    await git(first.dir, 'fetch', '--quiet', s.url, '+refs/heads/*:refs/heads/*')
    await git(first.dir, 'fsck', '--strict', '--no-dangling', '--no-progress')
    assert.equal(await git(first.dir, 'rev-parse', 'main'), (await s.repo.branch('main').head())!.id)
    assert.equal(await indexedCount(s.backend.objects, pushed), pushed.length, 'the fetch built the pushed commits\' entries')
    await cloneChecked(s)
    assert.deepEqual(s.errors, [])
    await close(s)
  })
}

test('a shallow clone and deepen still take the tree walk, and are right', async () => {
  const s = await open('level', fresh('level'))
  await richHistory(s.repo, 3)
  const dir = fresh('shallow')
  await git(tmp, 'clone', '--bare', '--quiet', '--depth', '2', s.url, dir)
  await git(dir, 'fetch', '--quiet', '--deepen', '3')
  await git(dir, 'fsck', '--no-dangling', '--no-progress')
  assert.equal(await git(dir, 'rev-parse', 'main'), (await s.repo.branch('main').head())!.id)
  await close(s)
})

test('property: sortedRecords gives the records\' ids in hex, sorted as strings, with their types (ids sharing long prefixes)', () => {
  const id = fc.uint8Array({ minLength: 20, maxLength: 20 }).chain(tail => fc.tuple(fc.nat(3), fc.nat(2), fc.nat(19)).map(([a, b, at]) => {
    const v = Uint8Array.from(tail)
    if (a < 3) { v[0] = a; v[1] = b; v.fill(7, 2, at) } // many ids in one two-byte bucket, some equal for long
    return v
  }))
  fc.assert(fc.property(fc.uniqueArray(fc.tuple(id, fc.boolean()), { selector: ([v]) => Buffer.from(v).toString('hex'), maxLength: 300 }), records => {
    const bytes = new Uint8Array(21 * records.length)
    records.forEach(([v, tree], i) => { bytes[21 * i] = tree ? 2 : 3; bytes.set(v, 21 * i + 1) })
    const got = sortedRecords(bytes)
    const want = records.map(([v, tree]) => ({ id: Buffer.from(v).toString('hex'), type: tree ? 'tree' : 'blob' }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    assert.deepEqual(got, want)
  }), { numRuns: 200 })
})

test('property: on random histories, the index-based walk sends a superset of the tree walk (the same for a clone); git fsck of a few clones is clean', async () => {
  const op = fc.oneof(
    fc.record({ k: fc.constant('set' as const), path: fc.constantFrom('a', 'b', 'd/a', 'd/e/f', 'd/e/g', 'a/z'), v: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ k: fc.constant('remove' as const), path: fc.constantFrom('a', 'd', 'd/e', 'd/a', 'b') }),
    fc.record({ k: fc.constant('merge' as const), path: fc.constantFrom('a', 'd/x', 'q'), v: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ k: fc.constant('revert' as const), back: fc.nat(5) }),
  )
  let fscks = 0, fetches = 0
  await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 2 }), async (ops, haveAt, dropSeed, dropEvery) => {
    const backend = memoryBackend()
    const repo = await Repo.open({ backend, author: 'P <p@example.org>' })
    const main = repo.branch('main')
    const made: string[] = []
    const note = async () => { const h = await main.head(); if (h && made[made.length - 1] !== h.id) made.push(h.id) }
    let side = 0
    for (const o of ops) {
      try {
        if (o.k === 'set') await main.set(o.path, { v: o.v })
        else if (o.k === 'remove') await main.remove(o.path)
        else if (o.k === 'merge') {
          if (!(await main.head())) continue
          const b = await repo.fork('main', `s${side++}`)
          await b.set(o.path, { side: o.v })
          await main.set(`m${side}`, 1)
          await main.merge(b.name)
        } else if (made.length > 0) await main.revert(made[Math.max(0, made.length - 1 - o.back)])
      } catch (e) {
        // Setting below a value (a/z under the file a) or a revert that conflicts: refused, nothing written.
        if (!(e instanceof Error && 'code' in e)) throw e
      }
      await note()
    }
    const head = await main.head()
    if (!head) { await repo.close(); return }
    // Part of the index missing (as after a push): those entries are built on the way.
    const objects = backend.objects
    const index = (objects as unknown as { introduced: Map<string, Uint8Array> }).introduced
    if (dropEvery > 0) { let i = dropSeed; for (const c of [...index.keys()]) if (i++ % (dropEvery + 1) === 0) index.delete(c) }
    const plain = withoutIndex(objects)
    const haves = haveAt % 2 === 0 || made.length < 2 ? [] : [made[haveAt % made.length]]
    const ids = async (store: ObjectStore) => new Set((await walkObjects(store, new ObjectReader(store), { wants: [head.id], haves })).objects.map(o => o.id))
    // Both ways of building entries (decoded nodes at commit time; tree bodies, many commits at once, for
    // received commits) give, for each commit, at least what its tree has and its parent's lacks, and only
    // objects of its tree.
    const reader = new ObjectReader(plain)
    const entryIds = (e: Uint8Array) => { const out: string[] = []; forEachIntroduced(e, id => out.push(id)); return out }
    const treeObjects = async (tree: string | undefined) => tree === undefined ? new Set<string>() : new Set((await walkObjects(plain, reader, { wants: [tree], haves: [] })).objects.map(o => o.id))
    const jobs = []
    for (const c of made) {
      const commit = await reader.commit(c)
      jobs.push({ tree: commit.tree, parentTree: commit.parents.length > 0 ? (await reader.commit(commit.parents[0])).tree : undefined })
    }
    const fromBodies = await introducedFromBodies(async ids => Promise.all(ids.map(async id => (await plain.get(id))?.body)), jobs)
    for (let k = 0; k < jobs.length; k++) {
      const mine = await treeObjects(jobs[k].tree), parents = await treeObjects(jobs[k].parentTree)
      for (const e of [await introducedObjects(reader, jobs[k].tree, jobs[k].parentTree), fromBodies[k]]) {
        const listed = new Set(entryIds(e))
        for (const id of mine) if (!parents.has(id)) assert.ok(listed.has(id), `the entry of ${made[k]} lists ${id}`)
        for (const id of listed) assert.ok(mine.has(id), `${id} is in the tree of ${made[k]}`)
      }
    }
    if (haves.length > 0) fetches++
    const byIndex = await ids(objects)
    const byTrees = await ids(plain)
    for (const id of byTrees) assert.ok(byIndex.has(id), `the index walk sends ${id}`)
    const everything = haves.length === 0 ? byTrees : new Set((await walkObjects(plain, new ObjectReader(plain), { wants: [head.id], haves: [] })).objects.map(o => o.id))
    for (const id of byIndex) assert.ok(everything.has(id), `${id} is reachable from the want`)
    if (haves.length === 0) assert.equal(byIndex.size, byTrees.size, 'a clone sends exactly the reachable objects')
    // The index walk lists its objects in id order, each once, with their types; also with a tree wanted
    // by id (walked on top of the index's objects).
    const firstTree = (await reader.commit(made[0])).tree
    for (const wants of [[head.id], [head.id, firstTree]]) {
      const list = (await walkObjects(objects, new ObjectReader(objects), { wants, haves })).objects
      for (let k = 1; k < list.length; k++) assert.ok(list[k - 1].id < list[k].id, `in id order, each once: ${list[k - 1].id}, ${list[k].id}`)
      for (const o of list) assert.equal(o.type, (await plain.get(o.id))?.type, `the type of ${o.id}`)
      const plainIds = new Set((await walkObjects(plain, new ObjectReader(plain), { wants, haves })).objects.map(o => o.id))
      const listed = new Set(list.map(o => o.id))
      for (const id of plainIds) assert.ok(listed.has(id), `the index walk sends ${id}`)
      // With a server's cache of entries: the same list when it fills and when it answers.
      const known = new LRU<string, Uint8Array>(1 << 20, e => e.length)
      for (let round = 0; round < 2; round++) {
        assert.deepEqual((await walkObjects(objects, new ObjectReader(objects), { wants, haves }, { introduced: known })).objects, list)
      }
    }
    if (fscks < 3 && ops.length > 10) {
      fscks++
      const running = await startServer(backend, { http: 0 })
      try {
        const dir = fresh('prop')
        await git(tmp, 'clone', '--bare', '--quiet', running.http!.url, dir)
        await git(dir, 'fsck', '--strict', '--no-dangling', '--no-progress')
        const all = new Set((await walkObjects(plain, new ObjectReader(plain), { wants: (await backend.refs.list('refs/')).map(r => r.id), haves: [] })).objects.map(o => o.id))
        assert.equal(Number(/in-pack: (\d+)/.exec(await git(dir, 'count-objects', '-v'))![1]), all.size)
      } finally { await running.close() }
    }
    await repo.close()
  }), { numRuns: 40 })
  assert.ok(fscks > 0 && fetches > 0, 'some histories were cloned and checked by git, some walked as fetches')
})

test('level: an index entry is written in the commit\'s own batch (a refused compare-and-set writes neither), and survives SIGKILL', async () => {
  const dir = fresh('level')
  const s = await open('level', dir)
  const main = s.repo.branch('main')
  await main.set('a', 1)
  const c1 = (await main.head())!
  // A write whose compare-and-set fails stores neither the objects nor the entry.
  const entry = (await s.backend.objects.getIntroduced!(c1.id))!
  const fake = '1'.repeat(40)
  assert.equal(await s.backend.atomicWrite!([], { name: 'refs/heads/main', expected: fake, next: fake }, [{ commit: fake, introduced: entry }]), false)
  assert.equal(await s.backend.objects.getIntroduced!(fake), undefined)
  await close(s)

  // A child commits in a loop and is killed with SIGKILL mid-way; after reopening, every commit on main
  // has its entry, and every entry names stored objects.
  const index = fileURLToPath(new URL('../src/index.js', import.meta.url))
  const child = spawn(process.execPath, ['--input-type=module', '-e', `
    const { Repo, levelBackend } = await import(${JSON.stringify(index)})
    const repo = await Repo.open({ backend: levelBackend(${JSON.stringify(dir)}) })
    const main = repo.branch('main')
    for (let i = 0; ; i++) { await main.set('k/' + (i % 50), { i }); if (i === 20) process.stdout.write('go\\n') }
  `], { stdio: ['ignore', 'pipe', 'inherit'] })
  const started = await new Promise<boolean>(resolve => { child.stdout.once('data', () => resolve(true)); child.once('exit', () => resolve(false)) })
  assert.ok(started, 'the child committed')
  await new Promise(r => setTimeout(r, 150))
  child.kill('SIGKILL')
  await new Promise(r => child.once('exit', r))
  const t = await open('level', dir)
  const commits = await allCommits(t.repo)
  assert.ok(commits.length > 20)
  assert.equal(await indexedCount(t.backend.objects, commits), commits.length)
  await cloneChecked(t)
  await close(t)
})
