// The git CLI as oracle for history: random commit graphs (1–3 parents, several roots, criss-cross merges)
// written by larix are exported into a real Git repository as loose objects, then repo.lcas must agree with
// `git merge-base --all`, repo.isAncestor with `git merge-base --is-ancestor`, and log({ path }) with the
// commits Git finds changing that path. Also: the LCA search limits answer with typed results (no hang),
// larix merge commits read well in `git log --graph`, and mergers.text agrees with `git merge-file`.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { deflateSync } from 'node:zlib'
import fc from 'fast-check'
import { Repo, memoryBackend, levelBackend, objects, mergers, MergeConflict } from '../src/index.js'
import type { Backend, Branch, LcaResult } from '../src/index.js'

const tmp = mkdtempSync(join(tmpdir(), 'larix-lca-'))
test.after(() => rmSync(tmp, { recursive: true, force: true }))
let dirs = 0

type Stored = Parameters<Backend['objects']['putMany']>[0][number]

function git(cwd: string, args: string[], input?: string): { status: number; out: string; raw: string } {
  const r = spawnSync('git', args, {
    cwd, input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: tmp, GIT_CONFIG_GLOBAL: '/dev/null' },
  })
  if (r.error) throw r.error
  return { status: r.status ?? -1, out: r.stdout.trim(), raw: r.stdout }
}
function gitOk(cwd: string, args: string[], input?: string): string {
  const r = git(cwd, args, input)
  assert.equal(r.status, 0, `git ${args.join(' ')} failed`)
  return r.out
}

/**
 * A bare Git repository holding every object of a memory backend (as loose objects). Objects are named by
 * their content, so one repository can take the objects of many stores (`into`): fewer git processes.
 */
async function exportToGit(backend: Backend, into?: string): Promise<string> {
  const dir = into ?? join(tmp, `repo${dirs++}.git`)
  if (!into || !existsSync(dir)) gitOk(tmp, ['init', '-q', '--bare', dir])
  const all = (backend.objects as unknown as { map: Map<string, { type: 'blob' | 'tree' | 'commit' | 'tag'; body: Uint8Array }> }).map
  for (const [id, o] of all) {
    const p = join(dir, 'objects', id.slice(0, 2), id.slice(2))
    mkdirSync(dirname(p), { recursive: true })
    writeFileSync(p, deflateSync(objects.frameObject({ type: o.type, body: o.body })))
  }
  return dir
}

function gitLcas(dir: string, a: string, b: string): string[] {
  const r = git(dir, ['merge-base', '--all', a, b])
  assert.ok(r.status === 0 || (r.status === 1 && r.out === ''), `git merge-base exit ${r.status}`)
  return r.out === '' ? [] : r.out.split('\n').sort()
}

function gitIsAncestor(dir: string, a: string, b: string): boolean {
  const r = git(dir, ['merge-base', '--is-ancestor', a, b])
  assert.ok(r.status === 0 || r.status === 1)
  return r.status === 0
}

/** The commits reachable from `head` that changed `path`: compared with every parent (a root: the path exists). */
function gitPathLog(dir: string, head: string, path: string): string[] {
  const nonMerges = gitOk(dir, ['log', '--full-history', '--no-merges', '--format=%H', head, '--', path]).split('\n').filter(Boolean)
  const merges = gitOk(dir, ['rev-list', '--parents', '--merges', head]).split('\n').filter(Boolean).map(l => l.split(' '))
  if (merges.length === 0) return nonMerges.sort()
  const ids = [...new Set(merges.flat())]
  const lines = gitOk(dir, ['cat-file', '--batch-check'], ids.map(id => `${id}:${path}`).join('\n') + '\n').split('\n')
  const at = new Map(ids.map((id, i) => [id, lines[i].endsWith('missing') ? '' : lines[i].split(' ')[0]]))
  const changedMerges = merges.filter(([m, ...ps]) => ps.every(p => at.get(p) !== at.get(m))).map(([m]) => m)
  return [...nonMerges, ...changedMerges].sort()
}

const when = (ts: number) => ({ name: 'Ann', email: 'ann@example.org', timestamp: ts, timezoneOffset: 0 })
function rawCommit(tree: string, parents: string[], ts: number, message: string, generation?: number): Stored {
  const body = objects.encodeCommit({ tree, parents, author: when(ts), committer: when(ts), message: message + '\n' })
  const c: Stored = { id: objects.objectId('commit', body), type: 'commit', body }
  if (generation !== undefined) c.generation = generation
  return c
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer after ${ms} ms`)), ms) })
  try { return await Promise.race([p, limit]) } finally { clearTimeout(timer) }
}

const sortedLcas = (r: LcaResult) => (r.status === 'ok' ? { status: 'ok', lcas: [...r.lcas].sort() } : r)

// ---- random commit graphs written as raw commits -------------------------------------------------------

const LOG_PATHS = ['a', 'b', 'b/c', 'e', 'e/f', 'zz']

/** A few distinct trees (made through a branch) for the commits of a graph to point at. */
async function treePool(repo: Repo): Promise<string[]> {
  const pool = repo.branch('pool')
  const steps: [string, unknown][] = [['a', 1], ['b/c', 1], ['b/d', 1], ['e', 1], ['a', 2], ['e/f', 1], ['b/c', 2], ['e', 3]]
  const trees = []
  for (const [p, v] of steps) trees.push((await pool.set(p, v)).tree)
  await repo.deleteBranch('pool')
  return trees
}

// A graph grows in lanes (like branches): each commit extends its lane's head, may merge current or older
// commits of other lanes (1–3 parents: octopus merges and criss-crosses), and a lane starts either from
// another lane or as a new root (an unrelated history).
const graphArb = fc.record({
  n: fc.integer({ min: 6, max: 24 }),
  spec: fc.array(fc.record({
    lane: fc.constantFrom(0, 1, 2, 0, 1, 2, 3),
    newRoot: fc.integer({ min: 0, max: 3 }), // 0: a lane's first commit starts a new history
    nm: fc.constantFrom(0, 1, 1, 2), // how many merge parents
    merges: fc.array(fc.record({ lane: fc.constantFrom(0, 1, 2, 0, 1, 2, 3), back: fc.constantFrom(0, 1, 1, 2, 3) }), { minLength: 2, maxLength: 2 }),
    tree: fc.nat(),
  }), { minLength: 24, maxLength: 24 }),
  pairs: fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 6, maxLength: 6 }),
  storeGenerations: fc.boolean(),
  log: fc.tuple(fc.nat(), fc.constantFrom(...LOG_PATHS)),
  maxDepth: fc.nat({ max: 24 }),
  max: fc.integer({ min: 1, max: 3 }),
})

test('random commit graphs: lcas = git merge-base --all, isAncestor = --is-ancestor, log path = git', async () => {
  let multi = 0, none = 0
  const shared = join(tmp, 'graphs.git')
  await fc.assert(fc.asyncProperty(graphArb, async g => {
    const backend = memoryBackend()
    const repo = await Repo.open({ backend })
    const trees = await treePool(repo)
    const ids: string[] = [], gens: number[] = [], batch: Stored[] = []
    const lanes: number[][] = [[], [], [], []], parentsOf: number[][] = []
    for (let i = 0; i < g.n; i++) {
      const s = g.spec[i]
      const parents: number[] = []
      const own = lanes[s.lane]
      if (own.length) parents.push(own[own.length - 1])
      else if (i > 0 && s.newRoot !== 0) parents.push(i - 1)
      for (const m of s.merges.slice(0, s.nm)) {
        const l = lanes[m.lane]
        const k = l.length ? l[Math.max(0, l.length - 1 - m.back)] : undefined
        if (k !== undefined && !parents.includes(k)) parents.push(k)
      }
      const gen = 1 + Math.max(0, ...parents.map(p => gens[p]))
      const c = rawCommit(trees[s.tree % trees.length], parents.map(p => ids[p]), 1_700_000_000 + i * 60, `c${i}`, g.storeGenerations ? gen : undefined)
      ids.push(c.id); gens.push(gen); batch.push(c); own.push(i); parentsOf.push(parents)
    }
    await backend.objects.putMany(batch)
    const dir = await exportToGit(backend, shared)

    // Every pair against a plain reference (ancestor sets); git checks the reference and larix on a sample
    // that favours pairs with several LCAs, the rare and interesting case.
    const anc: Set<number>[] = []
    for (let i = 0; i < g.n; i++) anc.push(new Set([i, ...parentsOf[i].flatMap(p => [...anc[p]])]))
    const reference = (x: number, y: number) => {
      const common = [...anc[x]].filter(c => anc[y].has(c))
      return common.filter(c => !common.some(d => d !== c && anc[d].has(c))).map(c => ids[c]).sort()
    }
    const several: [number, number][] = []
    for (let x = 0; x < g.n; x++) {
      for (let y = 0; y < g.n; y++) {
        const want = reference(x, y)
        assert.deepEqual(sortedLcas(await withTimeout(repo.lcas(ids[x], ids[y]), 5000, 'lcas')), { status: 'ok', lcas: want }, `lcas c${x} c${y}`)
        assert.equal(await repo.isAncestor(ids[x], ids[y]), anc[y].has(x), `isAncestor c${x} c${y}`)
        if (want.length > 1) several.push([x, y])
      }
    }
    const sample = [...several.filter((_, i) => g.pairs.some(([p]) => p % several.length === i)).slice(0, 3), ...g.pairs.map(([x, y]) => [x % g.n, y % g.n] as [number, number])].slice(0, 6)
    for (const [n, [x, y]] of sample.entries()) {
      const a = ids[x], b = ids[y]
      const want = gitLcas(dir, a, b)
      if (want.length > 1) multi++
      if (want.length === 0) none++
      assert.deepEqual(reference(x, y), want, `the reference agrees with git on c${x} c${y}`)
      assert.deepEqual(sortedLcas(await repo.lcas(a, b)), { status: 'ok', lcas: want }, `lcas c${x} c${y}`)
      if (n < 2) assert.equal(await repo.isAncestor(a, b), gitIsAncestor(dir, a, b), `isAncestor c${x} c${y}`)
      // Limits: `max` counts the LCAs after redundant ones are dropped; `maxDepth` may only stop the search.
      const limited = await repo.lcas(a, b, { max: g.max })
      assert.deepEqual(sortedLcas(limited), want.length > g.max ? { status: 'too-many-lcas', max: g.max } : { status: 'ok', lcas: want }, `max ${g.max}`)
      const deep = await repo.lcas(a, b, { maxDepth: g.maxDepth })
      if (deep.status !== 'max-depth-reached') assert.deepEqual(sortedLcas(deep), { status: 'ok', lcas: want }, `maxDepth ${g.maxDepth}`)
      else assert.deepEqual(deep, { status: 'max-depth-reached', maxDepth: g.maxDepth })
      assert.deepEqual(sortedLcas(await repo.lcas(a, b, { maxDepth: g.n })), { status: 'ok', lcas: want }, 'no search is deeper than the graph')
    }
    const [logAt, path] = g.log
    const head = ids[logAt % g.n]
    await backend.refs.cas('refs/heads/h', undefined, head)
    const mine: string[] = []
    for await (const c of repo.branch('h').log({ path })) mine.push(c.id)
    assert.deepEqual(mine.sort(), gitPathLog(dir, head, path), `log -- ${path} from c${logAt % g.n}`)
  }), { numRuns: 40 })
  assert.ok(multi > 0 && none > 0, `the graphs had several LCAs (${multi} pairs) and none (${none} pairs)`)
})

// ---- random histories made through the API (branches, merges of old heads, forks) ------------------------

const historyArb = fc.array(fc.record({
  kind: fc.constantFrom('commit', 'commit', 'merge', 'merge', 'fork'),
  i: fc.nat(), j: fc.nat(), old: fc.nat(), noFF: fc.boolean(),
}), { minLength: 4, maxLength: 24 })

type HistoryOp = { kind: string; i: number; j: number; old: number; noFF: boolean }

/** Play `ops` on a repo: commits of distinct keys, forks, merges of current or older heads. */
async function buildHistory(repo: Repo, ops: HistoryOp[]): Promise<{ branches: Branch[]; ids: string[] }> {
  const branches: Branch[] = [repo.branch('b0')]
  const history: string[][] = [[(await branches[0].set('k/0', 0)).id]]
  const all = new Set(history[0])
  let k = 1
  for (const op of ops) {
    const i = op.i % branches.length
    if (op.kind === 'commit') history[i].push((await branches[i].set(`k/${k}`, k++)).id)
    else if (op.kind === 'fork' && branches.length < 4) {
      branches.push(await repo.fork(branches[i].name, `b${branches.length}`))
      history.push([history[i][history[i].length - 1]])
    } else if (op.kind === 'merge') {
      const j = op.j % branches.length
      const from = history[j][op.old % history[j].length]
      const r = await branches[i].merge(from, { noFastForward: op.noFF })
      assert.notEqual(r.status, 'conflict', 'distinct keys never conflict')
      history[i].push((await branches[i].head())!.id)
    }
    for (const h of history.flat()) all.add(h)
  }
  return { branches, ids: [...all] }
}

test('histories built with branch.merge (criss-crosses included): lcas and isAncestor agree with git, also from a reopened level store; git fsck accepts them', async () => {
  let run = 0
  await fc.assert(fc.asyncProperty(historyArb, fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 5, maxLength: 5 }), fc.boolean(), async (ops, pairs, onLevel) => {
    const clock = () => { let t = 1_700_000_000_000; return () => (t += 1000) }
    const backend = memoryBackend()
    const repo = await Repo.open({ backend, now: clock() })
    const { branches, ids } = await buildHistory(repo, ops)
    const heads = await Promise.all(branches.map(async b => (await b.head())!.id))
    // The same history on a level store (same clock, so the same commit ids), read back after a reopen:
    // generation numbers come from the disk.
    let answering = repo
    if (onLevel) {
      const location = join(tmp, `level${run++}`)
      const first = await Repo.open({ backend: levelBackend(location), now: clock() })
      const built = await buildHistory(first, ops)
      assert.deepEqual(built.ids, ids, 'the level store made the same commits')
      await first.close()
      answering = await Repo.open({ backend: levelBackend(location) })
    }
    const dir = await exportToGit(backend)
    for (const b of branches) writeFileSync(join(dir, 'refs', 'heads', b.name), (await b.head())!.id + '\n')
    gitOk(dir, ['fsck', '--strict', '--no-dangling'])
    const candidates = [...pairs.map(([x, y]) => [ids[x % ids.length], ids[y % ids.length]]), ...heads.flatMap((a, i) => heads.slice(i + 1).map(b => [a, b]))]
    for (const [a, b] of candidates) {
      const want = gitLcas(dir, a, b)
      assert.deepEqual(sortedLcas(await answering.lcas(a, b)), { status: 'ok', lcas: want })
      assert.equal(await answering.isAncestor(a, b), want.length === 1 && want[0] === a)
      assert.equal(await answering.isAncestor(b, a), want.length === 1 && want[0] === b)
    }
    if (answering !== repo) await answering.close()
    rmSync(dir, { recursive: true, force: true })
  }), { numRuns: 16 })
})

// ---- limits ----------------------------------------------------------------------------------------------

test('limits: maxDepth on a long chain answers max-depth-reached (exactly past the depth), never hangs', async () => {
  const backend = memoryBackend()
  const repo = await Repo.open({ backend })
  const tree = (await repo.branch('t').set('x', 1)).tree
  const chain: Stored[] = [rawCommit(tree, [], 1_700_000_000, 'root')]
  for (let i = 1; i <= 400; i++) chain.push(rawCommit(tree, [chain[i - 1].id], 1_700_000_000 + i, `c${i}`))
  const side = rawCommit(tree, [chain[0].id], 1_700_000_000 + 1, 'side')
  await backend.objects.putMany([...chain, side])
  const tip = chain[400].id, root = chain[0].id
  assert.deepEqual(await withTimeout(repo.lcas(tip, side.id, { maxDepth: 10 }), 5000, 'maxDepth 10'), { status: 'max-depth-reached', maxDepth: 10 })
  assert.deepEqual(await repo.lcas(tip, side.id, { maxDepth: 0 }), { status: 'max-depth-reached', maxDepth: 0 })
  assert.deepEqual(await repo.lcas(tip, side.id, { maxDepth: 399 }), { status: 'max-depth-reached', maxDepth: 399 }, 'the LCA is 400 commits below the tip')
  assert.deepEqual(await repo.lcas(tip, side.id, { maxDepth: 400 }), { status: 'ok', lcas: [root] })
  assert.deepEqual(await repo.lcas(tip, side.id), { status: 'ok', lcas: [root] })
  assert.deepEqual(await repo.lcas(tip, chain[100].id), { status: 'ok', lcas: [chain[100].id] })
  assert.equal(await repo.isAncestor(side.id, tip), false)
  assert.equal(await repo.isAncestor(chain[3].id, tip), true)
  await assert.rejects(repo.lcas(tip, side.id, { maxDepth: -1 }), { code: 'LARIX_BAD_ARGUMENT' })
  await assert.rejects(repo.lcas(tip, side.id, { max: 'x' as unknown as number }), { code: 'LARIX_BAD_ARGUMENT' })
  const dir = await exportToGit(backend)
  assert.deepEqual(gitLcas(dir, tip, side.id), [root])
})

test('limits: generation numbers computed on the fly for a 5,000-commit chain stored without them', async () => {
  const backend = memoryBackend()
  const repo = await Repo.open({ backend })
  const tree = (await repo.branch('t').set('x', 1)).tree
  const chain: Stored[] = [rawCommit(tree, [], 1_600_000_000, 'root')]
  for (let i = 1; i <= 5000; i++) chain.push(rawCommit(tree, [chain[i - 1].id], 1_600_000_000 + i, `c${i}`))
  const a = rawCommit(tree, [chain[5000].id], 1_700_000_000, 'a'), b = rawCommit(tree, [chain[5000].id], 1_700_000_001, 'b')
  const far = rawCommit(tree, [chain[10].id], 1_700_000_002, 'far')
  await backend.objects.putMany([...chain, a, b, far])
  assert.deepEqual(await withTimeout(repo.lcas(a.id, b.id), 10_000, 'lcas'), { status: 'ok', lcas: [chain[5000].id] })
  assert.deepEqual(await withTimeout(repo.lcas(a.id, far.id), 10_000, 'lcas'), { status: 'ok', lcas: [chain[10].id] })
  assert.deepEqual(await repo.lcas(a.id, far.id, { maxDepth: 100 }), { status: 'max-depth-reached', maxDepth: 100 })
  assert.equal(await repo.isAncestor(chain[1].id, b.id), true)
  assert.equal(await repo.isAncestor(far.id, b.id), false)
})

test('limits: max on criss-cross histories answers too-many-lcas', async () => {
  const backend = memoryBackend()
  const repo = await Repo.open({ backend })
  const tree = (await repo.branch('t').set('x', 1)).tree
  const r = rawCommit(tree, [], 1_700_000_000, 'r')
  const a1 = rawCommit(tree, [r.id], 1_700_000_001, 'a1'), b1 = rawCommit(tree, [r.id], 1_700_000_002, 'b1'), c1 = rawCommit(tree, [r.id], 1_700_000_003, 'c1')
  const m1 = rawCommit(tree, [a1.id, b1.id], 1_700_000_004, 'm1'), m2 = rawCommit(tree, [b1.id, a1.id], 1_700_000_005, 'm2')
  const t1 = rawCommit(tree, [a1.id, b1.id, c1.id], 1_700_000_006, 't1'), t2 = rawCommit(tree, [c1.id, b1.id, a1.id], 1_700_000_007, 't2')
  await backend.objects.putMany([r, a1, b1, c1, m1, m2, t1, t2])
  assert.deepEqual(await repo.lcas(m1.id, m2.id, { max: 1 }), { status: 'too-many-lcas', max: 1 })
  assert.deepEqual(await repo.lcas(m1.id, m2.id, { max: 2 }), { status: 'ok', lcas: [a1.id, b1.id].sort() })
  assert.deepEqual(await repo.lcas(t1.id, t2.id, { max: 2 }), { status: 'too-many-lcas', max: 2 })
  assert.deepEqual(await repo.lcas(t1.id, t2.id), { status: 'ok', lcas: [a1.id, b1.id, c1.id].sort() })
  assert.deepEqual(await repo.lcas(m1.id, t2.id), { status: 'ok', lcas: [a1.id, b1.id].sort() })
  const dir = await exportToGit(backend)
  assert.deepEqual(gitLcas(dir, m1.id, m2.id), [a1.id, b1.id].sort())
  assert.deepEqual(gitLcas(dir, t1.id, t2.id), [a1.id, b1.id, c1.id].sort())
  assert.deepEqual(gitLcas(dir, m1.id, t2.id), [a1.id, b1.id].sort())
})

test('limits: max 0 allows no LCA: one is already too many, also for a commit with itself', async () => {
  const backend = memoryBackend()
  const repo = await Repo.open({ backend })
  const tree = (await repo.branch('t').set('x', 1)).tree
  const r = rawCommit(tree, [], 1_700_000_000, 'r')
  const a = rawCommit(tree, [r.id], 1_700_000_001, 'a'), b = rawCommit(tree, [r.id], 1_700_000_002, 'b')
  const other = rawCommit(tree, [], 1_700_000_003, 'other root')
  await backend.objects.putMany([r, a, b, other])
  assert.deepEqual(await repo.lcas(a.id, other.id, { max: 0 }), { status: 'ok', lcas: [] }, 'unrelated: no LCA, within the limit')
  assert.deepEqual(await repo.lcas(a.id, b.id, { max: 0 }), { status: 'too-many-lcas', max: 0 })
  assert.deepEqual(await repo.lcas(r.id, a.id, { max: 0 }), { status: 'too-many-lcas', max: 0 }, 'an ancestor')
  assert.deepEqual(await repo.lcas(a.id, a.id, { max: 0 }), { status: 'too-many-lcas', max: 0 }, 'a commit with itself')
})

// ---- merge commits as git sees them ------------------------------------------------------------------------

test('larix merge commits read in git: both parents, git log --graph, fsck, merged contents', async () => {
  const backend = memoryBackend()
  let t = 1_700_000_000_000
  const repo = await Repo.open({ backend, author: 'Ann <ann@example.org>', now: () => (t += 1000), merge: { 'n': mergers.counter } })
  const main = repo.branch('main')
  const base = await main.transaction(tx => { tx.set('n', 0); tx.set('doc', { title: 'x' }) }, { message: 'base' })
  const f = await repo.fork('main', 'f')
  const c1 = await main.set('n', 1, { message: 'one' })
  const c2 = await f.set('doc', { title: 'x', body: 'y' }, { message: 'body' })
  const m = (await main.merge('f')) as { status: string; commit: { id: string; parents: string[] } }
  assert.equal(m.status, 'merged')
  const dir = await exportToGit(backend)
  writeFileSync(join(dir, 'refs', 'heads', 'main'), m.commit.id + '\n')
  writeFileSync(join(dir, 'refs', 'heads', 'f'), c2.id + '\n')
  writeFileSync(join(dir, 'HEAD'), 'ref: refs/heads/main\n')
  gitOk(dir, ['fsck', '--strict', '--no-dangling'])
  assert.equal(gitOk(dir, ['rev-list', '--parents', '-n', '1', 'main']), `${m.commit.id} ${c1.id} ${c2.id}`)
  const graph = gitOk(dir, ['log', '--graph', '--format=%s', 'main']).split('\n').map(l => l.trimEnd())
  assert.deepEqual(graph, ['*   Merge f into main', '|\\', '| * body', '* | one', '|/', '* base'])
  assert.equal(gitOk(dir, ['show', 'main:n']), '1')
  assert.equal(gitOk(dir, ['show', 'main:doc']), '{"body":"y","title":"x"}')
  assert.deepEqual(gitLcas(dir, c1.id, c2.id), [base.commit!.id])
})

// ---- mergers.text against git merge-file -----------------------------------------------------------------------

test('mergers.text agrees with git merge-file (clean with the same text, or both conflict)', async () => {
  const dir = join(tmp, 'merge-file')
  mkdirSync(dir)
  // Every line is distinct (base lines and added lines), so the line alignment is unambiguous: with repeated
  // lines two correct diff3s may align differently, and then neither answer is wrong.
  const editArb = fc.array(fc.record({ at: fc.nat(), del: fc.integer({ min: 0, max: 2 }), add: fc.integer({ min: 0, max: 2 }) }), { minLength: 1, maxLength: 2 })
  const apply = (lines: string[], edits: { at: number; del: number; add: number }[], tag: string) => {
    const out = [...lines]
    let k = 0
    for (const e of edits) { const at = e.at % (out.length + 1); out.splice(at, e.del, ...Array.from({ length: e.add }, () => `${tag} ${k++}\n`)) }
    return out.join('')
  }
  let clean = 0, conflicts = 0
  await fc.assert(fc.property(fc.integer({ min: 1, max: 10 }), editArb, editArb, fc.constantFrom('same', 'equal-text', 'different'), (n, eo, et, how) => {
    const base = Array.from({ length: n }, (_, i) => `line ${i}\n`)
    const b = base.join(''), o = apply(base, eo, 'ours'), th = how === 'same' ? o : apply(base, et, how === 'equal-text' ? 'ours' : 'theirs')
    writeFileSync(join(dir, 'base'), b); writeFileSync(join(dir, 'ours'), o); writeFileSync(join(dir, 'theirs'), th)
    const g = git(dir, ['merge-file', '-p', 'ours', 'base', 'theirs'])
    const r = mergers.text(b, o, th, { path: 'doc' })
    if (g.status === 0) {
      clean++
      assert.equal(r, g.raw, 'the same merged text')
    } else {
      conflicts++
      assert.ok(r instanceof MergeConflict, `git conflicts, larix merged to ${JSON.stringify(r)}`)
    }
  }), { numRuns: 120 })
  assert.ok(clean > 10 && conflicts > 10, `both kinds of case were tried (${clean} clean, ${conflicts} conflicts)`)
})
