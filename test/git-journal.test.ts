// The git backend's write-ahead journal (src/platform/node/git/write-ahead.ts): commits are acknowledged once
// journaled, with the ref's lock held, and reach the repository in the background. These tests kill a process right
// after its last acknowledged commit, replay hand-made journals of dead processes, race the git CLI against held
// locks, and merge the small packs the flushes leave, checking each time what git and larix read.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Repo, gitBackend } from '../src/index.js'
import { EMPTY_TREE_ID, encodeCommit, objectId } from '../src/store/objects.js'
import type { StoredObject } from '../src/store/objects.js'
import { FileJournal } from '../src/platform/node/journal.js'
import { encodeRecord } from '../src/platform/node/git/write-ahead.js'

const tmp = mkdtempSync(join(tmpdir(), 'larix-git-journal-'))
test.after(() => rmSync(tmp, { recursive: true, force: true }))
const indexUrl = new URL('../src/index.js', import.meta.url).href
let n = 0
const fresh = (name: string) => join(tmp, `${name}-${n++}`)

const GIT_ENV = {
  GIT_CONFIG_NOSYSTEM: '1', HOME: tmp, GIT_AUTHOR_NAME: 'Git User', GIT_AUTHOR_EMAIL: 'git@example.org',
  GIT_COMMITTER_NAME: 'Git User', GIT_COMMITTER_EMAIL: 'git@example.org',
}
function git(cwd: string, args: string[], input?: string): string {
  return execFileSync('git', args, { cwd, input, encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, ...GIT_ENV } }).trim()
}
function gitStatus(cwd: string, args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, ...GIT_ENV } })
  return { status: r.status, stderr: r.stderr }
}
function fsckClean(dir: string): void {
  const r = spawnSync('git', ['fsck', '--strict', '--no-dangling', '--no-progress'], { cwd: dir, encoding: 'utf8', env: { ...process.env, ...GIT_ENV } })
  assert.equal(r.status, 0, `git fsck failed: ${r.stderr}`)
  assert.equal(r.stderr.trim(), '', `git fsck warned: ${r.stderr}`)
}
/** Files left in <git dir>/larix and *.lock files under refs/. */
function leftovers(dir: string): string[] {
  const out = readdirSync(join(dir, 'larix')).map(f => `larix/${f}`)
  for (const e of readdirSync(join(dir, 'refs'), { recursive: true, withFileTypes: true })) if (e.name.endsWith('.lock')) out.push(e.name)
  for (const f of readdirSync(join(dir, 'objects', 'pack'))) if (f.startsWith('tmp_')) out.push(f)
  return out
}

function commits(prefix: string, count: number): StoredObject[] {
  const who = { name: 'R', email: 'r@example.org', timestamp: 1_700_000_000, timezoneOffset: 0 }
  return Array.from({ length: count }, (_, i) => {
    const body = encodeCommit({ tree: EMPTY_TREE_ID, parents: [], author: who, committer: who, message: `${prefix} ${i}\n` })
    return { id: objectId('commit', body), type: 'commit' as const, body }
  })
}
const emptyTree: StoredObject = { id: EMPTY_TREE_ID, type: 'tree', body: new Uint8Array() }

/**
 * In a child process: open `dir` on gitBackend, make `count` single-key commits (yielding to the event loop every
 * `yieldEvery`, so flushes happen in between), then SIGKILL itself right after the last one is acknowledged.
 */
function commitThenDie(dir: string, count: number, yieldEvery: number, end = "process.kill(process.pid, 'SIGKILL')"): { signal: string | null; head: string } {
  const script = `
    import { Repo, gitBackend } from ${JSON.stringify(indexUrl)}
    const repo = await Repo.open({ backend: gitBackend(${JSON.stringify(dir)}), author: 'K <k@example.org>' })
    const main = repo.branch('main')
    for (let i = 0; i < ${count}; i++) {
      await main.set('k/' + i, { i }, { message: 'c' + i })
      if (${yieldEvery} > 0 && i % ${yieldEvery} === ${yieldEvery} - 1) await new Promise(r => setTimeout(r, 20))
    }
    process.stdout.write(JSON.stringify({ head: (await main.head()).id }))
    ${end}
  `
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 })
  assert.equal(r.signal, end.includes('SIGKILL') ? 'SIGKILL' : null, r.stderr)
  return { signal: r.signal, head: (JSON.parse(r.stdout) as { head: string }).head }
}

function journalFiles(dir: string): string[] {
  return readdirSync(join(dir, 'larix')).filter(f => f.endsWith('.journal'))
}

test('git journal: commits acknowledged just before a SIGKILL are all there after reopening, and git fsck --strict is clean', async () => {
  const dir = fresh('killed')
  const { head } = commitThenDie(dir, 300, 40)
  // The kill came before the last commits were flushed: the journal has them and the ref's lock is still held.
  const [journal] = journalFiles(dir)
  assert.ok(journal && statSync(join(dir, 'larix', journal)).size > 0, 'the journal still holds commits')
  assert.match(readFileSync(join(dir, 'refs', 'heads', 'main.lock'), 'utf8'), /^larix journal /)
  const blocked = gitStatus(dir, ['update-ref', '-d', 'refs/heads/main'])
  assert.notEqual(blocked.status, 0, 'git cannot move a ref whose update is only in the journal')
  assert.match(blocked.stderr, /main\.lock.*exists/i)
  assert.notEqual(git(dir, ['rev-parse', 'main']), head, 'the last commits are not on disk yet')

  const repo = await Repo.open({ backend: gitBackend(dir) })
  const main = repo.branch('main')
  const messages: string[] = []
  for await (const c of main.log()) messages.push(c.info.message.trim())
  assert.deepEqual(messages, Array.from({ length: 300 }, (_, i) => `c${299 - i}`))
  assert.deepEqual(await Promise.all(Array.from({ length: 300 }, (_, i) => main.get(`k/${i}`))), Array.from({ length: 300 }, (_, i) => ({ i })))
  assert.equal((await main.head())?.id, head)
  await repo.close()
  assert.deepEqual(leftovers(dir), [], 'no journal, lock or temporary file left')
  assert.equal(git(dir, ['rev-parse', 'main']), head)
  assert.equal(git(dir, ['rev-list', '--count', 'main']), '300')
  assert.equal(git(dir, ['show', 'main:k/299']), '{"i":299}')
  fsckClean(dir)
})

test('git journal: a process that exits without closing its repo flushes on the way out', () => {
  const dir = fresh('exit')
  const { head } = commitThenDie(dir, 50, 0, 'process.exit(0)')
  assert.deepEqual(leftovers(dir), [], 'no journal, lock or temporary file left')
  assert.equal(git(dir, ['rev-parse', 'main']), head)
  assert.equal(git(dir, ['rev-list', '--count', 'main']), '50')
  fsckClean(dir)
})

test('git journal: a torn or corrupt tail is dropped, the complete records before it are kept', async () => {
  const dir = fresh('torn')
  const { head } = commitThenDie(dir, 20, 0)
  const [journal] = journalFiles(dir)
  appendFileSync(join(dir, 'larix', journal), Uint8Array.from([0xff, 0x00, 0x00, 0x00, 1, 2, 3, 4, 9, 9]))
  let repo = await Repo.open({ backend: gitBackend(dir) })
  assert.equal((await repo.branch('main').head())?.id, head)
  await repo.close()
  assert.deepEqual(leftovers(dir), [])
  fsckClean(dir)

  // A flipped byte in the last record: that commit (and only it) is dropped, with its lock; the head is the one before.
  const dir2 = fresh('corrupt')
  const r2 = commitThenDie(dir2, 20, 0)
  const path = join(dir2, 'larix', journalFiles(dir2)[0])
  const bytes = readFileSync(path)
  bytes[bytes.length - 3] ^= 0xff
  writeFileSync(path, bytes)
  repo = await Repo.open({ backend: gitBackend(dir2) })
  try {
    const main = repo.branch('main')
    const h = (await main.head())!
    assert.notEqual(h.id, r2.head)
    assert.equal(await main.get('k/19'), undefined)
    assert.deepEqual(await main.get('k/18'), { i: 18 })
    let count = 0
    for await (const _ of main.log()) count++
    assert.equal(count, 19)
  } finally {
    await repo.close()
  }
  assert.deepEqual(leftovers(dir2), [])
  fsckClean(dir2)
})

test('git journal: replaying a dead journal restores the refs whose locks it held, and never moves one it had released', async () => {
  const dir = fresh('replay')
  const [c1, c2, c3, c4] = commits('r', 4)
  const backend = gitBackend(dir)
  await backend.open()
  await backend.objects.putMany([emptyTree, c1, c4])
  assert.equal(await backend.refs.cas('refs/heads/main', undefined, c1.id), true)
  await backend.close()
  // A process that is gone: its journal says a → c2 (already on disk, lock released, since moved by git to c4),
  // then main → c3 (lock still held), then a torn record; b.lock is tagged but its record was never completed.
  const dead = spawnSync(process.execPath, ['-e', '']).pid!
  const owner = `${dead}-0-test`
  const tag = `larix journal ${owner}\n`
  git(dir, ['update-ref', 'refs/heads/a', c4.id])
  writeFileSync(join(dir, 'refs', 'heads', 'main.lock'), tag)
  writeFileSync(join(dir, 'refs', 'heads', 'b.lock'), tag)
  writeFileSync(join(dir, 'refs', 'heads', 'c.lock'), 'held by some other git process')
  const j = new FileJournal(join(dir, 'larix', `${owner}.${owner}.journal`))
  j.append(encodeRecord([c2], { name: 'refs/heads/a', id: c2.id }))
  j.append(encodeRecord([c3], { name: 'refs/heads/main', id: c3.id }))
  j.close()
  appendFileSync(join(dir, 'larix', `${owner}.${owner}.journal`), Uint8Array.from([40, 0, 0, 0, 1, 2, 3, 4, 1]))

  const again = gitBackend(dir)
  await again.open()
  try {
    assert.equal(await again.refs.get('refs/heads/main'), c3.id)
    assert.equal(await again.refs.get('refs/heads/a'), c4.id, "git's later update of a stands")
    assert.equal(await again.refs.get('refs/heads/b'), undefined)
    assert.equal(await again.objects.has(c2.id), true)
    assert.equal(await again.objects.has(c3.id), true)
  } finally {
    await again.close()
  }
  assert.equal(git(dir, ['rev-parse', 'main']), c3.id)
  assert.ok(!existsSync(join(dir, 'refs', 'heads', 'main.lock')) && !existsSync(join(dir, 'refs', 'heads', 'b.lock')), 'its locks are released')
  assert.equal(readFileSync(join(dir, 'refs', 'heads', 'c.lock'), 'utf8'), 'held by some other git process', "another holder's lock is left alone")
  rmSync(join(dir, 'refs', 'heads', 'c.lock'))
  assert.deepEqual(leftovers(dir), [])
  fsckClean(dir)
})

test('git journal: a live backend\'s journal is left alone by another backend opening the same repository', async () => {
  const dir = fresh('two')
  const a = gitBackend(dir), b = gitBackend(dir)
  await a.open()
  const [c1] = commits('two', 1)
  await a.objects.putMany([emptyTree])
  assert.equal(await a.atomicWrite!([c1], { name: 'refs/heads/main', expected: undefined, next: c1.id }), true)
  // Not flushed yet: b must not replay (or release) what a holds.
  await b.open()
  assert.equal(journalFiles(dir).length, 2)
  assert.ok(existsSync(join(dir, 'refs', 'heads', 'main.lock')))
  await a.flush()
  assert.equal(await b.refs.get('refs/heads/main'), c1.id)
  await b.close(); await a.close()
  assert.deepEqual(leftovers(dir), [])
})

test('git journal: git sees commits once flushed, while open; a git writer racing a held ref gets "lock exists", never a lost update', async () => {
  const dir = fresh('race')
  const backend = gitBackend(dir)
  const repo = await Repo.open({ backend, author: 'Ann <ann@example.org>' })
  try {
    const main = repo.branch('main')
    const k1 = await main.set('k', 1, { message: 'one' })
    await backend.flush()
    assert.equal(git(dir, ['rev-parse', 'main']), k1.id)
    fsckClean(dir)
    // Acknowledged, not flushed: execFileSync blocks this process, so the flusher cannot run while git tries.
    const k2 = await main.set('k', 2, { message: 'two' })
    const r = gitStatus(dir, ['update-ref', 'refs/heads/main', k1.id, k1.id])
    assert.notEqual(r.status, 0)
    assert.match(r.stderr, /main\.lock.*exists/i)
    assert.equal(git(dir, ['rev-parse', 'main']), k1.id, 'git sees the last flushed commit')
    await backend.flush()
    assert.equal(git(dir, ['rev-parse', 'main']), k2.id)
    assert.deepEqual(git(dir, ['log', '--format=%s', 'main']).split('\n'), ['two', 'one'])
    assert.equal(git(dir, ['show', 'main:k']), '2')
    fsckClean(dir)
    // Now git moves the ref (compare-and-set against larix's value): larix reads it from disk, and builds on it.
    const gitCommit = git(dir, ['commit-tree', `${k2.id}^{tree}`, '-p', k2.id, '-m', 'from git'])
    git(dir, ['update-ref', 'refs/heads/main', gitCommit, k2.id])
    assert.equal((await main.head())!.id, gitCommit)
    assert.equal(await backend.refs.cas('refs/heads/main', k2.id, k1.id), false, 'a stale compare-and-set fails')
    const k3 = await main.set('k', 3, { message: 'three' })
    assert.deepEqual(k3.parents, [gitCommit])
    await backend.flush()
    assert.deepEqual(git(dir, ['log', '--format=%s', 'main']).split('\n'), ['three', 'from git', 'two', 'one'])
  } finally {
    await repo.close()
  }
  fsckClean(dir)
  assert.deepEqual(leftovers(dir), [])
})

test('git journal: small packs are merged when they pile up; every object stays readable by git and larix', async () => {
  const dir = fresh('merge')
  const backend = gitBackend(dir)
  const repo = await Repo.open({ backend, author: 'Ann <ann@example.org>' })
  const main = repo.branch('main')
  const packs = () => readdirSync(join(dir, 'objects', 'pack')).filter(f => f.endsWith('.pack'))
  let most = 0
  for (let i = 0; i < 60; i++) {
    await main.set(`m/${i}`, { i, text: 'x'.repeat(i * 40) }, { message: `m${i}` })
    await backend.flush()
    most = Math.max(most, packs().length)
    // A reader in another process, while packs come and go: git finds every object of the history so far.
    if (i % 10 === 9) assert.equal(git(dir, ['rev-list', '--objects', 'main']).split('\n').length, 4 * (i + 1))
  }
  assert.ok(most <= 16 && most >= 10, `packs pile up to at most 16 (${most})`)
  for (const p of packs()) git(dir, ['verify-pack', join(dir, 'objects', 'pack', p.replace(/\.pack$/, '.idx'))])
  fsckClean(dir)
  const objects = git(dir, ['rev-list', '--objects', 'main']).split('\n').map(l => l.slice(0, 40))
  const check = git(dir, ['cat-file', '--batch-check'], objects.join('\n') + '\n')
  assert.ok(!/missing/.test(check))
  for (const id of objects) assert.equal(await backend.objects.has(id), true)
  await repo.close()
  const reopened = await Repo.open({ backend: gitBackend(dir) })
  for (let i = 0; i < 60; i++) assert.deepEqual(await reopened.branch('main').get(`m/${i}`), { i, text: 'x'.repeat(i * 40) })
  let count = 0
  for await (const _ of reopened.branch('main').log()) count++
  assert.equal(count, 60)
  await reopened.close()
  const counts = Object.fromEntries(git(dir, ['count-objects', '-v']).split('\n').map(l => l.split(': ')))
  assert.equal(Number(counts['in-pack']), objects.length, 'no object stored twice')
  assert.equal(Number(counts.garbage), 0)
})
