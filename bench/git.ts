// Native git as the peer: `git fast-import` for the writes, `git cat-file --batch` for the reads.
// Each figure is one whole process, end to end, startup included; its input is built before the clock starts.
import type { DataSet } from './data.js'
import { git, run, timed } from './measure.js'

const enc = new TextEncoder()
const IDENT = 'Bench <bench@example.org>'

/**
 * How git runs. `tuned` is git at its best here, the figure the targets are judged against:
 * - `core.fsync=none`: git's defaults fsync every pack it writes; larix's level backend does not sync.
 * - glibc's malloc trim threshold raised: with the default, fast-import hands zlib's buffers back to the
 *   kernel after every object and takes them again for the next (42,000 brk calls and 190,000 minor page
 *   faults for 10,000 blobs); on a VM where a page fault is dear that is most of its time.
 * `defaults` is git as installed, for reference.
 */
export type GitConfig = 'tuned' | 'defaults'

function gitEnv(c: GitConfig): { args: string[]; env: Record<string, string> } {
  if (c === 'defaults') return { args: [], env: {} }
  return { args: ['-c', 'core.fsync=none'], env: { GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=268435456' } }
}

function dataCmd(body: Uint8Array | string): Uint8Array[] {
  const b = typeof body === 'string' ? enc.encode(body) : body
  return [enc.encode(`data ${b.length}\n`), b, enc.encode('\n')]
}

/** Row 1's stream: a blob (with a mark) per value, then one commit naming every path. */
export function importStream(ds: DataSet): Uint8Array {
  const parts: Uint8Array[] = []
  for (let i = 0; i < ds.bytes.length; i++) {
    parts.push(enc.encode(`blob\nmark :${i + 1}\n`), ...dataCmd(ds.bytes[i]))
  }
  let files = ''
  for (let i = 0; i < ds.paths.length; i++) files += `M 100644 :${i + 1} ${ds.paths[i]}\n`
  parts.push(enc.encode(`commit refs/heads/main\nmark :${ds.bytes.length + 1}\ncommitter ${IDENT} 1700000000 +0000\n`),
    ...dataCmd('import\n'), enc.encode(files + '\n'))
  return Buffer.concat(parts)
}

/** Row 2's stream: per update a blob, then a commit with one `M` line on top of the previous commit. */
export function commitStream(ds: DataSet, from: string): Uint8Array {
  const parts: Uint8Array[] = []
  ds.updates.forEach((u, n) => {
    parts.push(enc.encode(`blob\nmark :${2 * n + 1}\n`), ...dataCmd(u.bytes))
    parts.push(enc.encode(`commit refs/heads/main\nmark :${2 * n + 2}\ncommitter ${IDENT} ${1700000001 + n} +0000\n`),
      ...dataCmd(`set ${u.path}\n`),
      enc.encode(`${n === 0 ? `from ${from}\n` : ''}M 100644 :${2 * n + 1} ${u.path}\n\n`))
  })
  return Buffer.concat(parts)
}

async function objectCount(repo: string, home: string): Promise<number> {
  const out = await git(['count-objects', '-v'], repo, home)
  const field = (k: string) => Number(new RegExp(`^${k}: (\\d+)$`, 'm').exec(out)?.[1] ?? 0)
  return field('count') + field('in-pack')
}

export interface GitRun {
  importMs: number
  importObjects: number
  importTree: string
  commitMs: number
  commitObjects: number
  headTree: string
  readMs: number
}

/** Rows 1–3 against a fresh bare repository in `dir`. */
export async function gitRun(ds: DataSet, dir: string, home: string, config: GitConfig): Promise<GitRun> {
  await git(['init', '--quiet', '--bare', '--initial-branch=main', dir], home, home)
  const { args, env } = gitEnv(config)

  const s1 = importStream(ds)
  const imp = await timed(() => run('git', [...args, 'fast-import', '--quiet'], { cwd: dir, input: s1, home, env }))
  const importObjects = await objectCount(dir, home)
  const importCommit = await git(['rev-parse', 'refs/heads/main'], dir, home)
  const importTree = await git(['rev-parse', 'refs/heads/main^{tree}'], dir, home)

  const s2 = commitStream(ds, importCommit)
  const com = await timed(() => run('git', [...args, 'fast-import', '--quiet'], { cwd: dir, input: s2, home, env }))
  const commitObjects = (await objectCount(dir, home)) - importObjects
  const head = await git(['rev-parse', 'refs/heads/main'], dir, home)
  const headTree = await git(['rev-parse', 'refs/heads/main^{tree}'], dir, home)
  const chain = Number(await git(['rev-list', '--count', `${importCommit}..${head}`], dir, home))
  if (chain !== ds.updates.length) throw new Error(`git fast-import made ${chain} commits, expected ${ds.updates.length}`)

  let lines = ''
  for (const i of ds.readOrder) lines += `${head}:${ds.paths[i]}\n`
  const input = enc.encode(lines)
  const rd = await timed(() => run('git', [...args, 'cat-file', '--batch'], { cwd: dir, input, home, env }))
  checkBatchOutput(rd.result.stdout, ds)

  return { importMs: imp.ms, importObjects, importTree, commitMs: com.ms, commitObjects, headTree, readMs: rd.ms }
}

/** Every answer of `cat-file --batch` is a blob with the bytes the data set expects, in order. */
function checkBatchOutput(out: Buffer, ds: DataSet): void {
  let at = 0
  for (const i of ds.readOrder) {
    const nl = out.indexOf(0x0a, at)
    const header = out.subarray(at, nl).toString()
    const m = /^[0-9a-f]{40} blob (\d+)$/.exec(header)
    if (!m) throw new Error(`git cat-file: unexpected answer "${header}" for ${ds.paths[i]}`)
    const size = Number(m[1])
    const body = out.subarray(nl + 1, nl + 1 + size)
    if (!body.equals(ds.finalBytes[i])) throw new Error(`git cat-file: wrong bytes for ${ds.paths[i]}`)
    at = nl + 1 + size + 1
  }
  if (at !== out.length) throw new Error('git cat-file: trailing output')
}
