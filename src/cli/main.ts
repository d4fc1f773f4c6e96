// The `larix` command: parse, open the store, run one command, print, close. Exit status 0 when done,
// 1 for a LarixError (the store said no) or an outcome the command reports as failed (a merge conflict),
// 2 for a command line that does not parse.
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { LarixError, levelBackend, Repo } from '../store/index.js'
import { gitBackend } from '../platform/node/git-backend.js'
import type { Invocation } from './args.js'
import { parseInvocation, UsageError, wantsJson } from './args.js'
import type { Command, Output } from './commands.js'
import { checkInvocation, COMMANDS, PLANNED } from './commands.js'
import { HELP, notYet, USAGE } from './usage.js'

/** Where the CLI writes and reads; the process's own streams unless a caller passes others. */
export interface Io {
  stdout(text: string): void
  stderr(text: string): void
  stdin(): Promise<string>
}

export const EXIT_OK = 0
export const EXIT_ERROR = 1
export const EXIT_USAGE = 2

/**
 * Run `larix` with `argv` (the arguments after the script name) and resolve to the exit status.
 * @example process.exitCode = await main(['get', 'todo/1'])
 */
export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  const json = wantsJson(argv)
  let inv: Invocation
  let cmd: Command
  try {
    inv = parseInvocation(argv)
    if (inv.options.version) {
      io.stdout(json ? JSON.stringify({ name: 'larix', version: version() }) + '\n' : `larix ${version()}\n`)
      return EXIT_OK
    }
    if (inv.options.help || inv.command === 'help') {
      io.stdout(HELP)
      return EXIT_OK
    }
    if (inv.command === undefined) throw new UsageError('no command given')
    if (PLANNED.has(inv.command)) throw new UsageError(notYet(inv.command))
    if (!Object.hasOwn(COMMANDS, inv.command)) throw new UsageError(`unknown command ${JSON.stringify(inv.command)}`)
    cmd = COMMANDS[inv.command]
    checkInvocation(inv.command, cmd, inv.args, inv.local)
  } catch (e) {
    if (!(e instanceof UsageError)) throw e
    if (json) io.stderr(JSON.stringify({ error: { code: 'LARIX_USAGE', message: e.message } }) + '\n')
    else io.stderr(`larix: ${e.message}\n${e.message.includes('\nusage: ') ? '' : USAGE + '\n'}run larix --help for the commands and options\n`)
    return EXIT_USAGE
  }

  let repo: Repo | undefined
  try {
    const store = resolve(cmd.storeArg === undefined ? inv.options.store : inv.args[cmd.storeArg])
    const storeExisted = existsSync(store)
    if (cmd.storeArg !== undefined && storeExisted && readdirSync(store).length > 0) {
      throw new LarixError('LARIX_EXISTS', `${store} already exists and is not empty`, { path: store })
    }
    if (!storeExisted && !cmd.creates) {
      throw new LarixError('LARIX_NOT_FOUND', `no larix store at ${store} (create one with larix init, or name another with --store DIR)`, { what: 'store', id: store })
    }
    if (!storeExisted) mkdirSync(store, { recursive: true })
    // Long-running replicas name themselves in their commits, so that the same change made at the same second
    // on two replicas still makes two commits (see RepoOptions.replica).
    const replica = inv.command === 'serve' || inv.command === 'replicate' ? replicaName() : undefined
    const backend = inv.options.backend === 'git' ? gitBackend(store) : levelBackend(store)
    repo = await Repo.open({ backend, ...(replica ? { replica } : {}) })
    const out = await cmd.run({
      repo, branch: inv.options.branch, args: inv.args, options: inv.options, store, storeExisted, readStdin: io.stdin,
    })
    await repo.close()
    repo = undefined
    print(io, out, json)
    return out.exitCode ?? EXIT_OK
  } catch (e) {
    if (repo) await repo.close().catch(() => { /* the first error is the one to report */ })
    if (!(e instanceof LarixError)) {
      io.stderr(`larix: internal error, please report it: ${(e as Error)?.stack ?? String(e)}\n`)
      return EXIT_ERROR
    }
    if (json) io.stderr(JSON.stringify({ error: { code: e.code, message: e.message } }) + '\n')
    else io.stderr(`larix: ${e.message} (${e.code})\n`)
    return EXIT_ERROR
  }
}

function print(io: Io, out: Output, json: boolean): void {
  const write = out.toStderr ? io.stderr : io.stdout
  if (json) write(JSON.stringify(out.data) + '\n')
  else if (out.lines.length > 0) write(out.lines.join('\n') + '\n')
}

let cachedVersion: string | undefined
/** The version in package.json (this file runs from dist/src/cli/). */
function version(): string {
  cachedVersion ??= (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version
  return cachedVersion
}

function processIo(): Io {
  // `larix log | head` closes the pipe early: that is not an error worth a stack trace.
  process.stdout.on('error', e => { if ((e as NodeJS.ErrnoException).code === 'EPIPE') process.exit(process.exitCode ?? 0); else throw e })
  return {
    stdout: text => { process.stdout.write(text) },
    stderr: text => { process.stderr.write(text) },
    async stdin() {
      const chunks: Buffer[] = []
      for await (const c of process.stdin) chunks.push(c as Buffer)
      return Buffer.concat(chunks).toString('utf8')
    },
  }
}

/** A fresh replica name: `r-` and 12 random hex digits. */
function replicaName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6))
  return 'r-' + Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('')
}
