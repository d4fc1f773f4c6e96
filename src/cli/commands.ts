// The commands of `larix`. Each one reads its arguments from a Context and returns an Output: the data
// that --json prints as one document, and the lines a person reads. Printing and errors are main's job.
import { BadValueError, LarixError, parsePath } from '../store/index.js'
import type { Branch, Commit, Conflict, MergeResult, Repo, Tree, WriteOptions } from '../store/index.js'
import type { CliOptions, LocalOption } from './args.js'
import { DEFAULT_BRANCH, DEFAULT_STORE, LOCAL_FLAGS, UsageError } from './args.js'
import type { Change } from './format.js'
import { commitLine, conflictLines, listLine, logLine, onelineLine, pretty, shellQuote, showText } from './format.js'
import { graphOrder, graphRows, simplify } from './graph.js'
import { tour } from './tour.js'
import { clone } from './clone.js'
import { pull } from './pull.js'
import { push } from './push.js'
import { serve } from './serve.js'
import { replicate } from './replicate.js'

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
  /** The exit status (default 0): 1 for an outcome that did not do what was asked, such as a merge conflict. */
  exitCode?: number
  /** Print on standard error instead (a failure that carries details, such as a revert's conflicts). */
  toStderr?: boolean
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
  /** The positional argument naming the store, for a command that makes a new one there (clone DIR); else --store. */
  storeArg?: number
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
async function existingBranch(ctx: Context, name = ctx.branch): Promise<{ branch: Branch; head: Commit | undefined }> {
  const branch = ctx.repo.branch(name)
  const head = await branch.head()
  if (head === undefined) {
    const names = await ctx.repo.branches()
    if (names.length > 0) throw notFound(`branch ${name} not found (branches: ${names.join(', ')})`, { what: 'branch', id: name })
  }
  return { branch, head }
}

/** Like existingBranch, for commands that need a commit on the branch. */
async function branchWithHead(ctx: Context, name: string, what: string): Promise<{ branch: Branch; head: Commit }> {
  const { branch, head } = await existingBranch(ctx, name)
  if (head === undefined) throw notFound(`branch ${name} has no commits yet: nothing to ${what}`, { what: 'branch', id: name })
  return { branch, head }
}

/** `larix [--store DIR] `, to print commands the user can paste. */
function larixPrefix(ctx: Context): string {
  return ctx.options.store === DEFAULT_STORE ? 'larix ' : `larix --store ${shellQuote(ctx.options.store)} `
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`

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
  synopsis: '[PATH]', min: 0, max: 1, options: ['limit', 'graph'], creates: false,
  async run(ctx) {
    const path = ctx.args[0]
    if (path !== undefined) parsePath(path)
    const { branch, head } = await existingBranch(ctx)
    // --json prints the commits as plain log does: each one carries its parents, the graph's edges.
    if (ctx.options.graph && !ctx.options.json) return { data: null, lines: head ? await graphLog(ctx, branch, head, path) : [] }
    const commits: Commit[] = []
    for await (const c of branch.log({ path, limit: ctx.options.limit })) commits.push(c)
    return { data: commits, lines: commits.map(logLine) }
  },
}

/** `log --graph`: every commit the head reaches (with PATH, those that changed it), in graph order. */
async function graphLog(ctx: Context, branch: Branch, head: Commit, path: string | undefined): Promise<string[]> {
  const all: Commit[] = []
  for await (const c of branch.log()) all.push(c)
  const byId = new Map(all.map(c => [c.id, c]))
  let nodes: readonly { id: string; parents: readonly string[] }[] = all
  let tips = [head.id]
  if (path !== undefined) {
    const keep = new Set<string>()
    for await (const c of branch.log({ path })) keep.add(c.id)
    ;({ nodes, tips } = simplify(all, tips, keep))
  }
  // Branch heads label their commits, as git log --decorate does; the current branch first.
  const heads = new Map<string, string[]>()
  for (const name of [ctx.branch, ...(await ctx.repo.branches()).filter(b => b !== ctx.branch)]) {
    const id = name === ctx.branch ? head.id : (await ctx.repo.branch(name).head())?.id
    if (id !== undefined) heads.set(id, [...(heads.get(id) ?? []), name])
  }
  return graphRows(graphOrder(nodes, tips), ctx.options.limit).map(r =>
    r.commit === undefined ? r.graph : r.graph + onelineLine(byId.get(r.commit)!, heads.get(r.commit)))
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

const merge: Command = {
  synopsis: 'FROM', min: 1, max: 1, options: ['into', 'message', 'author', 'noFf', 'dryRun'], creates: false,
  async run(ctx) {
    const from = ctx.args[0]
    const into = ctx.options.into ?? ctx.branch
    const { branch, head } = await branchWithHead(ctx, into, 'merge into')
    await ctx.repo.resolve(from) // a misspelt FROM fails here, as LARIX_NOT_FOUND
    const dry = ctx.options.dryRun
    const result: MergeResult = await branch.merge(from, { ...writeOptions(ctx), noFastForward: ctx.options.noFf, dryRun: dry })
    const nothingChanged = `; nothing changed (${into} stays at ${head.id})`
    switch (result.status) {
      case 'up-to-date':
        return { data: result, lines: [`Already up to date: ${into} already has every commit of ${from}`] }
      case 'fast-forward':
        return {
          data: result,
          lines: [dry ? `Dry run: would fast-forward ${into} to ${result.commit.id}${nothingChanged}` : `Fast-forward to ${result.commit.id} (${into} was ${head.id})`],
        }
      case 'merged':
        return { data: result, lines: [dry ? `Dry run: ${from} would merge into ${into} without conflicts${nothingChanged}` : `Merged ${from} into ${into}: ${result.commit.id}`] }
      case 'conflict': {
        const n = plural(result.conflicts.length, 'conflict')
        const header = dry
          ? `Dry run: merging ${from} into ${into} would stop on ${n} (ours: ${into}, theirs: ${from}); nothing changed`
          : `Merge of ${from} into ${into} stopped on ${n} (ours: ${into}, theirs: ${from}); ${into} is unchanged`
        return { data: result, exitCode: 1, lines: [header, ...conflictLines(result.conflicts), ...await mergeAdvice(ctx, from, into)] }
      }
    }
  },
}

/** What to do about merge conflicts: make the two sides agree on each path, then merge again. */
async function mergeAdvice(ctx: Context, from: string, into: string): Promise<string[]> {
  const larix = larixPrefix(ctx)
  const target = ctx.options.into !== undefined ? ` --into ${shellQuote(into)}` : into === DEFAULT_BRANCH ? '' : ` --branch ${shellQuote(into)}`
  const fromIsBranch = (await ctx.repo.branches()).includes(from)
  return [
    'To resolve, make both sides agree on each path above, then merge again:',
    `  keep theirs: ${larix}--branch ${shellQuote(into)} set PATH JSON    (rm PATH where theirs is (absent))`,
    fromIsBranch
      ? `  keep ours:   ${larix}--branch ${shellQuote(from)} set PATH JSON    (rm PATH where ours is (absent))`
      : `  keep ours:   ${larix}fork ${shellQuote(from)} NAME, set PATH there, and merge NAME instead of ${from}`,
    '  or set the value you want on both sides.',
    `Then run: ${larix}merge ${shellQuote(from)}${target}`,
  ]
}

const revert: Command = {
  synopsis: 'COMMIT', min: 1, max: 1, options: ['mainline', 'message', 'author'], creates: false,
  async run(ctx) {
    const rev = ctx.args[0]
    const { branch, head } = await branchWithHead(ctx, ctx.branch, 'revert')
    let commit: Commit
    try {
      commit = await branch.revert(rev, { ...writeOptions(ctx), mainline: ctx.options.mainline })
    } catch (e) {
      if (e instanceof LarixError && e.code === 'LARIX_CONFLICT' && Array.isArray(e.data.conflicts)) {
        return revertConflict(ctx, rev, e as LarixError<{ conflicts: Conflict[] }>)
      }
      if (e instanceof LarixError && e.code === 'LARIX_BAD_ARGUMENT' && e.data.argument === 'mainline') {
        const message = e.message.replace(/\bpass mainline\b/, 'pass --mainline N').replace(/^mainline\b/, '--mainline')
        throw new LarixError(e.code, message, e.data)
      }
      throw e
    }
    const changed = commit.id !== head.id
    return {
      data: { branch: ctx.branch, commit, changed },
      lines: [changed ? commitLine(ctx.branch, commit) : `Nothing to revert: ${ctx.branch} already has none of the changes of ${rev}; nothing to commit`],
    }
  },
}

/** A revert that conflicts with later commits: an error, on standard error, with the conflicts. */
async function revertConflict(ctx: Context, rev: string, e: LarixError<{ conflicts: Conflict[] }>): Promise<Output> {
  const target = await ctx.repo.commit(rev)
  const larix = larixPrefix(ctx)
  const onBranch = ctx.branch === DEFAULT_BRANCH ? '' : `--branch ${shellQuote(ctx.branch)} `
  return {
    data: { error: { code: e.code, message: e.message, conflicts: e.data.conflicts } },
    exitCode: 1,
    toStderr: true,
    lines: [
      `larix: ${e.message} (${e.code})`,
      `(base: ${target.id}; ours: ${ctx.branch} now; theirs: before ${target.id}, what the revert would restore)`,
      ...conflictLines(e.data.conflicts),
      `${ctx.branch} is unchanged. To revert these paths anyway, set them to theirs: ${larix}${onBranch}set PATH JSON (rm PATH where theirs is (absent)),`,
      `then run ${larix}${onBranch}revert ${target.id}${ctx.options.mainline ? ` --mainline ${ctx.options.mainline}` : ''} again for the rest; or leave the commit in place.`,
    ],
  }
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
  init, get, set, rm, ls, log, branch: branchCmd, fork, merge, revert, reset, show, tour: tourCmd, clone, pull, push, serve, replicate,
}

/** Commands of the design that this build does not have yet. */
export const PLANNED = new Set(['unikernel'])

/** Refuse argument counts and options the command does not take, as usage errors. */
export function checkInvocation(name: string, cmd: Command, args: readonly string[], local: readonly LocalOption[]): void {
  const usage = `usage: larix ${name}${cmd.synopsis ? ' ' + cmd.synopsis : ''}`
  if (args.length < cmd.min) throw new UsageError(`${name} needs ${cmd.synopsis.split(' ').slice(args.length, cmd.min).join(' ')}\n${usage}`)
  if (args.length > cmd.max) throw new UsageError(`too many arguments for ${name}: ${args.slice(cmd.max).join(' ')}\n${usage}`)
  for (const o of local) if (!cmd.options.includes(o)) throw new UsageError(`${name} does not take ${LOCAL_FLAGS[o]}\n${usage}`)
}
