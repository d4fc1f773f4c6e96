// Clone packs (src/sync/serve/clone-pack.ts): `git clone` from larix serve sends the stored entries of a
// clone pack after the objects newer than it. Checked with the real git: the clone is complete and clean
// (`git fsck --strict`, the same objects as `git rev-list --objects --all` on the server's refs), the pack is
// used only when the wants reach its tips (a rewound branch's dropped commit is never sent from it), new
// objects are not sent twice, a damaged pack gives the client a clear error and is rebuilt, on memory and
// level stores.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { levelBackend, memoryBackend, Repo } from '../src/index.js'
import type { Backend } from '../src/index.js'
import { startServer } from '../src/platform/node/serve.js'
import type { RunningServer } from '../src/platform/node/serve.js'
import type { ClonePackManifest } from '../src/sync/serve/clone-pack.js'

const tmp = mkdtempSync(join(tmpdir(), 'larix-clone-pack-'))
let n = 0
const fresh = (name: string) => join(tmp, `${name}-${n++}`)
after(() => rmSync(tmp, { recursive: true, force: true }))

const run = promisify(execFile)
const ENV = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: tmp, GIT_TERMINAL_PROMPT: '0' }
async function git(cwd: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  const r = await run('git', args, { cwd, env: ENV, maxBuffer: 64 << 20 })
  return { stdout: r.stdout.trim(), stderr: r.stderr }
}

interface Served { backend: Backend; repo: Repo; running: RunningServer; url: string; errors: unknown[] }

async function serve(kind: 'memory' | 'level'): Promise<Served> {
  const backend = kind === 'memory' ? memoryBackend() : levelBackend(fresh('store'))
  let clock = 1_700_000_000_000
  const repo = await Repo.open({ backend, author: 'Ann <ann@example.org>', now: () => (clock += 1000) })
  const errors: unknown[] = []
  // Builds only when a test asks (a long delay): each step is then deterministic.
  const running = await startServer(backend, { http: 0, websocket: false, clonePack: { delayMs: 3_600_000 }, onError: e => errors.push(e) })
  return { backend, repo, running, url: running.http!.url, errors }
}

async function stop(s: Served): Promise<void> {
  await s.running.close()
  await s.repo.close()
}

/** Clone with progress; returns the directory and how many objects the server said it reused. */
async function clone(s: Served, ...args: string[]): Promise<{ dir: string; reused: number; total: number }> {
  const dir = fresh('clone')
  const { stderr } = await git(tmp, 'clone', '--bare', '--progress', ...args, s.url, dir)
  const m = /Total (\d+) \(delta \d+\), reused (\d+)/.exec(stderr)
  assert.ok(m, `no Total line in: ${stderr}`)
  return { dir, total: Number(m[1]), reused: Number(m[2]) }
}

/** Every object reachable from the clone's refs is there, nothing is broken, and no object came twice. */
async function checkClone(dir: string, total: number): Promise<string[]> {
  await git(dir, 'fsck', '--strict', '--no-dangling')
  const objects = (await git(dir, 'rev-list', '--objects', '--all')).stdout.split('\n').map(l => l.slice(0, 40))
  const inPack = Number(/in-pack: (\d+)/.exec((await git(dir, 'count-objects', '-v')).stdout)![1])
  assert.equal(inPack, total, 'the pack holds as many objects as the server said it sent')
  return objects
}

async function history(repo: Repo, branch: string, from: number, count: number): Promise<void> {
  const b = await repo.branch(branch)
  for (let i = from; i < from + count; i++) {
    await b.set(['docs', `d${i % 40}`], { i, text: 'x'.repeat(i % 300) })
    if (i % 7 === 0) await b.set(['tree', `t${i % 5}`, 'v'], i)
    if (i % 11 === 0) await b.remove(['docs', `d${(i + 3) % 40}`])
  }
}

async function manifest(s: Served): Promise<ClonePackManifest> {
  const m = await s.running.server.context.clonePacks!.build(s.running.server.context)
  assert.ok(m)
  return m
}

for (const kind of ['memory', 'level'] as const) {
  test(`clone pack (${kind}): git clones from it, with newer commits sent first and nothing sent twice`, async () => {
    const s = await serve(kind)
    try {
      await history(s.repo, 'main', 0, 120)
      await history(s.repo, 'side', 500, 30)
      const first = await clone(s)
      assert.equal(first.reused, 0, 'no clone pack yet: objects are sent one by one')
      const want = await checkClone(first.dir, first.total)
      const m = await manifest(s)
      assert.equal(m.count, want.length)
      const second = await clone(s)
      assert.equal(second.reused, m.count)
      assert.deepEqual((await checkClone(second.dir, second.total)).sort(), [...want].sort())
      // New commits, a new branch, and values that were there before (their blobs are in the pack already).
      await history(s.repo, 'main', 120, 25)
      await (await s.repo.branch('main')).set(['again'], { i: 3, text: 'x'.repeat(3) })
      await history(s.repo, 'feature', 1000, 5)
      const third = await clone(s)
      assert.equal(third.reused, m.count)
      assert.ok(third.total > m.count)
      const all = await checkClone(third.dir, third.total)
      assert.equal(new Set(all).size, third.total, 'every object once')
      assert.equal((await git(third.dir, 'rev-parse', 'main')).stdout, await s.backend.refs.get('refs/heads/main'))
      assert.deepEqual(s.errors, [])
    } finally { await stop(s) }
  })
}

test('clone pack: not used when the refs moved away from its tips; a rewound commit is never sent from it', async () => {
  const s = await serve('level')
  try {
    await history(s.repo, 'main', 0, 40)
    const keep = (await s.backend.refs.get('refs/heads/main'))!
    await (await s.repo.branch('main')).set(['secret'], 'do not keep me')
    const leaked = (await s.backend.refs.get('refs/heads/main'))!
    const m = await manifest(s)
    assert.ok(m.tips.includes(leaked))
    // Rewind main past the leaked commit.
    assert.ok(await s.backend.refs.cas('refs/heads/main', leaked, keep))
    const c = await clone(s)
    assert.equal(c.reused, 0, 'the old clone pack holds the dropped commit: not used')
    await checkClone(c.dir, c.total)
    await assert.rejects(git(c.dir, 'cat-file', '-e', leaked))
    // A rebuild from the refs as they are now is used again, and still without the dropped commit.
    const m2 = await manifest(s)
    assert.ok(m2.generation > m.generation)
    const d = await clone(s)
    assert.equal(d.reused, m2.count)
    await checkClone(d.dir, d.total)
    await assert.rejects(git(d.dir, 'cat-file', '-e', leaked))
    // A clone of one branch only wants less than the pack holds: served object by object.
    await history(s.repo, 'other', 100, 3)
    const m3 = await manifest(s)
    const single = await clone(s, '--single-branch', '--branch', 'main')
    assert.equal(single.reused, 0)
    await checkClone(single.dir, single.total)
    assert.ok(single.total < m3.count)
  } finally { await stop(s) }
})

test('clone pack: a damaged part fails that clone with a clear error, and the next pack is rebuilt and used', async () => {
  const s = await serve('memory')
  try {
    await history(s.repo, 'main', 0, 200)
    const m = await manifest(s)
    assert.ok(m.parts.length >= 1)
    const store = s.backend.objects.clonePacks!
    const part = (await store.part(m.generation, m.parts.length - 1))!
    await store.putPart(m.generation, m.parts.length - 1, part.subarray(0, part.length - 7))
    await assert.rejects(clone(s), (e: Error & { stderr?: string }) => /clone pack .*damaged/.test(e.stderr ?? e.message))
    assert.ok(s.errors.some(e => (e as { code?: string }).code === 'clone-pack-damaged'))
    // The damaged generation is not used again: the next clone is sent object by object.
    const plain = await clone(s)
    assert.equal(plain.reused, 0)
    await checkClone(plain.dir, plain.total)
    const m2 = await manifest(s)
    assert.notEqual(m2.generation, m.generation)
    const c = await clone(s)
    assert.equal(c.reused, m2.count)
    await checkClone(c.dir, c.total)
  } finally { await stop(s) }
})

test('clone pack: built in the background after a clone, and turned off with clonePack: false', async () => {
  const backend = memoryBackend()
  const repo = await Repo.open({ backend, author: 'Ann <ann@example.org>' })
  await history(repo, 'main', 0, 30)
  const on = await startServer(backend, { http: 0, websocket: false, clonePack: { delayMs: 10 } })
  const off = await startServer(backend, { http: 0, websocket: false, clonePack: false })
  try {
    assert.equal(off.server.context.clonePacks, undefined)
    await git(tmp, 'clone', '--bare', '-q', on.http!.url, fresh('bg'))
    const deadline = Date.now() + 10_000
    while (on.server.context.clonePacks!.builds === 0 && Date.now() < deadline) await new Promise(r => setTimeout(r, 20))
    assert.ok(await backend.objects.clonePacks!.manifest(), 'a clone pack was published')
    const { stderr } = await git(tmp, 'clone', '--bare', '--progress', off.http!.url, fresh('off'))
    assert.match(stderr, /pack-reused 0/)
  } finally {
    await on.close()
    await off.close()
    await repo.close()
  }
})

test('clone pack: an older pack stays readable while a clone in flight holds it, and is dropped after', async () => {
  const s = await serve('memory')
  try {
    const ctx = s.running.server.context
    const packs = ctx.clonePacks!
    const store = s.backend.objects.clonePacks!
    await history(s.repo, 'main', 0, 20)
    const a = await manifest(s)
    const held = (await packs.acquire())!
    assert.equal(held.manifest.generation, a.generation)
    await history(s.repo, 'main', 20, 5)
    const b = await manifest(s)
    assert.notEqual(b.generation, a.generation)
    assert.ok(await store.part(a.generation, 0), 'the held pack keeps its parts')
    const read: Uint8Array[] = []
    for await (const p of packs.entries(held)) read.push(p)
    assert.deepEqual(read.map(p => p.length), a.parts)
    await packs.release(held)
    assert.equal(await store.part(a.generation, 0), undefined, 'released: the old parts are gone')
    assert.ok(await store.part(b.generation, 0))
    // Without a reader, a new build drops the previous pack at once.
    await history(s.repo, 'main', 25, 5)
    const c = await manifest(s)
    assert.equal(await store.part(b.generation, 0), undefined)
    assert.ok(await store.part(c.generation, 0))
  } finally { await stop(s) }
})

test('larix serve builds a clone pack in the store after a clone; --no-clone-pack keeps none', async () => {
  const bin = join(process.cwd(), 'bin', 'larix.js')
  for (const flag of [[], ['--no-clone-pack']]) {
    const store = fresh('cli-store')
    const repo = await Repo.open({ backend: levelBackend(store) })
    await history(repo, 'main', 0, 10)
    await repo.close()
    const child = spawn(process.execPath, [bin, '--store', store, '--json', 'serve', '--http', '0', ...flag], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    child.stdout.on('data', c => { stdout += c })
    try {
      for (let i = 0; !/"http"/.test(stdout); i++) {
        if (i > 200 || child.exitCode !== null) throw new Error(`larix serve did not start: ${stdout}`)
        await new Promise(r => setTimeout(r, 50))
      }
      const url = (JSON.parse(stdout.split('\n')[0]) as { http: string }).http
      await git(tmp, 'clone', '--bare', '-q', url, fresh('cli-clone'))
      await new Promise(r => setTimeout(r, 2500)) // the build starts ~1 s after the clone
      const { stderr } = await git(tmp, 'clone', '--bare', '--progress', url, fresh('cli-clone'))
      if (flag.length > 0) assert.match(stderr, /pack-reused 0/)
      else assert.doesNotMatch(stderr, /pack-reused 0/)
    } finally { child.kill('SIGTERM') }
    assert.equal(await new Promise(resolve => child.on('exit', c => resolve(c))), 0)
    const backend = levelBackend(store)
    await backend.open()
    try {
      const m = await backend.objects.clonePacks!.manifest()
      assert.equal(m === undefined, flag.length > 0)
    } finally { await backend.close() }
  }
  // The flag is serve's only.
  const refused = await run(process.execPath, [bin, '--store', fresh('x'), 'log', '--no-clone-pack'], { env: ENV }).then(() => 0, (e: { code?: number }) => e.code)
  assert.notEqual(refused, 0)
})
