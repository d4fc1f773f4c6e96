// The fast paths of a clone (issue 4's speed work), checked against the real `git` CLI:
// - unpack writes one batch while it parses the next: delta bases in the batch still being written resolve,
//   a failed write rejects the unpack, and everything lands in the store;
// - the server's object walk scans trees without decoding names: a clone's walk must name exactly the
//   objects `git rev-list --objects --all` names, whatever the tree modes (executables, symlinks, gitlinks,
//   old-style 100664 files, which take the slow path).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { unpack } from '../src/sync/pack/index.js'
import { walkObjects } from '../src/sync/serve/index.js'
import { ObjectReader } from '../src/store/tree.js'
import type { ObjectStore } from '../src/store/index.js'
import type { GitObject, StoredObject } from '../src/store/objects.js'

const tmp = mkdtempSync(join(tmpdir(), 'larix-clone-paths-'))
test.after(() => rmSync(tmp, { recursive: true, force: true }))
const ENV = {
  PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmp, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', LC_ALL: 'C',
  GIT_AUTHOR_NAME: 'A', GIT_AUTHOR_EMAIL: 'a@example.org', GIT_COMMITTER_NAME: 'A', GIT_COMMITTER_EMAIL: 'a@example.org',
}

function git(cwd: string, args: string[], input?: string | Uint8Array): string {
  return execFileSync('git', args, { cwd, input, env: ENV, maxBuffer: 64 << 20, stdio: ['pipe', 'pipe', 'pipe'] }).toString('utf8').trim()
}

/** A store whose writes land only after a timer: what a batch in flight looks like to unpack. */
function slowStore(failOnCall?: number): ObjectStore & { map: Map<string, GitObject>; calls: number } {
  const map = new Map<string, GitObject>()
  const s = {
    map, calls: 0,
    async get(id: string) { return map.get(id) },
    async has(id: string) { return map.has(id) },
    async putMany(objects: readonly StoredObject[]) {
      const call = ++s.calls
      await new Promise(res => setTimeout(res, 2))
      if (call === failOnCall) throw new Error('disk full')
      for (const o of objects) map.set(o.id, { type: o.type, body: o.body })
    },
  }
  return s
}

/** A repository of similar JSON blobs over 120 commits, repacked so most objects are deltas. */
function deltaRepo(): { dir: string; pack: Uint8Array; ids: string[] } {
  const dir = join(tmp, 'delta.git')
  git(tmp, ['init', '-q', '--bare', '-b', 'main', dir])
  let s = ''
  for (let c = 1; c <= 120; c++) {
    s += `commit refs/heads/main\ncommitter A <a@example.org> ${1700000000 + c} +0000\ndata 3\nc${c % 10}\n`
    for (let k = 0; k < 3; k++) {
      const body = JSON.stringify({ k: (c * 7 + k) % 40, rev: c, text: 'lorem ipsum dolor sit amet '.repeat(8) })
      s += `M 100644 inline d${k}/k${(c * 7 + k) % 40}.json\ndata ${Buffer.byteLength(body)}\n${body}\n`
    }
    s += '\n'
  }
  git(dir, ['fast-import', '--quiet'], s)
  git(dir, ['repack', '-adq', '--depth=50', '--window=50'])
  const packDir = join(dir, 'objects', 'pack')
  const pack = new Uint8Array(readFileSync(join(packDir, readdirSync(packDir).find(f => f.endsWith('.pack'))!)))
  const ids = git(dir, ['cat-file', '--batch-all-objects', '--batch-check=%(objectname)']).split('\n').sort()
  const deltas = git(dir, ['verify-pack', '-v', join(packDir, readdirSync(packDir).find(f => f.endsWith('.idx'))!)]).split('\n').filter(l => /^[0-9a-f]{40}\s+\w+\s+\d+\s+\d+\s+\d+\s+\d+\s+[0-9a-f]{40}$/.test(l))
  assert.ok(deltas.length > 100, `the pack should hold many deltas, it holds ${deltas.length}`)
  return { dir, pack, ids }
}

function* chunks(data: Uint8Array, size: number): Generator<Uint8Array> {
  for (let p = 0; p < data.length; p += size) yield data.subarray(p, p + size)
}

test('unpack: bases in the batch being written resolve, and every object lands', async () => {
  const { pack, ids } = deltaRepo()
  for (const batchSize of [1, 7, 4000]) {
    const store = slowStore()
    // No delta-base cache: bases come from the batch, the batch in flight or the store.
    const r = await unpack(chunks(pack, 997), store, { staging: store, batchSize, cacheBytes: 0 })
    assert.deepEqual([...new Set(r.ids)].sort(), ids, `batchSize ${batchSize}`)
    assert.deepEqual([...store.map.keys()].sort(), ids, `batchSize ${batchSize}: the store holds what git holds`)
    if (batchSize === 1) assert.ok(store.calls >= ids.length, 'one write per object')
  }
})

test('unpack: a failed batch write rejects the unpack with its error', async () => {
  const { pack } = deltaRepo()
  for (const failOnCall of [1, 3]) {
    const store = slowStore(failOnCall)
    await assert.rejects(unpack(chunks(pack, 4096), store, { staging: store, batchSize: 50 }), /disk full/)
    // Nothing is still being written once unpack has answered.
    const calls = store.calls
    await new Promise(res => setTimeout(res, 20))
    assert.equal(store.calls, calls)
  }
})

test('walk: a clone sends exactly what git rev-list --objects --all names, whatever the tree modes', async () => {
  const dir = join(tmp, 'modes.git')
  git(tmp, ['init', '-q', '--bare', '-b', 'main', dir])
  const sub = '1234567890abcdef1234567890abcdef12345678'
  let s = ''
  for (let c = 1; c <= 30; c++) {
    s += `commit refs/heads/main\ncommitter A <a@example.org> ${1700000000 + c} +0000\ndata 2\nc\n`
    s += `M 100644 inline a/b/f${c % 7}.json\ndata ${String(c).length}\n${c}\n`
    if (c % 5 === 0) s += `M 100755 inline bin/run${c % 3}\ndata 3\nrun\n`
    if (c % 6 === 0) s += `M 120000 inline link${c % 2}\ndata 8\na/b/f1.j\n`
    if (c === 10) s += `M 160000 ${sub} vendor/lib\n`
    if (c % 9 === 0) s += `D a/b/f${(c + 1) % 7}.json\n`
    s += '\n'
  }
  git(dir, ['fast-import', '--quiet'], s)
  // An old-style 100664 file entry (fsck tolerates it; the scanner leaves it to decodeTree).
  const blob = git(dir, ['hash-object', '-w', '--stdin'], 'old mode\n')
  const odd = Buffer.concat([Buffer.from('100664 old.txt\0'), Buffer.from(blob, 'hex')])
  const oddTree = git(dir, ['hash-object', '-w', '-t', 'tree', '--literally', '--stdin'], odd)
  const head = git(dir, ['rev-parse', 'main'])
  const top = git(dir, ['mktree'], `040000 tree ${oddTree}\told\n` + git(dir, ['ls-tree', `${head}^{tree}`]) + '\n')
  const last = git(dir, ['commit-tree', top, '-p', head, '-m', 'odd'])
  git(dir, ['update-ref', 'refs/heads/main', last])

  const all = new Map<string, GitObject>()
  const out = execFileSync('git', ['cat-file', '--batch-all-objects', '--batch'], { cwd: dir, env: ENV, maxBuffer: 64 << 20 })
  for (let p = 0; p < out.length;) {
    const nl = out.indexOf(10, p)
    const [id, type, size] = out.subarray(p, nl).toString().split(' ')
    all.set(id, { type: type as GitObject['type'], body: new Uint8Array(out.subarray(nl + 1, nl + 1 + Number(size))) })
    p = nl + 1 + Number(size) + 1
  }
  const store: ObjectStore = { async get(id) { return all.get(id) }, async has(id) { return all.has(id) }, async putMany() { throw new Error('read only') } }
  const r = await walkObjects(store, new ObjectReader(store), { wants: [last], haves: [] }, { verify: true })
  const sent = r.objects.map(o => o.id)
  assert.equal(new Set(sent).size, sent.length, 'each object once')
  const expected = git(dir, ['rev-list', '--objects', '--all']).split('\n').map(l => l.slice(0, 40)).filter(id => id !== sub).sort()
  assert.deepEqual([...sent].sort(), expected)
  for (const o of r.objects) assert.equal(o.type, all.get(o.id)!.type, `type of ${o.id}`)
})
