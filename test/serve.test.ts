// `larix serve` against the real `git` CLI on 127.0.0.1: clone (protocol v0, v1, v2; smart HTTP and git://;
// --depth), fetch, pull and push (fast-forward, rejected non-fast-forward, branch deletion, atomic) on the
// memory, level and git backends, with 1,000+ commits, merges and deletions; `git fsck` of every clone;
// hand-made bad requests that get 4xx, ERR or ng while the server keeps serving; and the `larix serve` command.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import fc from 'fast-check'
import { gitBackend, levelBackend, memoryBackend, Repo } from '../src/index.js'
import type { Backend } from '../src/index.js'
import { decodeCommit, decodeTree, encodeCommit, encodeTree, objectId } from '../src/store/objects.js'
import type { StoredObject } from '../src/store/objects.js'
import { startServer } from '../src/platform/node/serve.js'
import { GitServer } from '../src/sync/serve/index.js'
import type { RunningServer, ServeOptions } from '../src/platform/node/serve.js'
import { writePack } from '../src/sync/pack/index.js'
import { decodePktLines, formatGitProtoRequest, PktLineWriter, pktText } from '../src/sync/wire/index.js'

const tmp = mkdtempSync(join(tmpdir(), 'larix-serve-'))
let counter = 0
const fresh = (name: string) => join(tmp, `${name}-${counter++}`)

const GIT_ENV: Record<string, string> = {
  GIT_CONFIG_NOSYSTEM: '1', HOME: tmp, GIT_TERMINAL_PROMPT: '0',
  GIT_AUTHOR_NAME: 'Git User', GIT_AUTHOR_EMAIL: 'git@example.org', GIT_COMMITTER_NAME: 'Git User', GIT_COMMITTER_EMAIL: 'git@example.org',
}

interface Run { code: number; stdout: string; stderr: string }

/** Run git without blocking the event loop (the server under test lives in this process). */
function gitRun(cwd: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise(resolve => {
    execFile('git', args, { cwd, env: { ...process.env, ...GIT_ENV, ...env }, maxBuffer: 256 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

async function git(cwd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await gitRun(cwd, args, env)
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed (${r.code}): ${r.stderr}`)
  return r.stdout.trim()
}

async function fsckClean(dir: string): Promise<void> {
  const r = await gitRun(dir, ['fsck', '--strict', '--no-dangling', '--no-progress'])
  assert.equal(r.code, 0, `git fsck failed: ${r.stderr}`)
  assert.equal(r.stderr.trim(), '', `git fsck warned: ${r.stderr}`)
}

type Kind = 'memory' | 'level' | 'git'

interface Served {
  kind: Kind
  repo: Repo
  backend: Backend
  running: RunningServer
  http: string
  git: string
  errors: unknown[]
}

/** One helper for every backend: a store of this kind, served over smart HTTP and git:// on free ports. */
async function serveStore(kind: Kind, options: ServeOptions = {}): Promise<Served> {
  const backend = kind === 'memory' ? memoryBackend() : kind === 'level' ? levelBackend(fresh('level')) : gitBackend(fresh('git'))
  let clock = 1_700_000_000_000
  const repo = await Repo.open({ backend, author: 'Ann <ann@example.org>', now: () => (clock += 1000) })
  const errors: unknown[] = []
  const running = await startServer(backend, { http: 0, git: 0, onError: e => errors.push(e), ...options })
  return { kind, repo, backend, running, http: running.http!.url, git: running.git!.url, errors }
}

/** 1,000+ commits on main: one key changed per commit, a key removed every ninth, a merged side branch every 100. */
async function buildHistory(repo: Repo, commits: number): Promise<void> {
  const main = repo.branch('main')
  for (let i = 0; i < commits; i++) {
    if (i % 100 === 50) {
      const side = await repo.fork('main', `side-${i}`)
      await side.set(`side/${i}`, { from: 'side', i }, { message: `side ${i}` })
      await main.set(`main/${i}`, { from: 'main', i }, { message: `main ${i}` })
      const r = await main.merge(`side-${i}`, { message: `merge side ${i}` })
      assert.equal(r.status, 'merged')
      if (i % 200 === 50) await repo.deleteBranch(`side-${i}`)
      continue
    }
    await main.transaction(tx => {
      tx.set(`items/${i % 40}`, { i, text: `value ${i}` })
      if (i % 9 === 0) tx.remove(`items/${(i + 7) % 40}`)
    }, { message: `commit ${i}` })
  }
}

async function countLog(repo: Repo, branch = 'main'): Promise<number> {
  let n = 0
  for await (const _ of repo.branch(branch).log()) n++
  return n
}

/** The clone has larix's main, all of its history, the same values, and passes fsck. */
async function checkClone(dir: string, s: Served, opts: { shallow?: number } = {}): Promise<void> {
  const head = (await s.repo.branch('main').head())!
  assert.equal(await git(dir, ['rev-parse', 'HEAD']), head.id)
  const count = Number(await git(dir, ['rev-list', '--count', 'HEAD']))
  assert.equal(count, opts.shallow ?? await countLog(s.repo))
  assert.deepEqual(JSON.parse(await git(dir, ['show', 'HEAD:items/3'])), await s.repo.branch('main').get('items/3'))
  await fsckClean(dir)
}

const served: Served[] = []
let mem: Served

before(async () => {
  for (const kind of ['memory', 'level', 'git'] as const) {
    const s = await serveStore(kind)
    await buildHistory(s.repo, 1050)
    served.push(s)
  }
  mem = served[0]
})

after(async () => {
  for (const s of served) {
    await s.running.close()
    await s.repo.close()
  }
  rmSync(tmp, { recursive: true, force: true })
})

test('git clone over smart HTTP of a 1,000+ commit store with merges and deletions, on memory, level and git backends', async () => {
  for (const s of served) {
    const dir = fresh(`clone-${s.kind}`)
    await git(tmp, ['clone', '--quiet', s.http, dir])
    await checkClone(dir, s)
    assert.ok(Number(await git(dir, ['rev-list', '--count', '--merges', 'HEAD'])) >= 10, 'the merges came along')
    const branches = (await git(dir, ['branch', '-r'])).split('\n').map(b => b.trim())
    assert.ok(branches.includes('origin/side-150'), `side branches are there: ${branches.join(', ')}`)
    assert.ok(!branches.includes('origin/side-50'), 'deleted branches are not')
    assert.deepEqual(s.errors, [])
  }
})

test('protocol versions 0, 1 and 2, over smart HTTP and git://, six clones at once', async () => {
  const runs = []
  for (const version of ['0', '1', '2']) {
    for (const url of [mem.http, mem.git]) {
      const dir = fresh(`clone-v${version}`)
      runs.push(git(tmp, ['-c', `protocol.version=${version}`, 'clone', '--quiet', url, dir]).then(() => checkClone(dir, mem)))
    }
  }
  await Promise.all(runs)
  // The git:// and v0 advertisement: HEAD first, pointing at main.
  const ls = await git(tmp, ['-c', 'protocol.version=0', 'ls-remote', '--symref', mem.git])
  assert.match(ls, /^ref: refs\/heads\/main\tHEAD/m)
})

test('git fetch after more larix commits gets a small pack; git pull fast-forwards (v2, v0; HTTP, git://)', async () => {
  for (const [version, url] of [['2', mem.http], ['0', mem.http], ['2', mem.git], ['0', mem.git]] as const) {
    const dir = fresh(`fetch-v${version}`)
    await git(tmp, ['-c', `protocol.version=${version}`, 'clone', '--quiet', url, dir])
    const main = mem.repo.branch('main')
    const key = `fetched${counter++}`
    for (let i = 0; i < 3; i++) await main.set(`${key}/${i}`, { i }, { message: `more ${i}` })
    const r = await gitRun(dir, ['-c', `protocol.version=${version}`, 'fetch', '--progress', 'origin'])
    assert.equal(r.code, 0, r.stderr)
    const total = /Total (\d+)/.exec(r.stderr)
    assert.ok(total, `the server reported its pack: ${r.stderr}`)
    // 3 commits, each with a new root tree, a new `fetchedN` tree and one blob.
    assert.ok(Number(total[1]) <= 12, `an incremental pack, not a clone: ${total[0]}`)
    assert.equal(await git(dir, ['rev-parse', 'origin/main']), (await main.head())!.id)
    await main.set('pulled', { by: 'git pull' }, { message: 'for pull' })
    await git(dir, ['-c', `protocol.version=${version}`, 'pull', '--quiet', '--ff-only'])
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'pulled'), 'utf8')), { by: 'git pull' })
    await fsckClean(dir)
  }
})

test('git push of commits made with git: larix reads their values and log (every backend); new branches by push', async () => {
  for (const s of served) {
    const dir = fresh(`push-${s.kind}`)
    await git(tmp, ['clone', '--quiet', s.http, dir])
    writeFileSync(join(dir, 'items', 'from-git'), JSON.stringify({ from: 'git', kind: s.kind }))
    await git(dir, ['add', '.'])
    await git(dir, ['commit', '--quiet', '-m', 'written with git'])
    const r = await gitRun(dir, ['push', 'origin', 'main'])
    assert.equal(r.code, 0, r.stderr)
    const main = s.repo.branch('main')
    assert.deepEqual(await main.get('items/from-git'), { from: 'git', kind: s.kind })
    assert.equal((await main.head())!.id, await git(dir, ['rev-parse', 'HEAD']))
    const log = []
    for await (const c of main.log({ limit: 2 })) log.push(c.info.message)
    assert.equal(log[0], 'written with git')
    await git(dir, ['push', '--quiet', 'origin', 'HEAD:refs/heads/from-git'])
    assert.ok((await s.repo.branches()).includes('from-git'))
    // larix keeps writing on top of git's commit.
    await main.set('after-git', true)
    await git(dir, ['pull', '--quiet', '--ff-only'])
    assert.equal(await git(dir, ['rev-parse', 'HEAD']), (await main.head())!.id)
    // Over git:// too.
    writeFileSync(join(dir, 'items', 'via-daemon'), '"hello"')
    await git(dir, ['add', '.'])
    await git(dir, ['commit', '--quiet', '-m', 'pushed over git://'])
    await git(dir, ['push', '--quiet', s.git, 'main'])
    assert.equal(await main.get('items/via-daemon'), 'hello')
    assert.deepEqual(s.errors, [])
  }
})

test('an empty store: clones warn it is empty, the first push makes main, annotated tags travel both ways', async () => {
  const s = await serveStore('memory')
  try {
    for (const [version, url] of [['2', s.http], ['0', s.http], ['2', s.git], ['0', s.git]] as const) {
      const r = await gitRun(tmp, ['-c', `protocol.version=${version}`, 'clone', url, fresh('empty')])
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stderr, /cloned an empty repository/)
    }
    const dir = fresh('first-push')
    await git(tmp, ['init', '--quiet', '-b', 'main', dir])
    writeFileSync(join(dir, 'a'), '1')
    await git(dir, ['add', 'a'])
    await git(dir, ['commit', '--quiet', '-m', 'first'])
    await git(dir, ['tag', '-a', 'v1', '-m', 'version 1'])
    await git(dir, ['push', '--quiet', s.http, 'main', 'v1'])
    assert.equal(await s.repo.branch('main').get('a'), 1)
    const ls = await git(tmp, ['ls-remote', s.http])
    assert.match(ls, /\trefs\/tags\/v1\n[0-9a-f]{40}\trefs\/tags\/v1\^\{\}/)
    for (const [version, url] of [['2', s.http], ['0', s.git]] as const) {
      const clone = fresh('tags')
      await git(tmp, ['-c', `protocol.version=${version}`, 'clone', '--quiet', url, clone])
      assert.equal(await git(clone, ['tag', '-n']), 'v1              version 1')
      await fsckClean(clone)
    }
  } finally {
    await s.running.close()
    await s.repo.close()
  }
})

test('a non-fast-forward push is rejected as git would; branches are deleted by push; atomic pushes are all or nothing', async () => {
  const dir = fresh('nonff')
  await git(tmp, ['clone', '--quiet', mem.http, dir])
  const main = mem.repo.branch('main')
  await main.set('remote-only', 1, { message: 'made on the server' })
  const serverHead = (await main.head())!.id
  writeFileSync(join(dir, 'local-only'), '2')
  await git(dir, ['add', '.'])
  await git(dir, ['commit', '--quiet', '-m', 'made in the clone'])
  let r = await gitRun(dir, ['push', 'origin', 'main'])
  assert.notEqual(r.code, 0)
  assert.match(r.stderr, /rejected/)
  assert.match(r.stderr, /fetch first|non-fast-forward/)
  await git(dir, ['fetch', '--quiet', 'origin'])
  r = await gitRun(dir, ['push', 'origin', 'main'])
  assert.notEqual(r.code, 0)
  assert.match(r.stderr, /\[rejected\].*non-fast-forward/)
  // Forced, it reaches the server, which refuses it (receive.denyNonFastForwards).
  r = await gitRun(dir, ['push', '--force', 'origin', 'main'])
  assert.notEqual(r.code, 0)
  assert.match(r.stderr, /\[remote rejected\] main -> main \(non-fast-forward\)/)
  assert.equal((await main.head())!.id, serverHead, 'main did not move')

  // Atomic: a good new branch and a refused update fail together.
  r = await gitRun(dir, ['push', '--atomic', '--force', 'origin', 'main', 'HEAD:refs/heads/atomic-new'])
  assert.notEqual(r.code, 0)
  assert.match(r.stderr, /non-fast-forward/)
  assert.ok(!(await mem.repo.branches()).includes('atomic-new'))
  assert.equal((await main.head())!.id, serverHead)
  // Without --atomic the good one goes through.
  r = await gitRun(dir, ['push', '--force', 'origin', 'main', 'HEAD:refs/heads/atomic-new'])
  assert.notEqual(r.code, 0)
  assert.ok((await mem.repo.branches()).includes('atomic-new'))

  // Deleting branches by push.
  await git(dir, ['push', '--quiet', 'origin', '--delete', 'atomic-new', 'side-150'])
  const branches = await mem.repo.branches()
  assert.ok(!branches.includes('atomic-new') && !branches.includes('side-150'), branches.join(', '))
  assert.equal((await main.head())!.id, serverHead)
})

test('git clone --depth 1 (v2, v0, git://), then deepen', async () => {
  for (const [version, url] of [['2', mem.http], ['0', mem.http], ['2', mem.git], ['0', mem.git]] as const) {
    const dir = fresh(`shallow-v${version}`)
    await git(tmp, ['-c', `protocol.version=${version}`, 'clone', '--quiet', '--depth', '1', url, dir])
    await checkClone(dir, mem, { shallow: 1 })
    assert.ok(existsSync(join(dir, '.git', 'shallow')))
    const count = Number(await git(dir, ['count-objects', '-v']).then(t => /in-pack: (\d+)/.exec(t)![1]))
    assert.ok(count < 200, `only the last commit's objects: ${count}`)
    // --deepen (deepen-relative) needs v2 here; --depth (from the tips) works with both.
    if (version === '2') {
      await git(dir, ['-c', `protocol.version=${version}`, 'fetch', '--quiet', '--deepen=2'])
      assert.equal(Number(await git(dir, ['rev-list', '--count', 'HEAD'])), 3)
    }
    await git(dir, ['-c', `protocol.version=${version}`, 'fetch', '--quiet', '--depth=5'])
    assert.equal(Number(await git(dir, ['rev-list', '--count', 'HEAD'])), 5)
    await fsckClean(dir)
  }
})

// ------------------------------------------------------------------------------------------- bad input

const utf8 = new TextEncoder()

function post(url: string, service: string, body: Uint8Array | string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(new URL(service, url), {
    method: 'POST', body: (typeof body === 'string' ? utf8.encode(body) : body) as Uint8Array<ArrayBuffer>,
    headers: { 'Content-Type': `application/x-${service}-request`, ...headers },
  })
}

async function stillServing(s: Served): Promise<void> {
  const res = await fetch(new URL('info/refs?service=git-upload-pack', s.http))
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('content-type'), 'application/x-git-upload-pack-advertisement')
  assert.match(res.headers.get('cache-control') ?? '', /no-cache/)
  assert.match(await res.text(), /^001e# service=git-upload-pack\n0000/)
}

function lines(bytes: Uint8Array): string[] {
  return decodePktLines(bytes).flatMap(p => (p.type === 'data' ? [pktText(p.data)] : p.type === 'end' ? [] : [p.type]))
}

test('bad HTTP requests get 4xx or ERR, and the server keeps serving', async () => {
  const s = mem
  const base = s.http
  assert.equal((await fetch(new URL('info/refs', base))).status, 403)
  assert.equal((await fetch(new URL('info/refs?service=git-frobnicate', base))).status, 403)
  assert.equal((await fetch(new URL('no/such/thing', base))).status, 404)
  assert.equal((await fetch(new URL('git-upload-pack', base))).status, 405)
  assert.equal((await post(base, 'git-upload-pack', '0000', { 'Content-Type': 'text/plain' })).status, 415)
  assert.equal((await post(base, 'git-upload-pack', '0000', { 'Content-Encoding': 'br' })).status, 415)

  let res = await post(base, 'git-upload-pack', 'zzzz')
  assert.equal(res.status, 400)
  assert.match(await res.text(), /pkt-line/)
  res = await post(base, 'git-upload-pack', 'ffff' + 'a'.repeat(100))
  assert.equal(res.status, 400)
  assert.match(await res.text(), /over the limit/)
  res = await post(base, 'git-upload-pack', '0032want 0123')
  assert.equal(res.status, 400)
  assert.match(await res.text(), /truncated/)

  // Well framed but wrong: Git's way, an ERR line.
  const unknown = 'ab'.repeat(20)
  res = await post(base, 'git-upload-pack', new PktLineWriter().text(`want ${unknown} side-band-64k`).flush().text('done').toBytes())
  assert.equal(res.status, 200)
  assert.match(lines(new Uint8Array(await res.arrayBuffer())).join('\n'), /^ERR upload-pack: not our ref abab/m)
  res = await post(base, 'git-upload-pack', new PktLineWriter().text('want not-an-id').flush().toBytes())
  assert.match(lines(new Uint8Array(await res.arrayBuffer())).join('\n'), /^ERR upload-pack: .*bad object id/m)
  res = await post(base, 'git-upload-pack', new PktLineWriter().text('command=frobnicate').flush().toBytes(), { 'Git-Protocol': 'version=2' })
  assert.match(lines(new Uint8Array(await res.arrayBuffer())).join('\n'), /^ERR upload-pack: unknown command/m)

  // gzip bodies are accepted (git sends big negotiations so); broken gzip is a 400.
  const lsRefs = new PktLineWriter().text('command=ls-refs').delim().text('symrefs').text('ref-prefix refs/heads/').flush().toBytes()
  res = await post(base, 'git-upload-pack', gzipSync(lsRefs), { 'Git-Protocol': 'version=2', 'Content-Encoding': 'gzip' })
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('content-type'), 'application/x-git-upload-pack-result')
  const refs = lines(new Uint8Array(await res.arrayBuffer()))
  assert.ok(refs.some(l => l.endsWith(' refs/heads/main')), refs.join('\n'))
  res = await post(base, 'git-upload-pack', utf8.encode('not gzip at all'), { 'Git-Protocol': 'version=2', 'Content-Encoding': 'gzip' })
  assert.equal(res.status, 400)
  assert.match(await res.text(), /gzip/)
  await stillServing(s)
})

test('a request body over the limit is refused with 413', async () => {
  const s = await serveStore('memory', { maxFetchRequestBytes: 1000, maxPushRequestBytes: 2000 })
  try {
    const big = new PktLineWriter()
    for (let i = 0; i < 100; i++) big.text(`have ${'cd'.repeat(20)}`)
    let res = await post(s.http, 'git-upload-pack', big.toBytes())
    assert.equal(res.status, 413)
    // Without Content-Length: a stream, counted as it comes (gzip decoded).
    res = await post(s.http, 'git-upload-pack', gzipSync(big.toBytes()), { 'Content-Encoding': 'gzip' })
    assert.equal(res.status, 413)
    res = await post(s.http, 'git-receive-pack', new Uint8Array(5000))
    assert.equal(res.status, 413)
    await stillServing(s)
  } finally {
    await s.running.close()
    await s.repo.close()
  }
})

/** A pack holding a new commit on top of `parent` (its tree and a blob), and the commit's id. */
async function packOf(objects: StoredObject[]): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for await (const c of writePack(objects, objects.length)) chunks.push(c)
  return concat(chunks)
}

async function packOnTop(s: Served, parent: string, options: { dropTree?: boolean } = {}): Promise<{ pack: Uint8Array; commit: string; value: unknown }> {
  const value = { pushed: 'by hand', at: counter++ }
  const blob = utf8.encode(JSON.stringify(value))
  const blobId = objectId('blob', blob)
  const parentTree = decodeCommit((await s.backend.objects.get(parent))!.body).tree
  const entries = decodeTree((await s.backend.objects.get(parentTree))!.body).filter(e => e.name !== 'hand')
  const tree = encodeTree([...entries, { name: 'hand', mode: '100644', id: blobId }])
  const treeId = objectId('tree', tree)
  const person = { name: 'Hand', email: 'hand@example.org', timestamp: 1_700_000_000, timezoneOffset: 0 }
  const commit = encodeCommit({ tree: treeId, parents: [parent], author: person, committer: person, message: 'by hand\n' })
  const commitId = objectId('commit', commit)
  const objects: StoredObject[] = [{ id: commitId, type: 'commit', body: commit }, { id: blobId, type: 'blob', body: blob }]
  if (!options.dropTree) objects.push({ id: treeId, type: 'tree', body: tree })
  return { pack: await packOf(objects), commit: commitId, value }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

function pushRequest(oldId: string, newId: string, ref: string, pack: Uint8Array): Uint8Array {
  return new PktLineWriter().text(`${oldId} ${newId} ${ref}\0report-status atomic agent=test`).flush().raw(pack).toBytes()
}

test('a corrupt, truncated or incomplete pack pushed by hand: unpack error or ng, no ref moved (all backends)', async () => {
  for (const s of served) {
    const main = s.repo.branch('main')
    const head = (await main.head())!.id
    const { pack, commit, value } = await packOnTop(s, head)
    const report = async (body: Uint8Array) => {
      const res = await post(s.http, 'git-receive-pack', body)
      assert.equal(res.status, 200)
      return lines(new Uint8Array(await res.arrayBuffer()))
    }
    // Garbage after the header.
    const garbage = concat([pack.subarray(0, 12), utf8.encode('this is not zlib data at all, sorry'), new Uint8Array(20)])
    let r = await report(pushRequest(head, commit, 'refs/heads/main', garbage))
    assert.match(r[0], /^unpack (?!ok)/)
    assert.deepEqual(r.slice(1), ['ng refs/heads/main unpacker error', 'flush'])
    // Truncated.
    r = await report(pushRequest(head, commit, 'refs/heads/main', pack.subarray(0, pack.length - 30)))
    assert.match(r[0], /^unpack .*truncated/)
    // A flipped byte: the checksum catches it.
    const flipped = pack.slice()
    flipped[flipped.length - 25] ^= 0xff
    r = await report(pushRequest(head, commit, 'refs/heads/main', flipped))
    assert.match(r[0], /^unpack (?!ok)/)
    // Whole, but without the commit's tree: connectivity.
    const incomplete = await packOnTop(s, head, { dropTree: true })
    r = await report(pushRequest(head, incomplete.commit, 'refs/heads/main', incomplete.pack))
    assert.deepEqual(r, ['unpack ok', 'ng refs/heads/main missing necessary objects', 'flush'])
    // A stale old value.
    r = await report(pushRequest('12'.repeat(20), commit, 'refs/heads/main', pack))
    assert.match(r[1], /^ng refs\/heads\/main stale info/)
    // A branch pointing at a blob.
    const blob = utf8.encode('"just a blob"')
    const blobId = objectId('blob', blob)
    r = await report(pushRequest('0'.repeat(40), blobId, 'refs/heads/blobby', await packOf([{ id: blobId, type: 'blob', body: blob }])))
    assert.match(r[1], /^ng refs\/heads\/blobby not a commit/)
    // A ref name outside Git's rules: the request itself is refused.
    r = await report(pushRequest(head, commit, 'refs/heads/a..b', pack))
    assert.match(r.join('\n'), /^ERR receive-pack: .*bad ref name/m)
    assert.equal((await main.head())!.id, head, `${s.kind}: main did not move`)
    assert.ok(!(await s.repo.branches()).includes('blobby'))
    // And the good pack still goes through.
    r = await report(pushRequest(head, commit, 'refs/heads/main', pack))
    assert.deepEqual(r, ['unpack ok', 'ok refs/heads/main', 'flush'])
    assert.deepEqual(await main.get('hand'), value)
    await stillServing(s)
  }
})

/** Send raw bytes on a git:// connection and collect what comes back until the server closes it. */
function rawGit(url: string, bytes: Uint8Array): Promise<Uint8Array> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const socket = connect(Number(port), hostname, () => socket.write(bytes))
    socket.on('data', c => chunks.push(c))
    socket.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))))
    socket.on('error', reject)
    setTimeout(() => { socket.destroy(); resolve(new Uint8Array(Buffer.concat(chunks))) }, 5000)
  })
}

test('bad git:// requests get ERR and the daemon keeps serving', async () => {
  let out = await rawGit(mem.git, utf8.encode('0010garbage-line'))
  assert.match(new TextDecoder().decode(out), /ERR daemon: /)
  out = await rawGit(mem.git, formatGitProtoRequest({ service: 'git-frobnicate', path: '/', extraParameters: [] }))
  assert.match(new TextDecoder().decode(out), /ERR daemon: service "git-frobnicate" is not enabled/)
  out = await rawGit(mem.git, utf8.encode('zzzz'))
  assert.match(new TextDecoder().decode(out), /ERR daemon: .*pkt-line/)
  const req = formatGitProtoRequest({ service: 'git-upload-pack', path: '/', extraParameters: [] })
  out = await rawGit(mem.git, concat([req, new PktLineWriter().text(`want ${'ef'.repeat(20)}`).flush().text('done').toBytes()]))
  assert.match(lines(out).join('\n'), /^ERR upload-pack: not our ref efef/m)
  const dir = fresh('after-bad-daemon')
  await git(tmp, ['clone', '--quiet', mem.git, dir])
  await checkClone(dir, mem)
})

test('larix serve: the command, on a level store, until SIGTERM; unbuilt options are refused', async () => {
  const store = fresh('cli-store')
  const repo = await Repo.open({ backend: levelBackend(store) })
  for (let i = 0; i < 5; i++) await repo.branch('main').set(`k/${i}`, i)
  const head = (await repo.branch('main').head())!.id
  await repo.close()
  const bin = join(process.cwd(), 'bin', 'larix.js')
  const child = spawn(process.execPath, [bin, '--store', store, 'serve', '--http', '0', '--git', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  child.stdout.on('data', c => { stdout += c })
  let stderr = ''
  child.stderr.on('data', c => { stderr += c })
  try {
    for (let i = 0; !/git:\/\//.test(stdout); i++) {
      if (i > 200 || child.exitCode !== null) throw new Error(`larix serve did not start: ${stdout} ${stderr}`)
      await new Promise(r => setTimeout(r, 50))
    }
    const http = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout)![1]
    const daemon = /(git:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout)![1]
    for (const url of [http, daemon]) {
      const dir = fresh('cli-clone')
      await git(tmp, ['clone', '--quiet', url, dir])
      assert.equal(await git(dir, ['rev-parse', 'HEAD']), head)
      assert.equal(readFileSync(join(dir, 'k', '3'), 'utf8'), '3')
    }
  } finally {
    child.kill('SIGTERM')
  }
  const code = await new Promise<number | null>(resolve => child.on('exit', c => resolve(c)))
  assert.equal(code, 0, stderr)
  assert.match(stdout, /stopped/)

  const refused = await new Promise<{ code: number | null; stderr: string }>(resolve => {
    execFile(process.execPath, [bin, '--store', store, 'serve', '--http', '0', '--tls-cert', 'c.pem', '--peer', 'http://x/'], (err, _o, e) => {
      resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, stderr: e })
    })
  })
  assert.equal(refused.code, 1)
  assert.match(refused.stderr, /--tls-key/)
})

test('fuzz: any bytes, or plausible lines in any order, get an answer (never a throw or a hang) and move no ref', async () => {
  const backend = memoryBackend()
  const repo = await Repo.open({ backend })
  for (let i = 0; i < 5; i++) await repo.branch('main').set(`k/${i}`, i)
  const head = (await repo.branch('main').head())!.id
  const server = new GitServer(backend)
  const ids = [head, '0'.repeat(40), 'ab'.repeat(20), 'zz'.repeat(20)]
  const line = fc.oneof(
    fc.constantFrom(...ids).map(id => `want ${id}`),
    fc.constantFrom(...ids).map(id => `have ${id}`),
    fc.constantFrom(...ids).map(id => `shallow ${id}`),
    fc.constantFrom('done', 'deepen 1', 'deepen 0', 'deepen-relative', 'command=fetch', 'command=ls-refs', 'ofs-delta',
      'thin-pack', 'no-progress', 'object-format=sha256', 'symrefs', 'peel', 'unborn', 'ref-prefix refs/', 'filter blob:none'),
    fc.tuple(fc.constantFrom(...ids), fc.constantFrom(...ids), fc.constantFrom('refs/heads/main', 'refs/heads/x', 'HEAD', 'refs/heads/a..b'))
      // Not the two well-formed pushes among these (deleting main, creating x at main's head): they rightly
      // move a ref, and this property is about malformed input.
      .filter(([a, b, r]) => !(r === 'refs/heads/main' && a === head && b === '0'.repeat(40)) && !(r === 'refs/heads/x' && a === '0'.repeat(40) && b === head))
      .map(([a, b, r]) => `${a} ${b} ${r}\0report-status atomic`),
    fc.string({ maxLength: 40 }),
  )
  const message = fc.array(fc.oneof(
    { weight: 5, arbitrary: line.map(l => new PktLineWriter().text(l).toBytes()) },
    { weight: 1, arbitrary: fc.constantFrom(utf8.encode('0000'), utf8.encode('0001'), utf8.encode('0002'), utf8.encode('PACK\0\0\0\x02\0\0\0\x01')) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  ), { maxLength: 12 }).map(parts => concat(parts))
  const services = ['git-upload-pack', 'git-receive-pack'] as const
  await fc.assert(fc.asyncProperty(message, fc.constantFrom(...services), fc.constantFrom<0 | 1 | 2>(0, 1, 2), async (body, service, version) => {
    let bytes = 0
    for await (const out of server.serveRequest(service, [body], { version })) bytes += out.length
    for await (const out of server.serveGitDaemon([concat([formatGitProtoRequest({ service, path: '/', extraParameters: [`version=${version}`] }), body])])) bytes += out.length
    assert.ok(bytes >= 0)
    assert.equal(await backend.refs.get('refs/heads/main'), head)
    assert.equal(await backend.refs.get('refs/heads/x'), undefined)
  }), { numRuns: 300 })
  await repo.close()
})
