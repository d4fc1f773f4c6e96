// The git backend against the real `git` CLI: larix writes what git reads (fsck --strict, log, show), larix reads
// what git writes (merges, packed refs, annotated tags, packs with ofs and ref deltas after gc/repack), and both
// honour each other's ref locks.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Repo, gitBackend } from '../src/index.js'
import type { GitBackend } from '../src/index.js'
import { EMPTY_TREE_ID, encodeCommit, objectId } from '../src/store/objects.js'
import type { StoredObject } from '../src/store/objects.js'
import { applyDelta } from '../src/platform/node/git/delta.js'
import { encodePackIndex, PackIndex } from '../src/platform/node/git/pack-index.js'
import { OFS_DELTA, PackReader, REF_DELTA } from '../src/platform/node/git/pack.js'

const tmp = mkdtempSync(join(tmpdir(), 'larix-git-backend-'))
test.after(() => rmSync(tmp, { recursive: true, force: true }))
let counter = 0
const fresh = (name: string) => join(tmp, `${name}-${counter++}`)

const AUTHOR = 'Ann Example <ann@example.org>'
const GIT_ENV = {
  GIT_CONFIG_NOSYSTEM: '1', HOME: tmp, GIT_AUTHOR_NAME: 'Git User', GIT_AUTHOR_EMAIL: 'git@example.org',
  GIT_COMMITTER_NAME: 'Git User', GIT_COMMITTER_EMAIL: 'git@example.org', GIT_AUTHOR_DATE: '1600000000 +0200', GIT_COMMITTER_DATE: '1600000000 +0200',
}

function git(cwd: string, args: string[], input?: string | Uint8Array): string {
  return execFileSync('git', args, { cwd, input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...GIT_ENV } }).trim()
}

/** Run git and return its exit status and both outputs (for commands expected to fail, and for fsck's warnings). */
function gitStatus(cwd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...GIT_ENV } })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

function fsckClean(dir: string): void {
  const r = gitStatus(dir, ['fsck', '--strict', '--no-dangling', '--no-progress'])
  assert.equal(r.status, 0, `git fsck failed: ${r.stderr}`)
  assert.equal(r.stderr.trim(), '', `git fsck warned: ${r.stderr}`)
}

const note = 'the quick brown fox jumps over the lazy dog; pack me with deltas please, '.repeat(3)
const bulkValue = (i: number, rev = 0) => ({ i, note, rev, tags: ['alpha', 'beta', String(i % 7)] })
const bulkPath = (i: number) => `bulk/${String(i % 20).padStart(2, '0')}/${i}`

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

/** A history written by larix: single-key commits (loose objects), one 2,000-key transaction (a pack), a branch. */
async function writeHistory(dir: string): Promise<{ repo: Repo; backend: GitBackend; messages: string[] }> {
  const backend = gitBackend(dir)
  let clock = 1_700_000_000_000
  const repo = await Repo.open({ backend, author: AUTHOR, now: () => (clock += 1000) })
  const main = repo.branch('main')
  await main.set('todo/1', { title: 'milk' }, { message: 'add milk' })
  await main.set('todo/2', { title: 'bread' }, { message: 'add bread' })
  await main.transaction(tx => { for (let i = 0; i < 2000; i++) tx.set(bulkPath(i), bulkValue(i)) }, { message: 'bulk import' })
  for (const i of [3, 503, 1003, 1503]) await main.set(bulkPath(i), bulkValue(i, 1), { message: `edit ${i}` })
  await main.remove('todo/1', { message: 'milk bought' })
  await repo.fork('main', 'feature')
  await repo.branch('feature').set('todo/3', { title: 'eggs' }, { message: 'add eggs' })
  // Commits are acknowledged once journaled; flush puts them in the repository for git (it would within milliseconds anyway).
  await backend.flush()
  return { repo, backend, messages: ['milk bought', 'edit 1503', 'edit 1003', 'edit 503', 'edit 3', 'bulk import', 'add bread', 'add milk'] }
}

async function checkHistory(repo: Repo, messages: string[]): Promise<void> {
  const main = repo.branch('main')
  assert.deepEqual((await all(main.log())).map(c => c.info.message.trim()), messages)
  assert.deepEqual(await main.get('todo/2'), { title: 'bread' })
  assert.equal(await main.get('todo/1'), undefined)
  for (let i = 0; i < 2000; i++) assert.deepEqual(await main.get(bulkPath(i)), bulkValue(i, [3, 503, 1003, 1503].includes(i) ? 1 : 0), `value ${i}`)
  assert.deepEqual(await repo.branch('feature').get('todo/3'), { title: 'eggs' })
}

/** Entry types found in a pack, read with our own reader. */
function entryTypes(packDir: string): Set<number> {
  const types = new Set<number>()
  for (const name of readdirSync(packDir).filter(n => n.endsWith('.idx'))) {
    const index = new PackIndex(readFileSync(join(packDir, name)))
    const pack = new PackReader(join(packDir, name.replace(/\.idx$/, '.pack')), index)
    for (let i = 0; i < index.count; i++) types.add(pack.read(index.offsetAt(i)).type)
    pack.close()
  }
  return types
}

test('larix writes a bare repository that git reads: packs, fsck --strict, log, show', async () => {
  const dir = fresh('written')
  const { repo, messages } = await writeHistory(dir)
  assert.equal(readFileSync(join(dir, 'HEAD'), 'utf8'), 'ref: refs/heads/main\n')
  assert.equal(git(dir, ['config', 'core.bare']), 'true')
  assert.equal(git(dir, ['rev-parse', '--is-bare-repository']), 'true')
  const packs = readdirSync(join(dir, 'objects', 'pack'))
  assert.ok(packs.filter(n => n.endsWith('.pack')).length >= 2, 'the 2,000-key commit is a pack, the small commits go into packs of their own')
  assert.equal(packs.filter(n => n.endsWith('.idx')).length, packs.filter(n => n.endsWith('.pack')).length)
  assert.ok(!packs.some(n => n.startsWith('tmp_')), 'no temporary files left')
  const counts = Object.fromEntries(git(dir, ['count-objects', '-v']).split('\n').map(l => l.split(': ')))
  assert.equal(Number(counts.count), 0, 'no loose objects')
  assert.equal(Number(counts.garbage), 0, 'nothing git does not know in objects/')
  assert.ok(Number(counts['in-pack']) > 2000, `packed objects (${counts['in-pack']})`)
  for (const idx of packs.filter(n => n.endsWith('.idx'))) git(dir, ['verify-pack', join(dir, 'objects', 'pack', idx)])
  assert.deepEqual(readdirSync(join(dir, 'refs', 'heads')).sort(), ['feature', 'main'], 'every ref lock released')
  fsckClean(dir)
  assert.deepEqual(git(dir, ['log', '--format=%s', 'main']).split('\n'), messages)
  assert.deepEqual(git(dir, ['log', '--format=%s']).split('\n'), messages, 'HEAD is main')
  assert.equal(git(dir, ['show', 'main:todo/2']), '{"title":"bread"}')
  assert.equal(git(dir, ['show', 'main:' + bulkPath(1234)]), JSON.stringify(bulkValue(1234)))
  assert.equal(git(dir, ['show', 'main:' + bulkPath(503)]), JSON.stringify(bulkValue(503, 1)))
  assert.equal(git(dir, ['show', 'feature:todo/3']), '{"title":"eggs"}')
  assert.equal(git(dir, ['ls-tree', '-r', '--name-only', 'main', 'bulk']).split('\n').length, 2000)
  assert.equal(git(dir, ['rev-parse', 'feature']), (await repo.branch('feature').head())!.id)
  assert.equal(git(dir, ['log', '-1', '--format=%an <%ae>', 'main']), AUTHOR)
  await repo.close()
})

test('after git repack (ref deltas), git gc and git repack -adf (ofs deltas), larix reads everything through packs', async () => {
  const dir = fresh('repacked')
  const { repo, messages } = await writeHistory(dir)
  // The open repo keeps reading while git replaces every pack and removes every loose object under it.
  git(dir, ['-c', 'repack.useDeltaBaseOffset=false', 'repack', '-a', '-d', '-f', '--window=50', '--depth=20'])
  assert.equal(git(dir, ['count-objects', '-v']).split('\n').find(l => l.startsWith('count:')), 'count: 0', 'no loose objects left')
  const packDir = join(dir, 'objects', 'pack')
  assert.ok(entryTypes(packDir).has(REF_DELTA), 'the pack has ref deltas')
  // A fresh store and the already-open one both read the new pack.
  const fresh1 = await Repo.open({ backend: gitBackend(dir) })
  await checkHistory(fresh1, messages)
  await fresh1.close()
  await checkHistory(repo, messages)

  git(dir, ['gc', '--quiet'])
  git(dir, ['repack', '-a', '-d', '-f', '--window=50', '--depth=20'])
  const types = entryTypes(packDir)
  assert.ok(types.has(OFS_DELTA) && !types.has(REF_DELTA), 'the pack has ofs deltas')
  assert.ok(!existsSync(join(dir, 'refs', 'heads', 'main')), 'git gc packed the refs')
  const fresh2 = await Repo.open({ backend: gitBackend(dir) })
  await checkHistory(fresh2, messages)
  // Short ids resolve through the pack index.
  const head = (await fresh2.branch('main').head())!.id
  assert.equal(await fresh2.resolve(head.slice(0, 10)), head)
  await fresh2.close()
  await checkHistory(repo, messages)

  // And larix keeps writing on top of git's packs and packed refs.
  await repo.branch('main').set(bulkPath(7), bulkValue(7, 2), { message: 'after gc' })
  await (repo.backend as GitBackend).flush()
  assert.equal(git(dir, ['show', 'main:' + bulkPath(7)]), JSON.stringify(bulkValue(7, 2)))
  assert.equal(git(dir, ['log', '-1', '--format=%s', 'main']), 'after gc')
  fsckClean(dir)
  await repo.close()
})

test('commits made with the git CLI (merges, packed refs, annotated tags) are visible to larix', async () => {
  const wt = fresh('worktree')
  mkdirSync(wt)
  git(wt, ['init', '-q', '-b', 'main'])
  const commit = (files: Record<string, string>, message: string) => {
    for (const [p, v] of Object.entries(files)) {
      mkdirSync(join(wt, p, '..'), { recursive: true })
      writeFileSync(join(wt, p), v)
    }
    git(wt, ['add', '-A'])
    git(wt, ['commit', '-q', '-m', message])
  }
  commit({ 'a.json': '{"n":1}', 'sub/b.json': '"hello"' }, 'one')
  git(wt, ['checkout', '-q', '-b', 'side'])
  commit({ 'side.json': '[1,2]' }, 'side')
  git(wt, ['checkout', '-q', 'main'])
  commit({ 'a.json': '{"n":2}' }, 'two')
  git(wt, ['merge', '-q', '--no-edit', 'side'])
  git(wt, ['tag', '-a', 'v1', '-m', 'version one'])

  const backend = gitBackend(wt)
  const repo = await Repo.open({ backend, author: AUTHOR })
  assert.equal(backend.gitDir, join(wt, '.git'))
  const main = repo.branch('main')
  const check = async () => {
    assert.deepEqual(await repo.branches(), ['main', 'side'])
    assert.equal((await main.head())!.id, git(wt, ['rev-parse', 'main']))
    assert.equal((await repo.branch('side').head())!.id, git(wt, ['rev-parse', 'side']))
    assert.deepEqual(await main.get('a.json'), { n: 2 })
    assert.deepEqual(await main.get('sub/b.json'), 'hello')
    assert.deepEqual(await main.get('side.json'), [1, 2])
    const log = await all(main.log())
    assert.deepEqual(log.map(c => c.info.message.trim()).sort(), ["Merge branch 'side'", 'one', 'side', 'two'])
    assert.equal(log[0].parents.length, 2)
    assert.equal(log[0].info.timezoneOffset, 120)
    assert.equal(await backend.refs.get('refs/tags/v1'), git(wt, ['rev-parse', 'refs/tags/v1']))
    assert.deepEqual((await backend.refs.list('refs/tags/')).map(r => r.name), ['refs/tags/v1'])
  }
  await check()
  git(wt, ['pack-refs', '--all'])
  assert.ok(!existsSync(join(wt, '.git', 'refs', 'heads', 'main')), 'refs are packed')
  assert.match(readFileSync(join(wt, '.git', 'packed-refs'), 'utf8'), /\n\^[0-9a-f]{40}\n/, 'with a peeled line for the tag')
  await check()
  const reopened = await Repo.open({ backend: gitBackend(join(wt, '.git')) })
  assert.equal((await reopened.branch('main').head())!.id, git(wt, ['rev-parse', 'main']))
  await reopened.close()

  // larix commits on a packed branch: the loose ref takes over, git sees it.
  const c = await main.set('from-larix.json', { ok: true }, { message: 'larix commit' })
  await backend.flush()
  assert.equal(git(wt, ['rev-parse', 'main']), c.id)
  assert.equal(git(wt, ['log', '-1', '--format=%s%n%P', 'main']), `larix commit\n${c.parents[0]}`)
  // git commits after larix opened the repository: new loose objects, seen at once.
  git(wt, ['reset', '-q', '--hard', 'main'])
  commit({ 'a.json': '{"n":3}' }, 'three')
  assert.deepEqual(await main.get('a.json'), { n: 3 })
  assert.deepEqual(await main.get('from-larix.json'), { ok: true })
  // Deleting a branch that only lives in packed-refs rewrites packed-refs.
  assert.equal(await repo.deleteBranch('side'), true)
  assert.equal(git(wt, ['branch', '--list', '--format=%(refname)']), 'refs/heads/main')
  assert.doesNotMatch(readFileSync(join(wt, '.git', 'packed-refs'), 'utf8'), /refs\/heads\/side/)
  assert.equal(git(wt, ['rev-parse', 'refs/tags/v1^{commit}']), git(wt, ['rev-parse', 'main~2']), 'tag still peels')
  fsckClean(wt)
  await repo.close()
})

test('objects git adds after open (loose, then repacked) are found; short ids resolve', async () => {
  const dir = fresh('late')
  const backend = gitBackend(dir)
  await backend.open()
  const id = git(dir, ['hash-object', '-w', '--stdin'], 'written by git\n')
  assert.equal(await backend.objects.has(id), true)
  assert.equal(new TextDecoder().decode((await backend.objects.get(id))!.body), 'written by git\n')
  assert.deepEqual(await backend.objects.findPrefix!(id.slice(0, 7)), [id])
  git(dir, ['update-ref', 'refs/tags/keep', id])
  git(dir, ['repack', '-a', '-d', '-q'])
  assert.equal(readdirSync(join(dir, 'objects')).filter(n => /^[0-9a-f]{2}$/.test(n) && readdirSync(join(dir, 'objects', n)).length).length, 0)
  assert.equal(await backend.objects.has(id), true)
  assert.deepEqual(await backend.objects.findPrefix!(id.slice(0, 5)), [id])
  assert.equal(await backend.refs.get('refs/tags/keep'), id)
  await backend.close()
})

/** `n` distinct commit objects on the empty tree, for ref races (git update-ref wants existing commits). */
function commits(prefix: string, n: number): StoredObject[] {
  const who = { name: 'R', email: 'r@example.org', timestamp: 1_700_000_000, timezoneOffset: 0 }
  return Array.from({ length: n }, (_, i) => {
    const body = encodeCommit({ tree: EMPTY_TREE_ID, parents: [], author: who, committer: who, message: `${prefix} ${i}\n` })
    return { id: objectId('commit', body), type: 'commit' as const, body }
  })
}

test('concurrent ref updates from larix and git update-ref respect compare-and-set (no lost update)', async (t) => {
  const dir = fresh('race')
  const a = gitBackend(dir), b = gitBackend(dir)
  await a.open(); await b.open()
  const mine = commits('larix', 3000), theirs = commits('git', 150), start = commits('start', 1)[0]
  await a.objects.putMany([{ id: EMPTY_TREE_ID, type: 'tree', body: new Uint8Array() }, start, ...mine, ...theirs])
  const ref = 'refs/heads/x'
  assert.equal(await a.refs.cas(ref, undefined, start.id), true)
  // git must find the starting value on disk (an unflushed ref is only in larix's journal, its lock held).
  await a.flush()

  // git: read the ref, then update-ref new old; every attempt logged.
  const script = `for id in ${theirs.map(c => c.id).join(' ')}; do
    old=$(git rev-parse -q --verify ${ref})
    if git update-ref ${ref} $id "$old" 2>/dev/null; then echo "ok $old $id"; else echo "no $old $id"; fi
  done`
  const child = spawn('bash', ['-c', script], { cwd: dir, env: { ...process.env, ...GIT_ENV } })
  let out = ''
  child.stdout.on('data', d => { out += d })
  const done = new Promise<void>(resolve => child.on('close', () => resolve()))
  let finished = false
  void done.then(() => { finished = true })

  // larix: two independent backends on the same repository, interleaved with the git process.
  const transitions: [string, string, string][] = []
  let next = 0
  while (!finished && next < mine.length) {
    const be = next % 2 ? a : b
    const cur = await be.refs.get(ref)
    await new Promise(r => setTimeout(r, Math.random() * 3))
    const id = mine[next++].id
    if (await be.refs.cas(ref, cur, id)) transitions.push(['larix', cur!, id])
  }
  await done
  for (const line of out.trim().split('\n')) {
    const [status, old, id] = line.split(' ')
    if (status === 'ok') transitions.push(['git', old, id])
  }
  // Every success moved the ref from the value the previous success left: one chain, no fork, no loss.
  const byOld = new Map<string, string>()
  for (const [, old, id] of transitions) {
    assert.ok(!byOld.has(old), `two updates both moved the ref from ${old}`)
    byOld.set(old, id)
  }
  let at = start.id, steps = 0
  while (byOld.has(at)) { at = byOld.get(at)!; steps++ }
  assert.equal(steps, transitions.length, 'every successful update is on the chain')
  // Each backend sees the other's updates (and git sees theirs) once they are flushed.
  await a.flush(); await b.flush()
  assert.equal(await a.refs.get(ref), at)
  assert.equal(await b.refs.get(ref), at)
  assert.equal(git(dir, ['rev-parse', ref]), at)
  const gitWins = transitions.filter(x => x[0] === 'git').length
  t.diagnostic(`${transitions.length - gitWins} larix and ${gitWins} git updates won, out of ${next} and ${theirs.length} tries`)
  assert.ok(gitWins > 0 && gitWins < transitions.length, 'both sides won some')
  assert.ok(!readdirSync(join(dir, 'refs', 'heads')).some(n => n.endsWith('.lock')), 'no lock left behind')
  await a.close(); await b.close()
})

test('a stale .lock makes compare-and-set fail cleanly, for loose and for packed refs', async () => {
  const dir = fresh('stale')
  const backend = gitBackend(dir, { lockTimeoutMs: 50 })
  const repo = await Repo.open({ backend, author: AUTHOR })
  const main = repo.branch('main')
  const c1 = await main.set('k', 1)
  await backend.flush()
  const lock = join(dir, 'refs', 'heads', 'main.lock')
  writeFileSync(lock, 'half-written by a crashed process')
  const [c2] = commits('next', 1)
  await backend.objects.putMany([c2])
  const t0 = Date.now()
  assert.equal(await backend.refs.cas('refs/heads/main', c1.id, c2.id), false)
  assert.ok(Date.now() - t0 >= 40, 'waited for the lock holder first')
  assert.equal(readFileSync(join(dir, 'refs', 'heads', 'main'), 'utf8'), c1.id + '\n', 'ref untouched')
  assert.equal(readFileSync(lock, 'utf8'), 'half-written by a crashed process', "someone else's lock is left alone")
  await assert.rejects(main.set('k', 2, { retries: 1 }), (e: { code?: string }) => e.code === 'LARIX_CONFLICT')
  assert.equal(await main.get('k'), 1)
  assert.notEqual(gitStatus(dir, ['update-ref', 'refs/heads/main', c2.id, c1.id]).status, 0, 'git honours the same lock')
  rmSync(lock)
  assert.equal((await main.set('k', 2)).parents[0], c1.id)
  await backend.flush()

  // A ref only in packed-refs: deleting it needs packed-refs.lock.
  git(dir, ['pack-refs', '--all'])
  const packed = readFileSync(join(dir, 'packed-refs'), 'utf8')
  writeFileSync(join(dir, 'packed-refs.lock'), '')
  const head = await backend.refs.get('refs/heads/main')
  assert.equal(await backend.refs.cas('refs/heads/main', head, undefined), false)
  assert.equal(readFileSync(join(dir, 'packed-refs'), 'utf8'), packed)
  assert.equal(await backend.refs.get('refs/heads/main'), head)
  rmSync(join(dir, 'packed-refs.lock'))
  assert.equal(await backend.refs.cas('refs/heads/main', head, undefined), true)
  assert.equal(await backend.refs.get('refs/heads/main'), undefined)
  assert.equal(gitStatus(dir, ['rev-parse', '--verify', '-q', 'refs/heads/main']).status, 1)
  await repo.close()
})

test('atomicWrite stores nothing when the ref is not as expected, and objects before the ref otherwise', async () => {
  const dir = fresh('atomic')
  const backend = gitBackend(dir)
  await backend.open()
  const [c1, c2] = commits('atomic', 2)
  const blob = { id: objectId('blob', new Uint8Array([1])), type: 'blob' as const, body: new Uint8Array([1]) }
  assert.equal(await backend.atomicWrite!([blob, c1], { name: 'refs/heads/main', expected: c2.id, next: c1.id }), false)
  assert.equal(await backend.objects.has(blob.id), false)
  await backend.objects.putMany([{ id: EMPTY_TREE_ID, type: 'tree', body: new Uint8Array() }])
  assert.equal(await backend.atomicWrite!([blob, c1], { name: 'refs/heads/main', expected: undefined, next: c1.id }), true)
  assert.equal(await backend.objects.has(blob.id), true)
  await backend.flush()
  assert.equal(git(dir, ['rev-parse', 'main']), c1.id)
  await backend.close()
})

test('refs that cannot both be files (refs/heads/a and refs/heads/a/x) live in packed-refs, and git reads them', async () => {
  const dir = fresh('df')
  const backend = gitBackend(dir)
  await backend.open()
  const [c1, c2] = commits('df', 2)
  await backend.objects.putMany([{ id: EMPTY_TREE_ID, type: 'tree', body: new Uint8Array() }, c1, c2])
  assert.equal(await backend.refs.cas('refs/heads/a', undefined, c1.id), true)
  assert.equal(await backend.refs.cas('refs/heads/a/x', undefined, c2.id), true)
  assert.equal(await backend.refs.cas('refs/heads/a/x', c1.id, c1.id), false)
  assert.deepEqual(await backend.refs.list('refs/heads/a'), [{ name: 'refs/heads/a', id: c1.id }, { name: 'refs/heads/a/x', id: c2.id }])
  await backend.flush()
  assert.equal(git(dir, ['rev-parse', 'refs/heads/a/x']), c2.id)
  assert.equal(git(dir, ['rev-parse', 'refs/heads/a']), c1.id)
  assert.equal(await backend.refs.cas('refs/heads/a/x', c2.id, undefined), true)
  assert.equal(await backend.refs.cas('refs/heads/a', c1.id, undefined), true)
  assert.deepEqual(await backend.refs.list(), [])
  await backend.close()
})

test('opening: a work tree, its .git, a linked work tree; refusing non-repositories and SHA-256', async () => {
  const wt = fresh('open')
  mkdirSync(wt)
  git(wt, ['init', '-q', '-b', 'main'])
  writeFileSync(join(wt, 'f.json'), '1')
  git(wt, ['add', '-A']); git(wt, ['commit', '-q', '-m', 'one'])
  const head = git(wt, ['rev-parse', 'main'])
  const linked = fresh('linked')
  git(wt, ['worktree', 'add', '-q', '-b', 'other', linked])
  for (const d of [wt, join(wt, '.git'), linked]) {
    const r = await Repo.open({ backend: gitBackend(d) })
    assert.equal((await r.branch('main').head())!.id, head, d)
    assert.deepEqual(await r.branch('other').get('f.json'), 1, d)
    await r.close()
  }
  const notRepo = fresh('not-a-repo')
  mkdirSync(notRepo)
  writeFileSync(join(notRepo, 'file.txt'), 'hi')
  await assert.rejects(gitBackend(notRepo).open(), (e: { code?: string }) => e.code === 'LARIX_BACKEND')
  assert.ok(!existsSync(join(notRepo, 'HEAD')))
  const sha256 = fresh('sha256')
  if (gitStatus(tmp, ['init', '-q', '--bare', '--object-format=sha256', sha256]).status === 0) {
    await assert.rejects(gitBackend(sha256).open(), (e: { code?: string; message: string }) => e.code === 'LARIX_BACKEND' && /sha256/.test(e.message))
  }
})

test('pack index v2 with 8-byte offsets: git show-index reads what we write, and so do we', () => {
  const offsets = [12, 0x7fffffff, 0x80000000, 0x1_2345_6789, 5_000_000_000_000]
  const entries = offsets.map((offset, i) => ({ id: Buffer.from(objectId('blob', new Uint8Array([i])), 'hex'), crc: (0xdeadbeef + i) >>> 0, offset }))
  const idx = encodePackIndex(entries, new Uint8Array(20).fill(7))
  const shown = git(tmp, ['show-index'], idx).split('\n').map(l => l.split(' '))
  const expected = entries.map(e => [String(e.offset), e.id.toString('hex'), `(${e.crc.toString(16).padStart(8, '0')})`])
  assert.deepEqual(shown.sort((x, y) => x[1].localeCompare(y[1])), expected.sort((x, y) => x[1].localeCompare(y[1])))
  const parsed = new PackIndex(idx)
  for (const e of entries) assert.equal(parsed.find(e.id), e.offset)
  assert.equal(parsed.find(Buffer.alloc(20, 0xee)), -1)
})

test('delta application: copy and insert ops; malformed deltas are rejected', () => {
  const base = new TextEncoder().encode('hello, world')
  // source 12, target 17: copy 0..5 ("hello"), insert " dear", copy 5..12 (", world")
  const delta = Uint8Array.from([12, 17, 0x90, 5, 5, ...new TextEncoder().encode(' dear'), 0x91, 5, 7])
  assert.equal(new TextDecoder().decode(applyDelta(base, delta)), 'hello dear, world')
  assert.throws(() => applyDelta(base.subarray(1), delta), (e: { code?: string }) => e.code === 'LARIX_CORRUPT')
  assert.throws(() => applyDelta(base, Uint8Array.from([12, 17, 0x91, 10, 9])), (e: { code?: string }) => e.code === 'LARIX_CORRUPT')
  assert.throws(() => applyDelta(base, Uint8Array.from([12, 1, 0])), (e: { code?: string }) => e.code === 'LARIX_CORRUPT')
})
