// Command-line parsing with node:util parseArgs. Global options may come before or after the command;
// anything wrong with the command line itself is a UsageError (exit status 2), never a LarixError.
import { parseArgs } from 'node:util'

/** The command line does not say something larix can run. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** Options that only some commands take; the rest are global. */
export type LocalOption = 'message' | 'author' | 'limit' | 'into' | 'noFf' | 'dryRun' | 'mainline' | 'graph' | 'depth' | 'force'
  | 'http' | 'git' | 'gitTls' | 'host' | 'tlsCert' | 'tlsKey' | 'tlsCa' | 'token' | 'peer' | 'cors' | 'noClonePack'

/** How each local option is spelt on the command line. */
export const LOCAL_FLAGS: Readonly<Record<LocalOption, string>> = {
  message: '--message', author: '--author', limit: '--limit', into: '--into', noFf: '--no-ff', dryRun: '--dry-run',
  mainline: '--mainline', graph: '--graph', depth: '--depth', force: '--force',
  http: '--http', git: '--git', gitTls: '--git-tls', host: '--host', tlsCert: '--tls-cert', tlsKey: '--tls-key', tlsCa: '--tls-ca', token: '--token', peer: '--peer', cors: '--cors', noClonePack: '--no-clone-pack',
}

export interface CliOptions {
  store: string
  /** What kind of store --store is: a LevelDB directory (default) or a real Git repository. */
  backend: 'level' | 'git'
  branch: string
  /** Every --branch given, in order (replicate takes several; the others use the last, `branch`). */
  branches: string[]
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
  /** clone, pull: fetch only this many commits of history. */
  depth?: number
  /** push: replace the remote branch even if that loses its commits. */
  force: boolean
  /** serve: the smart HTTP port (0: any free port). */
  http?: number
  /** serve: the git:// port. */
  git?: number
  /** serve: the port of git over TLS (larix+tls://). */
  gitTls?: number
  /** serve: the address to listen on (default 127.0.0.1). */
  host?: string
  /** serve: the server's certificate and key, and the CA of accepted client certificates (mutual TLS);
   *  clone, pull, push: our client certificate and key, and the CA that signed the server's certificate. PEM files. */
  tlsCert?: string
  tlsKey?: string
  tlsCa?: string
  /** serve: `--token T` (repeatable): `read=T`, `read-write=T`, or T (read-write). */
  token: string[]
  peer: string[]
  /** serve: `--cors ORIGIN` (repeatable): web origins allowed to call the replica over http(s). */
  cors: string[]
  /** serve: `--no-clone-pack`: send every clone object by object (no clone pack kept in the store). */
  noClonePack: boolean
}

export interface Invocation {
  command: string | undefined
  args: string[]
  options: CliOptions
  /** The local options present on the command line, for the command to refuse those it does not take. */
  local: LocalOption[]
}

export const DEFAULT_STORE = './.larix'

function parseBackend(v: string | undefined): 'level' | 'git' {
  if (v === undefined || v === 'level') return 'level'
  if (v === 'git') return 'git'
  throw new UsageError(`--backend is level (a LevelDB directory, the default) or git (a real Git repository), not ${JSON.stringify(v)}`)
}
export const DEFAULT_BRANCH = 'main'

const OPTIONS = {
  store: { type: 'string' },
  backend: { type: 'string' },
  branch: { type: 'string', short: 'b', multiple: true },
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
  depth: { type: 'string' },
  force: { type: 'boolean' },
  http: { type: 'string' },
  git: { type: 'string' },
  'git-tls': { type: 'string' },
  host: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
  token: { type: 'string', multiple: true },
  peer: { type: 'string', multiple: true },
  cors: { type: 'string', multiple: true },
  'no-clone-pack': { type: 'boolean' },
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
    depth: v.depth, force: v.force,
    http: v.http, git: v.git, gitTls: v['git-tls'], host: v.host, tlsCert: v['tls-cert'], tlsKey: v['tls-key'], tlsCa: v['tls-ca'], token: v.token, peer: v.peer, cors: v.cors, noClonePack: v['no-clone-pack'],
  }
  const local = (Object.keys(given) as LocalOption[]).filter(k => given[k] !== undefined)
  const options: CliOptions = {
    store: str(v.store) ?? DEFAULT_STORE,
    backend: parseBackend(str(v.backend)),
    branch: str(v.branch?.at(-1)) ?? DEFAULT_BRANCH,
    branches: (v.branch ?? []).map(unhide),
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
    depth: v.depth === undefined ? undefined : parseDepth(unhide(v.depth)),
    force: v.force ?? false,
    http: v.http === undefined ? undefined : parsePort(unhide(v.http), '--http'),
    git: v.git === undefined ? undefined : parsePort(unhide(v.git), '--git'),
    gitTls: v['git-tls'] === undefined ? undefined : parsePort(unhide(v['git-tls']), '--git-tls'),
    host: str(v.host),
    tlsCert: str(v['tls-cert']),
    tlsKey: str(v['tls-key']),
    tlsCa: str(v['tls-ca']),
    token: (v.token ?? []).map(unhide),
    peer: (v.peer ?? []).map(unhide),
    cors: (v.cors ?? []).map(unhide),
    noClonePack: v['no-clone-pack'] ?? false,
  }
  if (options.store === '') throw new UsageError('--store needs a directory')
  return { command: positionals[0], args: positionals.slice(1), options, local }
}

function parseLimit(s: string): number {
  if (!/^\d+$/.test(s) || Number(s) < 1) throw new UsageError(`--limit takes a whole number of commits >= 1, got ${JSON.stringify(s)}`)
  return Number(s)
}

function parseDepth(s: string): number {
  if (!/^\d+$/.test(s) || Number(s) < 1) throw new UsageError(`--depth takes a whole number of commits >= 1, got ${JSON.stringify(s)}`)
  return Number(s)
}

function parsePort(s: string, flag: string): number {
  if (!/^\d{1,5}$/.test(s) || Number(s) > 65535) throw new UsageError(`${flag} takes a port number from 0 to 65535, got ${JSON.stringify(s)}`)
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
