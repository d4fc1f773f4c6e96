// The sync client against real Git peers on 127.0.0.1: `git http-backend` behind a small CGI server and
// `git daemon`, both started and stopped here. Clone, fetch, pull (with larix's content-aware merge), push
// (and its rejection), shallow clones, protocol v0 and v2, and servers that answer badly.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, gitDaemon, httpBackend as sharedHttpBackend, listen } from '../bench/http-backend.js'
import type { Peer } from '../bench/http-backend.js'
import { Repo, gitBackend, levelBackend, memoryBackend, LarixError } from '../src/index.js'
import type { Backend } from '../src/index.js'
import {
  clone, cloneInto, fetch, pull, push, readShallow, PushRejectedError, SHALLOW_REF,
} from '../src/sync/index.js'
import type { SyncProgress } from '../src/sync/index.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const BIN = join(ROOT, 'bin', 'larix.js')
const tmp = mkdtempSync(join(tmpdir(), 'larix-client-'))
const serveRoot = join(tmp, 'srv')
mkdirSync(serveRoot)

const ENV = {
  ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: tmp, GIT_TERMINAL_PROMPT: '0',
  GIT_AUTHOR_NAME: 'Ann Example', GIT_AUTHOR_EMAIL: 'ann@example.org', GIT_AUTHOR_DATE: '1700000000 +0100',
  GIT_COMMITTER_NAME: 'Ann Example', GIT_COMMITTER_EMAIL: 'ann@example.org', GIT_COMMITTER_DATE: '1700000000 +0100',
}

function git(cwd: string, args: string[], input?: string | Uint8Array): string {
  return execFileSync('git', args, { cwd, input, env: ENV, maxBuffer: 256 << 20, stdio: ['pipe', 'pipe', 'pipe'] }).toString('utf8').trim()
}

// ---------------------------------------------------------------------------------------------- peers

/** `git http-backend` as a CGI behind node:http, serving every repository under `root` (bench/http-backend.ts). */
function httpBackend(root: string): Promise<Peer & { protocols: string[] }> {
  return sharedHttpBackend(root, ENV)
}

// -------------------------------------------------------------------------------------- repositories

/**
 * A fast-import stream of `n` commits on main, with deletions every 10th commit, a `feature` branch forked at
 * commit n/4 and merged back at n/2, and an annotated tag. Values are JSON, so larix reads them.
 */
function history(n: number, opts: { filesPerCommit?: number; dirs?: number } = {}): string {
  const out: string[] = []
  const per = opts.filesPerCommit ?? 2
  const dirs = opts.dirs ?? 7
  let mark = 0
  const when = (i: number) => `${1700000000 + i * 60} +0000`
  const data = (s: string) => { out.push(`data ${Buffer.byteLength(s)}`, s) }
  const commit = (ref: string, i: number, changes: [string, string | null][], from?: number, merge?: number): number => {
    out.push(`commit ${ref}`, `mark :${++mark}`, `author Ann Example <ann@example.org> ${when(i)}`, `committer Ann Example <ann@example.org> ${when(i)}`)
    data(`commit ${i} on ${ref.slice(11)}\n`)
    if (from !== undefined) out.push(`from :${from}`)
    if (merge !== undefined) out.push(`merge :${merge}`)
    for (const [path, value] of changes) {
      if (value === null) out.push(`D ${path}`)
      else { out.push(`M 100644 inline ${path}`); data(value) }
    }
    out.push('')
    return mark
  }
  const forkAt = Math.floor(n / 4), mergeAt = Math.floor(n / 2)
  let main = 0, feature = 0, tagged = 0
  for (let i = 1; i <= n; i++) {
    const changes: [string, string | null][] = []
    for (let k = 0; k < per; k++) {
      const f = (i * 13 + k * 7) % 50
      changes.push([`d${(i + k) % dirs}/s${f % 5}/k${f}.json`, JSON.stringify({ i, k, text: 'v'.repeat(i % 17) })])
    }
    if (i % 10 === 0) changes.push([`d${(i + 3) % dirs}/s${i % 5}/k${(i * 7) % 50}.json`, null])
    if (i === mergeAt) main = commit('refs/heads/main', i, changes, main || undefined, feature)
    else main = commit('refs/heads/main', i, changes, main || undefined)
    if (i === 100) tagged = main
    if (i >= forkAt && i < forkAt + 40) {
      feature = commit('refs/heads/feature', i, [[`feature/f${i % 9}.json`, JSON.stringify({ on: 'feature', i })]], feature || main)
    }
  }
  if (tagged) {
    out.push('tag v1', `from :${tagged}`, `tagger Ann Example <ann@example.org> ${when(100)}`)
    data('release 1\n')
  }
  return out.join('\n') + '\n'
}

/** A bare repository under the served root, made by fast-import; its HEAD is main. */
function bareRepo(name: string, stream: string): string {
  const dir = join(serveRoot, name)
  git(tmp, ['init', '-q', '--bare', '-b', 'main', dir])
  git(dir, ['fast-import', '--quiet'], stream)
  return dir
}

/** A work tree cloned from a served bare repository, to make commits with the git CLI. */
function workTree(bare: string, name: string): string {
  const dir = join(tmp, name)
  git(tmp, ['clone', '-q', bare, dir])
  return dir
}

function commitFile(work: string, path: string, content: string, message: string): string {
  const file = join(work, path)
  mkdirSync(join(file, '..'), { recursive: true })
  execFileSync('sh', ['-c', 'cat > "$1"', 'sh', file], { input: content })
  git(work, ['add', path])
  git(work, ['commit', '-q', '-m', message])
  return git(work, ['rev-parse', 'HEAD'])
}

/** Every object id in a repository. */
function gitObjectIds(dir: string): string[] {
  return git(dir, ['cat-file', '--batch-all-objects', '--batch-check=%(objectname)']).split('\n').filter(Boolean).sort()
}

async function refsOf(repo: Repo): Promise<{ name: string; id: string }[]> {
  return repo.backend.refs.list()
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (e) {
    assert.ok(e instanceof LarixError, `expected a LarixError, got ${(e as Error)?.stack ?? String(e)}`)
    return e.code
  }
  assert.fail('expected the call to fail')
}

// ------------------------------------------------------------------------------------------------ tests

let http: Awaited<ReturnType<typeof httpBackend>>
let daemon: Peer
let big: string

before(async () => {
  http = await httpBackend(serveRoot)
  daemon = await gitDaemon(serveRoot, ENV, { receivePack: true })
  big = bareRepo('big.git', history(1200))
})

after(async () => {
  await http?.close()
  await daemon?.close()
  rmSync(tmp, { recursive: true, force: true })
})

describe('clone', () => {
  test('a repository of 1,200 commits with merges, deletions and a tag, into memory, level and git stores', async () => {
    const ids = gitObjectIds(big)
    assert.ok(ids.length > 9000, `${ids.length} objects`)
    const mainId = git(big, ['rev-parse', 'main'])
    const backends: [string, () => Backend][] = [
      ['memory', () => memoryBackend()],
      ['level', () => levelBackend(join(tmp, 'clone-level'))],
      ['git', () => gitBackend(join(tmp, 'clone-git.git'))],
    ]
    for (const [name, make] of backends) {
      const phases = new Set<string>()
      const repo = await clone(`${http.url}/big.git`, { backend: make(), onProgress: (p: SyncProgress) => { phases.add(p.phase) } })
      try {
        assert.deepEqual(await repo.branches(), ['feature', 'main'], name)
        assert.equal((await repo.branch('main').head())?.id, mainId, name)
        assert.equal(await repo.backend.refs.get('refs/remotes/origin/main'), mainId)
        assert.equal(await repo.backend.refs.get('refs/tags/v1'), git(big, ['rev-parse', 'v1']))
        for (const id of ids) assert.ok(await repo.backend.objects.has(id), `${name} lacks ${id}`)
        if (name === 'memory') {
          const map = (repo.backend.objects as unknown as { map: Map<string, unknown> }).map
          assert.deepEqual([...map.keys()].sort(), ids, 'exactly the objects git has')
        }
        // Values read as git shows them; history walks all the way, merge included.
        const path = git(big, ['ls-tree', '-r', '--name-only', 'main']).split('\n')[0]
        assert.deepEqual(await repo.branch('main').get(path), JSON.parse(git(big, ['show', `main:${path}`])))
        let n = 0
        for await (const c of repo.branch('main').log()) { n++; void c }
        assert.equal(n, Number(git(big, ['rev-list', '--count', 'main'])))
        assert.ok(phases.has('receiving') && phases.has('remote'), [...phases].join())
      } finally {
        await repo.close()
      }
    }
    // The git store passes git's own strictest check, with exactly the server's objects.
    const cloned = join(tmp, 'clone-git.git')
    git(cloned, ['fsck', '--strict', '--no-dangling'])
    assert.deepEqual(gitObjectIds(cloned), ids)
  })

  test('protocol v2 and v0 over smart HTTP and git://', async () => {
    const bare = bareRepo('small.git', history(30))
    const head = git(bare, ['rev-parse', 'main'])
    for (const base of [http.url, daemon.url]) {
      for (const protocolVersion of [2, 0] as const) {
        const repo = await Repo.open({ backend: memoryBackend() })
        const before = http.protocols.length
        const r = await cloneInto(repo, `${base}/small.git`, { protocolVersion })
        assert.equal(r.fetch.protocol, protocolVersion, `${base} v${protocolVersion}`)
        assert.equal(r.head, 'main')
        assert.equal((await repo.branch('main').head())?.id, head)
        assert.equal(r.fetch.objects, gitObjectIds(bare).length)
        if (base === http.url) {
          const sent = http.protocols.slice(before)
          assert.ok(sent.every(p => (protocolVersion === 2 ? p === 'version=2' : p === '')), sent.join())
        }
      }
    }
  })

  test('a shallow clone (depth 1, then deeper) has a log that stops at the boundary', async () => {
    for (const [base, protocolVersion] of [[http.url, 2], [daemon.url, 0], [daemon.url, 2], [http.url, 0]] as const) {
      const repo = await Repo.open({ backend: memoryBackend() })
      const r = await cloneInto(repo, `${base}/big.git`, { depth: 1, protocolVersion, tags: false })
      const mainId = git(big, ['rev-parse', 'main'])
      assert.deepEqual(r.fetch.shallow.sort(), [git(big, ['rev-parse', 'feature']), mainId].sort())
      assert.deepEqual([...(await readShallow(repo))].sort(), r.fetch.shallow)
      assert.ok(await repo.backend.refs.get(SHALLOW_REF))
      assert.ok(r.fetch.objects < gitObjectIds(big).length / 5, `${r.fetch.objects} objects for depth 1`)
      const log = []
      for await (const c of repo.branch('main').log()) log.push(c.id)
      assert.deepEqual(log, [mainId])
      const path = git(big, ['ls-tree', '-r', '--name-only', 'main']).split('\n').at(-1)!
      assert.deepEqual(await repo.branch('main').get(path), JSON.parse(git(big, ['show', `main:${path}`])))

      // Deepen to 5 commits: the boundary moves down and the log follows it.
      const deeper = await fetch(repo, `${base}/big.git`, { depth: 5, protocolVersion, tags: false })
      assert.ok(!deeper.shallow.includes(mainId))
      const deep = []
      for await (const c of repo.branch('main').log()) deep.push(c.id)
      assert.deepEqual(deep, git(big, ['rev-list', '--max-count=5', 'main']).split('\n'))

      // A plain fetch into the shallow store: the new commit arrives, the boundary stays where it was.
      const shallowBare = bareRepo(`shallow-${protocolVersion}-${base.slice(0, 4)}.git`, history(40))
      const work = workTree(shallowBare, `shallow-work-${protocolVersion}-${base.slice(0, 4)}`)
      const small = await Repo.open({ backend: memoryBackend() })
      const first = await cloneInto(small, `${base}/${shallowBare.split('/').at(-1)}`, { depth: 2, protocolVersion, tags: false })
      const id = commitFile(work, 'late.json', '{"late":true}', 'late')
      git(work, ['push', '-q', 'origin', 'main'])
      const later = await fetch(small, `${base}/${shallowBare.split('/').at(-1)}`, { protocolVersion, tags: false })
      assert.equal(later.objects, 3)
      assert.deepEqual(later.shallow, first.fetch.shallow)
      assert.equal((await small.branch('main').merge(id)).status, 'fast-forward')
      const log3 = []
      for await (const c of small.branch('main').log()) log3.push(c.id)
      assert.equal(log3.length, 3)
      // And a shallow store pushes: only its new objects travel.
      await small.branch('main').set('from-shallow', true)
      const pushed = await push(small, `${base}/${shallowBare.split('/').at(-1)}`, { protocolVersion })
      assert.equal(pushed.objects, 3)
      assert.equal(git(shallowBare, ['show', 'main:from-shallow']), 'true')
      git(shallowBare, ['fsck', '--strict', '--no-dangling'])
    }
  })
})

describe('remotes', () => {
  test('protocol v1, an empty remote, a missing branch, and credentials in the URL', async () => {
    bareRepo('v1.git', history(5))
    const v1 = await Repo.open({ backend: memoryBackend() })
    assert.equal((await cloneInto(v1, `${http.url}/v1.git`, { protocolVersion: 1 })).fetch.protocol, 1)
    assert.equal(await codeOf(pull(v1, `${http.url}/v1.git`, { branch: 'nope' })), 'LARIX_NOT_FOUND')

    const empty = join(serveRoot, 'empty.git')
    git(tmp, ['init', '-q', '--bare', '-b', 'main', empty])
    for (const [base, protocolVersion] of [[http.url, 2], [http.url, 0], [daemon.url, 2], [daemon.url, 0]] as const) {
      const repo = await Repo.open({ backend: memoryBackend() })
      const r = await cloneInto(repo, `${base}/empty.git`, { protocolVersion })
      assert.deepEqual(r.branches, [])
      assert.equal(r.fetch.objects, 0)
    }
    // The first push into the empty repository creates its branch.
    const repo = await Repo.open({ backend: memoryBackend() })
    await repo.branch('main').set('hello', 'world')
    assert.equal((await push(repo, `${daemon.url}/empty.git`)).status, 'created')
    assert.equal(git(empty, ['show', 'main:hello']), '"world"')

    // user:password in an http URL travels as Basic authentication, and never shows in results.
    const seen: string[] = []
    const auth = createServer((req, res) => {
      seen.push(String(req.headers.authorization))
      if (req.headers.authorization !== 'Basic ' + Buffer.from('ann:s3cr3t é').toString('base64')) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' })
        res.end()
        return
      }
      const chunks: Buffer[] = []
      req.on('data', c => chunks.push(c as Buffer))
      req.on('end', async () => {
        const upstream = await globalThis.fetch(`${http.url}${req.url}`, {
          method: req.method, body: req.method === 'POST' ? Buffer.concat(chunks) : undefined,
          headers: { 'Content-Type': String(req.headers['content-type'] ?? ''), 'Git-Protocol': String(req.headers['git-protocol'] ?? '') },
        })
        res.writeHead(upstream.status, { 'Content-Type': upstream.headers.get('content-type') ?? '' })
        res.end(Buffer.from(await upstream.arrayBuffer()))
      })
    })
    const guarded = await listen(auth, port => ({ url: `http://127.0.0.1:${port}` }))
    try {
      const anonymous = await fetch(repo, `${guarded.url}/v1.git`).then(() => undefined, (e: unknown) => e)
      assert.ok(anonymous instanceof LarixError && anonymous.code === 'LARIX_TRANSPORT' && anonymous.data.status === 401)
      assert.match(anonymous.message, /authentication/)
      const r = await fetch(repo, `http://ann:s3cr3t%20%C3%A9@${guarded.url.slice(7)}/v1.git`)
      assert.equal(r.url, `${guarded.url}/v1.git`)
      assert.ok(r.objects > 0)
    } finally {
      await guarded.close()
    }
  })
})

describe('fetch and pull', () => {
  test('an incremental fetch brings only the new objects and moves the remote-tracking refs', async () => {
    const bare = bareRepo('inc.git', history(50))
    const work = workTree(bare, 'inc-work')
    for (const protocolVersion of [2, 0] as const) {
      for (const base of [http.url, daemon.url]) {
        const repo = await clone(`${base}/inc.git`, { backend: memoryBackend(), protocolVersion })
        const before = await refsOf(repo)
        const same = await fetch(repo, `${base}/inc.git`, { protocolVersion })
        assert.equal(same.objects, 0)
        assert.ok(same.refs.every(r => r.status === 'up-to-date'))
        assert.deepEqual(await refsOf(repo), before)

        // Many local commits the server has never seen: negotiation must still find the common ones.
        for (let i = 0; i < 300; i++) await repo.branch('local').set('n', i)
        const id = commitFile(work, `new/${protocolVersion}-${base.slice(0, 4)}.json`, JSON.stringify({ protocolVersion, base }), 'one more')
        git(work, ['push', '-q', 'origin', 'main'])
        const r = await fetch(repo, `${base}/inc.git`, { protocolVersion })
        // A commit, its root tree, one subtree and one blob: nothing the store had already.
        assert.equal(r.objects, 4, `v${protocolVersion} ${base}`)
        assert.deepEqual(r.refs.find(x => x.remoteRef === 'refs/heads/main'), {
          remoteRef: 'refs/heads/main', localRef: 'refs/remotes/origin/main', id, old: before.find(x => x.name === 'refs/remotes/origin/main')!.id, status: 'updated',
        })
        assert.equal(await repo.backend.refs.get('refs/remotes/origin/main'), id)
        assert.equal(await repo.backend.refs.get('refs/heads/main'), before.find(x => x.name === 'refs/heads/main')!.id, 'fetch moves no local branch')
        await repo.deleteBranch('local')
      }
    }
  })

  test('pull merges concurrent JSON edits per key, and a push makes them visible to git', async () => {
    const bare = join(serveRoot, 'doc.git')
    git(tmp, ['init', '-q', '--bare', '-b', 'main', bare])
    const work = join(tmp, 'doc-work')
    git(tmp, ['clone', '-q', bare, work])
    commitFile(work, 'config.json', '{"a":1,"b":1,"c":1}', 'start')
    git(work, ['push', '-q', 'origin', 'main'])

    for (const base of [http.url, daemon.url]) {
      const repo = await clone(`${base}/doc.git`, { backend: memoryBackend() })
      const main = repo.branch('main')
      const start = (await main.get('config.json')) as Record<string, number>
      await main.set('config.json', { ...start, a: start.a + 1 }, { message: 'larix edits a' })
      git(work, ['pull', '-q', '--ff-only'])
      const theirs = JSON.parse(readFileSync(join(work, 'config.json'), 'utf8')) as Record<string, number>
      const gitId = commitFile(work, 'config.json', JSON.stringify({ ...theirs, b: theirs.b + 10 }), 'git edits b')
      git(work, ['push', '-q', 'origin', 'main'])

      const r = await pull(repo, `${base}/doc.git`, { branch: 'main' })
      assert.equal(r.merge.status, 'merged')
      assert.equal(r.remoteId, gitId)
      assert.deepEqual(await main.get('config.json'), { a: start.a + 1, b: theirs.b + 10, c: 1 })

      const pushed = await push(repo, `${base}/doc.git`, { branch: 'main' })
      assert.equal(pushed.status, 'updated')
      assert.equal(pushed.oldId, gitId)
      assert.equal(git(bare, ['rev-parse', 'main']), (await main.head())!.id)
      assert.deepEqual(JSON.parse(git(bare, ['show', 'main:config.json'])), { a: start.a + 1, b: theirs.b + 10, c: 1 })
      assert.match(git(bare, ['log', '-1', '--format=%P', 'main']), new RegExp(`${gitId}`))
      git(bare, ['fsck', '--strict', '--no-dangling'])
    }
  })
})

describe('push', () => {
  test('new larix commits reach the bare repository (git log, git show), over HTTP and git://', async () => {
    for (const [base, name] of [[http.url, 'push-http.git'], [daemon.url, 'push-daemon.git']] as const) {
      const bare = bareRepo(name, history(40))
      const repo = await clone(`${base}/${name}`, { backend: memoryBackend() })
      const main = repo.branch('main')
      for (let i = 0; i < 5; i++) await main.set(`larix/item${i}`, { i, by: 'larix' }, { message: `larix ${i}` })
      const head = (await main.head())!.id
      const r = await push(repo, `${base}/${name}`, { branch: 'main' })
      assert.equal(r.status, 'updated')
      // 5 commits, 5 root trees, 5 trees of larix/ (one per version), 5 blobs: nothing git had.
      assert.equal(r.objects, 20)
      assert.equal(git(bare, ['rev-parse', 'main']), head)
      assert.equal(git(bare, ['log', '-1', '--format=%s', 'main']), 'larix 4')
      assert.equal(git(bare, ['show', 'main:larix/item3']), '{"by":"larix","i":3}')
      git(bare, ['fsck', '--strict', '--no-dangling'])
      assert.equal(await repo.backend.refs.get('refs/remotes/origin/main'), head)

      // A new branch, from a store that has never seen the remote before: everything reachable is sent.
      const fresh = await Repo.open({ backend: memoryBackend() })
      await fresh.branch('solo').set('x', 1)
      const created = await push(fresh, `${base}/${name}`, { branch: 'solo' })
      assert.equal(created.status, 'created')
      assert.equal(git(bare, ['show', 'solo:x']), '1')
      assert.equal((await push(fresh, `${base}/${name}`, { branch: 'solo' })).status, 'up-to-date')
    }
  })

  test('a push is rejected when the remote moved (LARIX_PUSH_REJECTED), then pullFirst merges and pushes', async () => {
    for (const [base, name] of [[http.url, 'race-http.git'], [daemon.url, 'race-daemon.git']] as const) {
      const bare = bareRepo(name, history(20))
      const work = workTree(bare, name + '-work')
      const repo = await clone(`${base}/${name}`, { backend: memoryBackend() })
      await repo.branch('main').set('larix/doc', { by: 'larix' })
      const gitId = commitFile(work, 'from-git.json', '{"by":"git"}', 'git moved on')
      git(work, ['push', '-q', 'origin', 'main'])

      const err = await push(repo, `${base}/${name}`, { branch: 'main' }).then(() => undefined, (e: unknown) => e)
      assert.ok(err instanceof PushRejectedError)
      assert.equal(err.code, 'LARIX_PUSH_REJECTED')
      assert.equal(err.data.rejection, 'fetch-first')
      assert.equal(err.data.remoteId, gitId)
      assert.equal(git(bare, ['rev-parse', 'main']), gitId, 'the remote is unchanged')

      // Once fetched, the remote commit is known but not an ancestor: non-fast-forward.
      await fetch(repo, `${base}/${name}`)
      const again = await push(repo, `${base}/${name}`, { branch: 'main' }).then(() => undefined, (e: unknown) => e)
      assert.ok(again instanceof PushRejectedError && again.data.rejection === 'non-fast-forward')

      const r = await push(repo, `${base}/${name}`, { branch: 'main', pullFirst: true })
      assert.equal(r.pulls.length, 1)
      assert.equal(r.pulls[0].merge.status, 'merged')
      assert.equal(r.oldId, gitId)
      const head = git(bare, ['rev-parse', 'main'])
      assert.equal(head, (await repo.branch('main').head())!.id)
      assert.equal(git(bare, ['show', 'main:larix/doc']), '{"by":"larix"}')
      assert.equal(git(bare, ['show', 'main:from-git.json']), '{"by":"git"}')
      git(bare, ['fsck', '--strict', '--no-dangling'])
    }
  })

  test('a stale compare-and-set: the remote moves between advertisement and update', async () => {
    const bare = bareRepo('cas.git', history(10))
    const work = workTree(bare, 'cas-work')
    const repo = await clone(`${http.url}/cas.git`, { backend: memoryBackend() })
    await repo.branch('main').set('k', 1)
    // A fetch wrapper that lets git move the branch right after the advertisement was read.
    let moved = ''
    const httpFetch: typeof globalThis.fetch = async (input, init) => {
      if (init?.method === 'POST' && !moved) {
        moved = commitFile(work, 'race.json', '1', 'race')
        git(work, ['push', '-q', 'origin', 'main'])
      }
      return globalThis.fetch(input, init)
    }
    const err = await push(repo, `${http.url}/cas.git`, { branch: 'main', httpFetch }).then(() => undefined, (e: unknown) => e)
    assert.ok(err instanceof PushRejectedError, String(err))
    assert.equal(err.data.rejection, 'stale', err.message)
    assert.equal(git(bare, ['rev-parse', 'main']), moved)
    // pullFirst recovers from this one too.
    const r = await push(repo, `${http.url}/cas.git`, { branch: 'main', pullFirst: true })
    assert.equal(r.pulls.length, 1)
    assert.equal(git(bare, ['rev-parse', 'main']), r.newId)
  })
})

describe('bad servers', () => {
  test('garbage, truncated packs, wrong content types and HTTP errors are typed errors, and no ref moves', async () => {
    bareRepo('victim.git', history(30))
    const repo = await clone(`${http.url}/victim.git`, { backend: memoryBackend() })
    const refsBefore = await refsOf(repo)
    // The same repository, one more commit ahead, so a fetch wants a pack.
    const work = workTree(join(serveRoot, 'victim.git'), 'victim-work')
    commitFile(work, 'more.json', '2', 'more')
    git(work, ['push', '-q', 'origin', 'main'])

    type Mode = 'garbage' | 'html' | 'status500' | 'truncate-pack' | 'corrupt-pack' | 'cut'
    let mode: Mode = 'garbage'
    const proxy = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = []
      req.on('data', c => chunks.push(c as Buffer))
      req.on('end', async () => {
        const body = Buffer.concat(chunks)
        const isPack = req.method === 'POST'
        if (mode === 'html' && isPack) { res.writeHead(200, { 'Content-Type': 'text/html' }); res.end('<html>login</html>'); return }
        if (mode === 'status500' && isPack) { res.writeHead(500, { 'Content-Type': 'text/plain' }); res.end('boom'); return }
        if (mode === 'garbage' && isPack) {
          res.writeHead(200, { 'Content-Type': 'application/x-git-upload-pack-result' })
          res.end('zzzz this is not a pkt-line stream')
          return
        }
        const upstream = await globalThis.fetch(`${http.url}${req.url}`, {
          method: req.method, headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k)) as [string, string][]),
          body: isPack ? body : undefined,
        })
        let bytes: Buffer = Buffer.from(await upstream.arrayBuffer())
        if (isPack && (mode === "truncate-pack" || mode === "corrupt-pack")) bytes = Buffer.from(damagePack(bytes, mode))
        if (isPack && mode === 'cut') bytes = bytes.subarray(0, Math.floor(bytes.length * 0.6))
        res.writeHead(upstream.status, { 'Content-Type': upstream.headers.get('content-type') ?? '' })
        res.end(bytes)
      })
    })
    const bad = await listen(proxy, port => ({ url: `http://127.0.0.1:${port}` }))
    try {
      const expected: [Mode, string][] = [
        ['garbage', 'LARIX_BAD_PKT_LINE'], ['html', 'LARIX_TRANSPORT'], ['status500', 'LARIX_TRANSPORT'],
        ['truncate-pack', 'LARIX_BAD_PACK'], ['corrupt-pack', 'LARIX_BAD_PACK'], ['cut', 'LARIX_BAD_PKT_LINE'],
      ]
      for (const [m, code] of expected) {
        mode = m
        for (const protocolVersion of [2, 0] as const) {
          assert.equal(await codeOf(fetch(repo, `${bad.url}/victim.git`, { protocolVersion })), code, `${m} v${protocolVersion}`)
          assert.deepEqual(await refsOf(repo), refsBefore, `${m}: no ref moved`)
        }
      }
      // Not a Git server at all; nobody listening; a clone that fails creates no branch.
      const plain = await listen(createServer((_q, s) => { s.writeHead(200, { 'Content-Type': 'text/html' }); s.end('hello') }), port => ({ url: `http://127.0.0.1:${port}` }))
      assert.equal(await codeOf(fetch(repo, `${plain.url}/x.git`)), 'LARIX_TRANSPORT')
      await plain.close()
      assert.equal(await codeOf(fetch(repo, `http://127.0.0.1:${await freePort()}/x.git`)), 'LARIX_TRANSPORT')
      assert.equal(await codeOf(fetch(repo, `git://127.0.0.1:${await freePort()}/x.git`)), 'LARIX_TRANSPORT')
      assert.equal(await codeOf(fetch(repo, `${daemon.url}/missing.git`)), 'LARIX_REMOTE') // git daemon's ERR line
      assert.equal(await codeOf(fetch(repo, 'ftp://example.org/x')), 'LARIX_BAD_ARGUMENT')
      assert.deepEqual(await refsOf(repo), refsBefore)
      mode = 'truncate-pack'
      const target = await Repo.open({ backend: memoryBackend() })
      assert.equal(await codeOf(cloneInto(target, `${bad.url}/victim.git`)), 'LARIX_BAD_PACK')
      assert.deepEqual(await refsOf(target), [])
    } finally {
      await bad.close()
    }
  })
})

/**
 * Damage the pack inside a side-band response, keeping the pkt-line framing intact: drop the last data
 * packet before the final flush (truncated), or flip a byte in the middle of the pack (corrupt).
 */
function damagePack(response: Buffer, how: 'truncate-pack' | 'corrupt-pack'): Buffer {
  const packets: { start: number; end: number; channel?: number }[] = []
  let o = 0
  while (o + 4 <= response.length) {
    const n = parseInt(response.subarray(o, o + 4).toString('latin1'), 16)
    const end = n < 4 ? o + 4 : o + n
    packets.push({ start: o, end, channel: n > 4 ? response[o + 4] : undefined })
    o = end
  }
  const dataPackets = packets.filter(p => p.channel === 1)
  if (dataPackets.length === 0) return response // not the pack (ls-refs)
  if (how === 'corrupt-pack') {
    const copy = Buffer.from(response)
    const p = dataPackets[Math.floor(dataPackets.length / 2)]
    const at = p.start + 5 + Math.floor((p.end - p.start - 5) / 2)
    copy[at] ^= 0xff
    return copy
  }
  // The pack's last bytes (its checksum, at least) go missing; the framing around them stays intact.
  const drop = dataPackets[dataPackets.length - 1]
  return Buffer.concat([response.subarray(0, drop.start), response.subarray(drop.end)])
}

describe('larix clone, pull and push commands', () => {
  function larix(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], { cwd: tmp, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = '', stderr = ''
      child.stdout.setEncoding('utf8').on('data', d => { stdout += d })
      child.stderr.setEncoding('utf8').on('data', d => { stderr += d })
      child.on('error', reject)
      child.on('close', code => resolve({ code, stdout, stderr }))
    })
  }

  test('clone, edit, pull and push from the command line; progress only when asked for', async () => {
    const bare = bareRepo('cli.git', history(60))
    const work = workTree(bare, 'cli-work')
    const dir = join(tmp, 'cli-store')
    const url = `${http.url}/cli.git`

    const cloned = await larix(['clone', url, dir])
    assert.equal(cloned.code, 0, cloned.stderr)
    assert.equal(cloned.stderr, '', 'no progress when stderr is not a terminal')
    assert.match(cloned.stdout, /^Cloned http:\/\/127\.0\.0\.1:\d+\/cli\.git into .*cli-store: \d+ objects \(.*\), branches feature, main\n$/)
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'larix-remote.json'), 'utf8')), { origin: { url, head: 'main' } })
    const again = await larix(['clone', url, dir])
    assert.equal(again.code, 1)
    assert.match(again.stderr, /LARIX_EXISTS/)

    assert.equal((await larix(['--store', dir, 'set', 'cli/a', '{"n":1}'])).code, 0)
    commitFile(work, 'from-git.json', '{"g":1}', 'git side')
    git(work, ['push', '-q', 'origin', 'main'])
    const pushed = await larix(['--store', dir, 'push'], { LARIX_PROGRESS: '1' })
    assert.equal(pushed.code, 0, pushed.stderr)
    assert.match(pushed.stdout, /had moved: merged it into main first \(merged [0-9a-f]{40}\)\nPushed main to /)
    assert.match(pushed.stderr, /Receiving objects: 100% \(\d+\/\d+\).*done\.\n/)
    assert.match(pushed.stderr, /Sending objects: /)
    assert.equal(git(bare, ['show', 'main:cli/a']), '{"n":1}')

    commitFile(work, 'from-git.json', '{"g":2}', 'git again')
    git(work, ['pull', '-q', '--no-rebase', 'origin', 'main'])
    git(work, ['push', '-q', 'origin', 'main'])
    const pulled = await larix(['--store', dir, '--json', 'pull'])
    assert.equal(pulled.code, 0, pulled.stderr)
    const data = JSON.parse(pulled.stdout) as { merge: { status: string }; objects: number }
    assert.equal(data.merge.status, 'fast-forward')
    const got = await larix(['--store', dir, 'get', 'from-git.json'])
    assert.deepEqual(JSON.parse(got.stdout), { g: 2 })

    const shallowDir = join(tmp, 'cli-shallow')
    const shallow = await larix(['clone', '--depth', '1', `${daemon.url}/cli.git`, shallowDir], { LARIX_PROGRESS: '1' })
    assert.equal(shallow.code, 0, shallow.stderr)
    assert.match(shallow.stdout, /shallow \(depth 1\)/)
    assert.match(shallow.stderr, /remote: /)

    const failed = await larix(['clone', `http://127.0.0.1:${await freePort()}/nothing.git`, join(tmp, 'cli-failed')])
    assert.equal(failed.code, 1)
    assert.match(failed.stderr, /LARIX_TRANSPORT/)
    assert.ok(!existsSync(join(tmp, 'cli-failed')), 'a failed clone leaves no directory behind')
  })
})
