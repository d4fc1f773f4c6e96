// Two `larix serve` processes on 127.0.0.1, A started with --peer B: writes through A's JSON API reach B, and
// the real `git` CLI clones from and pushes to both replicas over HTTP while replication runs; the pushed
// commits travel to the other replica too. SIGTERM stops both cleanly.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const tmp = mkdtempSync(join(tmpdir(), 'larix-interop-'))
test.after(() => rmSync(tmp, { recursive: true, force: true }))
const bin = join(process.cwd(), 'bin', 'larix.js')
const ENV = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: tmp, GIT_AUTHOR_NAME: 'Git User', GIT_AUTHOR_EMAIL: 'git@example.org', GIT_COMMITTER_NAME: 'Git User', GIT_COMMITTER_EMAIL: 'git@example.org' }

function git(cwd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => execFile('git', args, { cwd, env: ENV }, (err, out, errOut) => (err ? reject(new Error(`git ${args.join(' ')}: ${errOut}`)) : resolve(out.trim()))))
}

interface Replica { child: ChildProcess; url: string; stdout: () => string; stderr: () => string }

async function serve(store: string, extra: string[]): Promise<Replica> {
  const child = spawn(process.execPath, [bin, '--store', store, 'serve', '--http', '0', ...extra], { stdio: ['ignore', 'pipe', 'pipe'], env: ENV })
  let out = '', err = ''
  child.stdout!.on('data', c => { out += c })
  child.stderr!.on('data', c => { err += c })
  for (let i = 0; !out.includes('Ctrl-C stops it.'); i++) {
    if (i > 300 || child.exitCode !== null) { child.kill('SIGKILL'); throw new Error(`larix serve did not start: ${out} ${err}`) }
    await new Promise(r => setTimeout(r, 50))
  }
  return { child, url: /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)![1]!, stdout: () => out, stderr: () => err }
}

async function stop(r: Replica): Promise<number | null> {
  if (r.child.exitCode !== null) return r.child.exitCode
  const exited = new Promise<number | null>(resolve => r.child.on('exit', c => resolve(c)))
  r.child.kill('SIGTERM')
  return exited
}

/** Poll `url`'s JSON API until `path` on main holds `value` (replication is asynchronous). */
async function eventually(url: string, path: string, value: unknown, what: string): Promise<void> {
  let last: unknown
  for (let i = 0; i < 200; i++) {
    const res = await fetch(`${url}api/v1/branches/main/tree/${path}`)
    if (res.status === 200) {
      last = ((await res.json()) as { value: unknown }).value
      if (JSON.stringify(last) === JSON.stringify(value)) return
    } else await res.body?.cancel()
    await new Promise(r => setTimeout(r, 50))
  }
  assert.fail(`${what}: ${path} on ${url} is ${JSON.stringify(last)}, expected ${JSON.stringify(value)}`)
}

test('replicas: serve --peer replicates both ways while the git CLI clones and pushes over HTTP', async () => {
  const b = await serve(join(tmp, 'b'), [])
  let a: Replica | undefined
  try {
    a = await serve(join(tmp, 'a'), ['--peer', b.url])
    assert.match(a.stdout(), /replicating with http:\/\/127\.0\.0\.1/)
    // A write on A, through the API, shows up on B.
    const put = await fetch(`${a.url}api/v1/branches/main/tree/todo/1`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ value: { title: 'milk' } }) })
    assert.equal(put.status, 200, await put.clone().text())
    await eventually(b.url, 'todo/1', { title: 'milk' }, 'A → B')
    // A write on B travels back to A (B has no --peer: A hears of it through B's watch channel).
    const putB = await fetch(`${b.url}api/v1/branches/main/tree/todo/2`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ value: { title: 'eggs' } }) })
    assert.equal(putB.status, 200)
    await eventually(a.url, 'todo/2', { title: 'eggs' }, 'B → A')

    // git clone from A, commit, push to A: the commit reaches B.
    const work = join(tmp, 'work')
    await git(tmp, ['clone', '--quiet', a.url, work])
    writeFileSync(join(work, 'todo', '3'), JSON.stringify({ title: 'bread' }))
    await git(work, ['add', '-A'])
    await git(work, ['commit', '-q', '-m', 'from git'])
    await git(work, ['push', '--quiet', 'origin', 'HEAD:main'])
    await eventually(b.url, 'todo/3', { title: 'bread' }, 'git push to A → B')

    // And pushing to B reaches A, while replication keeps running: fetch B's head first (it may have moved).
    await git(work, ['pull', '--quiet', '--no-rebase', b.url, 'main'])
    writeFileSync(join(work, 'todo', '4'), JSON.stringify({ title: 'tea' }))
    await git(work, ['add', '-A'])
    await git(work, ['commit', '-q', '-m', 'from git, to B'])
    await git(work, ['push', '--quiet', b.url, 'HEAD:main'])
    await eventually(a.url, 'todo/4', { title: 'tea' }, 'git push to B → A')

    // Both replicas end on the same head, and a fresh git clone of each has every file.
    let heads: string[] = []
    for (let i = 0; i < 100; i++) {
      heads = await Promise.all([a.url, b.url].map(async u => ((await (await fetch(`${u}api/v1/branches`)).json()) as { branches: { name: string; head: string }[] }).branches.find(x => x.name === 'main')!.head))
      if (heads[0] === heads[1]) break
      await new Promise(r => setTimeout(r, 50))
    }
    assert.equal(heads[0], heads[1])
    for (const u of [a.url, b.url]) {
      const dir = mkdtempSync(join(tmp, 'clone-'))
      await git(tmp, ['clone', '--quiet', u, dir])
      assert.equal(await git(dir, ['rev-parse', 'HEAD']), heads[0])
      assert.equal(await git(dir, ['ls-files']), ['todo/1', 'todo/2', 'todo/3', 'todo/4'].join('\n'))
      await git(dir, ['fsck', '--strict'])
    }
  } finally {
    const codes = [a ? await stop(a) : 0, await stop(b)]
    assert.deepEqual(codes, [0, 0], `${a?.stderr().slice(-2000)} ${b.stderr().slice(-2000)}`)
  }
})
