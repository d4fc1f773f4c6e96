// `larix merge`, `larix revert` and `larix log --graph`: the commands in child processes on real level
// stores (as test/cli.test.ts runs them), and the graph layout on its own, checked against hand-drawn
// shapes and, on random histories, by tracing every drawn line back to the commit it leaves.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { graphOrder, graphRows, simplify } from '../src/cli/graph.js'
import type { GraphNode, GraphRow } from '../src/cli/graph.js'

// This file runs from dist/test/.
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const BIN = join(ROOT, 'bin', 'larix.js')
const ID = /^[0-9a-f]{40}$/

interface Run { code: number | null; stdout: string; stderr: string }

function larix(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = '', stderr = ''
    child.stdout.setEncoding('utf8').on('data', d => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', d => { stderr += d })
    child.on('error', reject)
    child.on('close', code => resolve({ code, stdout, stderr }))
  })
}

type Larix = (...args: string[]) => Promise<Run>

async function withStore(fn: (run: Larix) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'larix-cli-merge-'))
  try {
    await fn((...args) => larix(['--store', join(dir, 'store'), ...args]))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

async function ok(p: Promise<Run>): Promise<string> {
  const r = await p
  assert.equal(r.code, 0, `expected success, got ${r.code}: ${r.stdout}${r.stderr}`)
  assert.equal(r.stderr, '')
  return r.stdout
}

/** Exit status 1 with the conflict report on stdout (merge: a conflict is an outcome, not an error). */
async function conflicted(p: Promise<Run>): Promise<string> {
  const r = await p
  assert.equal(r.code, 1, `expected exit 1, got ${r.code}: ${r.stdout}${r.stderr}`)
  assert.equal(r.stderr, '')
  return r.stdout
}

const lines = (s: string) => s.split('\n').filter(l => l !== '')
const json = <T = unknown>(s: string): T => JSON.parse(s) as T
const head = async (run: Larix, branch = 'main') => lines(await ok(run('log', '-n', '1', '--branch', branch)))[0].slice(0, 40)
/** The id of the commit a `set --json` made. */
const made = async (p: Promise<Run>) => json<{ commit: CommitJson }>(await ok(p)).commit.id

interface CommitJson { id: string; parents: string[]; info: { message: string } }
interface MergeJson { status: string; commit?: CommitJson; conflicts?: { path: string; base?: unknown; ours?: unknown; theirs?: unknown; reason: string }[] }

/** The graph with each commit's id taken out: `*   (main) subject`. */
const shape = (out: string) => lines(out).map(l => l.replace(/[0-9a-f]{12} /, ''))

describe('larix merge, revert, log --graph', { concurrency: 4 }, () => {
  test('merge: fast-forward, up to date, a merge commit, --no-ff, --into, as text and JSON', () => withStore(async run => {
    const base = await made(run('set', 'a', '1', '-m', 'base', '--json'))
    await ok(run('branch', 'feature'))
    const b1 = await made(run('-b', 'feature', 'set', 'b', '1', '-m', 'b1', '--json'))

    assert.equal(await ok(run('merge', 'feature')), `Fast-forward to ${b1} (main was ${base})\n`)
    assert.equal(await head(run), b1)
    assert.equal(await ok(run('merge', 'feature')), 'Already up to date: main already has every commit of feature\n')
    assert.equal(json<MergeJson>(await ok(run('--json', 'merge', 'feature'))).status, 'up-to-date')

    await ok(run('-b', 'feature', 'set', 'b', '2', '-m', 'b2'))
    await ok(run('set', 'c', '1', '-m', 'c1'))
    const merged = await ok(run('merge', 'feature', '-m', 'bring b2'))
    const m = /^Merged feature into main: ([0-9a-f]{40})\n$/.exec(merged)
    assert.ok(m, merged)
    const commit = json<{ commit: CommitJson }>(await ok(run('--json', 'show', 'main'))).commit
    assert.equal(commit.id, m[1])
    assert.equal(commit.info.message, 'bring b2')
    assert.deepEqual(commit.parents.length, 2)
    assert.equal(await ok(run('get', 'b')), '2\n')
    assert.equal(await ok(run('get', 'c')), '1\n')

    // --into merges into another branch than --branch; --no-ff makes a merge commit where a fast-forward would do.
    await ok(run('fork', 'main', 'release'))
    const d1 = await made(run('set', 'd', '1', '-m', 'd1', '--json'))
    const r = json<MergeJson>(await ok(run('merge', 'main', '--into', 'release', '--no-ff', '--json')))
    assert.equal(r.status, 'merged')
    assert.equal(r.commit!.info.message, 'Merge main into release')
    assert.deepEqual(r.commit!.parents, [m[1], d1])
    assert.equal(await head(run, 'release'), r.commit!.id)
    assert.equal(await ok(run('get', 'd', '--branch', 'release')), '1\n')

    // A commit id merges as well as a branch; a missing FROM or branch is LARIX_NOT_FOUND.
    const e1 = await made(run('-b', 'feature', 'set', 'e', '1', '--json'))
    assert.match(await ok(run('merge', e1.slice(0, 10), '--into', 'release')), new RegExp(`^Merged ${e1.slice(0, 10)} into release: [0-9a-f]{40}\\n$`))
    const missing = await run('merge', 'nope')
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /^larix: branch or commit nope not found \(LARIX_NOT_FOUND\)\n$/)
    const noBranch = await run('merge', 'feature', '--into', 'nope')
    assert.equal(noBranch.code, 1)
    assert.match(noBranch.stderr, /branch nope not found \(branches: feature, main, release\)/)
    const usage = await run('merge', 'feature', '--mainline', '1')
    assert.equal(usage.code, 2)
    assert.match(usage.stderr, /merge does not take --mainline/)
  }))

  test('merge conflicts: exit 1, each path with base, ours and theirs; --dry-run changes nothing', () => withStore(async run => {
    await ok(run('set', 'todo/1', '{"title": "milk", "done": false}', '-m', 'base'))
    await ok(run('set', 'keep', '1'))
    await ok(run('set', 'gone', '"x"'))
    await ok(run('branch', 'feature'))
    await ok(run('set', 'todo/1', '{"title": "oat milk", "done": false}'))
    await ok(run('set', 'gone', '"changed"'))
    await ok(run('set', 'shape', '{"k": 1}'))
    const mainBefore = await made(run('set', 'only-main', 'true', '--json'))
    await ok(run('-b', 'feature', 'set', 'todo/1', '{"title": "soy milk", "done": true}'))
    await ok(run('-b', 'feature', 'rm', 'gone'))
    const featureBefore = await made(run('-b', 'feature', 'set', 'shape/inner', '2', '--json'))

    const dry = await conflicted(run('merge', 'feature', '--dry-run'))
    const text = await conflicted(run('merge', 'feature'))
    assert.equal(await head(run), mainBefore, 'a conflict leaves the branch where it was')
    assert.equal(await head(run, 'feature'), featureBefore)
    await assert.rejects(ok(run('get', 'shape/inner')))

    const out = lines(text)
    assert.equal(out[0], 'Merge of feature into main stopped on 3 conflicts (ours: main, theirs: feature); main is unchanged')
    const at = (path: string) => out.slice(out.findIndex(l => l.startsWith(`CONFLICT ${path}: `)), out.findIndex(l => l.startsWith(`CONFLICT ${path}: `)) + 4)
    assert.deepEqual(at('gone'), ['CONFLICT gone: theirs deleted the value while the other side changed it', '  base:   "x"', '  ours:   "changed"', '  theirs: (absent)'])
    assert.deepEqual(at('shape').slice(1), ['  base:   (absent)', '  ours:   {"k":1}', at('shape')[3]])
    assert.match(at('shape')[0], /^CONFLICT shape: ours has a value where theirs has a directory$/)
    assert.match(at('shape')[3], /^ {2}theirs: \(directory [0-9a-f]{40}\)$/)
    const todo = at('todo/1')
    assert.match(todo[0], /^CONFLICT todo\/1: both sides changed/)
    assert.deepEqual(todo.slice(1), ['  base:   {"done":false,"title":"milk"}', '  ours:   {"done":false,"title":"oat milk"}', '  theirs: {"done":true,"title":"soy milk"}'])
    assert.match(out.at(-1)!, /^Then run: larix --store \S+ merge feature$/)
    assert.ok(out.some(l => /keep theirs: larix --store \S+ --branch main set PATH JSON/.test(l)))
    assert.ok(out.some(l => /keep ours: +larix --store \S+ --branch feature set PATH JSON/.test(l)))

    const dryOut = lines(dry)
    assert.equal(dryOut[0], 'Dry run: merging feature into main would stop on 3 conflicts (ours: main, theirs: feature); nothing changed')
    assert.deepEqual(dryOut.slice(1), out.slice(1))

    const r = await run('--json', 'merge', 'feature')
    assert.equal(r.code, 1)
    assert.equal(r.stderr, '')
    const result = json<MergeJson>(r.stdout)
    assert.equal(result.status, 'conflict')
    assert.deepEqual(result.conflicts!.map(c => c.path).sort(), ['gone', 'shape', 'todo/1'])
    assert.deepEqual(result.conflicts!.find(c => c.path === 'gone'), { path: 'gone', base: 'x', ours: 'changed', reason: 'theirs deleted the value while the other side changed it', sides: { base: 'value', ours: 'value', theirs: 'absent' } })

    // Resolve as the advice says: keep theirs for todo/1 and gone on main, ours for shape on feature.
    await ok(run('set', 'todo/1', '{"title": "soy milk", "done": true}'))
    await ok(run('rm', 'gone'))
    await ok(run('-b', 'feature', 'set', 'shape', '{"k": 1}'))
    assert.match(await ok(run('merge', 'feature')), /^Merged feature into main: /)
    assert.deepEqual(json(await ok(run('get', 'todo/1'))), { title: 'soy milk', done: true })
    assert.equal(await ok(run('get', 'only-main')), 'true\n')
  }))

  test('merge --dry-run moves no branch, whatever the outcome', () => withStore(async run => {
    const main = await made(run('set', 'a', '1', '--json'))
    await ok(run('branch', 'ahead'))
    const ahead = await made(run('-b', 'ahead', 'set', 'b', '1', '--json'))
    assert.equal(await ok(run('merge', 'ahead', '--dry-run')), `Dry run: would fast-forward main to ${ahead}; nothing changed (main stays at ${main})\n`)
    assert.deepEqual(json<MergeJson>(await ok(run('merge', 'ahead', '--dry-run', '--json'))).status, 'fast-forward')
    const main2 = await made(run('set', 'c', '1', '--json'))
    assert.equal(await ok(run('merge', 'ahead', '--dry-run')), `Dry run: ahead would merge into main without conflicts; nothing changed (main stays at ${main2})\n`)
    assert.equal(json<MergeJson>(await ok(run('--json', 'merge', 'ahead', '--dry-run'))).status, 'merged')
    assert.equal(await head(run), main2)
    assert.equal(await head(run, 'ahead'), ahead)
    await assert.rejects(ok(run('get', 'b')))
  }))

  test('revert: undoes one commit; a merge needs --mainline; conflicts are listed on stderr', () => withStore(async run => {
    await ok(run('set', 'a', '1', '-m', 'a is 1'))
    const b1 = await made(run('set', 'b', '1', '-m', 'b is 1', '--json'))
    await ok(run('set', 'c', '1', '-m', 'c is 1'))
    const out = await ok(run('revert', b1))
    assert.match(out, /^\[main [0-9a-f]{40}\] Revert "b is 1"\n$/)
    const commit = json<{ commit: CommitJson }>(await ok(run('--json', 'show', 'main'))).commit
    assert.equal(commit.info.message, `Revert "b is 1"\n\nThis reverts commit ${b1}.`)
    assert.deepEqual(lines(await ok(run('ls'))), ['a', 'c'])
    assert.match(await ok(run('revert', b1)), /^Nothing to revert: main already has none of the changes of [0-9a-f]{40}; nothing to commit\n$/)

    // A merge commit: without --mainline an error; with it, the other side's changes are undone.
    await ok(run('branch', 'feature'))
    await ok(run('-b', 'feature', 'set', 'f', '1', '-m', 'f'))
    await ok(run('set', 'm', '1', '-m', 'm'))
    const merge = /([0-9a-f]{40})/.exec(await ok(run('merge', 'feature')))![1]
    const r = await run('revert', merge)
    assert.equal(r.code, 1)
    assert.equal(r.stdout, '')
    assert.match(r.stderr, new RegExp(`^larix: commit ${merge} is a merge: pass --mainline N .*\\(LARIX_BAD_ARGUMENT\\)\\n$`))
    const j = json<{ branch: string; commit: CommitJson; changed: boolean }>(await ok(run('--json', 'revert', merge, '--mainline', '1', '-m', 'undo feature')))
    assert.equal(j.changed, true)
    assert.equal(j.commit.info.message, 'undo feature')
    assert.deepEqual(lines(await ok(run('ls'))), ['a', 'c', 'm'])
    const bad = await run('revert', merge, '--mainline', 'x')
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /--mainline takes a parent number/)

    // A later commit changed the same value: LARIX_CONFLICT with the conflict listed.
    const a2 = await made(run('set', 'a', '2', '-m', 'a is 2', '--json'))
    const before = await made(run('set', 'a', '3', '-m', 'a is 3', '--json'))
    const c = await run('revert', a2)
    assert.equal(c.code, 1)
    assert.equal(c.stdout, '')
    const err = lines(c.stderr)
    assert.match(err[0], new RegExp(`^larix: cannot revert ${a2}: .*\\(a\\) \\(LARIX_CONFLICT\\)$`))
    assert.deepEqual(err.slice(2, 6), ['CONFLICT a: both sides changed the value', '  base:   2', '  ours:   3', '  theirs: 1'])
    assert.match(err.at(-1)!, new RegExp(`revert ${a2} again`))
    const cj = await run('revert', a2, '--json')
    assert.equal(cj.code, 1)
    assert.equal(cj.stdout, '')
    const e = json<{ error: { code: string; conflicts: unknown[] } }>(cj.stderr).error
    assert.equal(e.code, 'LARIX_CONFLICT')
    assert.deepEqual(e.conflicts, [{ path: 'a', base: 2, ours: 3, theirs: 1, reason: 'both sides changed the value', sides: { base: 'value', ours: 'value', theirs: 'value' } }])
    assert.equal(await head(run), before)
  }))

  test('log --graph draws two merges as git log --graph --oneline does', () => withStore(async run => {
    await ok(run('set', 'a', '1', '-m', 'base'))
    await ok(run('branch', 'feature'))
    await ok(run('-b', 'feature', 'set', 'b', '1', '-m', 'b1'))
    await ok(run('set', 'a', '2', '-m', 'a2'))
    await ok(run('merge', 'feature', '-m', 'merge 1'))
    await ok(run('-b', 'feature', 'set', 'b', '2', '-m', 'b2'))
    await ok(run('set', 'c', '1', '-m', 'c1'))
    await ok(run('merge', 'feature', '-m', 'merge 2'))
    const graph = await ok(run('log', '--graph'))
    assert.deepEqual(shape(graph), [
      '*   (main) merge 2',
      '|\\',
      '| * (feature) b2',
      '* | c1',
      '* | merge 1',
      '|\\|',
      '| * b1',
      '* | a2',
      '|/',
      '* base',
    ])
    // Each commit line carries a short id that larix accepts: the one log prints in full.
    const all = json<CommitJson[]>(await ok(run('--json', 'log')))
    for (const l of lines(graph)) {
      const short = /[0-9a-f]{12}/.exec(l)?.[0]
      if (short) assert.ok(all.some(c => c.id.startsWith(short)), l)
    }
    assert.equal(await ok(run('--json', 'log', '--graph')), JSON.stringify(all) + '\n', '--json ignores --graph')
    assert.deepEqual(shape(await ok(run('log', '--graph', '-n', '3'))), ['*   (main) merge 2', '|\\', '| * (feature) b2', '* | c1'])
    assert.deepEqual(shape(await ok(run('log', '--graph', 'b'))), ['* (feature) b2', '* b1'])
    assert.deepEqual(shape(await ok(run('log', '--graph', 'a'))), ['* a2', '* base'])
    assert.deepEqual(shape(await ok(run('log', '--graph', '--branch', 'feature'))), ['* (feature) b2', '* b1', '* base'])
    assert.equal(lines(await ok(run('log'))).length, 7, 'plain log is unchanged')
  }))

  test('log --graph on a criss-cross merge; the merge after it uses both bases', () => withStore(async run => {
    await ok(run('set', 'o', '0', '-m', 'O'))
    await ok(run('branch', 'feature'))
    const a1 = await made(run('set', 'a', '1', '-m', 'A1', '--json'))
    await ok(run('-b', 'feature', 'set', 'b', '1', '-m', 'B1'))
    await ok(run('merge', 'feature', '-m', 'M1'))
    await ok(run('merge', a1, '--into', 'feature', '-m', 'M2'))
    await ok(run('set', 'a', '2', '-m', 'A2'))
    await ok(run('-b', 'feature', 'set', 'b', '2', '-m', 'B2'))
    await ok(run('merge', 'feature', '-m', 'M3'))
    assert.deepEqual(json(await ok(run('--json', 'ls'))), ['a', 'b', 'o'].map(name => ({ name, kind: 'value' })))
    assert.equal(await ok(run('get', 'a')), '2\n')
    assert.equal(await ok(run('get', 'b')), '2\n')
    assert.deepEqual(shape(await ok(run('log', '--graph'))), [
      '*   (main) M3',
      '|\\',
      '| * (feature) B2',
      '| *   M2',
      '| |\\',
      '* | | A2',
      '* | | M1',
      '|\\| |',
      '| |/',
      '|/|',
      '| * B1',
      '* | A1',
      '|/',
      '* O',
    ])
  }))
})

/** Lines drawn for hand-made histories, newest first: `{ id, parents }` in the order given. */
function draw(nodes: GraphNode[], tips = [nodes[0].id]): string[] {
  return graphRows(graphOrder(nodes, tips)).map(r => (r.graph + (r.commit ?? '')).trimEnd())
}

const n = (id: string, ...parents: string[]): GraphNode => ({ id, parents })

describe('the graph layout', () => {
  test('branches that meet, an octopus merge, a root in the middle', () => {
    // Two branches forked from one commit and both merged into main.
    assert.deepEqual(draw([n('M', 'x', 'y', 'z'), n('x', 'o'), n('y', 'o'), n('z', 'o'), n('o')]), [
      '*-.   M', '|\\ \\', '| | * z', '| * | y', '| |/', '* | x', '|/', '* o',
    ])
    // An octopus with a lane to its right moves it out of the way first.
    assert.deepEqual(draw([n('top', 'X', 'A'), n('X', 'p', 'q', 'r'), n('p', 'z'), n('q', 'z'), n('r', 'z'), n('A', 'z'), n('z')]), [
      '*   top', '|\\', '| * A', '|  \\', '*-. |   X', '|\\ \\ \\', '| | * | r', '| | |/', '| * | q', '| |/', '* | p', '|/', '* z',
    ])
    // Unrelated histories: a new tip right under a root commit is set apart, so it does not look like its parent.
    assert.deepEqual(draw([n('b2', 'b1'), n('b1'), n('a1')], ['b2', 'a1']), ['* b2', '* b1', '', '* a1'])
  })

  test('random histories: every edge drawn, no line that leads nowhere, nothing stray', () => {
    let seed = 20240501
    const rand = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 }
    for (let t = 0; t < 400; t++) {
      const size = 2 + Math.floor(rand() * 30)
      const nodes: GraphNode[] = []
      for (let i = 0; i < size; i++) {
        const parents: string[] = []
        if (i > 0 && rand() > 0.05) {
          const k = rand() < 0.7 ? 1 : rand() < 0.85 ? 2 : 3 + Math.floor(rand() * 2)
          for (let j = 0; j < k; j++) parents.push('c' + Math.max(0, i - 1 - Math.floor(rand() * rand() * Math.min(i, 12))))
        }
        nodes.push({ id: 'c' + i, parents })
      }
      nodes.reverse()
      const hasChild = new Set(nodes.flatMap(x => x.parents))
      const tips = nodes.filter(x => !hasChild.has(x.id)).map(x => x.id)
      const order = graphOrder(nodes, tips)
      assert.equal(order.length, nodes.length)
      const seen = new Set<string>()
      for (const x of order) {
        for (const p of x.parents) assert.ok(!seen.has(p), 'every commit before its parents')
        seen.add(x.id)
      }
      traceCheck(order, graphRows(order))
      traceCheck(order, graphRows(order, 1 + Math.floor(rand() * size)))
      const keep = new Set(nodes.filter(() => rand() < 0.4).map(x => x.id))
      const s = simplify(nodes, tips, keep)
      const sorder = graphOrder(s.nodes, s.tips)
      assert.equal(sorder.length, keep.size)
      traceCheck(sorder, graphRows(sorder))
    }
  })
})

/**
 * Follow every line down from each commit's `*`: a line at lane x continues below as `|` or `*` at 2x,
 * `/` at 2x-1 or `\` at 2x+1. Each parent must be reached, no line may stop short of a commit (unless the
 * graph was cut by a limit), and every character drawn must lie on such a line.
 */
function traceCheck(order: readonly GraphNode[], rows: readonly GraphRow[]): void {
  const g = rows.map(r => r.graph)
  const commitRows = rows.flatMap((r, i) => (r.commit === undefined ? [] : [[r.commit, i] as const]))
  const complete = commitRows.length === order.length
  assert.deepEqual(commitRows.map(([c]) => c), order.slice(0, commitRows.length).map(x => x.id))
  const byId = new Map(order.map(x => [x.id, x]))
  const shown = new Set(commitRows.map(([c]) => c))
  const visited = g.map(s => new Array<boolean>(s.length).fill(false))
  const picture = () => rows.map(r => r.graph + (r.commit ?? '')).join('\n')
  for (const s of g) assert.match(s, /^[*|/\\\-. ]*$/)
  for (const [id, r] of commitRows) {
    const s = g[r]
    const star = s.indexOf('*')
    assert.ok(star >= 0 && star % 2 === 0 && s.indexOf('*', star + 1) < 0, `one * on an even column: ${s}`)
    visited[r][star] = true
    const starts = byId.get(id)!.parents.length ? [star / 2] : []
    for (let c = star + 1; c < s.length && (s[c] === '-' || s[c] === '.'); c++) {
      visited[r][c] = true
      if (c % 2 === 0) starts.push(c / 2)
    }
    const reached = new Set<string>()
    const done = new Set<string>()
    const stack = starts.map(x => [r, x] as [number, number])
    while (stack.length) {
      const [row, lane] = stack.pop()!
      if (done.has(`${row},${lane}`)) continue
      done.add(`${row},${lane}`)
      if (row + 1 >= g.length) {
        assert.ok(!complete, `a line from ${id} runs off the bottom\n${picture()}`)
        continue
      }
      const below = g[row + 1]
      let next = false
      if (below[2 * lane] === '*') { reached.add(rows[row + 1].commit!); visited[row + 1][2 * lane] = true; next = true }
      else if (below[2 * lane] === '|') { visited[row + 1][2 * lane] = true; stack.push([row + 1, lane]); next = true }
      if (lane > 0 && below[2 * lane - 1] === '/') { visited[row + 1][2 * lane - 1] = true; stack.push([row + 1, lane - 1]); next = true }
      if (below[2 * lane + 1] === '\\') { visited[row + 1][2 * lane + 1] = true; stack.push([row + 1, lane + 1]); next = true }
      assert.ok(next, `a line from ${id} stops at row ${row + 1}\n${picture()}`)
    }
    for (const p of byId.get(id)!.parents) if (shown.has(p)) assert.ok(reached.has(p), `edge ${id} -> ${p} drawn\n${picture()}`)
  }
  g.forEach((s, r) => [...s].forEach((ch, c) => assert.ok(ch === ' ' || visited[r][c], `stray ${ch} at ${r}:${c}\n${picture()}`)))
}
