// Merge, revert and merging transactions through the public API: the built-in mergers one by one, merge
// rules (most specific wins), the written rules for delete-versus-modify, file-versus-directory and add/add,
// branch.merge (fast-forward, up-to-date, merged, conflict, dry run, no fast-forward, criss-cross, unrelated
// histories), revert (mainline for merges, conflicts) and transactions with strategy 'merge'.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Repo, memoryBackend, mergers, conflict, MergeConflict } from '../src/index.js'
import type { Backend, Branch, Commit, Conflict, Merger, MergeResult } from '../src/index.js'

const AUTHOR = 'Ann <ann@example.org>'

async function open(more: Parameters<typeof Repo.open>[0] = {}, backend: Backend = memoryBackend()): Promise<Repo> {
  let t = 1_700_000_000_000
  return Repo.open({ backend, author: AUTHOR, now: () => (t += 1000), ...more })
}

async function headId(b: Branch): Promise<string | undefined> {
  return (await b.head())?.id
}

/** The commit of a successful merge, after checking its status. */
function expect(r: MergeResult, status: 'merged' | 'fast-forward' | 'up-to-date'): Commit {
  assert.equal(r.status, status, r.status === 'conflict' ? `unexpected conflicts: ${JSON.stringify(r.conflicts)}` : `status ${r.status}`)
  return (r as { commit: Commit }).commit
}

/** The contract fields of a conflict (a conflict may carry more). */
function shape(c: Conflict): Pick<Conflict, 'path' | 'base' | 'ours' | 'theirs'> {
  return { path: c.path, base: c.base, ours: c.ours, theirs: c.theirs }
}

function conflictsOf(r: MergeResult): Conflict[] {
  assert.equal(r.status, 'conflict', `expected a conflict, got ${r.status}`)
  return [...(r as { conflicts: Conflict[] }).conflicts].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}

async function contents(b: Branch): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {}
  for await (const [k, v] of (await b.tree()).entries()) out[k] = v
  return out
}

const ctx = { path: 'x' }

// ---- the built-in mergers ------------------------------------------------------------------------

test('mergers.json: objects key by key (recursively), arrays and scalars as values', () => {
  const j = mergers.json
  assert.deepEqual(j({ a: 1, b: 1 }, { a: 2, b: 1 }, { a: 1, b: 3 }, ctx), { a: 2, b: 3 })
  assert.deepEqual(j({ n: { x: 1, y: 1 } }, { n: { x: 2, y: 1 } }, { n: { x: 1, y: 2 }, z: true }, ctx), { n: { x: 2, y: 2 }, z: true })
  assert.deepEqual(j(undefined, { a: 1 }, { b: 2 }, ctx), { a: 1, b: 2 }, 'added on both sides with disjoint keys')
  assert.deepEqual(j({ a: 1, b: 1 }, { b: 1 }, { a: 1, b: 2 }, ctx), { b: 2 }, 'a key deleted on one side, another changed on the other')
  assert.deepEqual(j([1, 2], [1, 2, 3], [1, 2], ctx), [1, 2, 3], 'an array changed on one side')
  assert.deepEqual(j(1, 5, 5, ctx), 5, 'the same change on both sides')
  const arr = j([1], [1, 2], [0, 1], ctx)
  assert.ok(arr instanceof MergeConflict, 'arrays changed on both sides conflict (no element merge)')
  const s = j(1, 2, 3, ctx)
  assert.ok(s instanceof MergeConflict)
  assert.match(s.reason, /both sides changed/)
  const add = j(undefined, 1, 2, ctx)
  assert.ok(add instanceof MergeConflict)
  assert.match(add.reason, /added/)
  const dm = j({ title: 1 }, {}, { title: 2 }, ctx)
  assert.ok(dm instanceof MergeConflict)
  assert.match(dm.reason, /ours deleted .*title/)
  assert.ok(j(1, undefined, 2, ctx) instanceof MergeConflict, 'delete versus modify of the whole value')
  const deep = j({ a: { b: { c: 1 } } }, { a: { b: { c: 2 } } }, { a: { b: { c: 3 } } }, ctx)
  assert.ok(deep instanceof MergeConflict)
  assert.match(deep.reason, /a\.b\.c/, 'the reason names the JSON path')
  const proto = j({}, JSON.parse('{"__proto__":1}'), { b: 2 }, ctx) as Record<string, unknown>
  assert.equal(Object.getPrototypeOf(proto), Object.prototype)
  assert.deepEqual(Object.keys(proto).sort(), ['__proto__', 'b'], 'a "__proto__" key is data, not a prototype')
})

test('mergers.counter: base + both deltas; added on both sides sums; deleted or non-numbers conflict', () => {
  const c = mergers.counter
  assert.equal(c(10, 7, 15, ctx), 12)
  assert.equal(c(10, 7, 15, ctx), c(10, 15, 7, ctx))
  assert.equal(c(undefined, 3, 4, ctx), 7)
  assert.equal(c(0, -5, 5, ctx), 0)
  assert.ok(c(1, undefined, 2, ctx) instanceof MergeConflict)
  assert.ok(c(1, 2, undefined, ctx) instanceof MergeConflict)
  assert.ok(c(1, 2, '3' as unknown as number, ctx) instanceof MergeConflict)
  assert.ok(c(1, 2, Infinity, ctx) instanceof MergeConflict)
})

test('mergers.lww: larger timestamp, then larger replica, then larger canonical JSON; symmetric', () => {
  const l = mergers.lww
  const r = (timestamp: number, value: unknown, replica?: string) => (replica === undefined ? { timestamp, value } : { timestamp, value, replica })
  const base = r(1, 'b')
  assert.deepEqual(l(base, r(5, 'o'), r(3, 't'), ctx), r(5, 'o'))
  assert.deepEqual(l(base, r(3, 'o'), r(5, 't'), ctx), r(5, 't'))
  assert.deepEqual(l(base, r(4, 'o', 'a'), r(4, 't', 'b'), ctx), r(4, 't', 'b'))
  assert.deepEqual(l(base, r(4, 't', 'b'), r(4, 'o', 'a'), ctx), r(4, 't', 'b'))
  assert.deepEqual(l(base, r(4, 'x'), r(4, 'y'), ctx), r(4, 'y'))
  assert.deepEqual(l(base, r(4, 'y'), r(4, 'x'), ctx), r(4, 'y'))
  assert.deepEqual(l(undefined, r(2, 'o'), r(9, 't'), ctx), r(9, 't'), 'added on both sides')
  assert.ok(l(base, undefined, r(2, 't'), ctx) instanceof MergeConflict)
  assert.ok(l(base, { value: 1 } as never, r(2, 't'), ctx) instanceof MergeConflict, 'not a register')
})

test('mergers.set: base elements both sides kept plus additions, sorted and without duplicates', () => {
  const s = mergers.set
  assert.deepEqual(s(['a', 'b', 'c'], ['a', 'c', 'd'], ['a', 'b', 'e'], ctx), ['a', 'd', 'e'])
  assert.deepEqual(s(['a', 'b', 'c'], ['a', 'b', 'e'], ['a', 'c', 'd'], ctx), ['a', 'd', 'e'])
  assert.deepEqual(s(undefined, ['x', 'y'], ['y', 'z'], ctx), ['x', 'y', 'z'])
  assert.deepEqual(s([{ k: 1 }], [{ k: 1 }, { k: 2 }], [{ k: 1 }, { k: 3 }], ctx), [{ k: 1 }, { k: 2 }, { k: 3 }])
  assert.ok(s(['a'], undefined, ['b'], ctx) instanceof MergeConflict)
  assert.ok(s(['a'], 'a' as never, ['b'], ctx) instanceof MergeConflict)
})

test('mergers.text: line diff3; overlapping changes conflict with the line; bytes: equal or conflict', () => {
  const t = mergers.text
  const base = 'one\ntwo\nthree\nfour\nfive\n'
  assert.equal(t(base, 'ONE\ntwo\nthree\nfour\nfive\n', 'one\ntwo\nthree\nfour\nFIVE\n', ctx), 'ONE\ntwo\nthree\nfour\nFIVE\n')
  assert.equal(t(base, 'one\ntwo\nthree\nfour\nfive\nsix\n', 'zero\none\ntwo\nthree\nfour\nfive\n', ctx), 'zero\none\ntwo\nthree\nfour\nfive\nsix\n')
  const c = t(base, 'one\nTWO\nthree\nfour\nfive\n', 'one\n2\nthree\nfour\nfive\n', ctx)
  assert.ok(c instanceof MergeConflict)
  assert.match(c.reason, /line 2/)
  assert.equal(t(undefined, 'a\n', 'a\n', ctx), 'a\n')
  assert.ok(t('a\n', undefined, 'b\n', ctx) instanceof MergeConflict)
  const b = mergers.bytes
  assert.deepEqual(b(new Uint8Array([1]), new Uint8Array([2]), new Uint8Array([2]), ctx), new Uint8Array([2]))
  assert.ok(b(new Uint8Array([1]), new Uint8Array([2]), new Uint8Array([3]), ctx) instanceof MergeConflict)
  assert.ok(b({ a: 1 }, { a: 2 }, { a: 3 }, ctx) instanceof MergeConflict)
  assert.ok(mergers.conflict('why') instanceof MergeConflict)
  assert.equal(conflict('why').reason, 'why')
})

// ---- merge rules ---------------------------------------------------------------------------------

test('merge rules: the most specific glob wins, whatever the order they are given in', async () => {
  const tag = (name: string): Merger => (_b, o, t) => `${name}:${o}+${t}`
  for (const order of [0, 1]) {
    const rules: [string, Merger][] = [['a/**', tag('globstar')], ['a/b/*', tag('star')], ['a/b/c', tag('exact')], ['docs/*.md', tag('md')], ['**', tag('any')]]
    if (order) rules.reverse()
    const repo = await open({ merge: Object.fromEntries(rules) })
    const main = repo.branch('main')
    const paths = ['a/b/c', 'a/b/d', 'a/x/y', 'a/b/c2', 'docs/x.md', 'docs/x.txt', 'top', 'q/r']
    await main.transaction(tx => { for (const p of paths) tx.set(p, 'base') })
    const f = await repo.fork('main', 'f')
    await main.transaction(tx => { for (const p of paths) tx.set(p, 'o') })
    await f.transaction(tx => { for (const p of paths) tx.set(p, 't') })
    expect(await main.merge('f'), 'merged')
    assert.deepEqual(await contents(main), {
      'a/b/c': 'exact:o+t', 'a/b/c2': 'star:o+t', 'a/b/d': 'star:o+t', 'a/x/y': 'globstar:o+t',
      'docs/x.md': 'md:o+t', 'docs/x.txt': 'any:o+t', 'q/r': 'any:o+t', top: 'any:o+t',
    }, `rules given in ${order ? 'reverse' : 'declared'} order`)
  }
  // Without a matching rule the default is mergers.json.
  const repo = await open({ merge: { 'c/**': mergers.counter } })
  const main = repo.branch('main')
  await main.transaction(tx => { tx.set('c/n', 1); tx.set('j', 1) })
  const f = await repo.fork('main', 'f')
  await main.transaction(tx => { tx.set('c/n', 2); tx.set('j', 2) })
  await f.transaction(tx => { tx.set('c/n', 3); tx.set('j', 3) })
  const cs = conflictsOf(await main.merge('f'))
  assert.deepEqual(cs.map(c => c.path), ['j'])
  await assert.rejects(open({ merge: { 'x/**': 42 as unknown as Merger } }), { code: 'LARIX_BAD_ARGUMENT' })
  await assert.rejects(open({ merge: { '': mergers.json } }), { code: 'LARIX_BAD_ARGUMENT' })
})

// ---- branch.merge ----------------------------------------------------------------------------------

test('merge: fast-forward, up-to-date, merged (both parents), dry run moves nothing, no fast-forward', async () => {
  const repo = await open()
  const main = repo.branch('main')
  const c1 = await main.set('a', 1)
  const feature = await repo.fork('main', 'feature')
  const c2 = await feature.set('b', 2)

  assert.equal(expect(await main.merge('feature', { dryRun: true }), 'fast-forward').id, c2.id)
  assert.equal(await headId(main), c1.id, 'a dry run moves nothing')
  assert.equal(expect(await main.merge('feature'), 'fast-forward').id, c2.id)
  assert.equal(await headId(main), c2.id)
  assert.equal(expect(await main.merge('feature'), 'up-to-date').id, c2.id)
  assert.equal(expect(await main.merge(c1.id), 'up-to-date').id, c2.id, 'merging an ancestor commit')
  assert.equal(expect(await feature.merge('main'), 'up-to-date').id, c2.id)

  const c3 = await main.set('a', 3)
  const c4 = await feature.set('c', 4)
  const preview = expect(await main.merge('feature', { dryRun: true }), 'merged')
  assert.deepEqual(preview.parents, [c3.id, c4.id])
  assert.equal(await headId(main), c3.id, 'a dry-run merge moves nothing')
  assert.equal(await headId(feature), c4.id)
  const snap = await repo.checkout(preview.id)
  assert.deepEqual([await snap.get('a'), await snap.get('b'), await snap.get('c')], [3, 2, 4], 'the dry run result is readable')

  const m = expect(await main.merge('feature'), 'merged')
  assert.deepEqual(m.parents, [c3.id, c4.id])
  assert.equal(m.info.message, 'Merge feature into main')
  assert.equal(m.tree, preview.tree)
  assert.equal(await headId(main), m.id)
  assert.deepEqual(await contents(main), { a: 3, b: 2, c: 4 })
  assert.equal(await headId(feature), c4.id, 'the merged-in branch does not move')
  assert.equal(expect(await main.merge('feature'), 'up-to-date').id, m.id)
  assert.equal(expect(await feature.merge('main'), 'fast-forward').id, m.id)

  const g = await repo.fork('main', 'g')
  const c5 = await g.set('d', 5)
  const noff = expect(await main.merge('g', { noFastForward: true, message: 'keep the bubble' }), 'merged')
  assert.deepEqual(noff.parents, [m.id, c5.id])
  assert.equal(noff.tree, c5.tree, 'the tree is theirs, the commit a merge')
  assert.equal(noff.info.message, 'keep the bubble')

  // A branch without commits takes the other side; an unknown source is LARIX_NOT_FOUND.
  assert.equal(expect(await repo.branch('fresh').merge('main'), 'fast-forward').id, noff.id)
  assert.equal(await headId(repo.branch('fresh')), noff.id)
  await assert.rejects(main.merge('nope'), { code: 'LARIX_NOT_FOUND' })
})

test('merge: a conflict is structured, leaves the branch unchanged; mergeTrees previews it', async () => {
  const repo = await open()
  const main = repo.branch('main')
  const base = await main.transaction(tx => { tx.set('v', 1); tx.set('cfg', { title: 1, b: 1 }); tx.set('keep', 'k') })
  const f = await repo.fork('main', 'f')
  const ours = await main.transaction(tx => { tx.set('v', 2); tx.set('cfg', { title: 2, b: 1 }) })
  await f.transaction(tx => { tx.set('v', 3); tx.set('cfg', { title: 3, b: 1 }); tx.set('new', true) })
  const r = await main.merge('f')
  assert.deepEqual(conflictsOf(r).map(shape), [
    { path: 'cfg', base: { title: 1, b: 1 }, ours: { title: 2, b: 1 }, theirs: { title: 3, b: 1 } },
    { path: 'v', base: 1, ours: 2, theirs: 3 },
  ])
  for (const c of conflictsOf(r)) assert.ok(typeof c.reason === 'string' && c.reason.length > 0, 'every conflict says why')
  assert.match(conflictsOf(r)[0].reason, /title/, 'the reason names the JSON key')
  assert.equal(await headId(main), ours.commit!.id, 'the branch is left unchanged')
  assert.equal(conflictsOf(await main.merge('f', { dryRun: true })).length, 2, 'a dry run reports the same conflicts')
  assert.equal(await headId(main), ours.commit!.id)
  const before = await headId(f)

  const preview = await repo.mergeTrees('main', 'f')
  assert.deepEqual(preview.bases, [base.commit!.id])
  assert.deepEqual(preview.conflicts.map(c => c.path).sort(), ['cfg', 'v'])
  assert.equal(await preview.tree.get('v'), 2, "conflicting paths keep ours' version in the preview")
  assert.equal(await preview.tree.get('new'), true, "theirs' clean changes are in the preview")
  assert.equal(await preview.tree.get('keep'), 'k')
  assert.equal(await headId(main), ours.commit!.id, 'mergeTrees moves nothing')
  assert.equal(await headId(f), before)
})

test('merge rules: delete versus modify', async () => {
  const repo = await open()
  const main = repo.branch('main')
  await main.transaction(tx => { tx.set('x', 1); tx.set('y', 1); tx.set('z', 1); tx.set('d/k', 1); tx.set('d/l', 1); tx.set('w', 1) })
  const f = await repo.fork('main', 'f')
  await main.transaction(tx => { tx.remove('x'); tx.set('y', 2); tx.remove('z'); tx.remove('d'); tx.remove('w') })
  await f.transaction(tx => { tx.set('x', 2); tx.remove('y'); tx.set('d/k', 2); tx.remove('w') })
  const cs = conflictsOf(await main.merge('f'))
  assert.deepEqual(cs.map(shape), [
    { path: 'd/k', base: 1, ours: undefined, theirs: 2 },
    { path: 'x', base: 1, ours: undefined, theirs: 2 },
    { path: 'y', base: 1, ours: 2, theirs: undefined },
  ], 'z (deleted, unchanged on the other side) and w (deleted on both) merge cleanly; d/l went with its directory')
  assert.match(cs[1].reason, /ours deleted/)
  assert.match(cs[2].reason, /theirs deleted/)

  // Without the conflicting paths the deletions merge.
  const repo2 = await open()
  const m2 = repo2.branch('main')
  await m2.transaction(tx => { tx.set('z', 1); tx.set('w', 1); tx.set('d/l', 1); tx.set('keep', 1) })
  const f2 = await repo2.fork('main', 'f')
  await m2.transaction(tx => { tx.remove('z'); tx.remove('w'); tx.remove('d') })
  await f2.transaction(tx => { tx.remove('w'); tx.set('other', 1) })
  expect(await m2.merge('f'), 'merged')
  assert.deepEqual(await contents(m2), { keep: 1, other: 1 })

  // A merger of your own is called with undefined for the deleted side and may settle it.
  const repo3 = await open({ merge: { 'keep/**': (_b: unknown, o: unknown, t: unknown) => o ?? t } })
  const m3 = repo3.branch('main')
  await m3.set('keep/a', 1)
  const f3 = await repo3.fork('main', 'f')
  await m3.remove('keep/a')
  await f3.set('keep/a', 7)
  expect(await m3.merge('f'), 'merged')
  assert.equal(await m3.get('keep/a'), 7)
})

test('merge rules: file versus directory', async () => {
  const repo = await open()
  const main = repo.branch('main')
  await main.transaction(tx => { tx.set('d/k', 1); tx.set('e/k', 1); tx.set('s', 0) })
  const f = await repo.fork('main', 'f')
  const baseTree = await main.tree()
  await main.transaction(tx => { tx.set('p', 1); tx.set('d', 5); tx.set('e', 6); tx.remove('s') })
  await f.transaction(tx => { tx.set('p/q', 2); tx.set('d/k', 2); tx.set('s/x', 1) })
  const theirsTree = await f.tree()
  const cs = conflictsOf(await main.merge('f'))
  assert.deepEqual(cs.map(shape), [
    { path: 'd', base: { tree: await baseTree.idAt('d') }, ours: 5, theirs: { tree: await theirsTree.idAt('d') } },
    { path: 'p', base: undefined, ours: 1, theirs: { tree: await theirsTree.idAt('p') } },
    { path: 's', base: 0, ours: undefined, theirs: { tree: await theirsTree.idAt('s') } },
  ], 'e (a directory replaced by a value on one side, unchanged on the other) merges cleanly')
  const preview = await repo.mergeTrees('main', 'f')
  assert.equal(await preview.tree.get('e'), 6)
  for (const c of cs) assert.match(c.reason, /directory/)

  // Mirror: ours has the directory.
  const r2 = await f.merge('main')
  assert.deepEqual(conflictsOf(r2).map(c => c.path), ['d', 'p', 's'])
  assert.deepEqual(conflictsOf(r2).map(shape)[1], { path: 'p', base: undefined, ours: { tree: await theirsTree.idAt('p') }, theirs: 1 })
})

test('merge rules: a value replaced by a directory on both sides merges the directories (like add/add)', async () => {
  // The mirror case (a directory replaced by values on both sides) merges the values as added on both sides.
  const repo = await open()
  const main = repo.branch('main')
  await main.set('a', 0)
  const f = await repo.fork('main', 'f')
  await main.set('a/x', 1)
  await f.set('a/y', 2)
  const r = await main.merge('f')
  expect(r, 'merged')
  assert.deepEqual(await contents(main), { 'a/x': 1, 'a/y': 2 })

  const repo2 = await open()
  const m2 = repo2.branch('main')
  await m2.set('b/z', 0)
  const f2 = await repo2.fork('main', 'f')
  await m2.set('b', { x: 1 })
  await f2.set('b', { y: 2 })
  expect(await m2.merge('f'), 'merged')
  assert.deepEqual(await contents(m2), { b: { x: 1, y: 2 } })
})

test('merge rules: add/add — JSON objects with disjoint keys merge, different scalars conflict, counters add', async () => {
  const repo = await open({ merge: { 'n/**': mergers.counter, 's/*': mergers.set } })
  const main = repo.branch('main')
  await main.set('seed', 0)
  const f = await repo.fork('main', 'f')
  await main.transaction(tx => { tx.set('obj', { a: 1, same: true }); tx.set('n/hits', 3); tx.set('s/tags', ['a', 'b']); tx.set('eq', 'same') })
  await f.transaction(tx => { tx.set('obj', { b: 2, same: true }); tx.set('n/hits', 4); tx.set('s/tags', ['b', 'c']); tx.set('eq', 'same') })
  expect(await main.merge('f'), 'merged')
  assert.deepEqual(await contents(main), { eq: 'same', 'n/hits': 7, obj: { a: 1, b: 2, same: true }, 's/tags': ['a', 'b', 'c'], seed: 0 })

  await main.set('scalar', 1)
  await f.set('scalar', 2)
  const cs = conflictsOf(await main.merge('f'))
  assert.deepEqual(cs.map(shape), [{ path: 'scalar', base: undefined, ours: 1, theirs: 2 }])
  assert.match(cs[0].reason, /added/)
  await main.set('clash', { k: 1 })
  await f.set('clash', { k: 2 })
  const cs2 = conflictsOf(await main.merge('f'))
  assert.deepEqual(cs2.map(c => c.path), ['clash', 'scalar'])
})

test('user mergers: sync, async, conflict(), undefined deletes, throwing or unencodable results conflict; ctx.path', async () => {
  const seen: string[] = []
  const repo = await open({
    merge: {
      'sync/*': (b: number, o: number, t: number, c) => { seen.push(c.path); return Math.max(b, o, t) },
      'async/*': async (_b: string, o: string, t: string) => { await new Promise(r => setTimeout(r, 1)); return [o, t].sort().join('|') },
      'refuse/*': () => conflict('I will not merge this'),
      'drop/*': () => undefined,
      'throw/*': () => { throw new Error('kaput') },
      'bad/*': () => NaN,
    },
  })
  const main = repo.branch('main')
  const paths = ['sync/a', 'async/a', 'refuse/a', 'drop/a', 'throw/a', 'bad/a']
  await main.transaction(tx => { for (const p of paths) tx.set(p, p.startsWith('async') ? 'b' : 1) })
  const f = await repo.fork('main', 'f')
  await main.transaction(tx => { for (const p of paths) tx.set(p, p.startsWith('async') ? 'o' : 5) })
  await f.transaction(tx => { for (const p of paths) tx.set(p, p.startsWith('async') ? 't' : 3) })
  const head = await headId(main)
  const cs = conflictsOf(await main.merge('f'))
  assert.deepEqual(cs.map(shape), [
    { path: 'bad/a', base: 1, ours: 5, theirs: 3 },
    { path: 'refuse/a', base: 1, ours: 5, theirs: 3 },
    { path: 'throw/a', base: 1, ours: 5, theirs: 3 },
  ])
  assert.match(cs[0].reason, /encode/)
  assert.equal(cs[1].reason, 'I will not merge this')
  assert.match(cs[2].reason, /kaput/)
  assert.equal(await headId(main), head)
  assert.deepEqual(seen, ['sync/a'])

  // The same merge without the refusing mergers: sync and async results, and a deletion.
  const repo2 = await open({
    merge: {
      'sync/*': (b: number, o: number, t: number) => Math.max(b, o, t),
      'async/*': async (_b: string, o: string, t: string) => { await new Promise(r => setTimeout(r, 1)); return [o, t].sort().join('|') },
      'drop/*': () => undefined,
    },
  })
  const m2 = repo2.branch('main')
  await m2.transaction(tx => { tx.set('sync/a', 1); tx.set('async/a', 'b'); tx.set('drop/a', 1); tx.set('drop/b', 1) })
  const f2 = await repo2.fork('main', 'f')
  await m2.transaction(tx => { tx.set('sync/a', 5); tx.set('async/a', 'o'); tx.set('drop/a', 5) })
  await f2.transaction(tx => { tx.set('sync/a', 3); tx.set('async/a', 't'); tx.set('drop/a', 3) })
  expect(await m2.merge('f'), 'merged')
  assert.deepEqual(await contents(m2), { 'async/a': 'o|t', 'drop/b': 1, 'sync/a': 5 })
})

test('several LCAs (criss-cross): the LCAs are merged into a virtual base first', async () => {
  const repo = await open({ merge: { 'n': mergers.counter } })
  const a = repo.branch('a')
  await a.set('n', 0)
  const b = await repo.fork('a', 'b')
  const a1 = await a.set('n', 1)    // +1
  const b1 = await b.set('n', 10)   // +10
  expect(await a.merge('b'), 'merged') // a: 11
  expect(await b.merge(a1.id), 'merged') // b: 11, the criss-cross
  await a.set('n', 12)  // +1
  await b.set('n', 111) // +100
  const lcas = await repo.lcas('a', 'b')
  assert.deepEqual(lcas, { status: 'ok', lcas: [a1.id, b1.id].sort() })
  const preview = await repo.mergeTrees('a', 'b')
  assert.deepEqual(preview.bases, [a1.id, b1.id].sort())
  assert.equal(await preview.tree.get('n'), 112, 'against a virtual base of 11; one LCA alone would give 122 or 21')
  expect(await a.merge('b'), 'merged')
  assert.equal(await a.get('n'), 112)
})

test('counters: the same increment on two branches counts twice, so every grouping of merges agrees', async () => {
  assert.equal(mergers.counter(10, 15, 15, ctx), 20, 'base + (ours - base) + (theirs - base)')
  assert.equal(mergers.counter(undefined, 5, 5, ctx), 10, 'added on both sides: the sum')
  const repo = await open({ merge: { n: mergers.counter } })
  const main = repo.branch('main')
  await main.set('n', 10)
  const heads: Record<string, string> = {}
  for (const [name, value] of [['a', 15], ['b', 15], ['c', 11]] as const) {
    const b = await repo.fork('main', name)
    heads[name] = (await b.set('n', value, { message: `${name}: n = ${value}` })).id
  }
  assert.notEqual(heads.a, heads.b, 'two different commits that make the same change')
  assert.equal(await (await repo.mergeTrees(heads.a, heads.b)).tree.get('n'), 20, '10 + 5 + 5')
  const g1 = await repo.fork(heads.a, 'g1')
  expect(await g1.merge(heads.b), 'merged'); expect(await g1.merge(heads.c), 'merged')
  const g2 = await repo.fork(heads.c, 'g2')
  expect(await g2.merge(heads.a), 'merged'); expect(await g2.merge(heads.b), 'merged')
  assert.deepEqual([await g1.get('n'), await g2.get('n')], [21, 21], '(a + b) + c and (c + a) + b')
})

test('no LCA (unrelated histories): merged against the empty tree', async () => {
  const repo = await open()
  const a = repo.branch('a'), b = repo.branch('b')
  const ca = await a.transaction(tx => { tx.set('x', 1); tx.set('both', 'same'); tx.set('o', { a: 1 }) })
  const cb = await b.transaction(tx => { tx.set('y', 2); tx.set('both', 'same'); tx.set('o', { b: 2 }) })
  assert.deepEqual(await repo.lcas('a', 'b'), { status: 'ok', lcas: [] })
  assert.equal(await repo.isAncestor('a', 'b'), false)
  assert.deepEqual((await repo.mergeTrees('a', 'b')).bases, [])
  const m = expect(await a.merge('b'), 'merged')
  assert.deepEqual(m.parents, [ca.commit!.id, cb.commit!.id])
  assert.deepEqual(await contents(a), { both: 'same', o: { a: 1, b: 2 }, x: 1, y: 2 })
  assert.deepEqual((await repo.mergeTrees('a', 'b')).bases, [cb.commit!.id], 'b is now an ancestor of a')
  const c = repo.branch('c')
  await c.set('x', 9)
  const cs = conflictsOf(await a.merge('c'))
  assert.deepEqual(cs.map(shape), [{ path: 'x', base: undefined, ours: 1, theirs: 9 }])
})

test('merges decode and encode with the store codec (msgpack, string, bytes)', async () => {
  const mp = await open({ contents: 'msgpack' })
  await mp.branch('main').set('o', { bin: new Uint8Array([1]), b: 1 })
  const f1 = await mp.fork('main', 'f')
  await mp.branch('main').set('o', { bin: new Uint8Array([1]), b: 2 })
  await f1.set('o', { bin: new Uint8Array([9]), b: 1 })
  expect(await mp.branch('main').merge('f'), 'merged')
  assert.deepEqual(await mp.branch('main').get('o'), { b: 2, bin: new Uint8Array([9]) })

  const st = await open({ contents: 'string', merge: { 'docs/*': mergers.text } })
  await st.branch('main').set('docs/a', 'one\ntwo\nthree\n')
  const f2 = await st.fork('main', 'f')
  await st.branch('main').set('docs/a', 'ONE\ntwo\nthree\n')
  await f2.set('docs/a', 'one\ntwo\nTHREE\n')
  expect(await st.branch('main').merge('f'), 'merged')
  assert.equal(await st.branch('main').get('docs/a'), 'ONE\ntwo\nTHREE\n')

  const by = await open({ contents: 'bytes' })
  await by.branch('main').set('x', new Uint8Array([0]))
  const f3 = await by.fork('main', 'f')
  await by.branch('main').set('x', new Uint8Array([1]))
  await f3.set('x', new Uint8Array([2]))
  const cs = conflictsOf(await by.branch('main').merge('f'))
  assert.deepEqual(cs.map(shape), [{ path: 'x', base: new Uint8Array([0]), ours: new Uint8Array([1]), theirs: new Uint8Array([2]) }])
})

// ---- revert ------------------------------------------------------------------------------------------

test('revert: undoes exactly that commit, later unrelated changes stay (also inside one JSON value)', async () => {
  const repo = await open()
  const main = repo.branch('main')
  await main.transaction(tx => { tx.set('a', 1); tx.set('obj', { x: 1, y: 1 }); tx.set('gone', 1) }, { message: 'start' })
  const bad = await main.transaction(tx => { tx.set('a', 2); tx.set('b', 'new'); tx.set('obj', { x: 2, y: 1 }); tx.remove('gone') }, { message: 'bad change\n\nwith a body' })
  await main.transaction(tx => { tx.set('c', 3); tx.set('obj', { x: 2, y: 5 }) }, { message: 'later' })
  const r = await main.revert(bad.commit!.id)
  assert.equal(r.info.message, `Revert "bad change"\n\nThis reverts commit ${bad.commit!.id}.`)
  assert.equal(r.parents.length, 1)
  assert.deepEqual(await contents(main), { a: 1, c: 3, gone: 1, obj: { x: 1, y: 5 } })
  const r2 = await main.revert(r.id, { message: 'reapply' })
  assert.equal(r2.info.message, 'reapply')
  assert.deepEqual(await contents(main), { a: 2, b: 'new', c: 3, obj: { x: 2, y: 5 } })
  await assert.rejects(main.revert('0'.repeat(40)), { code: 'LARIX_NOT_FOUND' })
})

test('revert of the root commit removes what it added, keeping later additions', async () => {
  const repo = await open()
  const main = repo.branch('main')
  const root = await main.transaction(tx => { tx.set('a', 1); tx.set('d/b', 2) })
  await main.set('c', 3)
  await main.revert(root.commit!.id)
  assert.deepEqual(await contents(main), { c: 3 })
})

test('revert of a merge: needs mainline (LARIX_BAD_ARGUMENT without); mainline picks the side to keep', async () => {
  const repo = await open()
  const main = repo.branch('main')
  await main.set('base', 0)
  const f = await repo.fork('main', 'f')
  await main.set('ours', 1)
  await f.set('theirs', 2)
  const m = expect(await main.merge('f'), 'merged')
  await main.set('after', 3)
  const err = await main.revert(m.id).catch(e => e)
  assert.equal(err.code, 'LARIX_BAD_ARGUMENT')
  assert.match(err.message, /mainline/)
  for (const bad of [0, 3, 1.5]) await assert.rejects(main.revert(m.id, { mainline: bad }), { code: 'LARIX_BAD_ARGUMENT' }, `mainline ${bad}`)
  const head = await headId(main)
  const r1 = await main.revert(m.id, { mainline: 1 })
  assert.deepEqual(r1.parents, [head])
  assert.deepEqual(await contents(main), { after: 3, base: 0, ours: 1 }, 'mainline 1 undoes what the merge brought in from f')
  await main.reset(head!)
  await main.revert(m.id, { mainline: 2 })
  assert.deepEqual(await contents(main), { after: 3, base: 0, theirs: 2 }, 'mainline 2 undoes what main had that f did not')
})

test('revert that conflicts with later changes: LARIX_CONFLICT with data.conflicts, head unchanged', async () => {
  const repo = await open()
  const main = repo.branch('main')
  await main.transaction(tx => { tx.set('a', 1); tx.set('b', 1) })
  const c2 = await main.transaction(tx => { tx.set('a', 2); tx.set('b', 2) })
  await main.transaction(tx => { tx.set('a', 3); tx.remove('b') })
  const head = await headId(main)
  const err = await main.revert(c2.commit!.id).catch(e => e)
  assert.equal(err.code, 'LARIX_CONFLICT')
  const cs = [...err.data.conflicts].sort((x: Conflict, y: Conflict) => (x.path < y.path ? -1 : 1))
  assert.deepEqual(cs.map(shape), [
    { path: 'a', base: 2, ours: 3, theirs: 1 },
    { path: 'b', base: 2, ours: undefined, theirs: 1 },
  ])
  assert.equal(await headId(main), head)
})

// ---- transactions with strategy 'merge' -----------------------------------------------------------

test("transaction strategy 'merge': merges into a head another handle moved; conflicts are LARIX_CONFLICT", async () => {
  const backend = memoryBackend()
  const r1 = await open({ merge: { 'n/*': mergers.counter } }, backend)
  const r2 = await open({}, backend)
  const m1 = r1.branch('main'), m2 = r2.branch('main')
  await m1.transaction(tx => { tx.set('n/c', 10); tx.set('x', 0) })
  let runs = 0
  let movedTo: string | undefined
  const res = await m1.transaction(async tx => {
    runs++
    tx.set('mine', 1)
    tx.set('n/c', ((await tx.get('n/c')) as number) + 1)
    if (runs === 1) movedTo = (await m2.transaction(t2 => { t2.set('theirs', 2); t2.set('n/c', 15) })).commit!.id
    return 'done'
  }, { strategy: 'merge', message: 'tx' })
  assert.equal(runs, 1, "with 'merge' the function does not run again")
  assert.equal(res.result, 'done')
  assert.equal(res.attempts, 2)
  assert.deepEqual(res.commit!.parents, [movedTo], 'one commit on top of the moved head')
  assert.deepEqual(await contents(m1), { mine: 1, 'n/c': 16, theirs: 2, x: 0 }, 'both writes kept; the counter got both increments')

  // Conflicting concurrent writes.
  const before = await headId(m1)
  let other: string | undefined
  const err = await m1.transaction(async tx => {
    tx.set('x', 1)
    other = (await m2.set('x', 2)).id
  }, { strategy: 'merge' }).catch(e => e)
  assert.equal(err.code, 'LARIX_CONFLICT')
  assert.deepEqual(err.data.conflicts.map(shape), [{ path: 'x', base: 0, ours: 2, theirs: 1 }])
  assert.notEqual(other, before)
  assert.equal(await headId(m1), other, 'the other writer keeps its commit; the transaction committed nothing')
  assert.equal(await m1.get('x'), 2)

  // The head did not move: an ordinary commit.
  const plain = await m1.transaction(tx => tx.set('y', 1), { strategy: 'merge' })
  assert.equal(plain.attempts, 1)
  assert.deepEqual(plain.commit!.parents, [other])
})

test("transaction strategy 'merge': two concurrent increments of a counter both count", async () => {
  const backend = memoryBackend()
  const r1 = await open({ merge: { 'n/*': mergers.counter } }, backend)
  const r2 = await open({ merge: { 'n/*': mergers.counter } }, backend)
  await r1.branch('main').set('n/c', 10)
  const res = await r1.branch('main').transaction(async tx => {
    tx.set('n/c', ((await tx.get('n/c')) as number) + 1)
    await r2.branch('main').transaction(async t2 => { t2.set('n/c', ((await t2.get('n/c')) as number) + 1) }, { message: 'the other +1' })
  }, { strategy: 'merge', message: 'my +1' })
  assert.equal(res.attempts, 2)
  assert.equal(await r1.branch('main').get('n/c'), 12, '10 + 1 + 1: no increment is lost')
})

test("transaction strategy 'test-and-set' (default): the function runs again on the moved head", async () => {
  const backend = memoryBackend()
  const r1 = await open({}, backend), r2 = await open({}, backend)
  const m1 = r1.branch('main'), m2 = r2.branch('main')
  await m1.set('n', 1)
  let runs = 0
  const res = await m1.transaction(async tx => {
    runs++
    const n = (await tx.get('n')) as number
    if (runs === 1) await m2.set('n', 100)
    tx.set('n', n + 1)
    return n
  })
  assert.equal(runs, 2)
  assert.equal(res.attempts, 2)
  assert.equal(res.result, 100)
  assert.equal(await m1.get('n'), 101)
  const err = await m1.transaction(async tx => { tx.set('n', 0); await m2.set('n', Math.random()) }, { retries: 2 }).catch(e => e)
  assert.equal(err.code, 'LARIX_CONFLICT')
  assert.equal(err.data.attempts, 3)
  assert.equal(err.data.conflicts, undefined)
})

test("transactions: retries are bounded for both strategies when the head never stops moving", async () => {
  const inner = memoryBackend()
  const helper = await open({}, inner)
  await helper.branch('x').set('k', 1)
  await helper.branch('y').set('k', 2)
  await helper.branch('main').set('start', 0)
  const x = (await helper.branch('x').head())!.id, y = (await helper.branch('y').head())!.id
  let sabotage = false, cas = 0
  const backend: Backend = {
    ...inner, open: () => inner.open(), close: () => inner.close(),
    refs: {
      get: n => inner.refs.get(n), list: p => inner.refs.list(p), watch: f => inner.refs.watch(f),
      cas: async (n, e, next) => {
        if (sabotage && n === 'refs/heads/main') {
          cas++
          const cur = await inner.refs.get(n)
          await inner.refs.cas(n, cur, cur === x ? y : x) // another writer always gets there first
        }
        return inner.refs.cas(n, e, next)
      },
    },
  }
  const repo = await open({}, backend)
  sabotage = true
  for (const strategy of ['merge', 'test-and-set'] as const) {
    cas = 0
    const err = await repo.branch('main').transaction(tx => tx.set(`t/${strategy}`, 1), { strategy, retries: 3 }).catch(e => e)
    assert.equal(err.code, 'LARIX_CONFLICT', strategy)
    assert.ok(cas >= 4 && cas <= 5, `${strategy}: ${cas} compare-and-sets for 3 retries`)
  }
  await helper.branch('z').set('zz', 1)
  cas = 0
  const err = await repo.branch('main').merge('z', { retries: 2 }).catch(e => e)
  assert.equal(err.code, 'LARIX_CONFLICT', 'branch.merge')
  assert.equal(cas, 3, 'branch.merge: 1 + 2 retries')
  sabotage = false
})

// ---- log with merges -------------------------------------------------------------------------------

test('log with a path follows only the commits that changed it, across merges', async () => {
  const repo = await open({ merge: { 'n': mergers.counter } })
  const main = repo.branch('main')
  await main.transaction(tx => { tx.set('x', 1); tx.set('n', 0) }, { message: 'c1' })
  const f = await repo.fork('main', 'f')
  await main.set('x', 2, { message: 'c2' })
  await f.set('y', 1, { message: 'c3' })
  const m1 = expect(await main.merge('f', { message: 'm1' }), 'merged')
  const c4 = await f.set('n', 5, { message: 'c4' })
  const c5 = await main.set('n', 1, { message: 'c5' })
  const m2 = expect(await main.merge('f', { message: 'm2' }), 'merged')
  assert.deepEqual(m2.parents, [c5.id, c4.id])
  assert.equal(m1.parents.length, 2)
  const log = async (path?: string) => {
    const out: string[] = []
    for await (const c of main.log(path === undefined ? {} : { path })) out.push(c.info.message)
    return out
  }
  const all = await log()
  assert.equal(all.length, 7)
  assert.deepEqual(new Set(all), new Set(['c1', 'c2', 'c3', 'm1', 'c4', 'c5', 'm2']))
  assert.deepEqual(await log('x'), ['c2', 'c1'], 'the merges took x from main unchanged')
  assert.deepEqual(await log('y'), ['c3'], 'y changed on f only; the merge that brought it is not a change')
  assert.deepEqual(new Set(await log('n')), new Set(['m2', 'c5', 'c4', 'c1']), 'm2 made n 6, new to both parents')
  assert.equal((await log('n'))[0], 'm2')
  assert.deepEqual(await log('nothing'), [])
  assert.equal(await main.get('n'), 6)
})
