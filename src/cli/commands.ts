// The commands of `larix`. Each one reads its arguments from a Context and returns an Output: the data
// that --json prints as one document, and the lines a person reads. Printing and errors are main's job.
import { BadValueError, LarixError, parsePath } from '../store/index.js'
import type { Branch, Commit, Repo, Tree, WriteOptions } from '../store/index.js'
import type { CliOptions, LocalOption } from './args.js'
import { UsageError } from './args.js'
import type { Change } from './format.js'
import { commitLine, listLine, logLine, pretty, shellQuote, showText } from './format.js'
import { tour } from './tour.js'

export interface Context {
  repo: Repo
  /** The branch the command reads and writes (--branch, default main). */
  branch: string
  args: string[]
  options: CliOptions
  /** The store directory, absolute. */
  store: string
  /** Whether the store directory was there before this command ran. */
  storeExisted: boolean
  /** All of standard input, for `set PATH -`. */
  readStdin: () => Promise<string>
}

export interface Output {
  /** What --json prints. */
  data: unknown
  /** What a person reads; no trailing newline on the lines. */
  lines: string[]
}

export interface Command {
  /** Positional arguments after the command name, e.g. `PATH JSON`; `[X]` is optional. */
  synopsis: string
  min: number
  max: number
  /** The local options this command takes. */
  options: readonly LocalOption[]
  /** Whether the command may create the store; the others refuse to run on a store that is not there. */
  creates: boolean
  run(ctx: Context): Promise<Output>
}

const notFound = (message: string, data: Record<string, unknown>) => new LarixError('LARIX_NOT_FOUND', message, data)

function writeOptions(ctx: Context): WriteOptions {
  const o: WriteOptions = {}
  if (ctx.options.message !== undefined) o.message = ctx.options.message
  if (ctx.options.author !== undefined) o.author = ctx.options.author
  return o
}

/**
 * The --branch handle, checked to exist when the store has branches: reading a misspelt branch should
 * say so rather than show an empty tree. A store without any branch reads as empty.
 */
async function existingBranch(ctx: Context): Promise<{ branch: Branch; head: Commit | undefined }> {
  const branch = ctx.repo.branch(ctx.branch)
  const head = await branch.head()
  if (head === undefined) {
    const names = await ctx.repo.branches()
    if (names.length > 0) throw notFound(`branch ${ctx.branch} not found (branches: ${names.join(', ')})`, { what: 'branch', id: ctx.branch })
  }
  return { branch, head }
}

async function headTree(ctx: Context): Promise<{ branch: Branch; head: Commit | undefined; tree: Tree }> {
  const { branch, head } = await existingBranch(ctx)
  return { branch, head, tree: await branch.tree() }
}

function parseJsonValue(text: string, path: string): unknown {
  try {
    return JSON.parse(text)
  } catch (e) {
    // A bare word is most likely a string whose JSON quotes the shell ate.
    const hint = /^\s*[{["\d-]/.test(text) ? '' : `; a string needs JSON quotes, as in: larix set ${shellQuote(path)} ${shellQuote(JSON.stringify(text))}`
    throw new BadValueError(`the value for ${path} is not valid JSON (${(e as Error).message})${hint}`, { path, codec: 'json' }, e)
  }
}

const init: Command = {
  synopsis: '', min: 0, max: 0, options: [], creates: true,
  async run(ctx) {
    const created = !ctx.storeExisted
    return {
      data: { store: ctx.store, created },
      lines: [`${created ? 'Initialised an empty' : 'Reinitialised the existing'} larix store in ${ctx.store}`],
    }
  },
}

const get: Command = {
  synopsis: 'PATH', min: 1, max: 1, options: [], creates: false,
  async run(ctx) {
    const path = ctx.args[0]
    parsePath(path, { allowRoot: false })
    const { tree } = await headTree(ctx)
    const value = await tree.get(path)
    if (value === undefined) {
      const isDir = (await tree.kind(path)) === 'tree'
      throw notFound(`no value at ${path} on branch ${ctx.branch}${isDir ? ` (it is a directory: larix ls ${path})` : ''}`, { what: 'value', id: path, branch: ctx.branch })
    }
    return { data: value, lines: [pretty(value)] }
  },
}

const set: Command = {
  synopsis: 'PATH JSON', min: 2, max: 2, options: ['message', 'author'], creates: true,
  async run(ctx) {
    const [path, text] = ctx.args
    parsePath(path, { allowRoot: false })
    const value = parseJsonValue(text === '-' ? await ctx.readStdin() : text, path)
    const branch = ctx.repo.branch(ctx.branch)
    const before = (await branch.head())?.id
    const commit = await branch.set(path, value, writeOptions(ctx))
    const changed = commit.id !== before
    return {
      data: { branch: ctx.branch, commit, changed },
      lines: [changed ? commitLine(ctx.branch, commit) : `${path} already holds this value on ${ctx.branch}: nothing to commit`],
    }
  },
}

const rm: Command = {
  synopsis: 'PATH', min: 1, max: 1, options: ['message', 'author'], creates: false,
  async run(ctx) {
    const path = ctx.args[0]
    parsePath(path, { allowRoot: false })
    const { branch, tree } = await headTree(ctx)
    if ((await tree.kind(path)) === undefined) throw notFound(`nothing at ${path} on branch ${ctx.branch}`, { what: 'path', id: path, branch: ctx.branch })
    const commit = (await branch.remove(path, writeOptions(ctx)))!
    return { data: { branch: ctx.branch, commit, changed: true }, lines: [commitLine(ctx.branch, commit)] }
  },
}

const ls: Command = {
  synopsis: '[PATH]', min: 0, max: 1, options: [], creates: false,
  async run(ctx) {
    const path = ctx.args[0] ?? ''
    parsePath(path)
    const { tree } = await headTree(ctx)
    const kind = await tree.kind(path)
    if (kind === undefined) throw notFound(`nothing at ${path} on branch ${ctx.branch}`, { what: 'path', id: path, branch: ctx.branch })
    // Like ls(1) on a file: a value lists as itself.
    const entries = kind === 'value' ? [{ name: path, kind: 'value' as const }] : await tree.list(path)
    return { data: entries, lines: entries.map(listLine) }
  },
}

const log: Command = {
  synopsis: '[PATH]', min: 0, max: 1, options: ['limit'], creates: false,
  async run(ctx) {
    const path = ctx.args[0]
    if (path !== undefined) parsePath(path)
    const { branch } = await existingBranch(ctx)
    const commits: Commit[] = []
    for await (const c of branch.log({ path, limit: ctx.options.limit })) commits.push(c)
    return { data: commits, lines: commits.map(logLine) }
  },
}

const branchCmd: Command = {
  synopsis: '[NAME]', min: 0, max: 1, options: [], creates: false,
  async run(ctx) {
    const name = ctx.args[0]
    if (name === undefined) {
      const list = []
      for (const b of await ctx.repo.branches()) list.push({ name: b, head: (await ctx.repo.branch(b).head())?.id, current: b === ctx.branch })
      return { data: list, lines: list.map(b => `${b.current ? '*' : ' '} ${b.name}`) }
    }
    ctx.repo.branch(name) // a bad name fails here, before anything else
    const { head } = await existingBranch(ctx)
    if (head === undefined) throw notFound(`branch ${ctx.branch} has no commits yet: write something before branching`, { what: 'branch', id: ctx.branch })
    await ctx.repo.fork(head.id, name)
    return { data: { branch: name, commit: head }, lines: [`Created branch ${name} at ${head.id} (the head of ${ctx.branch})`] }
  },
}

const fork: Command = {
  synopsis: 'FROM TO', min: 2, max: 2, options: [], creates: false,
  async run(ctx) {
    const [from, to] = ctx.args
    const commit = await (await ctx.repo.fork(from, to)).head()
    return { data: { branch: to, commit }, lines: [`Created branch ${to} at ${commit!.id} (from ${from})`] }
  },
}

const reset: Command = {
  synopsis: 'COMMIT', min: 1, max: 1, options: [], creates: false,
  async run(ctx) {
    const branch = ctx.repo.branch(ctx.branch)
    const previous = (await branch.head())?.id
    const commit = await branch.reset(ctx.args[0])
    return { data: { branch: ctx.branch, commit, previous }, lines: [`${ctx.branch} is now at ${logLine(commit)}${previous ? ` (was ${previous})` : ''}`] }
  },
}

const show: Command = {
  synopsis: 'COMMIT', min: 1, max: 1, options: [], creates: false,
  async run(ctx) {
    const { repo } = ctx
    const commit = await repo.commit(ctx.args[0])
    const after = (await repo.checkout(commit.id)).tree
    const changes: Change[] = []
    if (commit.parents.length > 0) {
      const before = (await repo.checkout(commit.parents[0])).tree
      for (const d of await after.diff(before)) {
        if (d.before === undefined) changes.push({ path: d.path, op: 'add', after: d.after })
        else if (d.after === undefined) changes.push({ path: d.path, op: 'remove', before: d.before })
        else changes.push({ path: d.path, op: 'change', before: d.before, after: d.after })
      }
    } else {
      for await (const [path, value] of after.entries()) changes.push({ path, op: 'add', after: value })
    }
    return { data: { commit, changes }, lines: showText(commit, changes) }
  },
}

const tourCmd: Command = {
  synopsis: '', min: 0, max: 0, options: [], creates: true,
  run: tour,
}

/** Every command `larix` runs, by name. */
export const COMMANDS: Readonly<Record<string, Command>> = {
  init, get, set, rm, ls, log, branch: branchCmd, fork, reset, show, tour: tourCmd,
}

/** Commands of the design that this build does not have yet. */
export const PLANNED = new Set(['merge', 'revert', 'serve', 'clone', 'pull', 'push', 'replicate', 'unikernel'])

/** Refuse argument counts and options the command does not take, as usage errors. */
export function checkInvocation(name: string, cmd: Command, args: readonly string[], local: readonly LocalOption[]): void {
  const usage = `usage: larix ${name}${cmd.synopsis ? ' ' + cmd.synopsis : ''}`
  if (args.length < cmd.min) throw new UsageError(`${name} needs ${cmd.synopsis.split(' ').slice(args.length, cmd.min).join(' ')}\n${usage}`)
  if (args.length > cmd.max) throw new UsageError(`too many arguments for ${name}: ${args.slice(cmd.max).join(' ')}\n${usage}`)
  const flag = { message: '--message', author: '--author', limit: '--limit' }
  for (const o of local) if (!cmd.options.includes(o)) throw new UsageError(`${name} does not take ${flag[o]}\n${usage}`)
}
