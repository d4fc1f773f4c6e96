// Command-line parsing with node:util parseArgs. Global options may come before or after the command;
// anything wrong with the command line itself is a UsageError (exit status 2), never a LarixError.
import { parseArgs } from 'node:util'

/** The command line does not say something larix can run. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** Options that only some commands take; the rest are global. */
export type LocalOption = 'message' | 'author' | 'limit' | 'into' | 'noFf' | 'dryRun' | 'mainline' | 'graph'

/** How each local option is spelt on the command line. */
export const LOCAL_FLAGS: Readonly<Record<LocalOption, string>> = {
  message: '--message', author: '--author', limit: '--limit', into: '--into', noFf: '--no-ff', dryRun: '--dry-run',
  mainline: '--mainline', graph: '--graph',
}

export interface CliOptions {
  store: string
  branch: string
  json: boolean
  help: boolean
  version: boolean
  message?: string
  author?: string
  limit?: number
  /** merge: the branch to merge into (default --branch). */
  into?: string
  noFf: boolean
  dryRun: boolean
  /** revert: the 1-based parent of a merge commit whose side to keep. */
  mainline?: number
  graph: boolean
}

export interface Invocation {
  command: string | undefined
  args: string[]
  options: CliOptions
  /** The local options present on the command line, for the command to refuse those it does not take. */
  local: LocalOption[]
}

export const DEFAULT_STORE = './.larix'
export const DEFAULT_BRANCH = 'main'

const OPTIONS = {
  store: { type: 'string' },
  branch: { type: 'string', short: 'b' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
  message: { type: 'string', short: 'm' },
  author: { type: 'string' },
  limit: { type: 'string', short: 'n' },
  into: { type: 'string' },
  'no-ff': { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  mainline: { type: 'string' },
  graph: { type: 'boolean' },
} as const

// parseArgs takes `-1` for a short option; a JSON value may be a negative number, so such arguments are
// hidden behind a prefix no option can start with, and unwrapped after parsing.
const NUMBER_MARK = '\u0000'
const hide = (a: string) => (/^-\d/.test(a) ? NUMBER_MARK + a : a)
const unhide = (a: string) => (a.startsWith(NUMBER_MARK) ? a.slice(NUMBER_MARK.length) : a)

/** Whether the caller asked for JSON output, judged before parsing so that usage errors honour it too. */
export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--')
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json')
}

/** Split `argv` (without node and the script) into command, positional arguments and options. */
export function parseInvocation(argv: readonly string[]): Invocation {
  const end = argv.indexOf('--')
  const args = end < 0 ? argv.map(hide) : [...argv.slice(0, end).map(hide), ...argv.slice(end)]
  let parsed
  try {
    parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true })
  } catch (e) {
    throw new UsageError(describeParseError(e as Error & { code?: string }))
  }
  const v = parsed.values
  const str = (x: string | undefined) => (x === undefined ? undefined : unhide(x))
  const positionals = parsed.positionals.map(unhide)
  const given: Record<LocalOption, unknown> = {
    message: v.message, author: v.author, limit: v.limit, into: v.into, noFf: v['no-ff'], dryRun: v['dry-run'], mainline: v.mainline, graph: v.graph,
  }
  const local = (Object.keys(given) as LocalOption[]).filter(k => given[k] !== undefined)
  const options: CliOptions = {
    store: str(v.store) ?? DEFAULT_STORE,
    branch: str(v.branch) ?? DEFAULT_BRANCH,
    json: v.json ?? false,
    help: v.help ?? false,
    version: v.version ?? false,
    message: str(v.message),
    author: str(v.author),
    limit: v.limit === undefined ? undefined : parseLimit(unhide(v.limit)),
    into: str(v.into),
    noFf: v['no-ff'] ?? false,
    dryRun: v['dry-run'] ?? false,
    mainline: v.mainline === undefined ? undefined : parseMainline(unhide(v.mainline)),
    graph: v.graph ?? false,
  }
  if (options.store === '') throw new UsageError('--store needs a directory')
  return { command: positionals[0], args: positionals.slice(1), options, local }
}

function parseLimit(s: string): number {
  if (!/^\d+$/.test(s) || Number(s) < 1) throw new UsageError(`--limit takes a whole number of commits >= 1, got ${JSON.stringify(s)}`)
  return Number(s)
}

function parseMainline(s: string): number {
  if (!/^\d+$/.test(s) || Number(s) < 1) throw new UsageError(`--mainline takes a parent number >= 1, got ${JSON.stringify(s)}`)
  return Number(s)
}

function describeParseError(e: Error & { code?: string }): string {
  const option = /'(-[^' ,]+)/.exec(e.message)?.[1] ?? /--[\w-]+/.exec(e.message)?.[0]
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return option ? `unknown option ${option} (put -- before an argument that starts with -)` : e.message
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const long = /--[\w-]+/.exec(e.message)?.[0] ?? option
      if (/does not take an argument/.test(e.message)) return `option ${long} takes no value`
      return `option ${long} needs a value (write ${long}=VALUE for a value that starts with -)`
    }
    default:
      return e.message.split('\n')[0]
  }
}
