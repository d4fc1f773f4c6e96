// The real `git` CLI is the oracle: trees, blobs and commits built through larix must get the same ids Git
// gives the same content, Git must accept larix's objects (fsck --strict), and larix must read Git's commits.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { deflateSync } from 'node:zlib'
import fc from 'fast-check'
import { Repo, memoryBackend } from '../src/index.js'
import type { Backend } from '../src/index.js'
import { frameObject, objectId } from '../src/store/objects.js'
import type { ObjectType } from '../src/store/objects.js'

const tmp = mkdtempSync(join(tmpdir(), 'larix-oracle-'))
test.after(() => rmSync(tmp, { recursive: true, force: true }))
let counter = 0

const NOW = 1_700_000_000_000
const AUTHOR = 'Ann Example <ann@example.org>'

function git(cwd: string, args: string[], input?: string | Uint8Array, env: Record<string, string> = {}): string {
  return execFileSync('git', args, {
    cwd, input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: tmp, ...env },
  }).trim()
}

function gitEnv(timestampSeconds: number, tzMinutes: number): Record<string, string> {
  const sign = tzMinutes < 0 ? '-' : '+'
  const a = Math.abs(tzMinutes)
  const date = `${timestampSeconds} ${sign}${String(Math.floor(a / 60)).padStart(2, '0')}${String(a % 60).padStart(2, '0')}`
  return {
    GIT_AUTHOR_NAME: 'Ann Example', GIT_AUTHOR_EMAIL: 'ann@example.org', GIT_AUTHOR_DATE: date,
    GIT_COMMITTER_NAME: 'Ann Example', GIT_COMMITTER_EMAIL: 'ann@example.org', GIT_COMMITTER_DATE: date,
  }
}

// Names chosen to exercise Git's ordering (dir-vs-file, punctuation, non-ASCII) and shell-unfriendly bytes.
const names = ['a', 'b', 'a.b', 'a-b', 'a_b', 'B', 'foo', 'foo.txt', 'foo-bar', 'é', '日本', 'a b', 'z9', '10', '9']
const pathArb = fc.array(fc.constantFrom(...names), { minLength: 1, maxLength: 3 })
const entriesArb = fc.array(fc.tuple(pathArb, fc.jsonValue({ maxDepth: 2 })), { minLength: 1, maxLength: 25 })

/** Keep a consistent set: no path that is a prefix of another (a value cannot also be a directory). */
function consistent(entries: [string[], unknown][]): Map<string, unknown> {
  const m = new Map<string, unknown>()
  for (const [p, v] of entries) {
    const key = p.join('/')
    const clash = [...m.keys()].some(k => k === key || k.startsWith(key + '/') || key.startsWith(k + '/'))
    if (!clash) m.set(key, v)
  }
  return m
}

function writeWorkTree(dir: string, files: Map<string, Uint8Array>): void {
  for (const name of readdirSync(dir)) if (name !== '.git') rmSync(join(dir, name), { recursive: true, force: true })
  for (const [p, bytes] of files) {
    mkdirSync(dirname(join(dir, p)), { recursive: true })
    writeFileSync(join(dir, p), bytes)
  }
}

test('random trees and commits built through larix have the ids git gives the same content', async () => {
  await fc.assert(fc.asyncProperty(entriesArb, entriesArb, async (first, second) => {
    const dir = join(tmp, `wt${counter++}`)
    mkdirSync(dir)
    git(dir, ['init', '-q'])
    const repo = await Repo.open({ backend: memoryBackend(), author: AUTHOR, now: () => NOW })
    const main = repo.branch('main')
    const m1 = consistent(first)
    const r1 = await main.transaction(tx => { for (const [k, v] of m1) tx.set(k, v) }, { message: 'first' })
    const c1 = r1.commit!
    const files = new Map([...m1].map(([k, v]) => [k, repo.codec.encode(v)]))
    writeWorkTree(dir, files)
    git(dir, ['add', '-A'])
    assert.equal(c1.tree, git(dir, ['write-tree']), 'tree id of the first commit')
    const env = gitEnv(c1.info.timestamp, c1.info.timezoneOffset)
    assert.equal(c1.id, git(dir, ['commit-tree', c1.tree, '-m', 'first'], undefined, env), 'root commit id')

    // A second commit: some keys change, some go away, new ones arrive.
    const m2 = consistent([...second, ...first.slice(0, Math.floor(first.length / 2))])
    const r2 = await main.transaction(async tx => {
      for (const k of m1.keys()) if (!m2.has(k)) tx.remove(k)
      for (const [k, v] of m2) tx.set(k, v)
    }, { message: 'second' })
    const c2 = r2.commit!
    const files2 = new Map([...m2].map(([k, v]) => [k, repo.codec.encode(v)]))
    writeWorkTree(dir, files2)
    git(dir, ['add', '-A'])
    const tree2 = git(dir, ['write-tree'])
    assert.equal(c2.tree, tree2, 'tree id of the second commit')
    if (c2.id !== c1.id) {
      assert.equal(c2.id, git(dir, ['commit-tree', tree2, '-p', c1.id, '-m', 'second'], undefined, env), 'child commit id')
    }
    // JSON has no -0: canonical JSON writes it as 0, as JSON.stringify does.
    for (const [k, v] of m2) assert.deepEqual(await main.get(k), JSON.parse(JSON.stringify(v)))
    await repo.close()
    rmSync(dir, { recursive: true, force: true })
  }), { numRuns: 25 })
})

test('blob ids match git hash-object for every codec', async () => {
  const dir = join(tmp, 'hash')
  mkdirSync(dir)
  for (const contents of ['json', 'msgpack', 'string', 'bytes'] as const) {
    const repo = await Repo.open({ backend: memoryBackend(), contents })
    const value = contents === 'bytes' ? new Uint8Array([0, 1, 2, 255, 10]) : contents === 'string' ? 'line\nnext\r\n' : { z: [1, 'two', null], a: { b: true } }
    await repo.branch('main').set('v', value as never)
    const tree = await repo.branch('main').tree()
    const id = await tree.idAt('v')
    const bytes = repo.codec.encode(value as never)
    writeFileSync(join(dir, contents), bytes)
    assert.equal(id, git(dir, ['hash-object', contents]), contents)
    await repo.close()
  }
})

async function exportLoose(backend: Backend, ids: Iterable<string>, gitDir: string): Promise<void> {
  for (const id of ids) {
    const o = await backend.objects.get(id)
    assert.ok(o, `object ${id}`)
    const p = join(gitDir, 'objects', id.slice(0, 2), id.slice(2))
    mkdirSync(dirname(p), { recursive: true })
    writeFileSync(p, deflateSync(frameObject(o)))
  }
}

test('git fsck --strict accepts a larix history, and git log reads it', async () => {
  const backend = memoryBackend()
  const repo = await Repo.open({ backend, author: AUTHOR })
  const main = repo.branch('main')
  await main.set('todo/1', { title: 'milk' }, { message: 'add milk' })
  await main.set('todo/2', { title: 'bread' }, { message: 'add bread' })
  await repo.fork('main', 'feature')
  await repo.branch('feature').set('todo/3', { title: 'eggs' }, { message: 'add eggs' })
  await main.remove('todo/1', { message: 'milk bought' })
  await main.transaction(tx => { for (let i = 0; i < 50; i++) tx.set(`bulk/${i % 7}/${i}`, { i }) }, { message: 'bulk' })

  const bare = join(tmp, 'export.git')
  git(tmp, ['init', '-q', '--bare', bare])
  const all = (backend.objects as unknown as { map: Map<string, unknown> }).map
  await exportLoose(backend, all.keys(), bare)
  for (const b of await repo.branches()) {
    const head = (await repo.branch(b).head())!.id
    writeFileSync(join(bare, 'refs', 'heads', b), head + '\n')
  }
  git(bare, ['fsck', '--strict', '--no-dangling'])
  assert.deepEqual(git(bare, ['log', '--format=%s', 'main']).split('\n'), ['bulk', 'milk bought', 'add bread', 'add milk'])
  assert.equal(git(bare, ['show', 'main:todo/2']), '{"title":"bread"}')
  assert.equal(git(bare, ['show', 'feature:todo/3']), '{"title":"eggs"}')
  assert.equal(git(bare, ['ls-tree', '-r', '--name-only', 'main', 'bulk']).split('\n').length, 50)
  await repo.close()
})

test('larix reads commits made by the git CLI (merges included)', async () => {
  const dir = join(tmp, 'made-by-git')
  mkdirSync(dir)
  const env = gitEnv(1_600_000_000, 120)
  git(dir, ['init', '-q', '-b', 'main'])
  writeFileSync(join(dir, 'a.json'), '{"n":1}')
  mkdirSync(join(dir, 'sub'))
  writeFileSync(join(dir, 'sub', 'b.json'), '"hello"')
  git(dir, ['add', '-A']); git(dir, ['commit', '-q', '-m', 'one'], undefined, env)
  git(dir, ['checkout', '-q', '-b', 'side'])
  writeFileSync(join(dir, 'side.json'), '[1,2]')
  git(dir, ['add', '-A']); git(dir, ['commit', '-q', '-m', 'side'], undefined, env)
  git(dir, ['checkout', '-q', 'main'])
  writeFileSync(join(dir, 'a.json'), '{"n":2}')
  git(dir, ['add', '-A']); git(dir, ['commit', '-q', '-m', 'two'], undefined, env)
  git(dir, ['merge', '-q', '--no-edit', 'side'], undefined, env)

  // Copy every object into a memory backend through `git cat-file --batch-all-objects`.
  const backend = memoryBackend()
  await backend.open()
  const list = git(dir, ['cat-file', '--batch-all-objects', '--batch-check']).split('\n')
  const objs = []
  for (const line of list) {
    const [id, type] = line.split(' ')
    const body = execFileSync('git', ['cat-file', type, id], { cwd: dir })
    const bytes = new Uint8Array(body)
    assert.equal(objectId(type as ObjectType, bytes), id, `larix computes git's id for ${type} ${id}`)
    objs.push({ id, type: type as ObjectType, body: bytes })
  }
  await backend.objects.putMany(objs)
  await backend.refs.cas('refs/heads/main', undefined, git(dir, ['rev-parse', 'main']))
  const repo = await Repo.open({ backend })
  const main = repo.branch('main')
  assert.deepEqual(await main.get('a.json'), { n: 2 })
  assert.deepEqual(await main.get('sub/b.json'), 'hello')
  assert.deepEqual(await main.get('side.json'), [1, 2])
  const log = []
  for await (const c of main.log()) log.push(c)
  assert.deepEqual(log.map(c => c.info.message).sort(), ["Merge branch 'side'", 'one', 'side', 'two'])
  assert.equal(log[0].parents.length, 2)
  assert.equal(log[0].info.timezoneOffset, 120)
  assert.equal(log[0].info.author, 'Ann Example <ann@example.org>')
  const onlyA = []
  for await (const c of main.log({ path: 'a.json' })) onlyA.push(c.info.message)
  assert.deepEqual(onlyA, ['two', 'one'])
  await repo.close()
})
