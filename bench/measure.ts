// Timing, temp dirs and child processes for the benchmarks.
import { spawn } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Milliseconds `fn` takes, with its result. */
export async function timed<T>(fn: () => Promise<T> | T): Promise<{ ms: number; result: T }> {
  const t0 = process.hrtime.bigint()
  const result = await fn()
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, result }
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** A fresh directory under os.tmpdir(); removed by `cleanup` (and on exit, should a run throw). */
const made = new Set<string>()
export async function tempDir(label: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), `larix-bench-${label}-`))
  made.add(d)
  return d
}
export async function cleanup(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
  made.delete(dir)
}
export async function cleanupAll(): Promise<void> {
  for (const d of [...made]) await cleanup(d)
}

/** Files below `dir` (recursively), for counting loose objects. */
export async function countFiles(dir: string): Promise<number> {
  let n = 0
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n++
  return n
}

export interface RunResult { code: number; stdout: Buffer; stderr: string }

/**
 * Run a command, feed it `input` on stdin, collect all of stdout. Rejects on a non-zero exit.
 * The child's environment shuts out the user's and the system's Git config, so every run sees the same Git.
 */
export function run(cmd: string, args: string[], opts: { cwd?: string; input?: Uint8Array; home: string; env?: Record<string, string> }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: opts.home, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', LC_ALL: 'C', ...opts.env },
    })
    const out: Buffer[] = []
    let err = ''
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => { err += b.toString() })
    child.on('error', reject)
    child.on('close', (code) => {
      const r = { code: code ?? -1, stdout: Buffer.concat(out), stderr: err }
      if (r.code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited with ${r.code}: ${err.slice(0, 2000)}`))
      else resolve(r)
    })
    child.stdin.on('error', () => { /* the exit code reports the failure */ })
    // One write of everything, built before the clock started: the child is never starved by its feeder.
    if (opts.input) child.stdin.end(opts.input)
    else child.stdin.end()
  })
}

/** `git …` in `cwd`, stdout as a trimmed string. */
export async function git(args: string[], cwd: string, home: string): Promise<string> {
  return (await run('git', args, { cwd, home })).stdout.toString().trim()
}
