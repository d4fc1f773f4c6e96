// Tree deltas in the packs larix serves: the prefix/suffix delta encoder against applyDelta (fast-check),
// and packs of real histories (a fetch's walk; a clone's sends no deltas) checked by the real `git` (index-pack,
// verify-pack: deltas present, chains at most MAX_DELTA_DEPTH long) and by larix's own unpack (every
// object comes back byte for byte).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { deflateSync } from 'node:zlib'
import { join } from 'node:path'
import fc from 'fast-check'
import { applyDelta, unpack } from '../src/sync/pack/index.js'
import { prefixSuffixDelta } from '../src/sync/pack/delta.js'
import { walkObjects } from '../src/sync/serve/index.js'
import { adler32, MAX_DELTA_DEPTH, packStream } from '../src/sync/serve/pack-stream.js'
import { ObjectReader } from '../src/store/tree.js'
import { memoryBackend } from '../src/store/index.js'
import type { ObjectStore } from '../src/store/index.js'
import type { GitObject } from '../src/store/objects.js'

const tmp = mkdtempSync(join(tmpdir(), 'larix-serve-delta-'))
test.after(() => rmSync(tmp, { recursive: true, force: true }))
const ENV = {
  PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmp, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', LC_ALL: 'C',
}

function git(cwd: string, args: string[], input?: string | Uint8Array): string {
  return execFileSync('git', args, { cwd, input, env: ENV, maxBuffer: 64 << 20, stdio: ['pipe', 'pipe', 'pipe'] }).toString('utf8').trim()
}

test('property: adler32 (eight bytes a step) equals zlib\'s, at every length and for runs of 0xff (the largest sums)', () => {
  const zlibAdler = (data: Uint8Array) => deflateSync(data, { level: 0 }).readUInt32BE(deflateSync(data, { level: 0 }).length - 4)
  const data = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.uint8Array({ minLength: 5000, maxLength: 12000 }),
    fc.integer({ min: 0, max: 70000 }).map(n => new Uint8Array(n).fill(255)),
  )
  fc.assert(fc.property(data, fc.nat(7), (d, from) => {
    const view = d.subarray(Math.min(from, d.length)) // any alignment
    assert.equal(adler32(view), zlibAdler(view))
  }), { numRuns: 300 })
})

test('prefixSuffixDelta: applyDelta of it gives back the target (related and unrelated pairs)', () => {
  const bytes = fc.uint8Array({ maxLength: 400 })
  const related = fc.tuple(bytes, fc.nat(), fc.nat(), bytes).map(([base, a, b, mid]) => {
    const i = base.length === 0 ? 0 : a % (base.length + 1)
    const j = i + (base.length === 0 ? 0 : b % (base.length - i + 1))
    const target = new Uint8Array([...base.subarray(0, i), ...mid, ...base.subarray(j)])
    return [base, target] as const
  })
  fc.assert(fc.property(fc.oneof(related, fc.tuple(bytes, bytes)), ([base, target]) => {
    const d = prefixSuffixDelta(base, target)
    if (d.length < 4) return // Git (and applyDelta) refuse deltas this short; the writer never sends one
    assert.deepEqual(applyDelta(base, d), target)
  }), { numRuns: 2000 })
})

test('prefixSuffixDelta: long copies and offsets past 16 and 24 bits, and an edit costs about its own size', () => {
  const base = new Uint8Array(17_000_000)
  for (let i = 0; i < base.length; i++) base[i] = (i * 2654435761) >>> 24
  const target = new Uint8Array(base.length + 3)
  target.set(base.subarray(0, 16_900_000))
  target.set([1, 2, 3, 4], 16_900_000)
  target.set(base.subarray(16_900_001), 16_900_004)
  const d = prefixSuffixDelta(base, target)
  assert.ok(d.length < 2000, `${d.length} bytes`)
  assert.deepEqual(applyDelta(base, d), target)
  // Nothing in common: one insert of everything (plus its opcodes) and no copy.
  const t2 = Uint8Array.from([9, 9, 9, 9, 9])
  assert.deepEqual(applyDelta(Uint8Array.from([1, 2, 3]), prefixSuffixDelta(Uint8Array.from([1, 2, 3]), t2)), t2)
})

/** A bare repository whose history changes a few files of a nested tree per commit, and its objects. */
function history(name: string, commits: number, dirs: number): { dir: string; all: Map<string, GitObject>; store: ObjectStore } {
  const dir = join(tmp, name)
  git(tmp, ['init', '-q', '--bare', '-b', 'main', dir])
  let s = ''
  for (let c = 1; c <= commits; c++) {
    s += `commit refs/heads/main\nmark :${c}\ncommitter A <a@example.org> ${1700000000 + c} +0000\ndata 2\nc\n`
    if (c === 1) {
      // Every tree on a changed path has a few more entries, so that a one-entry change is a small delta.
      for (let f = 0; f < 8; f++) s += `M 100644 inline r${f}\ndata 4\nroot\n`
      for (let d = 0; d < dirs; d++) {
        for (let f = 0; f < 8; f++) s += `M 100644 inline d${d}/g${f}\ndata 4\nmid\n`
        for (let f = 0; f < 20; f++) s += `M 100644 inline d${d}/e${d % 3}/f${f}.json\ndata 4\ninit\n`
      }
    }
    else {
      const d = (c * 7) % dirs
      s += `M 100644 inline d${d}/e${d % 3}/f${(c * 13) % 20}.json\ndata ${String(c).length}\n${c}\n`
      if (c % 11 === 0) s += `D d${d}/e${d % 3}/f${(c * 3) % 20}.json\n`
    }
    s += '\n'
  }
  git(dir, ['fast-import', '--quiet'], s)
  const all = new Map<string, GitObject>()
  const out = execFileSync('git', ['cat-file', '--batch-all-objects', '--batch'], { cwd: dir, env: ENV, maxBuffer: 64 << 20 })
  for (let p = 0; p < out.length;) {
    const nl = out.indexOf(10, p)
    const [id, type, size] = out.subarray(p, nl).toString().split(' ')
    all.set(id, { type: type as GitObject['type'], body: new Uint8Array(out.subarray(nl + 1, nl + 1 + Number(size))) })
    p = nl + 1 + Number(size) + 1
  }
  const store: ObjectStore = { async get(id) { return all.get(id) }, async has(id) { return all.has(id) }, async putMany() { throw new Error('read only') } }
  return { dir, all, store }
}

async function collect(gen: AsyncGenerator<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const c of gen) parts.push(c)
  return Buffer.concat(parts)
}

/** Pack what a fetch of `want` with `haves` sends; check it with git and with larix's unpack. Returns git's delta count and deepest chain. */
async function checkPack(h: ReturnType<typeof history>, want: string, haves: string[], name: string): Promise<{ deltas: number; depth: number; objects: number }> {
  const cache = new Map<string, Uint8Array>()
  const walk = await walkObjects(h.store, new ObjectReader(h.store), { wants: [want], haves }, { cache })
  const pack = await collect(packStream(h.store, walk.objects, { sideband: 0, progress: false, level: 1, cache }))
  const file = join(tmp, `${name}.pack`)
  writeFileSync(file, pack)
  git(h.dir, ['index-pack', '--strict', file])
  const lines = git(h.dir, ['verify-pack', '-v', file.replace(/\.pack$/, '.idx')]).split('\n')
  let deltas = 0, depth = 0, objects = 0
  const ids = new Set<string>()
  for (const l of lines) {
    const f = l.split(/\s+/)
    if (!/^[0-9a-f]{40}$/.test(f[0] ?? '')) continue
    objects++
    ids.add(f[0])
    if (f.length === 7) { deltas++; depth = Math.max(depth, Number(f[5])) }
  }
  assert.deepEqual([...ids].sort(), walk.objects.map(o => o.id).sort(), 'git finds exactly the objects walked')
  const mem = memoryBackend()
  const r = await unpack([pack], mem.objects, { strict: true })
  assert.equal(r.ids.length, walk.objects.length)
  for (const o of walk.objects) {
    const got = await mem.objects.get(o.id)
    assert.ok(got, `unpacked ${o.id}`)
    assert.equal(got.type, h.all.get(o.id)!.type)
    assert.deepEqual(got.body, h.all.get(o.id)!.body, `body of ${o.id}`)
  }
  return { deltas, depth, objects }
}

test('a fetch\'s pack sends the changed trees of many paths as deltas that git and larix read back exactly', async () => {
  const h = history('many', 60, 4)
  const head = git(h.dir, ['rev-parse', 'main'])
  const have = git(h.dir, ['rev-parse', 'main~55'])
  const r = await checkPack(h, head, [have], 'many')
  // Each of the 55 commits changes a root, a d tree and an e tree: nearly all of them are deltas (the
  // oldest tree at each path has no base in the pack).
  assert.ok(r.deltas >= 3 * 55 - 10, `${r.deltas} deltas of ${r.objects} objects`)
  assert.ok(r.depth <= MAX_DELTA_DEPTH)
})

test('a fetch\'s chains of deltas stop at MAX_DELTA_DEPTH', async () => {
  // One directory only: every commit changes the same three trees, so unbounded chains would be 150 long.
  const h = history('deep', 160, 1)
  const head = git(h.dir, ['rev-parse', 'main'])
  const have = git(h.dir, ['rev-parse', 'main~155'])
  const r = await checkPack(h, head, [have], 'deep')
  assert.ok(r.deltas > 3 * 140, `${r.deltas} deltas of ${r.objects} objects`)
  assert.equal(r.depth, MAX_DELTA_DEPTH, 'the longest chain is cut at the limit')
})

test('a clone\'s pack (nothing to compare against) is sent whole, as before', async () => {
  const h = history('clone', 30, 2)
  const r = await checkPack(h, git(h.dir, ['rev-parse', 'main']), [], 'clone')
  assert.equal(r.deltas, 0)
})
