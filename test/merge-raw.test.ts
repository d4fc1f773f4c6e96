// The merge's fast path on tree bytes (src/store/merge/raw.ts) against the merge on decoded nodes
// (mergeNodes): on random trees with adds, deletes, edits on both sides, values turned into directories and
// back, names that sort differently as a directory than as a value ("a" / "a.b" / "a/"), non-ASCII names and
// mergers that conflict, both give the same tree id and the same conflicts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Repo, memoryBackend, mergers } from '../src/index.js'
import { Draft } from '../src/store/tree.js'
import { mergeNodes } from '../src/store/merge/trees.js'
import { mergeTreeIds } from '../src/store/merge/raw.js'
import type { RawMergeContext } from '../src/store/merge/raw.js'

const SEGMENTS = ['a', 'a.b', 'a-b', 'a0', 'b', 'é', 'z']
const path = fc.array(fc.constantFrom(...SEGMENTS), { minLength: 1, maxLength: 3 }).map(s => s.join('/'))
const counterPath = fc.constantFrom('cnt/1', 'cnt/2', 'cnt/a/b')
type Op = { kind: 'set'; path: string; value: unknown } | { kind: 'rm'; path: string }
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), path, value: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.record({ k: fc.integer({ min: 0, max: 2 }), j: fc.constantFrom('x', 'y') }, { requiredKeys: [] })) }),
  fc.record({ kind: fc.constant('set' as const), path: counterPath, value: fc.integer({ min: 0, max: 9 }) }),
  fc.record({ kind: fc.constant('rm' as const), path: fc.oneof(path, counterPath) }),
)
const ops = fc.array(op, { maxLength: 12 })

async function treeAfter(repo: Repo<unknown>, branch: string, list: Op[]): Promise<string> {
  const b = repo.branch(branch)
  await b.transaction(tx => { for (const o of list) o.kind === 'set' ? tx.set(o.path, o.value) : tx.remove(o.path) }, { message: branch })
  return (await b.head())?.tree ?? (await repo.branch('base').head())!.tree
}

const shape = (cs: { path: string; reason: string; sides: unknown; base: unknown; ours: unknown; theirs: unknown }[]) =>
  cs.map(c => JSON.stringify([c.path, c.reason, c.sides, c.base, c.ours, c.theirs])).sort()

test('raw tree merge gives the same trees and conflicts as mergeNodes', async () => {
  await fc.assert(fc.asyncProperty(ops, ops, ops, fc.boolean(), async (base, ours, theirs, noBase) => {
    const repo = await Repo.open({ backend: memoryBackend(), merge: { 'cnt/**': mergers.counter } })
    await repo.branch('base').transaction(tx => { tx.set('keep', 1); for (const o of base) o.kind === 'set' ? tx.set(o.path, o.value) : tx.remove(o.path) })
    await repo.fork('base', 'ours')
    await repo.fork('base', 'theirs')
    const tb = (await repo.branch('base').head())!.tree
    const to = await treeAfter(repo, 'ours', ours)
    const tt = await treeAfter(repo, 'theirs', theirs)
    const b = noBase ? undefined : tb

    const fastDraft = new Draft(repo.reader, repo.reader.cachedTree(tb)!)
    const fast: RawMergeContext<unknown> = { ...repo.mergeContext(fastDraft), made: [] }
    const fastId = await mergeTreeIds(fast, b, to, tt)

    const slowDraft = new Draft(repo.reader, repo.reader.cachedTree(tb)!)
    const slow = repo.mergeContext(slowDraft)
    const node = async (id: string | undefined) => (id === undefined ? undefined : repo.reader.tree(id))
    const merged = await mergeNodes(slow, await node(b), await node(to), await node(tt))
    let slowId: string | undefined
    if (merged) { slowDraft.root = merged; slowId = slowDraft.seal().id }
    // An empty merge is "no tree" on the fast path and an empty node (or none) on the slow one.
    const empty = '4b825dc642cb6eb9a060e54bf8d69288fbee4904'
    assert.equal(fastId ?? empty, slowId ?? empty)
    assert.deepEqual(shape(fast.conflicts as never), shape(slow.conflicts as never))
    // Every object the fast path made is well-formed and what its id says.
    for (const o of fast.made) if (o.type === 'tree') repo.reader.nodeOf(o.id, o.body)
  }), { numRuns: 400 })
})
