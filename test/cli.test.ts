// The `larix` command, run as users run it: `node bin/larix.js` in a child process, on a real level store.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

// This file runs from dist/test/.
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const BIN = join(ROOT, 'bin', 'larix.js')
const ID = /^[0-9a-f]{40}$/

interface Run { code: number | null; stdout: string; stderr: string }

function larix(args: string[], opts: { cwd?: string; input?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = '', stderr = ''
    child.stdout.setEncoding('utf8').on('data', d => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', d => { stderr += d })
    child.on('error', reject)
    child.on('close', code => resolve({ code, stdout, stderr }))
    child.stdin.end(opts.input ?? '')
  })
}

/** A fresh store in a temp directory, and `larix` bound to it with --store. */
async function withStore(fn: (run: (...args: string[]) => Promise<Run>, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'larix-cli-'))
  try {
    await fn((...args) => larix(['--store', join(dir, 'store'), ...args]), dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Run and insist on success; the stdout. */
async function ok(p: Promise<Run>): Promise<string> {
  const r = await p
  assert.equal(r.code, 0, `expected success, got ${r.code}: ${r.stderr}`)
  assert.equal(r.stderr, '')
  return r.stdout
}

/** Run and insist on exit status 1 with the LarixError `code` on stderr and nothing on stdout. */
async function fails(p: Promise<Run>, code: string): Promise<Run> {
  const r = await p
  assert.equal(r.code, 1, `expected exit 1, got ${r.code}: ${r.stdout}${r.stderr}`)
  assert.equal(r.stdout, '')
  assert.match(r.stderr, new RegExp(`^larix: .+ \\(${code}\\)\\n$`))
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
  return r
}

async function usage(p: Promise<Run>, pattern: RegExp): Promise<void> {
  const r = await p
  assert.equal(r.code, 2, `expected exit 2, got ${r.code}: ${r.stdout}${r.stderr}`)
  assert.equal(r.stdout, '')
  assert.match(r.stderr, pattern)
  assert.match(r.stderr, /usage: larix/)
}

const lines = (s: string) => s.split('\n').filter(l => l !== '')
const json = <T = unknown>(s: string): T => JSON.parse(s) as T

interface CommitJson { id: string; parents: string[]; tree: string; info: { message: string; author: string; timestamp: number } }

// Each test has its own store, so they run side by side.
describe('larix command', { concurrency: 4 }, () => {
  test('set and get round trip, in plain text and in JSON', () => withStore(async (run, dir) => {
    const set = await ok(run('set', 'todo/1', '{"title": "milk", "tags": ["a", "b"]}', '-m', 'add milk'))
    assert.match(set, /^\[main [0-9a-f]{40}\] add milk\n$/)
    assert.deepEqual(json(await ok(run('get', 'todo/1'))), { title: 'milk', tags: ['a', 'b'] })
    assert.equal(await ok(run('--json', 'get', 'todo/1')), '{"tags":["a","b"],"title":"milk"}\n')

    // Options after the command, a negative number, a string, null, and a value from stdin.
    const r = json<{ branch: string; commit: CommitJson; changed: boolean }>(await ok(run('set', 'n', '-1', '--json', '--author', 'Ann <ann@example.org>')))
    assert.equal(r.branch, 'main')
    assert.equal(r.changed, true)
    assert.match(r.commit.id, ID)
    assert.equal(r.commit.info.author, 'Ann <ann@example.org>')
    assert.equal(r.commit.info.message, 'set n')
    assert.equal(await ok(run('get', 'n', '--json')), '-1\n')
    await ok(run('set', 'name', '"Ann"'))
    assert.equal(await ok(run('get', 'name')), '"Ann"\n')
    await ok(run('set', 'nothing', 'null'))
    assert.equal(await ok(run('--json', 'get', 'nothing')), 'null\n')
    await ok(larix(['--store', join(dir, 'store'), 'set', 'big', '-'], { input: '{"k": [1, 2, 3]}' }))
    assert.deepEqual(json(await ok(run('--json', 'get', 'big'))), { k: [1, 2, 3] })

    // The same value again commits nothing.
    const head = lines(await ok(run('log', '-n', '1'))).join('').slice(0, 40)
    const again = json<{ changed: boolean; commit: CommitJson }>(await ok(run('--json', 'set', 'n', '-1')))
    assert.equal(again.changed, false)
    assert.equal(again.commit.id, head)
    assert.match(await ok(run('set', 'n', '-1')), /nothing to commit/)
  }))

  test('ls lists directories and values; rm removes them', () => withStore(async run => {
    await ok(run('set', 'todo/1', '1'))
    await ok(run('set', 'todo/2', '2'))
    await ok(run('set', 'todo/deep/x', 'true'))
    await ok(run('set', 'top', '"t"'))
    assert.deepEqual(lines(await ok(run('ls'))), ['todo/', 'top'])
    assert.deepEqual(lines(await ok(run('ls', 'todo'))), ['1', '2', 'deep/'])
    assert.deepEqual(json(await ok(run('--json', 'ls', 'todo'))), [
      { name: '1', kind: 'value' }, { name: '2', kind: 'value' }, { name: 'deep', kind: 'tree' },
    ])
    assert.deepEqual(lines(await ok(run('ls', 'todo/1'))), ['todo/1'])
    await fails(run('ls', 'nope'), 'LARIX_NOT_FOUND')

    assert.match(await ok(run('rm', 'todo/1', '-m', 'done with 1')), /^\[main [0-9a-f]{40}\] done with 1\n$/)
    await fails(run('get', 'todo/1'), 'LARIX_NOT_FOUND')
    await fails(run('rm', 'todo/1'), 'LARIX_NOT_FOUND')
    await ok(run('rm', 'todo'))
    assert.deepEqual(lines(await ok(run('ls'))), ['top'])
  }))

  test('log, with and without a path and a limit', () => withStore(async run => {
    await ok(run('set', 'a', '1', '-m', 'first'))
    await ok(run('set', 'b', '1', '-m', 'second'))
    await ok(run('set', 'a', '2', '-m', 'third\n\nwith a body'))
    const all = lines(await ok(run('log')))
    assert.equal(all.length, 3)
    for (const l of all) assert.match(l, /^[0-9a-f]{40} \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d) \S/)
    assert.deepEqual(all.map(l => l.split(' ').slice(2).join(' ')), ['third', 'second', 'first'])
    const ofA = lines(await ok(run('log', 'a')))
    assert.deepEqual(ofA.map(l => l.split(' ')[2]), ['third', 'first'])
    assert.deepEqual(lines(await ok(run('log', '--limit', '1'))), all.slice(0, 1))
    assert.deepEqual(lines(await ok(run('log', 'b', '-n', '5'))), [all[1]])

    const commits = json<CommitJson[]>(await ok(run('--json', 'log')))
    assert.deepEqual(commits.map(c => c.id), all.map(l => l.slice(0, 40)))
    assert.equal(commits[0].info.message, 'third\n\nwith a body')
    assert.deepEqual(commits[0].parents, [commits[1].id])
    await usage(run('log', '--limit', '0'), /--limit/)
    await usage(run('log', '--limit', 'x'), /--limit/)
    await usage(run('get', 'a', '--limit', '1'), /get does not take --limit/)
  }))

  test('branch and fork make branches that move on their own', () => withStore(async run => {
    await ok(run('set', 'todo/1', '"milk"'))
    assert.deepEqual(lines(await ok(run('branch'))), ['* main'])
    const head = lines(await ok(run('log')))[0].slice(0, 40)
    assert.match(await ok(run('branch', 'feature')), new RegExp(`^Created branch feature at ${head}`))
    await fails(run('branch', 'feature'), 'LARIX_EXISTS')
    await fails(run('branch', 'bad..name'), 'LARIX_BAD_REF')

    await ok(run('--branch', 'feature', 'set', 'todo/2', '"bread"'))
    assert.equal(await ok(run('-b', 'feature', 'get', 'todo/2')), '"bread"\n')
    await fails(run('get', 'todo/2'), 'LARIX_NOT_FOUND')
    assert.deepEqual(lines(await ok(run('branch', '-b', 'feature'))), ['* feature', '  main'])

    await ok(run('fork', 'feature', 'copy'))
    assert.equal(await ok(run('get', 'todo/2', '--branch', 'copy')), '"bread"\n')
    await ok(run('fork', head.slice(0, 8), 'old'))
    await fails(run('get', 'todo/2', '--branch', 'old'), 'LARIX_NOT_FOUND')
    const list = json<{ name: string; head: string; current: boolean }[]>(await ok(run('--json', 'branch')))
    assert.deepEqual(list.map(b => [b.name, b.current]), [['copy', false], ['feature', false], ['main', true], ['old', false]])
    assert.equal(list.find(b => b.name === 'old')!.head, head)
    await fails(run('fork', 'nope', 'x'), 'LARIX_NOT_FOUND')
    // A misspelt --branch is reported, not read as an empty tree.
    const r = await fails(run('--branch', 'featuer', 'ls'), 'LARIX_NOT_FOUND')
    assert.match(r.stderr, /branch featuer not found/)
  }))

  test('reset rolls a branch back; show prints a commit and its changes', () => withStore(async run => {
    await ok(run('set', 'a', '1', '-m', 'a is 1'))
    await ok(run('set', 'b', '{"x": 1}'))
    await ok(run('set', 'a', '2', '-m', 'a is 2'))
    await ok(run('rm', 'b'))
    const [rmB, a2, , a1] = lines(await ok(run('log'))).map(l => l.slice(0, 40))

    const show = lines(await ok(run('show', a2)))
    assert.equal(show[0], `commit ${a2}`)
    assert.ok(show.includes('Author: larix <larix@localhost>'))
    assert.ok(show.includes('    a is 2'))
    assert.equal(show.at(-1), '~ a 1 -> 2')
    assert.equal(lines(await ok(run('show', 'main'))).at(-1), '- b {"x":1}')
    assert.deepEqual(lines(await ok(run('show', a1.slice(0, 7)))).slice(-1), ['+ a 1'], 'a root commit shows what it added')
    const j = json<{ commit: CommitJson; changes: unknown[] }>(await ok(run('--json', 'show', rmB.slice(0, 10))))
    assert.equal(j.commit.id, rmB)
    assert.deepEqual(j.changes, [{ path: 'b', op: 'remove', before: { x: 1 } }])
    await fails(run('show', 'fffffff'), 'LARIX_NOT_FOUND')

    assert.match(await ok(run('reset', a1.slice(0, 12))), new RegExp(`^main is now at ${a1} .* \\(was ${rmB}\\)\\n$`))
    assert.equal(await ok(run('get', 'a')), '1\n')
    await fails(run('get', 'b'), 'LARIX_NOT_FOUND')
    assert.deepEqual(lines(await ok(run('log'))).map(l => l.slice(0, 40)), [a1])
    // Nothing is lost: the newer commit can be reset to again.
    await ok(run('reset', rmB))
    assert.equal(await ok(run('get', 'a')), '2\n')
    await fails(run('reset', 'nope'), 'LARIX_NOT_FOUND')
  }))

  test('expected errors: exit 1 with the code, never a stack trace; as JSON with --json', () => withStore(async run => {
    await ok(run('set', 'a', '1'))
    await fails(run('get', 'a//b'), 'LARIX_BAD_PATH')
    await fails(run('set', '../x', '1'), 'LARIX_BAD_PATH')
    await fails(run('get', 'a/../b'), 'LARIX_BAD_PATH')
    await fails(run('set', 'x', '{"broken"'), 'LARIX_BAD_VALUE')
    const bare = await fails(run('set', 'x', 'hello'), 'LARIX_BAD_VALUE')
    assert.match(bare.stderr, /not valid JSON/)
    assert.match(bare.stderr, /larix set x '"hello"'/, 'a bare word gets the quoting hint')
    await fails(run('set', 'a', '2', '--author', 'nobody'), 'LARIX_BAD_ARGUMENT')

    // A missing key: exit 1, nothing on stdout, in both modes.
    const missing = await fails(run('get', 'nope'), 'LARIX_NOT_FOUND')
    assert.match(missing.stderr, /no value at nope on branch main/)
    const asJson = await run('--json', 'get', 'nope')
    assert.equal(asJson.code, 1)
    assert.equal(asJson.stdout, '')
    assert.deepEqual(json(asJson.stderr), { error: { code: 'LARIX_NOT_FOUND', message: 'no value at nope on branch main' } })
    const bad = await run('get', 'a//b', '--json')
    assert.equal(bad.code, 1)
    assert.equal(json<{ error: { code: string } }>(bad.stderr).error.code, 'LARIX_BAD_PATH')
  }))

  test('bad usage: exit 2 with a usage hint', () => withStore(async run => {
    await usage(run('frobnicate'), /unknown command "frobnicate"/)
    await usage(run('get'), /get needs PATH/)
    await usage(run('set', 'a'), /set needs JSON/)
    await usage(run('get', 'a', 'b'), /too many arguments/)
    await usage(run('--frob', 'ls'), /unknown option --frob/)
    await usage(run('ls', '--store'), /--store needs a value/)
    await usage(run(), /no command/)
    await usage(run('unikernel'), /unikernel is not available/)
    await usage(run('replicate'), /replicate needs URL/)
    const r = await run('--json', 'frobnicate')
    assert.equal(r.code, 2)
    assert.deepEqual(json<{ error: { code: string } }>(r.stderr).error.code, 'LARIX_USAGE')
  }))

  test('help and version', async () => {
    const help = await ok(larix(['--help']))
    for (const cmd of ['init', 'get PATH', 'set PATH JSON', 'rm PATH', 'ls [PATH]', 'log [PATH]', 'branch [NAME]', 'fork FROM TO', 'merge FROM', 'revert COMMIT', 'reset COMMIT', 'show COMMIT', 'tour', '--graph', '--into B', '--no-ff', '--dry-run', '--mainline N']) {
      assert.ok(help.includes(cmd), `help mentions ${cmd}`)
    }
    assert.match(help, /missing key/)
    assert.equal(await ok(larix(['help'])), help)
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
    assert.equal(await ok(larix(['--version'])), `larix ${pkg.version}\n`)
  })

  test('tour runs again and again on the same store', () => withStore(async (run, dir) => {
    const first = await ok(run('tour'))
    assert.match(first, /\$ larix --store \S+ set todo\/1/)
    assert.match(first, /Created branch feature/)
    const second = await ok(run('tour'))
    assert.match(second, /tour run 2/)
    const data = json<{ run: number; branches: Record<string, CommitJson[]> }>(await ok(run('tour', '--json')))
    assert.equal(data.run, 3)
    assert.equal(data.branches.main[0].info.message, 'tour run 3')
    assert.equal(await ok(run('get', 'tour/runs')), '3\n')
    assert.deepEqual(lines(await ok(run('branch'))), ['  feature', '* main'])
    assert.ok(existsSync(join(dir, 'store')))
  }))

  test('the default store is ./.larix in the working directory; reads do not create it', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'larix-cwd-'))
    try {
      const r = await fails(larix(['get', 'a'], { cwd }), 'LARIX_NOT_FOUND')
      assert.match(r.stderr, /no larix store at .*\.larix/)
      await fails(larix(['log'], { cwd }), 'LARIX_NOT_FOUND')
      assert.equal(existsSync(join(cwd, '.larix')), false)
      assert.match(await ok(larix(['init'], { cwd })), /^Initialised an empty larix store in .*\.larix\n$/)
      assert.match(await ok(larix(['init'], { cwd })), /^Reinitialised/)
      assert.deepEqual(lines(await ok(larix(['ls'], { cwd }))), [])
      await ok(larix(['set', 'k', '"v"'], { cwd }))
      assert.equal(await ok(larix(['get', 'k'], { cwd })), '"v"\n')
      assert.ok(existsSync(join(cwd, '.larix')))
      await ok(larix(['tour'], { cwd }))
      await ok(larix(['tour'], { cwd }))
    } finally {
      await rm(cwd, { recursive: true, force: true })
    }
  })
})

test('--backend git: the store is a real Git repository; git reads larix commits and larix reads git commits', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'larix-cli-git-'))
  const store = join(dir, 'repo')
  const run = (...args: string[]) => larix(['--store', store, '--backend', 'git', ...args])
  const git = (...args: string[]) => new Promise<string>((resolve, reject) => {
    const child = spawn('git', ['-C', store, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: dir, GIT_AUTHOR_NAME: 'G', GIT_AUTHOR_EMAIL: 'g@example.org', GIT_COMMITTER_NAME: 'G', GIT_COMMITTER_EMAIL: 'g@example.org' } })
    let out = '', err = ''
    child.stdout.setEncoding('utf8').on('data', d => { out += d })
    child.stderr.setEncoding('utf8').on('data', d => { err += d })
    child.on('close', code => (code === 0 ? resolve(out.trim()) : reject(new Error(`git ${args.join(' ')}: ${err}`))))
  })
  try {
    await ok(run('init'))
    await ok(run('set', 'todo/1', '{"title":"milk"}', '-m', 'add milk'))
    assert.equal(await git('log', '--format=%s', 'main'), 'add milk')
    assert.equal(await git('show', 'main:todo/1'), '{"title":"milk"}')
    await git('fsck', '--strict')
    // A commit made with git (plumbing, on the bare repository) is what larix reads next.
    const blob = await new Promise<string>((resolve, reject) => {
      const child = spawn('git', ['-C', store, 'hash-object', '-w', '--stdin'], { stdio: ['pipe', 'pipe', 'pipe'] })
      let out = ''
      child.stdout.setEncoding('utf8').on('data', d => { out += d })
      child.on('close', code => (code === 0 ? resolve(out.trim()) : reject(new Error('hash-object failed'))))
      child.stdin.end('{"title":"eggs"}')
    })
    const todo = await git('rev-parse', 'main:todo')
    const sub = await new Promise<string>((resolve, reject) => {
      const child = spawn('git', ['-C', store, 'mktree'], { stdio: ['pipe', 'pipe', 'pipe'] })
      let out = ''
      child.stdout.setEncoding('utf8').on('data', d => { out += d })
      child.on('close', code => (code === 0 ? resolve(out.trim()) : reject(new Error('mktree failed'))))
      git('ls-tree', todo).then(lines => child.stdin.end(`${lines}\n100644 blob ${blob}\t2\n`), reject)
    })
    const root = await new Promise<string>((resolve, reject) => {
      const child = spawn('git', ['-C', store, 'mktree'], { stdio: ['pipe', 'pipe', 'pipe'] })
      let out = ''
      child.stdout.setEncoding('utf8').on('data', d => { out += d })
      child.on('close', code => (code === 0 ? resolve(out.trim()) : reject(new Error('mktree failed'))))
      child.stdin.end(`040000 tree ${sub}\ttodo\n`)
    })
    const commit = await git('commit-tree', root, '-p', 'main', '-m', 'from git')
    await git('update-ref', 'refs/heads/main', commit)
    assert.deepEqual(JSON.parse(await ok(run('--json', 'get', 'todo/2'))), { title: 'eggs' })
    assert.match(await ok(run('log')), /from git[\s\S]*add milk/)
    const bad = await larix(['--store', store, '--backend', 'svn', 'ls'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /--backend is level .* or git/)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
