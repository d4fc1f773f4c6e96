// Model-based test: random sequences of set / remove / transaction / fork / reset / checkout / reopen run
// against a real store and against a plain model (a Map of values per branch, a Map of snapshots per commit).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { Repo, memoryBackend, levelBackend } from '../src/index.js'
import type { Backend } from '../src/index.js'

type Snapshot = Map<string, unknown>
const ran = { check: 0, runs: 0 }
interface Model { branches: Map<string, Snapshot>; commits: Map<string, Snapshot>; commitIds: string[] }
interface Real { repo: Repo; reopen: (() => Promise<Repo>) | undefined }

const seg = fc.constantFrom('a', 'b', 'c')
const pathArb = fc.array(seg, { minLength: 1, maxLength: 3 }).map(p => p.join('/'))
const valueArb = fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constantFrom('x', 'y'), fc.record({ n: fc.integer({ min: 0, max: 3 }) }).map(o => ({ ...o })))
const branchArb = fc.constantFrom('main', 'dev', 'topic/x')

function modelSet(s: Snapshot, path: string, v: unknown): void {
  for (const k of [...s.keys()]) if (k.startsWith(path + '/') || path.startsWith(k + '/')) s.delete(k)
  s.set(path, v)
}
function modelRemove(s: Snapshot, path: string): void {
  for (const k of [...s.keys()]) if (k === path || k.startsWith(path + '/')) s.delete(k)
}
function modelList(s: Snapshot, dir: string): { name: string; kind: string }[] {
  const out = new Map<string, string>()
  const prefix = dir === '' ? '' : dir + '/'
  for (const k of s.keys()) {
    if (!k.startsWith(prefix)) continue
    const rest = k.slice(prefix.length).split('/')
    out.set(rest[0], rest.length === 1 ? 'value' : 'tree')
  }
  return [...out].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, kind]) => ({ name, kind }))
}
async function realContents(entries: AsyncIterable<[string, unknown]>): Promise<Snapshot> {
  const m = new Map<string, unknown>()
  for await (const [k, v] of entries) m.set(k, v)
  return m
}
function sorted(s: Snapshot): [string, unknown][] { return [...s].sort(([a], [b]) => (a < b ? -1 : 1)) }

async function record(m: Model, commitId: string | undefined, s: Snapshot): Promise<void> {
  if (commitId === undefined) return
  const known = m.commits.get(commitId)
  if (known) assert.deepEqual(sorted(known), sorted(s), 'one commit id, two different snapshots')
  else { m.commits.set(commitId, new Map(s)); m.commitIds.push(commitId) }
}

class SetCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly b: string, readonly p: string, readonly v: unknown) {}
  check() { return true }
  async run(m: Model, r: Real) {
    const s = m.branches.get(this.b) ?? new Map()
    modelSet(s, this.p, this.v)
    m.branches.set(this.b, s)
    const c = await r.repo.branch(this.b).set(this.p, this.v)
    await record(m, c.id, s)
    assert.deepEqual(await r.repo.branch(this.b).get(this.p), this.v)
  }
  toString() { return `set(${this.b}, ${this.p}, ${JSON.stringify(this.v)})` }
}

class RemoveCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly b: string, readonly p: string) {}
  check() { return true }
  async run(m: Model, r: Real) {
    const s = m.branches.get(this.b)
    const c = await r.repo.branch(this.b).remove(this.p)
    if (s) { modelRemove(s, this.p); await record(m, c?.id, s) }
    assert.equal(await r.repo.branch(this.b).get(this.p), undefined)
  }
  toString() { return `remove(${this.b}, ${this.p})` }
}

class TxCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly b: string, readonly ops: [string, unknown | null][]) {}
  check() { return true }
  async run(m: Model, r: Real) {
    const s = new Map(m.branches.get(this.b) ?? [])
    for (const [p, v] of this.ops) v === null ? modelRemove(s, p) : modelSet(s, p, v)
    const res = await r.repo.branch(this.b).transaction(async tx => {
      for (const [p, v] of this.ops) v === null ? tx.remove(p) : tx.set(p, v)
      // Reads inside the transaction see its own staged writes.
      for (const [p] of this.ops) assert.deepEqual(await tx.get(p), s.get(p))
    })
    if (res.commit) { m.branches.set(this.b, s); await record(m, res.commit.id, s) }
  }
  toString() { return `tx(${this.b}, ${JSON.stringify(this.ops)})` }
}

class ForkCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly from: string, readonly to: string) {}
  check(m: Readonly<Model>) { return m.branches.has(this.from) && !m.branches.has(this.to) && m.branches.get(this.from)!.size >= 0 }
  async run(m: Model, r: Real) {
    if ((await r.repo.branch(this.from).head()) === undefined) return // a branch whose writes all were no-ops
    await r.repo.fork(this.from, this.to)
    m.branches.set(this.to, new Map(m.branches.get(this.from)))
    await assert.rejects(r.repo.fork(this.from, this.to), { code: 'LARIX_EXISTS' })
  }
  toString() { return `fork(${this.from}, ${this.to})` }
}

class ResetCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly b: string, readonly pick: number) {}
  check(m: Readonly<Model>) { return m.commitIds.length > 0 }
  async run(m: Model, r: Real) {
    const id = m.commitIds[this.pick % m.commitIds.length]
    await r.repo.branch(this.b).reset(id)
    m.branches.set(this.b, new Map(m.commits.get(id)))
    assert.equal((await r.repo.branch(this.b).head())!.id, id)
  }
  toString() { return `reset(${this.b}, #${this.pick})` }
}

class CheckoutCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check(m: Readonly<Model>) { return m.commitIds.length > 0 }
  async run(m: Model, r: Real) {
    const id = m.commitIds[this.pick % m.commitIds.length]
    const snap = await r.repo.checkout(id)
    assert.deepEqual(sorted(await realContents(snap.tree.entries())), sorted(m.commits.get(id)!))
  }
  toString() { return `checkout(#${this.pick})` }
}

class CheckCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly b: string, readonly dir: string) {}
  check() { return true }
  async run(m: Model, r: Real) {
    const s = m.branches.get(this.b) ?? new Map()
    const br = r.repo.branch(this.b)
    assert.deepEqual(sorted(await realContents((await br.tree()).entries())), sorted(s))
    assert.deepEqual(await br.list(this.dir), modelList(s, this.dir))
    assert.deepEqual(await r.repo.branches(), [...m.branches.keys()].sort())
    ran.check++
    const head = await br.head()
    if (head) {
      const log = []
      for await (const c of br.log({ limit: 3 })) log.push(c)
      assert.equal(log[0].id, head.id)
      for (let i = 1; i < log.length; i++) assert.ok(log[i - 1].parents.includes(log[i].id) || log[i - 1].info.timestamp >= log[i].info.timestamp)
    }
  }
  toString() { return `check(${this.b}, ${this.dir || '/'})` }
}

class ReopenCmd implements fc.AsyncCommand<Model, Real> {
  check() { return true }
  async run(_m: Model, r: Real) {
    if (!r.reopen) return
    await r.repo.close()
    r.repo = await r.reopen()
  }
  toString() { return 'reopen' }
}

const commands = [
  fc.tuple(branchArb, pathArb, valueArb).map(([b, p, v]) => new SetCmd(b, p, v)),
  fc.tuple(branchArb, pathArb).map(([b, p]) => new RemoveCmd(b, p)),
  fc.tuple(branchArb, fc.array(fc.tuple(pathArb, fc.option(valueArb, { nil: null })), { minLength: 1, maxLength: 6 })).map(([b, ops]) => new TxCmd(b, ops)),
  fc.tuple(branchArb, branchArb).map(([a, b]) => new ForkCmd(a, b)),
  fc.tuple(branchArb, fc.nat()).map(([b, n]) => new ResetCmd(b, n)),
  fc.nat().map(n => new CheckoutCmd(n)),
  fc.tuple(branchArb, fc.constantFrom('', 'a', 'a/b', 'c')).map(([b, d]) => new CheckCmd(b, d)),
  fc.constant(new ReopenCmd()),
]

function emptyModel(): Model { return { branches: new Map(), commits: new Map(), commitIds: [] } }

test('model-based: the memory store behaves like a map of snapshots', async () => {
  await fc.assert(fc.asyncProperty(fc.commands(commands, { maxCommands: 60 }), async (cmds) => {
    const repo = await Repo.open({ backend: memoryBackend() })
    const real: Real = { repo, reopen: undefined }
    await fc.asyncModelRun(() => ({ model: emptyModel(), real }), cmds)
    await real.repo.close()
    ran.runs++
  }), { numRuns: 300 })
  // Guard against a vacuous run: the sequences must really have exercised the store.
  assert.ok(ran.check > 100, `only ${ran.check} checks ran`)
})

test('model-based: the level store behaves the same, across close and reopen', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'larix-model-'))
  let n = 0
  try {
    await fc.assert(fc.asyncProperty(fc.commands(commands, { maxCommands: 30 }), async (cmds) => {
      const dir = join(tmp, `db${n++}`)
      const open = (b: Backend = levelBackend(dir)) => Repo.open({ backend: b })
      const real: Real = { repo: await open(), reopen: () => open() }
      await fc.asyncModelRun(() => ({ model: emptyModel(), real }), cmds)
      await real.repo.close()
    }), { numRuns: 60 })
  } finally { rmSync(tmp, { recursive: true, force: true }) }
})
