// The public store API: Repo (a store of branches) and Branch (a handle on one branch head).
// Every write builds a Draft on the head's tree, stores the new objects in one batch, then moves the head
// by compare-and-set. A head never moves to a commit whose objects are not all stored.
import type { Backend } from './backend.js'
import { Mutex } from './backend.js'
import { levelBackend } from './backends/level.js'
import { resolveCodec } from './contents.js'
import type { Codec, CodecName } from './contents.js'
import { BadArgumentError, BadValueError, ConflictError, LarixError, NotFoundError } from './errors.js'
import { findLcas, isAncestor, walkCommits } from './history.js'
import type { LcaOptions, LcaResult } from './history.js'
import { mergeNodes } from './merge/trees.js'
import { madeNode, mergeTreeIds } from './merge/raw.js'
import type { RawMergeContext } from './merge/raw.js'
import type { Conflict, MergeContext } from './merge/trees.js'
import { MergeRules } from './merge/rules.js'
import type { Merger } from './merge/mergers.js'
import type { CloneOptions, PullOptions, PullResult, PushOptions, PushResult } from '../sync/client/index.js'
import { encodeCommit, formatPerson, isObjectId, objectId, parsePerson } from './objects.js'
import type { CommitObject, Person, StoredObject } from './objects.js'
import { introducedObjects } from './introduced.js'
import type { IntroducedEntry } from './introduced.js'
import { formatPath, parsePath } from './path.js'
import type { Path, PathInput } from './path.js'
import { branchRef } from './refs.js'
import { Draft, emptyNode, listNode, lookup, nodeAt, ObjectReader, Tree, valueBytes } from './tree.js'
import type { CacheOptions, ListEntry, TreeNode } from './tree.js'

/** Who and when, as carried by every commit. */
export interface CommitInfo {
  /** `Name <email>` */
  author: string
  committer: string
  message: string
  /** Commit time, seconds since the Unix epoch (Git's resolution). */
  timestamp: number
  /** Minutes east of UTC. */
  timezoneOffset: number
}

/** A commit as the API shows it. */
export interface Commit {
  id: string
  parents: string[]
  tree: string
  info: CommitInfo
}

export interface RepoOptions<V = unknown> {
  /** Where objects and refs live. Default: `levelBackend('./.larix')`. */
  backend?: Backend
  /** How values become bytes: 'json' (default, canonical), 'msgpack', 'string', 'bytes', or your own Codec. */
  contents?: CodecName | Codec<V>
  /** Default author of commits, `Name <email>`. */
  author?: string
  /** Default committer; the author when not given. */
  committer?: string
  /** Clock in milliseconds (tests pin it). */
  now?: () => number
  cache?: CacheOptions
  /**
   * Mergers by path glob (`*` one segment, `**` any number); the most specific rule wins; the default is
   * `mergers.json`. @example { 'counters/**': mergers.counter, 'docs/*.md': mergers.text }
   */
  merge?: Record<string, Merger>
  /**
   * This replica's name, written into every commit it makes as a `larix-replica` header (Git keeps unknown
   * headers; `git fsck --strict` accepts them). Set it on replicated stores: two replicas making the very same
   * change on the same parent in the same second would otherwise make byte-identical commits, which content
   * addressing counts once (for a counter, one increment lost). 1–64 of `A-Z a-z 0-9 . _ -`.
   * `larix serve` and `larix replicate` pick a random one per process.
   */
  replica?: string
}

export interface WriteOptions {
  message?: string
  author?: string
  /** How often to re-apply a blind write when another writer moved the head first (default 13). */
  retries?: number
}

export interface TransactionOptions extends WriteOptions {
  /**
   * When the head moved while `fn` ran: 'test-and-set' (default) runs `fn` again on the new head;
   * 'merge' merges what `fn` wrote into the new head with the store's mergers (LARIX_CONFLICT if it cannot).
   */
  strategy?: 'test-and-set' | 'merge'
}

/** The outcome of `branch.merge`. */
export type MergeResult<V = unknown> =
  | { status: 'up-to-date'; commit: Commit }
  | { status: 'fast-forward'; commit: Commit }
  | { status: 'merged'; commit: Commit }
  | { status: 'conflict'; conflicts: Conflict<V>[]; bases: string[] }

export interface MergeOptions extends WriteOptions {
  /** Always make a merge commit, even when a fast-forward would do. */
  noFastForward?: boolean
  /** Compute the result but move no branch (the merged tree's objects are stored, as git merge-tree does). */
  dryRun?: boolean
}

/** A merge preview: the merged tree (with ours' version where there are conflicts) and the conflicts. */
export interface TreeMerge<V = unknown> {
  tree: Tree<V>
  conflicts: Conflict<V>[]
  /** The LCAs the merge used as its base (merged into a virtual base when there are several). */
  bases: string[]
}

export interface TransactionResult<T> {
  /** The head after the transaction (unchanged when the transaction wrote nothing). */
  commit: Commit | undefined
  result: T
  /** 1 when the first run committed; more when the head moved and `fn` ran again. */
  attempts: number
}

export interface HeadChange { branch: string; before: string | undefined; after: string | undefined }
export interface KeyChange<V> extends HeadChange { path: string; value: V | undefined }

const DEFAULT_AUTHOR = 'larix <larix@localhost>'

function parseIdentity(s: string, what: string): { name: string; email: string } {
  const m = typeof s === 'string' ? /^([^<>\n\0]*?)\s*<([^<>\n\0]*)>$/.exec(s.trim()) : null
  if (!m) throw new BadArgumentError(`${what} must look like "Name <email>", got ${JSON.stringify(s)}`, what)
  return { name: m[1], email: m[2] }
}

export function toCommit(id: string, c: CommitObject): Commit {
  return {
    id,
    parents: [...c.parents],
    tree: c.tree,
    info: {
      author: `${c.author.name} <${c.author.email}>`,
      committer: `${c.committer.name} <${c.committer.email}>`,
      message: c.message.endsWith('\n') ? c.message.slice(0, -1) : c.message,
      timestamp: c.committer.timestamp,
      timezoneOffset: c.committer.timezoneOffset,
    },
  }
}

/**
 * A larix store: branches of versioned key/value trees in Git's object model.
 * @example
 * const repo = await Repo.open({ backend: memoryBackend() })
 * await repo.branch('main').set('todo/1', { title: 'milk' })
 */
export class Repo<V = unknown> {
  readonly backend: Backend
  readonly codec: Codec<V>
  /** @internal */ readonly reader: ObjectReader
  private readonly author: { name: string; email: string }
  /** This replica's name, written into its commits (see RepoOptions.replica). */
  readonly replica: string | undefined
  private readonly committer: { name: string; email: string }
  private readonly now: () => number
  private readonly locks = new Map<string, Mutex>()
  /** @internal */ readonly rules: MergeRules

  private constructor(backend: Backend, opts: RepoOptions<V>) {
    this.backend = backend
    this.codec = resolveCodec(opts.contents) as Codec<V>
    this.reader = new ObjectReader(backend.objects, opts.cache)
    this.author = parseIdentity(opts.author ?? DEFAULT_AUTHOR, 'author')
    if (opts.replica !== undefined && (typeof opts.replica !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(opts.replica))) {
      throw new BadArgumentError('replica must be 1-64 characters of A-Z a-z 0-9 . _ -', 'replica')
    }
    this.replica = opts.replica
    this.committer = opts.committer ? parseIdentity(opts.committer, 'committer') : this.author
    this.now = opts.now ?? Date.now
    this.rules = new MergeRules(opts.merge)
  }

  /** Open (or create) a store. */
  static async open<V = unknown>(opts: RepoOptions<V> = {}): Promise<Repo<V>> {
    if (typeof opts !== 'object' || opts === null) throw new BadArgumentError('Repo.open takes an options object', 'options')
    const backend = opts.backend ?? levelBackend('./.larix')
    const repo = new Repo<V>(backend, opts)
    await backend.open()
    await repo.loadShallow()
    return repo
  }

  /**
   * Clone a remote (any Git host, `git daemon`, `larix serve`) into a new store.
   * @example const repo = await Repo.clone('http://127.0.0.1:8080/', { backend: levelBackend('./copy') })
   */
  static async clone<V = unknown>(url: string, opts: CloneOptions<V> = {}): Promise<Repo<V>> {
    return (await import('../sync/client/clone.js')).clone<V>(url, opts)
  }

  /** @internal The shallow boundary a shallow clone recorded (`refs/larix/shallow`, Git's `shallow` file format). */
  async loadShallow(): Promise<void> {
    const id = await this.backend.refs.get('refs/larix/shallow')
    const o = id === undefined ? undefined : await this.backend.objects.get(id)
    if (o?.type === 'blob') this.reader.setShallow(new TextDecoder().decode(o.body).split('\n').filter(isObjectId))
  }

  /** A handle on a branch; the branch itself is created by its first commit. */
  branch(name: string): Branch<V> {
    return new Branch(this, name)
  }

  /** Names of all branches, sorted. */
  async branches(): Promise<string[]> {
    return (await this.backend.refs.list('refs/heads/')).map(r => r.name.slice('refs/heads/'.length))
  }

  /**
   * A commit id for `rev`: a branch name, a full id, or an unambiguous prefix of at least 4 hex digits.
   * Throws LARIX_NOT_FOUND when nothing matches.
   */
  async resolve(rev: string): Promise<string> {
    if (typeof rev !== 'string' || rev === '') throw new BadArgumentError('a revision is a branch name or a commit id', 'rev')
    if (!isObjectId(rev)) {
      let ref: string | undefined
      try { ref = branchRef(rev) } catch { /* not a branch name: maybe a short id */ }
      const head = ref ? await this.backend.refs.get(ref) : undefined
      if (head) return head
      if (/^[0-9a-f]{4,39}$/.test(rev) && this.backend.objects.findPrefix) {
        const found = []
        for (const id of await this.backend.objects.findPrefix(rev)) {
          if ((await this.backend.objects.get(id))?.type === 'commit') found.push(id)
        }
        if (found.length === 1) return found[0]
        if (found.length > 1) throw new LarixError('LARIX_AMBIGUOUS', `commit prefix ${rev} is ambiguous: ${found.slice(0, 5).join(', ')}`, { rev, candidates: found })
      }
      throw new NotFoundError(ref ? 'branch or commit' : 'commit', rev)
    }
    await this.reader.commit(rev)
    return rev
  }

  /** The commit `id` (or any revision `resolve` accepts). */
  async commit(id: string): Promise<Commit> {
    const full = await this.resolve(id)
    return toCommit(full, await this.reader.commit(full))
  }

  /** A read-only snapshot of the store at a commit. */
  async checkout(rev: string): Promise<Snapshot<V>> {
    const commit = await this.commit(rev)
    return new Snapshot(new Tree(this.reader, this.codec, await this.reader.tree(commit.tree)), commit)
  }

  /** Create branch `to` at the head of branch `from` (or at any revision). Fails with LARIX_EXISTS if `to` exists. */
  async fork(from: string, to: string): Promise<Branch<V>> {
    const target = this.branch(to)
    const at = await this.resolve(from)
    if (!(await this.backend.refs.cas(target.ref, undefined, at))) {
      throw new LarixError('LARIX_EXISTS', `branch ${to} already exists`, { branch: to })
    }
    return target
  }

  /**
   * Delete a branch (its commits stay in the store). With `expected`, only if the branch still points there
   * (compare-and-set). Returns whether it was deleted.
   */
  async deleteBranch(name: string, opts: { expected?: string } = {}): Promise<boolean> {
    const ref = branchRef(name)
    return this.lockFor(ref).run(async () => {
      const cur = await this.backend.refs.get(ref)
      if (cur === undefined || (opts.expected !== undefined && cur !== opts.expected)) return false
      return this.backend.refs.cas(ref, cur, undefined)
    })
  }

  async close(): Promise<void> {
    await this.backend.close()
  }

  /**
   * All lowest common ancestors of two revisions (Git's `merge-base --all`). Limits give typed answers.
   * @example const r = await repo.lcas('main', 'feature', { maxDepth: 1000 }); if (r.status === 'ok') r.lcas
   */
  async lcas(a: string, b: string, opts: LcaOptions = {}): Promise<LcaResult> {
    for (const [k, v] of Object.entries(opts)) {
      if (v !== undefined && (typeof v !== 'number' || !(v >= 0))) throw new BadArgumentError(`${k} must be a number >= 0`, k)
    }
    return findLcas(this.reader, [await this.resolve(a)], [await this.resolve(b)], opts)
  }

  /** True when revision `ancestor` is reachable from `descendant`. */
  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    return isAncestor(this.reader, await this.resolve(ancestor), await this.resolve(descendant))
  }

  /** @internal A fresh merge context writing into `draft`. */
  mergeContext(draft: Draft): MergeContext<V> {
    return { reader: this.reader, codec: this.codec, rules: this.rules, draft, conflicts: [] }
  }

  /** @internal The tree to merge against for these LCAs: none (empty), one, or several merged into a virtual base. */
  async baseTree(lcas: readonly string[]): Promise<TreeNode | undefined> {
    if (lcas.length === 0) return undefined
    const treeOf = async (c: string) => this.reader.tree((await this.reader.commit(c)).tree)
    let acc: TreeNode | undefined = await treeOf(lcas[0])
    const merged = [lcas[0]]
    for (const next of lcas.slice(1)) {
      const r = await findLcas(this.reader, merged, [next])
      const sub = r.status === 'ok' ? await this.baseTree(r.lcas) : undefined
      const draft = new Draft(this.reader, emptyNode())
      // Conflicts between the LCAs themselves keep the first LCA's version in the virtual base.
      const root = await mergeNodes(this.mergeContext(draft), sub, acc, await treeOf(next))
      draft.root = root ?? draft.newNode()
      const { objects } = draft.seal()
      await this.backend.objects.putMany(objects)
      acc = draft.root
      merged.push(next)
    }
    return acc
  }

  /** @internal Merge `theirs` into `ours` (commit ids); the result's objects are not stored yet. */
  async mergeCommitTrees(ours: string, theirs: string): Promise<{ draft: Draft; conflicts: Conflict<V>[]; bases: string[] }> {
    const r = await findLcas(this.reader, [ours], [theirs])
    const bases = r.status === 'ok' ? r.lcas : []
    const base = await this.baseTree(bases)
    const draft = new Draft(this.reader, emptyNode())
    const ctx: RawMergeContext<V> = { ...this.mergeContext(draft), made: [] }
    const treeId = async (c: string) => (await this.reader.commit(c)).tree
    // Both heads and the base are stored trees: merge them on their bytes (raw.ts), mergeNodes' results faster.
    const root = await mergeTreeIds(ctx, base?.id, await treeId(ours), await treeId(theirs))
    draft.adopt(ctx.made)
    draft.root = root === undefined ? draft.newNode() : await madeNode(ctx, root)
    ctx.conflicts.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0))
    return { draft, conflicts: ctx.conflicts, bases }
  }

  /**
   * Preview the merge of two revisions without moving any branch (like `git merge-tree --write-tree`).
   * @example const { conflicts } = await repo.mergeTrees('main', 'feature')
   */
  async mergeTrees(ours: string, theirs: string): Promise<TreeMerge<V>> {
    const { draft, conflicts, bases } = await this.mergeCommitTrees(await this.resolve(ours), await this.resolve(theirs))
    const { objects } = draft.seal()
    await this.backend.objects.putMany(objects)
    return { tree: new Tree(this.reader, this.codec, draft.root), conflicts, bases }
  }

  /** @internal One writer at a time per ref inside this process; other processes are held off by compare-and-set. */
  lockFor(ref: string): Mutex {
    let m = this.locks.get(ref)
    if (!m) this.locks.set(ref, m = new Mutex())
    return m
  }

  /** @internal Build a commit object for `tree`. */
  async makeCommit(tree: string, parents: string[], opts: WriteOptions, defaultMessage: string): Promise<{ stored: StoredObject; commit: Commit }> {
    let generation = 1
    for (const p of parents) generation = Math.max(generation, (await this.reader.generation(p)) + 1)
    const ms = this.now()
    const when = { timestamp: Math.floor(ms / 1000), timezoneOffset: -new Date(ms).getTimezoneOffset() || 0 }
    const author: Person = { ...(opts.author ? parseIdentity(opts.author, 'author') : this.author), ...when }
    const committer: Person = { ...this.committer, ...when }
    let message = opts.message ?? defaultMessage
    if (typeof message !== 'string') throw new BadArgumentError('message must be a string', 'message')
    if (!message.endsWith('\n')) message += '\n'
    const obj: CommitObject = { tree, parents, author, committer, message }
    if (this.replica !== undefined) obj.extraHeaders = [['larix-replica', this.replica]]
    const body = encodeCommit(obj)
    const id = objectId('commit', body)
    this.reader.rememberCommit(id, obj, generation)
    return { stored: { id, type: 'commit', body, generation }, commit: toCommit(id, obj) }
  }

  /** @internal Store a commit's objects, then move `ref` by compare-and-set; in one write when the backend can. */
  async storeAndMove(objects: StoredObject[], ref: string, expected: string | undefined, next: string): Promise<boolean> {
    const b = this.backend
    // The commit's entry of the introduced-objects index (src/store/introduced.ts), when the backend keeps
    // one: its trees are in the reader's cache (just sealed, and the parent's just read), so this is cheap.
    // Not for merges: the merge works on tree bytes and leaves most trees of both sides undecoded, so the
    // entry would cost more than the merge itself (4x on the bench's merge); a server builds it when needed.
    const introduced: IntroducedEntry[] = []
    if (b.objects.putIntroduced) {
      const c = this.reader.cachedCommit(next)
      if (c && c.parents.length <= 1) {
        const parentTree = c.parents.length > 0 ? (await this.reader.commit(c.parents[0])).tree : undefined
        introduced.push({ commit: next, introduced: await introducedObjects(this.reader, c.tree, parentTree, objects) })
      }
    }
    if (b.atomicWrite) return b.atomicWrite(objects, { name: ref, expected, next }, introduced)
    await b.objects.putMany(objects)
    if (introduced.length > 0) await b.objects.putIntroduced!(introduced)
    return b.refs.cas(ref, expected, next)
  }

  /** @internal */
  async headOf(ref: string): Promise<{ id: string | undefined; commit: CommitObject | undefined; root: TreeNode }> {
    const id = await this.backend.refs.get(ref)
    if (id === undefined) return { id, commit: undefined, root: emptyNode() }
    const commit = await this.reader.commit(id)
    const root = this.reader.cachedTree(commit.tree) ?? await this.reader.tree(commit.tree)
    return { id, commit, root }
  }
}

/** A read-only view of the store at one commit. */
export class Snapshot<V = unknown> {
  constructor(readonly tree: Tree<V>, readonly commit: Commit) {}
  get(path: PathInput): Promise<V | undefined> { return this.tree.get(path) }
  list(path: PathInput = []): Promise<ListEntry[]> { return this.tree.list(path) }
}

type Op = { kind: 'set'; path: Path; data: Uint8Array } | { kind: 'remove'; path: Path }

/** The staged writes of one transaction. `set`/`remove` stage; reads see what was staged. */
export class Transaction<V = unknown> {
  private pending: Op[] = []
  /** @internal */ closed = false
  /** @internal */
  constructor(private readonly repo: Repo<V>, /** @internal */ readonly draft: Draft, readonly base: Commit | undefined) {}

  private check(): void {
    if (this.closed) throw new LarixError('LARIX_TX_CLOSED', 'this transaction has already committed or failed; do not use it after its function returns')
  }

  /** Stage `value` at `path`. Bad paths and values throw here, at the call. */
  set(path: PathInput, value: V): void {
    this.check()
    const p = parsePath(path, { allowRoot: false })
    this.pending.push({ kind: 'set', path: p, data: encodeValue(this.repo.codec, value, p) })
  }

  /** Stage the removal of the value or subtree at `path`. */
  remove(path: PathInput): void {
    this.check()
    this.pending.push({ kind: 'remove', path: parsePath(path, { allowRoot: false }) })
  }

  /** @internal Apply staged writes to the draft. */
  async flush(): Promise<void> {
    const ops = this.pending
    this.pending = []
    for (const op of ops) {
      if (op.kind === 'set') await this.draft.set(op.path, op.data)
      else await this.draft.remove(op.path)
    }
  }

  async get(path: PathInput): Promise<V | undefined> {
    this.check()
    await this.flush()
    const p = parsePath(path, { allowRoot: false })
    const e = await lookup(this.repo.reader, this.draft.root, p)
    return e?.kind === 'value' ? this.repo.codec.decode(await valueBytes(this.repo.reader, e, p)) : undefined
  }

  async list(path: PathInput = []): Promise<ListEntry[]> {
    this.check()
    await this.flush()
    const node = await nodeAt(this.repo.reader, this.draft.root, parsePath(path))
    return node ? listNode(node) : []
  }
}

function encodeValue<V>(codec: Codec<V>, value: V, path: Path): Uint8Array {
  try {
    return codec.encode(value)
  } catch (e) {
    if (e instanceof BadValueError) throw new BadValueError(`${e.message} (at ${formatPath(path)})`, { path: formatPath(path), codec: codec.name }, e)
    throw new BadValueError(`the ${codec.name} codec cannot encode the value at ${formatPath(path)}: ${(e as Error).message}`, { path: formatPath(path), codec: codec.name }, e)
  }
}

/** After a lost compare-and-set: wait a random, growing moment so racing writers fall out of lockstep. */
function backoff(attempt: number): Promise<void> {
  if (attempt === 0) return Promise.resolve()
  const ms = Math.random() * Math.min(2 ** attempt, 100)
  return new Promise(resolve => setTimeout(resolve, ms))
}

function retriesOf(opts: { retries?: number }, dflt: number): number {
  const r = opts.retries ?? dflt
  if (!Number.isInteger(r) || r < 0) throw new BadArgumentError(`retries must be a whole number >= 0, got ${r}`, 'retries')
  return r
}

/**
 * A handle on one branch. Reads see the head at the time of the call; writes commit and move the head.
 * @example
 * const main = repo.branch('main')
 * await main.set('todo/1', { title: 'milk' }, { message: 'add todo' })
 * await main.get('todo/1') // { title: 'milk' }
 */
export class Branch<V = unknown> {
  readonly ref: string
  constructor(private readonly repo: Repo<V>, readonly name: string) {
    this.ref = branchRef(name)
  }

  /** The head commit, or undefined for a branch without commits. */
  async head(): Promise<Commit | undefined> {
    const id = await this.repo.backend.refs.get(this.ref)
    return id === undefined ? undefined : toCommit(id, await this.repo.reader.commit(id))
  }

  /** The head's tree (empty for a branch without commits). */
  async tree(): Promise<Tree<V>> {
    const { root } = await this.repo.headOf(this.ref)
    return new Tree(this.repo.reader, this.repo.codec, root)
  }

  /** The value at `path` in the head, or undefined. */
  async get(path: PathInput): Promise<V | undefined> {
    const p = parsePath(path, { allowRoot: false })
    const { root } = await this.repo.headOf(this.ref)
    const e = await lookup(this.repo.reader, root, p)
    if (e?.kind !== 'value') return undefined
    return this.repo.codec.decode(await valueBytes(this.repo.reader, e, p))
  }

  /** The children of the directory at `path` in the head: `[{ name, kind }]`, sorted by name. */
  async list(path: PathInput = []): Promise<ListEntry[]> {
    const { root } = await this.repo.headOf(this.ref)
    const node = await nodeAt(this.repo.reader, root, parsePath(path))
    return node ? listNode(node) : []
  }

  /** Set `path` to `value` in a new commit. Setting the value already there commits nothing and returns the head. */
  async set(path: PathInput, value: V, opts: WriteOptions = {}): Promise<Commit> {
    const p = parsePath(path, { allowRoot: false })
    const data = encodeValue(this.repo.codec, value, p)
    const id = objectId('blob', data)
    const c = await this.write(d => d.set(p, data, id), opts, `set ${formatPath(p)}`)
    return c!
  }

  /** Remove the value or subtree at `path` in a new commit. Removing what is absent commits nothing. */
  async remove(path: PathInput, opts: WriteOptions = {}): Promise<Commit | undefined> {
    const p = parsePath(path, { allowRoot: false })
    return this.write(d => d.remove(p).then(() => undefined), opts, `remove ${formatPath(p)}`)
  }

  private async write(apply: (d: Draft) => Promise<void>, opts: WriteOptions, defaultMessage: string): Promise<Commit | undefined> {
    const retries = retriesOf(opts, 13)
    const { repo } = this
    return repo.lockFor(this.ref).run(async () => {
      for (let attempt = 0; ; attempt++) {
        const head = await repo.headOf(this.ref)
        const draft = new Draft(repo.reader, head.root)
        await apply(draft)
        const current = head.id === undefined ? undefined : toCommit(head.id, head.commit!)
        if (draft.root === head.root) return current
        const { id: tree, objects } = draft.seal()
        if (head.commit && tree === head.commit.tree) return current
        if (!head.commit && tree === emptyNode().id) return current
        const { stored, commit } = await repo.makeCommit(tree, head.id ? [head.id] : [], opts, defaultMessage)
        objects.push(stored)
        if (await repo.storeAndMove(objects, this.ref, head.id, commit.id)) return commit
        if (attempt < retries) await backoff(attempt)
        else {
          throw new ConflictError(`branch ${this.name} kept moving under this write (${attempt + 1} attempts); try again`, {
            branch: this.name, expected: head.id, actual: await repo.backend.refs.get(this.ref), attempts: attempt + 1,
          })
        }
      }
    })
  }

  /**
   * Run `fn` on a private copy of the head and commit all it staged as one commit. If the head moved
   * meanwhile, `fn` runs again on the new head (up to `retries` times, default 5), then LARIX_CONFLICT.
   * @example await main.transaction(async tx => { tx.set('a', 1); tx.set('b', (await tx.get('a')) + 1) })
   */
  async transaction<T>(fn: (tx: Transaction<V>) => Promise<T> | T, opts: TransactionOptions = {}): Promise<TransactionResult<T>> {
    const retries = retriesOf(opts, 5)
    const strategy = opts.strategy ?? 'test-and-set'
    if (strategy !== 'test-and-set' && strategy !== 'merge') throw new BadArgumentError(`unknown transaction strategy ${JSON.stringify(strategy)} (test-and-set, merge)`, 'strategy')
    const { repo } = this
    for (let attempt = 1; ; attempt++) {
      const head = await repo.headOf(this.ref)
      const base = head.id === undefined ? undefined : toCommit(head.id, head.commit!)
      const tx = new Transaction(repo, new Draft(repo.reader, head.root), base)
      let result: T
      try {
        result = await fn(tx)
        await tx.flush()
      } finally {
        tx.closed = true
      }
      const outcome = await repo.lockFor(this.ref).run(async () => {
        const now = await repo.backend.refs.get(this.ref)
        if (now !== head.id) return undefined
        if (tx.draft.root === head.root) return { commit: base }
        const { id: tree, objects } = tx.draft.seal()
        if ((head.commit && tree === head.commit.tree) || (!head.commit && tree === emptyNode().id)) return { commit: base }
        const { stored, commit } = await repo.makeCommit(tree, head.id ? [head.id] : [], opts, 'transaction')
        objects.push(stored)
        return (await repo.storeAndMove(objects, this.ref, head.id, commit.id)) ? { commit } : undefined
      })
      if (outcome) return { commit: outcome.commit, result, attempts: attempt }
      if (strategy === 'merge') return { ...(await this.mergeTransaction(tx.draft, head.root, opts, retries)), result }
      if (attempt <= retries) await backoff(attempt - 1)
      else {
        throw new ConflictError(`branch ${this.name} moved while the transaction ran (${attempt} attempts)`, {
          branch: this.name, expected: head.id, actual: await repo.backend.refs.get(this.ref), attempts: attempt,
        })
      }
    }
  }

  /** The head moved while a transaction ran: merge what it wrote (base → txDraft) into the new head. */
  private async mergeTransaction(txDraft: Draft, base: TreeNode, opts: WriteOptions, retries: number): Promise<{ commit: Commit | undefined; attempts: number }> {
    const { repo } = this
    const { objects: txObjects } = txDraft.seal()
    await repo.backend.objects.putMany(txObjects)
    for (let attempt = 0; ; attempt++) {
      const done = await repo.lockFor(this.ref).run(async () => {
        const cur = await repo.headOf(this.ref)
        const current = cur.id === undefined ? undefined : toCommit(cur.id, cur.commit!)
        const draft = new Draft(repo.reader, emptyNode())
        const ctx = repo.mergeContext(draft)
        const root = await mergeNodes(ctx, base, cur.root, txDraft.root)
        if (ctx.conflicts.length) {
          throw new ConflictError(`the transaction conflicts with changes made on ${this.name} meanwhile: ${ctx.conflicts.map(c => c.path).join(', ')}`, {
            branch: this.name, actual: cur.id, conflicts: ctx.conflicts,
          })
        }
        draft.root = root ?? draft.newNode()
        const { id: tree, objects } = draft.seal()
        if ((cur.commit && tree === cur.commit.tree) || (!cur.commit && tree === emptyNode().id)) return { commit: current }
        const { stored, commit } = await repo.makeCommit(tree, cur.id ? [cur.id] : [], opts, 'transaction')
        objects.push(stored)
        return (await repo.storeAndMove(objects, this.ref, cur.id, commit.id)) ? { commit } : undefined
      })
      if (done) return { commit: done.commit, attempts: attempt + 2 }
      if (attempt >= retries) throw new ConflictError(`branch ${this.name} kept moving while merging the transaction`, { branch: this.name, attempts: attempt + 2 })
      await backoff(attempt + 1)
    }
  }

  /**
   * Merge a branch or commit into this branch: `fast-forward`, `up-to-date`, `merged` (a commit with both
   * parents), or `conflict` with the conflicts and this branch unchanged.
   * @example const r = await main.merge('feature'); if (r.status === 'conflict') console.log(r.conflicts)
   */
  async merge(from: string, opts: MergeOptions = {}): Promise<MergeResult<V>> {
    const { repo } = this
    const retries = retriesOf(opts, 13)
    const theirs = await repo.resolve(from)
    const theirsCommit = await repo.commit(theirs)
    for (let attempt = 0; ; attempt++) {
      const head = await repo.backend.refs.get(this.ref)
      if (head !== undefined && (head === theirs || await isAncestor(repo.reader, theirs, head))) {
        return { status: 'up-to-date', commit: await repo.commit(head) }
      }
      if (head === undefined || (!opts.noFastForward && await isAncestor(repo.reader, head, theirs))) {
        if (opts.dryRun || await repo.backend.refs.cas(this.ref, head, theirs)) return { status: 'fast-forward', commit: theirsCommit }
      } else {
        const { draft, conflicts, bases } = await repo.mergeCommitTrees(head, theirs)
        if (conflicts.length) return { status: 'conflict', conflicts, bases }
        const { id: tree, objects } = draft.seal()
        const { stored, commit } = await repo.makeCommit(tree, [head, theirs], opts, `Merge ${from} into ${this.name}`)
        objects.push(stored)
        if (opts.dryRun) {
          await repo.backend.objects.putMany(objects)
          return { status: 'merged', commit }
        }
        if (await repo.storeAndMove(objects, this.ref, head, commit.id)) return { status: 'merged', commit }
      }
      if (attempt >= retries) throw new ConflictError(`branch ${this.name} kept moving during the merge`, { branch: this.name, attempts: attempt + 1 })
      await backoff(attempt + 1)
    }
  }

  /**
   * Make a new commit that undoes exactly what `rev` changed (a three-way merge, so later changes to other
   * paths stay). A merge commit needs `mainline`: the 1-based parent whose side is kept.
   * @example await main.revert(badCommit.id)
   */
  async revert(rev: string, opts: WriteOptions & { mainline?: number } = {}): Promise<Commit> {
    const { repo } = this
    const target = await repo.commit(rev)
    const { mainline } = opts
    if (target.parents.length > 1 && mainline === undefined) {
      throw new BadArgumentError(`commit ${target.id} is a merge: pass mainline (1 to ${target.parents.length}), the parent whose side to keep`, 'mainline')
    }
    if (mainline !== undefined && (!Number.isInteger(mainline) || mainline < 1 || mainline > Math.max(1, target.parents.length) || target.parents.length === 0)) {
      throw new BadArgumentError(`mainline must be a parent number from 1 to ${target.parents.length} for commit ${target.id}`, 'mainline')
    }
    const parent = target.parents[(mainline ?? 1) - 1]
    const base = await repo.reader.tree(target.tree)
    const theirs = parent === undefined ? undefined : await repo.reader.tree((await repo.reader.commit(parent)).tree)
    const subject = target.info.message.split('\n')[0]
    const message = opts.message ?? `Revert "${subject}"\n\nThis reverts commit ${target.id}.`
    const retries = retriesOf(opts, 13)
    return repo.lockFor(this.ref).run(async () => {
      for (let attempt = 0; ; attempt++) {
        const head = await repo.headOf(this.ref)
        const draft = new Draft(repo.reader, emptyNode())
        const ctx = repo.mergeContext(draft)
        const root = await mergeNodes(ctx, base, head.root, theirs)
        if (ctx.conflicts.length) {
          throw new ConflictError(`cannot revert ${target.id}: later commits changed the same values (${ctx.conflicts.map(c => c.path).join(', ')})`, {
            branch: this.name, actual: head.id, conflicts: ctx.conflicts,
          })
        }
        draft.root = root ?? draft.newNode()
        const { id: tree, objects } = draft.seal()
        if (head.commit && tree === head.commit.tree) return toCommit(head.id!, head.commit)
        const { stored, commit } = await repo.makeCommit(tree, head.id ? [head.id] : [], { ...opts, message }, message)
        objects.push(stored)
        if (await repo.storeAndMove(objects, this.ref, head.id, commit.id)) return commit
        if (attempt >= retries) throw new ConflictError(`branch ${this.name} kept moving during the revert`, { branch: this.name, attempts: attempt + 1 })
        await backoff(attempt + 1)
      }
    })
  }

  /** Fetch this branch from `remote` and merge it here with the store's mergers (content-aware, not Git's line merge). */
  async pull(remote: string, opts: Omit<PullOptions, 'branch'> = {}): Promise<PullResult<V>> {
    return (await import('../sync/client/pull.js')).pull(this.repo, remote, { ...opts, branch: this.name })
  }

  /** Push this branch to `remote` by compare-and-set; `{ pullFirst: true }` turns a rejection into pull-then-push. */
  async push(remote: string, opts: Omit<PushOptions, 'branch'> = {}): Promise<PushResult> {
    return (await import('../sync/client/push.js')).push(this.repo, remote, { ...opts, branch: this.name })
  }

  /** History of the branch, newest first; with `path`, only the commits that changed that path. */
  async *log(opts: { path?: PathInput; limit?: number } = {}): AsyncGenerator<Commit> {
    const head = await this.repo.backend.refs.get(this.ref)
    if (head === undefined) return
    const path = opts.path === undefined ? undefined : parsePath(opts.path)
    for await (const [id, c] of walkCommits(this.repo.reader, [head], { path, limit: opts.limit })) yield toCommit(id, c)
  }

  /**
   * Move the head to `rev` (rollback), by compare-and-set: with `expected`, only if the head is still that commit.
   * @example await main.reset(oldCommitId)
   */
  async reset(rev: string, opts: { expected?: string } = {}): Promise<Commit> {
    const { repo } = this
    const target = await repo.commit(rev)
    return repo.lockFor(this.ref).run(async () => {
      const cur = await repo.backend.refs.get(this.ref)
      if (opts.expected !== undefined && cur !== opts.expected) {
        throw new ConflictError(`branch ${this.name} is at ${cur ?? 'nothing'}, not ${opts.expected}`, { branch: this.name, expected: opts.expected, actual: cur })
      }
      if (!(await repo.backend.refs.cas(this.ref, cur, target.id))) {
        throw new ConflictError(`branch ${this.name} moved during reset`, { branch: this.name, expected: cur })
      }
      return target
    })
  }

  /** Call `listener` after every change of this branch's head. Returns the unsubscribe function. */
  watch(listener: (change: HeadChange) => void): () => void {
    return this.repo.backend.refs.watch(c => {
      if (c.name === this.ref) listener({ branch: this.name, before: c.old, after: c.new })
    })
  }

  /** Call `listener` when the value (or subtree) at `path` changes on this branch. */
  watchKey(path: PathInput, listener: (change: KeyChange<V>) => void | Promise<void>): () => void {
    const p = parsePath(path)
    const { repo } = this
    let chain = Promise.resolve()
    const idAt = async (commit: string | undefined) => {
      if (commit === undefined) return undefined
      const root = await repo.reader.tree((await repo.reader.commit(commit)).tree)
      return p.length === 0 ? root.id : (await lookup(repo.reader, root, p))?.id
    }
    return this.watch(change => {
      chain = chain.then(async () => {
        const [a, b] = await Promise.all([idAt(change.before), idAt(change.after)])
        if (a === b) return
        let value: V | undefined
        if (b !== undefined && change.after !== undefined && p.length > 0) {
          const root = await repo.reader.tree((await repo.reader.commit(change.after)).tree)
          const e = await lookup(repo.reader, root, p)
          if (e?.kind === 'value') value = repo.codec.decode(await valueBytes(repo.reader, e, p))
        }
        await listener({ ...change, path: formatPath(p), value })
      }).catch(e => { queueMicrotask(() => { throw e }) })
    })
  }
}

export { formatPerson, parsePerson }
