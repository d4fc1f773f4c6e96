// `npm run bench`: larix against isomorphic-git and native git, measured side by side in one run.
//   node dist/bench/run.js [--quick] [--runs N] [--markdown]      (or LARIX_BENCH_RUNS=N)
// Prints the table to stdout (progress to stderr) and writes every figure to dist/bench-results.json.
import { mkdir, writeFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { makeDataSet } from './data.js'
import type { DataSet } from './data.js'
import { gitRun } from './git.js'
import type { GitRun } from './git.js'
import { isoRun } from './isogit.js'
import type { IsoRun } from './isogit.js'
import { larixRun } from './larix.js'
import { mergeBench, mergeTable } from './merge.js'
import { replicationBench, replicationTable } from './replicate.js'
import { cloneBench, cloneTable } from './clone.js'
import type { LarixRun } from './larix.js'
import { cleanup, cleanupAll, git, tempDir } from './measure.js'
import { machine, summarise, table } from './report.js'
import type { Row } from './report.js'

const { values: args } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, runs: { type: 'string' }, markdown: { type: 'boolean', default: false } },
})
const runs = Number(args.runs ?? process.env.LARIX_BENCH_RUNS ?? (args.quick ? 1 : 5))
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs / LARIX_BENCH_RUNS must be a whole number >= 1, got ${args.runs ?? process.env.LARIX_BENCH_RUNS}`)
/** isomorphic-git's bounded samples for rows 2 and 3 (extrapolated to per-second figures). */
const ISO_SAMPLE = { commits: 100, reads: 500 }

const log = (s: string) => process.stderr.write(s + '\n')

interface RunFigures { larix: LarixRun; git: GitRun; gitDefaults: GitRun; iso: IsoRun; larixGit: LarixRun }

async function once(ds: DataSet, home: string, order: number): Promise<RunFigures> {
  const out: Partial<RunFigures> = {}
  const steps: [keyof RunFigures, () => Promise<void>][] = [
    ['larix', async () => { const d = await tempDir('larix'); out.larix = await larixRun(ds, d); await cleanup(d) }],
    ['git', async () => { const d = await tempDir('git'); out.git = await gitRun(ds, d, home, 'tuned'); await cleanup(d) }],
    ['gitDefaults', async () => { const d = await tempDir('git'); out.gitDefaults = await gitRun(ds, d, home, 'defaults'); await cleanup(d) }],
    ['larixGit', async () => { const d = await tempDir('larix-git'); out.larixGit = await larixRun(ds, d, 'git'); await cleanup(d) }],
    ['iso', async () => { const d = await tempDir('isogit'); out.iso = await isoRun(ds, d, ISO_SAMPLE); await cleanup(d) }],
  ]
  // Rotate the order from run to run, so no peer always runs right after another's garbage.
  for (let k = 0; k < steps.length; k++) {
    const [name, step] = steps[(k + order) % steps.length]
    await step()
    log(`    ${name} done`)
  }
  return out as RunFigures
}

/** The peers must have stored the same trees and written the same objects: a fast wrong answer is no answer. */
function check(ds: DataSet, f: RunFigures): void {
  const fail = (m: string) => { throw new Error(`consistency check failed: ${m}`) }
  for (const [name, n] of [['larix', f.larix.importObjects], ['git', f.git.importObjects], ['isomorphic-git', f.iso.importObjects]] as const) {
    if (n !== ds.importObjects) fail(`${name} wrote ${n} objects in the import, expected ${ds.importObjects}`)
  }
  if (f.larix.importTree !== f.git.importTree || f.iso.importTree !== f.git.importTree) {
    fail(`imported trees differ: larix ${f.larix.importTree}, git ${f.git.importTree}, isomorphic-git ${f.iso.importTree}`)
  }
  if (f.larix.headTree !== f.git.headTree) fail(`trees after the commits differ: larix ${f.larix.headTree}, git ${f.git.headTree}`)
  if (f.larix.commitObjects !== f.git.commitObjects) fail(`the commits wrote ${f.larix.commitObjects} objects in larix, ${f.git.commitObjects} in git`)
  // Row 8: larix on gitBackend must store exactly what it stores on level.
  const g = f.larixGit
  if (g.importObjects !== ds.importObjects || g.importTree !== f.git.importTree || g.headTree !== f.git.headTree || g.commitObjects !== f.git.commitObjects) {
    fail(`larix on gitBackend: ${g.importObjects} + ${g.commitObjects} objects, trees ${g.importTree} ${g.headTree}; git: ${f.git.importObjects} + ${f.git.commitObjects}, ${f.git.importTree} ${f.git.headTree}`)
  }
}

async function main(): Promise<void> {
  const home = await tempDir('home')
  const gitVersion = (await git(['--version'], home, home)).replace(/^git version /, '')
  const checkout = fileURLToPath(new URL('../..', import.meta.url))
  const source = await git(['-C', checkout, 'describe', '--always', '--dirty'], home, home).catch(() => 'unknown')
  const m = machine(gitVersion, source)
  const ds = makeDataSet()
  const K = ds.paths.length, C = ds.updates.length
  log(`larix bench: ${runs} run(s), ${K} keys, ${C} commits; ${m.cpus} × ${m.cpu}, node ${m.node}, git ${m.git}, larix ${m.source}`)
  if (m.load > 0.5) log(`  note: load average ${m.load.toFixed(2)}: other work is running, figures will be noisy`)

  // Warm the JIT for the two JavaScript peers on a small data set, so run 1 is not mostly compilation.
  log('  warm-up')
  const small = makeDataSet({ keys: 1000, commits: 100, seed: 7 })
  { const d = await tempDir('warm'); await larixRun(small, d); await cleanup(d) }
  { const d = await tempDir('warm'); await isoRun(small, d, { commits: 20, reads: 100 }); await cleanup(d) }

  const all: RunFigures[] = []
  for (let r = 0; r < runs; r++) {
    log(`  run ${r + 1}/${runs}`)
    const f = await once(ds, home, r)
    check(ds, f)
    all.push(f)
  }

  const rate = (n: number, ms: number) => (n * 1000) / ms
  const rows: Row[] = [
    {
      id: 'import', title: `1. import ${K.toLocaleString('en-US')} keys, one commit`, unit: 'objects/s', target: 2,
      larix: all.map(f => rate(f.larix.importObjects, f.larix.importMs)),
      isogit: all.map(f => rate(f.iso.importObjects, f.iso.importMs)),
      git: all.map(f => rate(f.git.importObjects, f.git.importMs)),
      gitDefaults: all.map(f => rate(f.gitDefaults.importObjects, f.gitDefaults.importMs)),
      note: `${ds.importObjects} objects (blobs + trees + commit); git: fast-import; isomorphic-git: writeBlob/writeTree/writeCommit/writeRef`,
    },
    {
      id: 'commits', title: `2. ${C.toLocaleString('en-US')} single-key commits`, unit: 'commits/s', target: 2,
      larix: all.map(f => rate(C, f.larix.commitMs)),
      isogit: all.map(f => rate(f.iso.commits, f.iso.commitMs)),
      git: all.map(f => rate(C, f.git.commitMs)),
      gitDefaults: all.map(f => rate(C, f.gitDefaults.commitMs)),
      note: `larix: branch.set awaited ${C} times; git: one fast-import stream of ${C} commits; isomorphic-git: ${ISO_SAMPLE.commits} commits, extrapolated`,
    },
    {
      id: 'reads-cold', title: `3. read ${K.toLocaleString('en-US')} keys by path, cold`, unit: 'reads/s', target: 1,
      larix: all.map(f => rate(K, f.larix.coldMs)),
      isogit: all.map(f => rate(f.iso.reads, f.iso.readMs)),
      git: all.map(f => rate(K, f.git.readMs)),
      gitDefaults: all.map(f => rate(K, f.gitDefaults.readMs)),
      note: `larix: Repo.open + branch.get in random order; git: one cat-file --batch process; isomorphic-git: readBlob by filepath, ${ISO_SAMPLE.reads} keys, extrapolated`,
    },
    {
      id: 'reads-warm', title: `3. read ${K.toLocaleString('en-US')} keys by path, warm`, unit: 'reads/s', target: 2,
      larix: all.map(f => rate(K, f.larix.warmMs)),
      isogit: all.map(f => rate(f.iso.reads, f.iso.readMs)),
      git: all.map(f => rate(K, f.git.readMs)),
      gitDefaults: all.map(f => rate(K, f.gitDefaults.readMs)),
      note: 'larix: the same Repo reads every key again; the peers keep no state between processes, so their figures are the cold ones',
    },
  ]
  const summary = summarise(rows)

  log('  merge and LCA (issue 3)')
  const mergeDir = await tempDir('merge')
  const merges = await mergeBench(mergeDir, home, runs, log)
  await cleanup(mergeDir)
  log('  replication lag and catch-up over TLS (issue 5)')
  const replication = await replicationBench(home, { runs, quick: args.quick }, log)

  log('  clone and serve (issue 4)')
  const cloneDir = await tempDir('clone')
  const clones = await cloneBench(cloneDir, home, runs, log)
  await cleanup(cloneDir)
  const levelRuns = all.map(f => f.larix), gitStoreRuns = all.map(f => f.larixGit)

  process.stdout.write(`\nlarix benchmarks: median of ${runs} run(s), higher is better.\n`)
  process.stdout.write(`git (tuned) = git ${m.git} with core.fsync=none and glibc malloc trimming off; git (as installed) = its defaults, the\n` +
    `configuration the issues' reference figures describe. Each target is judged against both.\n\n`)
  process.stdout.write(table(summary, 'text') + '\n\n')
  for (const r of summary) process.stdout.write(`${r.title}: ${r.note}\n`)
  process.stdout.write('\n' + mergeTable(merges, 'text') + '\n')
  process.stdout.write('\n' + cloneTable(clones, levelRuns, gitStoreRuns, 'text') + '\n')
  process.stdout.write(`6-7: a ${clones.commits.toLocaleString('en-US')}-commit key/value history (fast-import, repacked), served by git http-backend behind node:http on 127.0.0.1; ` +
    `larix: Repo.open + cloneInto a level store in-process; isomorphic-git: clone with noCheckout, once per run; RSS: a larix clone in a child process; ` +
    `7: larix serve = startServer on the row-6 level clone in a child process. 8: rows 1-3 of issue 2 with larix on gitBackend (a fresh .git) against larix on level.\n`)
  process.stdout.write('\n' + replicationTable(replication, 'text') + '\n')
  if (args.markdown) {
    process.stdout.write('\n' + table(summary, 'markdown') + '\n\n' + mergeTable(merges, 'markdown') + '\n\n' + cloneTable(clones, levelRuns, gitStoreRuns, 'markdown') + '\n')
    process.stdout.write('\n' + replicationTable(replication, 'markdown') + '\n')
  }

  const resultsFile = join(dirname(fileURLToPath(import.meta.url)), '..', 'bench-results.json')
  await mkdir(dirname(resultsFile), { recursive: true })
  await writeFile(resultsFile, JSON.stringify({ machine: m, loadAtEnd: loadavg()[0], runs, dataSet: { keys: K, commits: C, importObjects: ds.importObjects, isogitSample: ISO_SAMPLE }, rows: summary, raw: all, merges, clones, replication }, null, 2) + '\n')
  log(`\nresults: ${resultsFile}`)
  await cleanup(home)
}

main().catch(async (e) => {
  await cleanupAll()
  process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`)
  process.exit(1)
})
