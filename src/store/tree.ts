// Immutable, lazily loaded trees. A tree node is read from the object store the first time a path needs
// it and shared through an LRU cache; writes go to a Draft (copy-on-write nodes owned by one writer)
// which `seal` turns into new Git objects in one batch.
import type { ObjectStore } from './backend.js'
import { bytesEqual } from './bytes.js'
import type { Codec } from './contents.js'
import { CorruptObjectError, NotFoundError } from './errors.js'
import { LRU } from './lru.js'
import { decodeCommit, EMPTY_TREE_ID, encodeTree, forEachTreeEntry, MODE_FILE, MODE_TREE, objectId } from './objects.js'
import type { CommitObject, GitObject, ObjectType, StoredObject, TreeEntry, TreeMode } from './objects.js'
import { formatPath, parsePath } from './path.js'
import type { Path, PathInput } from './path.js'

/** A value leaf: its blob id (undefined until sealed) and, when written or read, its bytes. */
export interface ValueEntry { kind: 'value'; mode: TreeMode; id: string | undefined; data: Uint8Array | undefined }
/** A subtree: its id (undefined while a draft owns it) and, when a draft owns it, the node itself. */
export interface SubtreeEntry { kind: 'tree'; id: string | undefined; node: TreeNode | undefined }
export type Entry = ValueEntry | SubtreeEntry

export interface TreeNode {
  id: string | undefined
  entries: Map<string, Entry>
  /** The draft that may mutate this node; undefined once frozen. */
  owner: object | undefined
}

export const emptyNode = (): TreeNode => ({ id: EMPTY_TREE_ID, entries: new Map(), owner: undefined })

export interface CacheOptions {
  /** How many decoded tree nodes to keep (default 50,000). */
  trees?: number
  /** How many bytes of values to keep (default 64 MiB). */
  valueBytes?: number
  /** How many decoded commits to keep (default 20,000). */
  commits?: number
}

/** How many generations one read of the commit-graph index covers. */
const GRAPH_WINDOW = 4096

/** Reads objects through caches of decoded trees, commits and value bytes. */
export class ObjectReader {
  private readonly trees: LRU<string, TreeNode>
  private readonly blobs: LRU<string, Uint8Array>
  private readonly commits: LRU<string, CommitObject>
  private readonly generations = new LRU<string, number>(1_000_000)
  private readonly graphParents = new LRU<string, string[]>(200_000)
  private readonly graphWindows = new Set<number>()
  private readonly shallow = new Set<string>()
  constructor(readonly objects: ObjectStore, opts: CacheOptions = {}) {
    this.trees = new LRU(opts.trees ?? 50_000)
    this.blobs = new LRU(opts.valueBytes ?? 64 * 1024 * 1024, (b) => b.length + 64)
    this.commits = new LRU(opts.commits ?? 20_000)
  }

  async object(id: string, expected?: ObjectType): Promise<GitObject> {
    const o = await this.objects.get(id)
    if (!o) throw new NotFoundError(expected ?? 'object', id)
    if (expected && o.type !== expected) throw new NotFoundError(expected, id)
    return o
  }

  cachedTree(id: string): TreeNode | undefined {
    if (id === EMPTY_TREE_ID) return emptyNode()
    return this.trees.get(id)
  }

  async tree(id: string): Promise<TreeNode> {
    const hit = this.cachedTree(id)
    if (hit) return hit
    const o = await this.object(id, 'tree')
    const node = nodeFromBody(id, o.body)
    this.trees.set(id, node)
    return node
  }

  /** The node of tree `id` whose body is at hand (made but maybe not stored yet); cached. */
  nodeOf(id: string, body: Uint8Array): TreeNode {
    const hit = this.cachedTree(id)
    if (hit) return hit
    const node = nodeFromBody(id, body)
    this.trees.set(id, node)
    return node
  }

  /** Remember a node just sealed, so the next commit on it need not read it back. */
  remember(node: TreeNode): void {
    if (node.id) this.trees.set(node.id, node)
  }

  async blob(id: string): Promise<Uint8Array> {
    const hit = this.blobs.get(id)
    if (hit) return hit
    const o = await this.object(id, 'blob')
    this.blobs.set(id, o.body)
    return o.body
  }

  async commit(id: string): Promise<CommitObject> {
    const hit = this.commits.get(id)
    if (hit) return hit
    const o = await this.object(id, 'commit')
    let c = decodeCommit(o.body)
    // A shallow clone's boundary: history stops here (the parents are not in the store).
    if (this.shallow.has(id)) c = { ...c, parents: [] }
    else if (o.generation !== undefined) this.generations.set(id, o.generation)
    this.commits.set(id, c)
    return c
  }

  /** The commits of a shallow history whose parents are missing on purpose: walks treat them as roots. */
  setShallow(ids: Iterable<string>): void {
    this.shallow.clear()
    for (const id of ids) this.shallow.add(id)
    this.commits.clear()
    this.generations.clear()
    this.graphParents.clear()
    this.graphWindows.clear()
  }

  /**
   * The generation number of a commit: 1 for a root, else 1 + its parents' largest. Read from the store
   * when it keeps them; otherwise computed once, walking down to commits whose generation is known.
   */
  async generation(id: string): Promise<number> {
    const known = this.generations.get(id)
    if (known !== undefined) return known
    const stack = [id]
    while (stack.length) {
      const top = stack[stack.length - 1]
      if (this.generations.get(top) !== undefined) { stack.pop(); continue }
      const c = await this.commit(top)
      if (this.generations.get(top) !== undefined) { stack.pop(); continue }
      let max = 0
      let pending = false
      for (const p of c.parents) {
        const g = this.generations.get(p)
        if (g === undefined) { stack.push(p); pending = true } else if (g > max) max = g
      }
      if (!pending) { this.generations.set(top, max + 1); stack.pop() }
    }
    return this.generations.get(id)!
  }

  /**
   * The parents of a commit: from the caches, else from the store's commit-graph index (a window of
   * generations read in one scan, when the store has one and `generation` is known), else the commit itself.
   */
  parentsOf(id: string): string[] | Promise<string[]> {
    if (this.shallow.has(id)) return []
    const c = this.commits.get(id)
    if (c) return c.parents
    const p = this.graphParents.get(id)
    if (p) return p
    return this.loadParents(id)
  }

  private async loadParents(id: string): Promise<string[]> {
    const g = this.generations.get(id)
    if (g !== undefined) {
      await this.prefetchGraph(g)
      const p = this.graphParents.get(id)
      if (p) return p
    }
    return (await this.commit(id)).parents
  }

  /**
   * Load the window of the commit-graph index holding `generation` (once), so the commits of a walk through
   * those generations need no reads of their own. Does nothing for stores without the index.
   */
  prefetchGraph(generation: number): Promise<void> | undefined {
    if (!this.objects.graphRange || generation < 1) return undefined
    const window = Math.floor(generation / GRAPH_WINDOW)
    if (this.graphWindows.has(window)) return undefined
    this.graphWindows.add(window)
    return this.objects.graphRange(window * GRAPH_WINDOW, window * GRAPH_WINDOW + GRAPH_WINDOW - 1).then(entries => {
      for (const e of entries) {
        this.graphParents.set(e.id, e.parents)
        this.generations.set(e.id, e.generation)
      }
    })
  }

  /** The generation if known, without reading the commit when the commit-graph window holding it was loaded. */
  generationOf(id: string): number | Promise<number> {
    return this.generations.get(id) ?? this.generation(id)
  }

  /** The decoded commit if cached (no I/O). */
  cachedCommit(id: string): CommitObject | undefined { return this.commits.get(id) }
  /** The generation number if known (no I/O). */
  cachedGeneration(id: string): number | undefined { return this.generations.get(id) }

  rememberCommit(id: string, c: CommitObject, generation?: number): void {
    this.commits.set(id, c)
    if (generation !== undefined) this.generations.set(id, generation)
  }
  rememberBlob(id: string, data: Uint8Array): void { this.blobs.set(id, data) }
}

function nodeFromBody(id: string, body: Uint8Array): TreeNode {
  const entries = new Map<string, Entry>()
  forEachTreeEntry(body, (name, mode, eid) => {
    if (entries.has(name)) throw new CorruptObjectError(`tree ${id} has two entries named "${name}"`, { id, type: 'tree' })
    entries.set(name, mode === MODE_TREE ? { kind: 'tree', id: eid, node: undefined } : { kind: 'value', mode, id: eid, data: undefined })
  })
  return { id, entries, owner: undefined }
}

/** The node a subtree entry points to. */
export async function childNode(reader: ObjectReader, e: SubtreeEntry): Promise<TreeNode> {
  if (e.node) return e.node
  return reader.cachedTree(e.id!) ?? reader.tree(e.id!)
}

/** The entry at `path` below `root` (undefined if absent; the root itself is not an entry). */
export async function lookup(reader: ObjectReader, root: TreeNode, path: Path): Promise<Entry | undefined> {
  let node = root
  const last = path.length - 1
  for (let i = 0; i < last; i++) {
    const e = node.entries.get(path[i])
    if (e === undefined || e.kind !== 'tree') return undefined
    node = e.node ?? reader.cachedTree(e.id!) ?? await reader.tree(e.id!)
  }
  return node.entries.get(path[last])
}

/** The node at `path` (the root for []), or undefined when absent or a value. */
export async function nodeAt(reader: ObjectReader, root: TreeNode, path: Path): Promise<TreeNode | undefined> {
  if (path.length === 0) return root
  const e = await lookup(reader, root, path)
  return e?.kind === 'tree' ? childNode(reader, e) : undefined
}

export async function valueBytes(reader: ObjectReader, e: ValueEntry, path: Path): Promise<Uint8Array> {
  if (e.data) return e.data
  if (e.mode === '160000') throw new NotFoundError('submodule commit', `${e.id} at ${formatPath(path)}`)
  return reader.blob(e.id!)
}

/** What a listing shows for each child. */
export interface ListEntry { name: string; kind: 'value' | 'tree' }

export function listNode(node: TreeNode): ListEntry[] {
  const out: ListEntry[] = []
  for (const [name, e] of node.entries) out.push({ name, kind: e.kind })
  out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  return out
}

/** One difference between two trees, at a value path. */
export interface RawChange { path: string[]; before: ValueEntry | undefined; after: ValueEntry | undefined }

function sameValue(a: ValueEntry, b: ValueEntry): boolean {
  if (a.id !== undefined && b.id !== undefined) return a.id === b.id && a.mode === b.mode
  return a.data !== undefined && b.data !== undefined && bytesEqual(a.data, b.data)
}

async function* leaves(reader: ObjectReader, node: TreeNode, prefix: string[]): AsyncGenerator<[string[], ValueEntry]> {
  for (const [name, e] of node.entries) {
    const p = [...prefix, name]
    if (e.kind === 'value') yield [p, e]
    else yield* leaves(reader, await childNode(reader, e), p)
  }
}

/** Every value below `node`, depth first, with its path. */
export function walkValues(reader: ObjectReader, node: TreeNode, prefix: string[] = []): AsyncGenerator<[string[], ValueEntry]> {
  return leaves(reader, node, prefix)
}

/** The values that differ between two trees; subtrees with equal ids are skipped without being read. */
export async function* diffNodes(reader: ObjectReader, a: TreeNode, b: TreeNode, prefix: string[] = []): AsyncGenerator<RawChange> {
  if (a.id !== undefined && a.id === b.id) return
  const names = new Set<string>([...a.entries.keys(), ...b.entries.keys()])
  for (const name of [...names].sort()) {
    const x = a.entries.get(name), y = b.entries.get(name)
    const p = [...prefix, name]
    if (x && y && x.kind === 'tree' && y.kind === 'tree') {
      if (x.id !== undefined && x.id === y.id) continue
      yield* diffNodes(reader, await childNode(reader, x), await childNode(reader, y), p)
      continue
    }
    if (x && y && x.kind === 'value' && y.kind === 'value') {
      if (!sameValue(x, y)) yield { path: p, before: x, after: y }
      continue
    }
    if (x) {
      if (x.kind === 'value') yield { path: p, before: x, after: undefined }
      else for await (const [q, v] of leaves(reader, await childNode(reader, x), p)) yield { path: q, before: v, after: undefined }
    }
    if (y) {
      if (y.kind === 'value') yield { path: p, before: undefined, after: y }
      else for await (const [q, v] of leaves(reader, await childNode(reader, y), p)) yield { path: q, before: undefined, after: v }
    }
  }
}

/**
 * A writer's private copy of a tree. Nodes are copied on first write (path copying), so the base tree
 * and every other reader keep seeing the old version. `seal` hashes what changed, bottom up.
 */
export class Draft {
  private readonly token = {}
  root: TreeNode

  constructor(private readonly reader: ObjectReader, base: TreeNode) {
    this.root = base
  }

  private own(node: TreeNode): TreeNode {
    if (node.owner === this.token) return node
    return { id: undefined, entries: new Map(node.entries), owner: this.token }
  }

  /** Set the value at `path` to `data`. A value in the way of a directory (or the reverse) is replaced. */
  async set(path: Path, data: Uint8Array, id?: string): Promise<void> {
    let node = this.root = this.own(this.root)
    const last = path.length - 1
    for (let i = 0; i < last; i++) {
      const e = node.entries.get(path[i])
      let child: TreeNode
      if (e?.kind === 'tree') {
        if (e.node?.owner === this.token) { node = e.node; continue }
        child = this.own(e.node ?? this.reader.cachedTree(e.id!) ?? await this.reader.tree(e.id!))
      } else {
        child = { id: undefined, entries: new Map(), owner: this.token }
      }
      node.entries.set(path[i], { kind: 'tree', id: undefined, node: child })
      node = child
    }
    const prev = node.entries.get(path[last])
    if (id !== undefined && prev?.kind === 'value' && prev.id === id && prev.mode === MODE_FILE) return
    node.entries.set(path[last], { kind: 'value', mode: MODE_FILE, id, data })
  }

  /** Put a whole subtree (by id) at `path`, replacing what is there. */
  async setTree(path: Path, treeId: string): Promise<void> {
    if (path.length === 0) { this.root = await this.reader.tree(treeId); return }
    await this.remove(path)
    if (treeId === EMPTY_TREE_ID) return
    const parent = await this.ensureDir(path.slice(0, -1))
    parent.entries.set(path[path.length - 1], { kind: 'tree', id: treeId, node: undefined })
  }

  private async ensureDir(path: Path): Promise<TreeNode> {
    let node = this.root = this.own(this.root)
    for (const seg of path) {
      const e = node.entries.get(seg)
      let child: TreeNode
      if (e?.kind === 'tree') {
        if (e.node?.owner === this.token) { node = e.node; continue }
        child = this.own(await childNode(this.reader, e))
      } else child = { id: undefined, entries: new Map(), owner: this.token }
      node.entries.set(seg, { kind: 'tree', id: undefined, node: child })
      node = child
    }
    return node
  }

  /** Remove the value or subtree at `path`; directories left empty are removed too. The root empties the tree. */
  async remove(path: Path): Promise<boolean> {
    if (path.length === 0) {
      const had = this.root.entries.size > 0
      this.root = { id: undefined, entries: new Map(), owner: this.token }
      return had
    }
    // Find the path first without copying anything, so removing an absent key costs no writes.
    const chain: TreeNode[] = [this.root]
    for (let i = 0; i < path.length - 1; i++) {
      const e = chain[i].entries.get(path[i])
      if (e?.kind !== 'tree') return false
      chain.push(await childNode(this.reader, e))
    }
    if (!chain[chain.length - 1].entries.has(path[path.length - 1])) return false
    // Copy the chain, then delete and prune directories that became empty.
    let node = this.root = this.own(this.root)
    const owned: TreeNode[] = [node]
    for (let i = 0; i < path.length - 1; i++) {
      const child = this.own(chain[i + 1])
      node.entries.set(path[i], { kind: 'tree', id: undefined, node: child })
      owned.push(child)
      node = child
    }
    node.entries.delete(path[path.length - 1])
    for (let i = owned.length - 1; i > 0 && owned[i].entries.size === 0; i--) owned[i - 1].entries.delete(path[i - 1])
    return true
  }

  /** A new empty node owned by this draft (for building merge results). */
  newNode(): TreeNode {
    return { id: undefined, entries: new Map(), owner: this.token }
  }

  private made: StoredObject[] = []

  /** Objects made outside the draft (by the merge's fast path) that its tree uses: `seal` returns them too. */
  adopt(objects: readonly StoredObject[]): void {
    for (const o of objects) this.made.push(o)
  }

  /** Hash every node this draft changed, bottom up. Returns the root id and the new objects to store. */
  seal(): { id: string; objects: StoredObject[] } {
    const objects: StoredObject[] = this.made
    this.made = []
    const id = this.sealNode(this.root, objects)
    return { id, objects }
  }

  private sealNode(node: TreeNode, out: StoredObject[]): string {
    if (node.owner !== this.token) return node.id!
    const list: TreeEntry[] = []
    for (const [name, e] of node.entries) {
      if (e.kind === 'tree') {
        if (e.node && e.node.owner === this.token) {
          if (e.node.entries.size === 0) { node.entries.delete(name); continue }
          const cid = this.sealNode(e.node, out)
          node.entries.set(name, { kind: 'tree', id: cid, node: undefined })
          list.push({ name, mode: MODE_TREE, id: cid })
        } else list.push({ name, mode: MODE_TREE, id: e.id ?? e.node!.id! })
      } else {
        let vid = e.id
        if (e.data !== undefined) {
          // Written in this draft: store the blob (its id may have been computed already by the caller).
          vid ??= objectId('blob', e.data)
          out.push({ id: vid, type: 'blob', body: e.data })
          node.entries.set(name, { kind: 'value', mode: e.mode, id: vid, data: undefined })
          this.reader.rememberBlob(vid, e.data)
        }
        list.push({ name, mode: e.mode, id: vid! })
      }
    }
    const body = encodeTree(list)
    const id = objectId('tree', body)
    out.push({ id, type: 'tree', body })
    node.id = id
    node.owner = undefined
    this.reader.remember(node)
    return id
  }
}

/**
 * An immutable snapshot of a tree of values. Nodes are read on demand.
 * @example const t = await branch.tree(); await t.get('todo/1'); await t.list('todo')
 */
export class Tree<V = unknown> {
  /** @internal */
  constructor(private readonly reader: ObjectReader, private readonly codec: Codec<V>, /** @internal */ readonly root: TreeNode) {}

  /** The Git id of this tree. */
  get id(): string { return this.root.id ?? '' }

  /** The value at `path`, or undefined when there is none (a directory is not a value). */
  async get(path: PathInput): Promise<V | undefined> {
    const p = parsePath(path, { allowRoot: false })
    const e = await lookup(this.reader, this.root, p)
    if (e?.kind !== 'value') return undefined
    return this.codec.decode(await valueBytes(this.reader, e, p))
  }

  /** The stored bytes of the value at `path`. */
  async getBytes(path: PathInput): Promise<Uint8Array | undefined> {
    const p = parsePath(path, { allowRoot: false })
    const e = await lookup(this.reader, this.root, p)
    return e?.kind === 'value' ? (await valueBytes(this.reader, e, p)).slice() : undefined
  }

  /** 'value', 'tree' or undefined. */
  async kind(path: PathInput): Promise<'value' | 'tree' | undefined> {
    const p = parsePath(path)
    if (p.length === 0) return 'tree'
    return (await lookup(this.reader, this.root, p))?.kind
  }

  /** The children of the directory at `path` (root by default), sorted by name; [] when it is not a directory. */
  async list(path: PathInput = []): Promise<ListEntry[]> {
    const node = await nodeAt(this.reader, this.root, parsePath(path))
    return node ? listNode(node) : []
  }

  /** The Git id of the value or subtree at `path`. */
  async idAt(path: PathInput): Promise<string | undefined> {
    const p = parsePath(path)
    if (p.length === 0) return this.root.id
    return (await lookup(this.reader, this.root, p))?.id
  }

  /** Every value below `path`, depth first. */
  async *entries(path: PathInput = []): AsyncGenerator<[string, V]> {
    const p = parsePath(path)
    const node = await nodeAt(this.reader, this.root, p)
    if (!node) {
      const e = p.length ? await lookup(this.reader, this.root, p) : undefined
      if (e?.kind === 'value') yield [formatPath(p), this.codec.decode(await valueBytes(this.reader, e, p))]
      return
    }
    for await (const [q, e] of walkValues(this.reader, node, [...p])) yield [formatPath(q), this.codec.decode(await valueBytes(this.reader, e, q))]
  }

  /** The values that differ from `other` to this tree: `before` is other's value, `after` this one's. */
  async diff(other: Tree<V>): Promise<{ path: string; before: V | undefined; after: V | undefined }[]> {
    const out = []
    for await (const c of diffNodes(this.reader, other.root, this.root)) {
      out.push({
        path: formatPath(c.path),
        before: c.before ? this.codec.decode(await valueBytes(this.reader, c.before, c.path)) : undefined,
        after: c.after ? this.codec.decode(await valueBytes(this.reader, c.after, c.path)) : undefined,
      })
    }
    return out
  }
}
