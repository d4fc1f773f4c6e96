// Laws of merging, checked with fast-check: merge(x, x, x) = x; a side unchanged from base yields the
// other side; ours and theirs are interchangeable; for counter, set and lww any order and grouping of
// merging N concurrent branches converges to the same value (with real branches and branch.merge);
// revert(revert(c)) restores the tree; the text merger (diff3) keeps non-overlapping edits of both sides.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Repo, memoryBackend, mergers, MergeConflict, canonicalJson } from '../src/index.js'
import type { Branch, Conflict, Merger, MergeResult, LwwRegister } from '../src/index.js'

const ctx = { path: 'x' }

/** Values are the same when they store the same bytes (canonical JSON; Uint8Array by content). */
function key(v: unknown): string {
  if (v === undefined) return '<absent>'
  if (v instanceof MergeConflict) return `<conflict ${v.reason}>`
  if (v instanceof Uint8Array) return `bytes:${Array.from(v).join(',')}`
  return canonicalJson(v)
}
function assertSame(actual: unknown, expected: unknown, msg?: string): void {
  assert.equal(key(actual), key(expected), msg)
}

// ---- arbitraries for each built-in merger ----------------------------------------------------------

const json = fc.jsonValue({ maxDepth: 3 })
const register: fc.Arbitrary<LwwRegister> = fc.record({
  timestamp: fc.integer({ min: 0, max: 20 }),
  value: fc.jsonValue({ maxDepth: 1 }),
  replica: fc.option(fc.constantFrom('r1', 'r2', 'r3'), { nil: undefined }),
}).map(r => (r.replica === undefined ? { timestamp: r.timestamp, value: r.value } : r))
/** A set in its canonical form: distinct elements sorted by canonical JSON (what mergers.set returns). */
const canonicalSet = fc.uniqueArray(fc.jsonValue({ maxDepth: 1 }), { selector: v => canonicalJson(v), maxLength: 6 })
  .map(a => [...a].sort((x, y) => (canonicalJson(x) < canonicalJson(y) ? -1 : canonicalJson(x) > canonicalJson(y) ? 1 : 0)))
const lines = fc.array(fc.constantFrom('a\n', 'b\n', 'c\n', 'd\n', 'e'), { maxLength: 8 }).map(l => l.join(''))
const blob = fc.oneof(fc.uint8Array({ maxLength: 4 }), fc.jsonValue({ maxDepth: 1 }))

const cases: { name: string; merger: Merger; value: fc.Arbitrary<unknown> }[] = [
  { name: 'json', merger: mergers.json, value: json },
  { name: 'counter (integers)', merger: mergers.counter, value: fc.integer({ min: -1e9, max: 1e9 }) },
  { name: 'counter (any finite number)', merger: mergers.counter, value: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { name: 'lww', merger: mergers.lww, value: register },
  { name: 'set', merger: mergers.set, value: canonicalSet },
  { name: 'text', merger: mergers.text, value: lines },
  { name: 'bytes', merger: mergers.bytes, value: blob },
]
const absentOr = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 5 })

for (const { name, merger, value } of cases) {
  test(`mergers.${name}: merge(x, x, x) = x`, async () => {
    await fc.assert(fc.asyncProperty(value, async x => {
      assertSame(await merger(x, x, x, ctx), x)
    }), { numRuns: 150 })
  })

  test(`mergers.${name}: a side unchanged from base yields the other side`, async () => {
    await fc.assert(fc.asyncProperty(absentOr(value), value, async (b, other) => {
      assertSame(await merger(b, b, other, ctx), other, 'ours unchanged')
      assertSame(await merger(b, other, b, ctx), other, 'theirs unchanged')
    }), { numRuns: 150 })
  })

  test(`mergers.${name}: a side unchanged from base against a deletion yields the deletion`, async () => {
    await fc.assert(fc.asyncProperty(value, async b => {
      assertSame(await merger(b, b, undefined, ctx), undefined, 'theirs deleted, ours unchanged')
      assertSame(await merger(b, undefined, b, ctx), undefined, 'ours deleted, theirs unchanged')
    }), { numRuns: 50 })
  })

  test(`mergers.${name}: ours and theirs are interchangeable (the same result, or both conflict)`, async () => {
    await fc.assert(fc.asyncProperty(absentOr(value), value, value, async (b, o, t) => {
      const x = await merger(b, o, t, ctx), y = await merger(b, t, o, ctx)
      assert.equal(x instanceof MergeConflict, y instanceof MergeConflict, 'both conflict or neither')
      if (!(x instanceof MergeConflict)) assertSame(x, y)
    }), { numRuns: 150 })
  })
}

// ---- mergers.text (diff3) ------------------------------------------------------------------------------

test('mergers.text: non-overlapping edits on both sides merge to contain both', async () => {
  const edit = fc.record({
    n: fc.integer({ min: 1, max: 12 }),
    cuts: fc.array(fc.nat(), { minLength: 4, maxLength: 4 }),
    ours: fc.integer({ min: 0, max: 3 }),
    theirs: fc.integer({ min: 0, max: 3 }),
    swap: fc.boolean(),
  })
  await fc.assert(fc.property(edit, ({ n, cuts, ours, theirs, swap }) => {
    const [x1, x2, x3, x4] = cuts.map(c => c % (n + 1)).sort((a, b) => a - b)
    fc.pre(x3 >= x2 + 1) // at least one untouched base line between the two edits
    const base = Array.from({ length: n }, (_, i) => `line ${i}\n`)
    const o = Array.from({ length: ours }, (_, i) => `ours ${i}\n`)
    const t = Array.from({ length: theirs }, (_, i) => `theirs ${i}\n`)
    const first = [...base.slice(0, x1), ...o, ...base.slice(x2)]
    const second = [...base.slice(0, x3), ...t, ...base.slice(x4)]
    const expected = [...base.slice(0, x1), ...o, ...base.slice(x2, x3), ...t, ...base.slice(x4)].join('')
    const [a, b] = swap ? [second, first] : [first, second]
    assert.equal(mergers.text(base.join(''), a.join(''), b.join(''), ctx), expected)
  }), { numRuns: 300 })
})

test('mergers.text: identical edits merge cleanly to that edit; one unchanged side yields the other', async () => {
  await fc.assert(fc.property(lines, lines, lines, (b, o, t) => {
    assert.equal(mergers.text(b, o, o, ctx), o)
    assert.equal(mergers.text(b, b, t, ctx), t)
    assert.equal(mergers.text(b, o, b, ctx), o)
  }), { numRuns: 300 })
})

// ---- whole trees, through branches --------------------------------------------------------------------

type Op = { p: string; v?: unknown }
const seg = fc.constantFrom('a', 'b', 'c')
const anyPath = fc.array(seg, { minLength: 1, maxLength: 3 }).map(p => p.join('/'))
const anyValue = fc.oneof(fc.integer({ min: 0, max: 3 }), fc.record({ x: fc.integer({ min: 0, max: 2 }), y: fc.integer({ min: 0, max: 2 }) }, { requiredKeys: [] }))
const opArb = (path: fc.Arbitrary<string>, value: fc.Arbitrary<unknown>): fc.Arbitrary<Op> =>
  fc.oneof({ weight: 3, arbitrary: fc.record({ p: path, v: value }) }, { weight: 1, arbitrary: fc.record({ p: path }) })
const opsArb = fc.array(opArb(anyPath, anyValue), { maxLength: 6 })

async function apply(b: Branch, ops: Op[]): Promise<void> {
  if (ops.length === 0) return
  await b.transaction(tx => { for (const o of ops) if ('v' in o) tx.set(o.p, o.v); else tx.remove(o.p) })
}

/** A new commit on `b` whose tree is `treeOf`'s tree again (so the commit differs, the tree does not). */
async function restore(repo: Repo, b: Branch, commit: string): Promise<void> {
  const want = await repo.checkout(commit)
  await b.set('zz-marker', 1)
  await b.transaction(async tx => {
    for (const e of await tx.list()) tx.remove(e.name)
    for await (const [k, v] of want.tree.entries()) tx.set(k, v)
  })
}

async function openRepo(merge: Record<string, Merger> = {}): Promise<Repo> {
  let t = 1_700_000_000_000
  return Repo.open({ backend: memoryBackend(), author: 'Ann <ann@example.org>', now: () => (t += 1000), merge })
}

function noConflict(r: MergeResult, what: string): void {
  assert.notEqual(r.status, 'conflict', `${what}: ${JSON.stringify((r as { conflicts?: Conflict[] }).conflicts)}`)
}

test('tree merges: merge(x, x, x) = x and an unchanged side yields the other side (via branches)', async () => {
  await fc.assert(fc.asyncProperty(opsArb, opsArb, opsArb, async (baseOps, opsA, opsB) => {
    const repo = await openRepo()
    const main = repo.branch('main')
    await main.set('root', 0)
    await apply(main, baseOps)
    const base = (await main.head())!
    const a = await repo.fork('main', 'a'), b = await repo.fork('main', 'b'), c = await repo.fork('main', 'c')
    await apply(a, opsA); await restore(repo, a, base.id)
    await apply(b, opsB); await restore(repo, b, base.id)
    await apply(c, opsB)
    const cTree = (await c.head())!.tree
    assert.equal((await a.head())!.tree, base.tree)
    // x, x, x
    const r = await a.merge('b')
    assert.equal(r.status, 'merged')
    assert.equal((await a.head())!.tree, base.tree)
    // ours unchanged (a has the base tree again), theirs changed: the result is theirs; and the mirror.
    noConflict(await a.merge('c'), 'ours unchanged')
    assert.equal((await a.head())!.tree, cTree)
    assert.equal((await repo.mergeTrees(c.name, b.name)).tree.id, cTree, 'theirs unchanged')
    assert.deepEqual((await repo.mergeTrees(c.name, b.name)).conflicts, [])
  }), { numRuns: 80 })
})

test('tree merges: ours and theirs are interchangeable (same conflicting paths; same tree when clean)', async () => {
  await fc.assert(fc.asyncProperty(opsArb, opsArb, opsArb, async (baseOps, opsA, opsB) => {
    const repo = await openRepo()
    const main = repo.branch('main')
    await main.set('root', 0)
    await apply(main, baseOps)
    const a = await repo.fork('main', 'a'), b = await repo.fork('main', 'b')
    await apply(a, opsA); await apply(b, opsB)
    const ab = await repo.mergeTrees('a', 'b'), ba = await repo.mergeTrees('b', 'a')
    assert.deepEqual(ab.conflicts.map(c => c.path).sort(), ba.conflicts.map(c => c.path).sort())
    if (ab.conflicts.length === 0) assert.equal(ab.tree.id, ba.tree.id)
  }), { numRuns: 120 })
})

test('tree merges: per path, the three-way rule (model with scalar values)', async () => {
  const paths = ['a', 'b', 'c/d', 'c/e', 'f/g/h']
  const ops = fc.array(opArb(fc.constantFrom(...paths), fc.integer({ min: 0, max: 2 })), { maxLength: 6 })
  await fc.assert(fc.asyncProperty(ops, ops, ops, async (baseOps, opsA, opsB) => {
    const repo = await openRepo()
    const main = repo.branch('main')
    await main.set('root', 0)
    await apply(main, baseOps)
    const a = await repo.fork('main', 'a'), b = await repo.fork('main', 'b')
    await apply(a, opsA); await apply(b, opsB)
    const read = async (br: Branch) => { const m = new Map<string, unknown>(); for await (const [k, v] of (await br.tree()).entries()) m.set(k, v); return m }
    const [mb, ma, mt] = [await read(main), await read(a), await read(b)]
    const expectConflicts: string[] = []
    const r = await repo.mergeTrees('a', 'b')
    for (const p of paths) {
      const [vb, vo, vt] = [key(mb.get(p)), key(ma.get(p)), key(mt.get(p))]
      const want = vo === vt ? ma.get(p) : vb === vo ? mt.get(p) : vb === vt ? ma.get(p) : undefined
      if (vo !== vt && vb !== vo && vb !== vt) expectConflicts.push(p)
      else assertSame(await r.tree.get(p), want, p)
    }
    assert.deepEqual(r.conflicts.map(c => c.path).sort(), expectConflicts.sort())
  }), { numRuns: 120 })
})

// ---- convergence of counter, set and lww over N concurrent branches -------------------------------------

type Kind = 'counter' | 'set' | 'lww'
const KEYS = ['v/x', 'v/new'] // v/x exists in the base; v/new is added concurrently (add/add)
const BASE_TS = 100
const mergerOf: Record<Kind, Merger> = { counter: mergers.counter, set: mergers.set, lww: mergers.lww }
const baseValue: Record<Kind, unknown> = { counter: 10, set: ['a', 'b', 'c'], lww: { timestamp: BASE_TS, value: 'base' } }
const sortSet = (s: unknown[]) => [...new Set(s as string[])].sort()

/** A local write on a branch: counter += delta; set add/remove elem; lww write a register. */
interface Local { branch: number; key: number; delta: number; elem: string; add: boolean; ts: number; replica: string | undefined; value: number }
const localArb = (n: number) => fc.record({
  branch: fc.integer({ min: 0, max: n - 1 }), key: fc.integer({ min: 0, max: 1 }),
  delta: fc.integer({ min: -5, max: 5 }), elem: fc.constantFrom('a', 'b', 'c', 'd', 'e'), add: fc.boolean(),
  ts: fc.integer({ min: BASE_TS + 1, max: BASE_TS + 4 }), replica: fc.option(fc.constantFrom('r1', 'r2'), { nil: undefined }), value: fc.integer({ min: 0, max: 3 }),
})

async function writeLocal(kind: Kind, b: Branch, l: Local): Promise<unknown> {
  const k = KEYS[l.key]
  const cur = await b.get(k)
  let next: unknown
  if (kind === 'counter') next = ((cur as number | undefined) ?? 0) + l.delta
  else if (kind === 'set') {
    const s = new Set((cur as string[] | undefined) ?? [])
    if (l.add) s.add(l.elem); else s.delete(l.elem)
    next = sortSet([...s])
  } else next = l.replica === undefined ? { timestamp: l.ts, value: l.value } : { timestamp: l.ts, value: l.value, replica: l.replica }
  await b.set(k, next)
  return next
}

function lwwMax(rs: LwwRegister[]): LwwRegister | undefined {
  let best: LwwRegister | undefined
  for (const r of rs) {
    if (!best) { best = r; continue }
    const c = r.timestamp !== best.timestamp ? r.timestamp - best.timestamp
      : (r.replica ?? '') !== (best.replica ?? '') ? ((r.replica ?? '') > (best.replica ?? '') ? 1 : -1)
        : canonicalJson(r) > canonicalJson(best) ? 1 : canonicalJson(r) < canonicalJson(best) ? -1 : 0
    if (c > 0) best = r
  }
  return best
}

/** What every replica must end with, from the base and each branch's final local value (per key). */
function expected(kind: Kind, keyIndex: number, finals: (unknown | undefined)[], counterDeltas: number): unknown {
  const base = keyIndex === 0 ? baseValue[kind] : undefined
  const written = finals.filter(v => v !== undefined)
  if (kind === 'counter') return written.length === 0 && base === undefined ? undefined : ((base as number | undefined) ?? 0) + counterDeltas
  if (kind === 'set') {
    if (written.length === 0) return base
    const s0 = (base as string[] | undefined) ?? []
    const removed = new Set<string>(), added = new Set<string>()
    for (const f of written as string[][]) {
      for (const e of s0) if (!f.includes(e)) removed.add(e)
      for (const e of f) if (!s0.includes(e)) added.add(e)
    }
    return sortSet([...s0.filter(e => !removed.has(e)), ...added])
  }
  return written.length === 0 ? base : lwwMax(written as LwwRegister[])
}

const scheduleArb = (kind: Kind) => fc.record({
  kind: fc.constant(kind),
  n: fc.integer({ min: 3, max: 5 }),
}).chain(({ kind, n }) => fc.record({
  kind: fc.constant(kind), n: fc.constant(n),
  locals: fc.array(localArb(n), { minLength: 1, maxLength: 8 }),
  choices: fc.array(fc.nat({ max: 1000 }), { minLength: 40, maxLength: 40 }),
  // gossip: i merges j's current head (or one of j's older heads); for counters, increments in between
  gossip: fc.array(fc.record({ i: fc.nat({ max: n - 1 }), j: fc.nat({ max: n - 1 }), old: fc.nat(), noFF: fc.boolean(), local: fc.option(localArb(n), { nil: undefined, freq: 3 }) }), { maxLength: 8 }),
}))

for (const convergent of ['counter', 'set', 'lww'] as const) test(`${convergent} converges: any order and grouping of merges of N concurrent branches gives the same value`, async () => {
  await fc.assert(fc.asyncProperty(scheduleArb(convergent), async ({ kind, n, locals, choices, gossip }) => {
    const repo = await openRepo({ 'v/**': mergerOf[kind] })
    const main = repo.branch('main')
    await main.set(KEYS[0], baseValue[kind])
    let c = 0
    const pick = (m: number) => choices[c++ % choices.length] % m

    // N branches forked from one base, each with its own local writes.
    const finals: (unknown | undefined)[][] = KEYS.map(() => Array(n).fill(undefined))
    const deltas = [0, 0]
    const branches: Branch[] = []
    for (let i = 0; i < n; i++) branches.push(await repo.fork('main', `b${i}`))
    for (const l of locals) {
      finals[l.key][l.branch] = await writeLocal(kind, branches[l.branch], l)
      deltas[l.key] += l.delta
    }
    const heads = await Promise.all(branches.map(async b => (await b.head())!.id))

    const results: string[] = []
    // 1. A random binary merge tree over the branches (a random grouping and order).
    const groups: Branch[] = []
    for (let i = 0; i < n; i++) groups.push(await repo.fork(heads[i], `tree${i}`))
    while (groups.length > 1) {
      const i = pick(groups.length)
      let j = pick(groups.length - 1)
      if (j >= i) j++
      noConflict(await groups[i].merge(groups[j].name, { noFastForward: pick(2) === 0 }), 'binary merge tree')
      groups.splice(j, 1)
    }
    results.push(canonicalJson(await Promise.all(KEYS.map(k => groups[0].get(k).then(v => v ?? null)))))
    const wantTree = canonicalJson(KEYS.map((_, k) => expected(kind, k, finals[k], deltas[k]) ?? null))

    // 2. Gossip: random pairwise merges (of current or older heads, so criss-crosses happen), for counters
    //    with more increments in between; then every branch syncs through a hub.
    const gossipers: Branch[] = []
    const history: string[][] = []
    for (let i = 0; i < n; i++) { gossipers.push(await repo.fork(heads[i], `g${i}`)); history.push([heads[i]]) }
    const extra = [0, 0]
    for (const g of gossip) {
      if (kind === 'counter' && g.local) {
        await writeLocal(kind, gossipers[g.local.branch], g.local)
        extra[g.local.key] += g.local.delta
        if (g.local.key === 1) finals[1][g.local.branch] ??= 0 // the key now exists somewhere
        history[g.local.branch].push((await gossipers[g.local.branch].head())!.id)
      }
      if (g.i === g.j) continue
      const from = history[g.j][g.old % history[g.j].length]
      noConflict(await gossipers[g.i].merge(from, { noFastForward: g.noFF }), 'gossip merge')
      history[g.i].push((await gossipers[g.i].head())!.id)
    }
    const hub = gossipers[pick(n)]
    for (const g of gossipers) if (g !== hub) noConflict(await hub.merge(g.name), 'sync into the hub')
    for (const g of gossipers) if (g !== hub) {
      const r = await g.merge(hub.name)
      assert.ok(r.status === 'fast-forward' || r.status === 'up-to-date', `after the hub sync every branch fast-forwards, got ${r.status}`)
    }
    results.push(canonicalJson(await Promise.all(KEYS.map(k => hub.get(k).then(v => v ?? null)))))

    // Both schedules end with what the writes imply, whatever the order.
    const want = KEYS.map((_, k) => expected(kind, k, finals[k], deltas[k] + extra[k]) ?? null)
    assert.equal(results[0], wantTree, `binary merge tree (${kind})`)
    assert.equal(results[1], canonicalJson(want), `gossip (${kind})`)
  }), { numRuns: 150 })
})

// ---- revert ------------------------------------------------------------------------------------------

const REVERT_PATHS = ['a', 'b', 'c/d', 'c/e', 's/x']
const SIDE_PATHS = ['c/e', 's/x', 's/y'] // overlapping main's in part, so that merges succeed often and conflict sometimes
const historyStep = fc.oneof(
  { weight: 3, arbitrary: fc.record({ on: fc.constant('main'), ops: fc.array(opArb(fc.constantFrom(...REVERT_PATHS), fc.integer({ min: 0, max: 2 })), { minLength: 1, maxLength: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ on: fc.constant('side'), ops: fc.array(opArb(fc.constantFrom(...SIDE_PATHS), fc.integer({ min: 0, max: 2 })), { minLength: 1, maxLength: 3 }) }) },
  { weight: 2, arbitrary: fc.constant({ merge: true as const }) },
)

test('revert(c) undoes exactly c (three-way), and revert(revert(c)) restores the tree', async () => {
  await fc.assert(fc.asyncProperty(fc.array(historyStep, { minLength: 2, maxLength: 10 }), fc.nat(), fc.boolean(), fc.boolean(), async (steps, which, second, preferMerge) => {
    const repo = await openRepo()
    const main = repo.branch('main')
    await main.set('a', 0)
    const side = await repo.fork('main', 'side')
    const commits: string[] = [(await main.head())!.id]
    for (const s of steps) {
      if ('merge' in s) {
        const r = await main.merge('side')
        if (r.status === 'conflict') continue
      } else await apply(s.on === 'main' ? main : side, s.ops)
      const h = (await main.head())!.id
      if (h !== commits[commits.length - 1]) commits.push(h)
    }
    const merges: string[] = []
    for (const id of commits) if ((await repo.commit(id)).parents.length > 1) merges.push(id)
    const pool = preferMerge && merges.length ? merges : commits
    const target = await repo.commit(pool[which % pool.length])
    const mainline = target.parents.length > 1 ? (second ? 2 : 1) : undefined
    const snapshot = async (id: string | undefined) => {
      const m = new Map<string, string>()
      if (id !== undefined) for await (const [k, v] of (await repo.checkout(id)).tree.entries()) m.set(k, key(v))
      return m
    }
    const head = (await main.head())!
    const [P, C, H] = [await snapshot(target.parents[(mainline ?? 1) - 1]), await snapshot(target.id), await snapshot(head.id)]
    const conflicts: string[] = [], want = new Map<string, string>()
    for (const p of new Set([...P.keys(), ...C.keys(), ...H.keys()])) {
      const [vp, vc, vh] = [P.get(p), C.get(p), H.get(p)]
      if (vp !== vc && vh !== vc && vh !== vp) conflicts.push(p)
      const v = vp !== vc ? vp : vh
      if (v !== undefined) want.set(p, v)
    }
    const attempt = main.revert(target.id, mainline === undefined ? {} : { mainline })
    if (conflicts.length) {
      const err = await attempt.then(() => undefined, e => e)
      assert.equal(err?.code, 'LARIX_CONFLICT')
      assert.deepEqual(err.data.conflicts.map((c: Conflict) => c.path).sort(), conflicts.sort())
      assert.equal((await main.head())!.id, head.id, 'a conflicting revert commits nothing')
      return
    }
    const r = await attempt
    const after = await snapshot(r.id)
    assert.deepEqual([...after].sort(), [...want].sort(), 'the revert undid exactly what the commit changed')
    if (r.id === head.id) return // nothing to undo any more: no new commit
    assert.deepEqual(r.parents, [head.id])
    const rr = await main.revert(r.id)
    assert.equal(rr.tree, head.tree, 'revert(revert(c)) restores the tree')
  }), { numRuns: 150 })
})
