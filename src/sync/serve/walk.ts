// Which objects a fetch must send, and whether a push is connected: the commits reachable from the wanted
// tips but not from what the other side has, walked by generation number so the walk stops as soon as
// nothing interesting is left, then the trees and blobs of those commits minus what the boundary commits
// (the ones the other side has, just below) already hold at the same paths.
import type { ObjectStore } from '../../store/backend.js'
import { NotFoundError } from '../../store/errors.js'
import { Heap } from '../../store/history.js'
import type { LRU } from '../../store/lru.js'
import { decodeTag, decodeTree, MODE_TREE } from '../../store/objects.js'
import type { CommitObject, ObjectType, TreeEntry } from '../../store/objects.js'
import type { ObjectReader } from '../../store/tree.js'
import { INTRODUCED_RECORD, INTRODUCED_TREE, introducedFromBodies, isIntroducedEntry } from '../../store/introduced.js'
import { CODE_TYPE, OBJ_BLOB, OBJ_TREE, TYPE_CODE } from '../pack/format.js'
import { writeHexId } from '../../store/bytes.js'

/** One object to send, in pack order. */
export interface WalkedObject {
  id: string
  type: ObjectType
  /**
   * A tree: the index in this list of an earlier tree at the same path (of a newer commit), a likely delta
   * base: the pack writer may send this one as a delta against it. Each entry is the base of at most one.
   */
  base?: number
}

export interface WalkInput {
  /** What the other side wants: commits, or tags, trees and blobs. */
  wants: readonly string[]
  /** What it has (and so everything reachable from there): commits or tags; unknown ids must be left out. */
  haves: readonly string[]
  /** Commits the other side holds without their parents (a shallow clone): its view of history stops there. */
  clientShallow?: ReadonlySet<string>
  /** Commits whose parents are not to be sent (the shallow boundary of a `deepen`). */
  boundary?: ReadonlySet<string>
  /** Client-shallow commits whose parents the client now gets (a deepen made them non-shallow). */
  unshallow?: readonly string[]
}

export interface WalkOptions {
  /** Check that every object exists (a blob is looked up, not read): for a push's connectivity check. */
  verify?: boolean
  /** Called now and then with the number of objects found so far. */
  onProgress?(objects: number): void
  /** Objects already read during the walk (commit and tree bodies), for the pack writer to reuse; bounded by `cacheBytes`. */
  cache?: Map<string, Uint8Array>
  cacheBytes?: number
  /** At most this many boundary trees are compared against (default 32); more only means sending a few objects twice. */
  maxBoundaryTrees?: number
  /** Stops the walk (it rejects with the signal's reason). */
  signal?: AbortSignal
  /** Index entries by commit, read or built before (a server's, kept across requests); filled as entries are read. */
  introduced?: LRU<string, Uint8Array>
}

export interface WalkResult {
  objects: WalkedObject[]
  /** Commits to send, newest first. */
  commits: string[]
}

/** An object a walk needed and the store does not hold (a push that is not connected, a store that lost data). */
export class MissingObjectError extends NotFoundError {
  constructor(what: string, id: string) {
    super(what, id)
  }
}

const INTERESTING = 1
const UNINTERESTING = 2

const NONE: readonly string[] = []
const BLOB = 0, TREE = 1, GITLINK = 2
const HEX_CODES = new Uint8Array(512)
for (let i = 0; i < 256; i++) {
  const h = i.toString(16).padStart(2, '0')
  HEX_CODES[2 * i] = h.charCodeAt(0)
  HEX_CODES[2 * i + 1] = h.charCodeAt(1)
}
/** Both hex digits of a byte as one 16-bit unit, in the platform's byte order (for a Uint16Array over bytes). */
const HEX_PAIRS = new Uint16Array(256)
{
  const probe = new Uint8Array(new Uint16Array([1]).buffer)
  const little = probe[0] === 1
  for (let i = 0; i < 256; i++) {
    const hi = HEX_CODES[2 * i], lo = HEX_CODES[2 * i + 1]
    HEX_PAIRS[i] = little ? (lo << 8) | hi : (hi << 8) | lo
  }
}
const latin1 = new TextDecoder('latin1')
let hexScratch = new Uint8Array(40 * 64)

/** The value of one lowercase hex digit (ids are lowercase, as tree scanning makes them), or -1. */
function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x61 && c <= 0x66) return c - 0x57
  return -1
}

/**
 * A set of 20-byte object ids in one open-addressed table (SHA-1 ids are uniform, so their first four
 * bytes are the hash): membership of an id inside a tree body without making a string of it.
 */
class IdSet {
  private keys: Uint8Array
  private used: Uint8Array
  private mask: number
  private size = 0

  /** Room for `expected` ids before the table grows. */
  constructor(expected = 2048) {
    let cap = 4096
    while (cap < 2 * expected) cap *= 2
    this.keys = new Uint8Array(20 * cap)
    this.used = new Uint8Array(cap)
    this.mask = cap - 1
  }

  private slot(b: Uint8Array, at: number): number {
    let i = ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) & this.mask
    for (;;) {
      if (this.used[i] === 0) return i
      const k = 20 * i
      let same = true
      for (let j = 0; j < 20; j++) if (this.keys[k + j] !== b[at + j]) { same = false; break }
      if (same) return i
      i = (i + 1) & this.mask
    }
  }

  has(b: Uint8Array, at: number): boolean {
    return this.used[this.slot(b, at)] === 1
  }

  add(b: Uint8Array, at: number): void {
    this.addNew(b, at)
  }

  /** Add the id; false if it was in the set already. */
  addNew(b: Uint8Array, at: number): boolean {
    const i = this.slot(b, at)
    if (this.used[i] === 1) return false
    this.used[i] = 1
    const keys = this.keys, k = 20 * i
    for (let j = 0; j < 20; j++) keys[k + j] = b[at + j]
    if (++this.size * 2 > this.mask) this.grow()
    return true
  }

  /** Grow once now to hold `more` ids beyond those held (instead of doubling step by step). */
  reserve(more: number): void {
    let cap = this.mask + 1
    while (2 * (this.size + more) >= cap) cap *= 2
    if (cap > this.mask + 1) this.grow(cap)
  }

  private readonly one = new Uint8Array(20)
  /** Add a 40-digit lowercase hex id (anything else is ignored: `sent` alone decides for it). */
  addHex(id: string): void {
    if (id.length !== 40) return
    for (let j = 0; j < 20; j++) {
      const hi = hexValue(id.charCodeAt(2 * j)), lo = hexValue(id.charCodeAt(2 * j + 1))
      if (hi < 0 || lo < 0) return
      this.one[j] = (hi << 4) | lo
    }
    this.add(this.one, 0)
  }

  private grow(cap = 2 * this.used.length): void {
    const oldKeys = this.keys, oldUsed = this.used
    this.keys = new Uint8Array(20 * cap)
    this.used = new Uint8Array(cap)
    this.mask = cap - 1
    this.size = 0
    for (let i = 0; i < oldUsed.length; i++) if (oldUsed[i] === 1) this.add(oldKeys, 20 * i)
  }
}

/**
 * The entry ids (hex) and kinds of a tree in Git's common shape (modes 100644, 100755, 120000, 40000,
 * 160000), without decoding names; the ids of entries already in `skip` are left undefined, the others are
 * hex-encoded with one decode call for the tree. Undefined for anything else (the caller falls back to
 * decodeTree, which reports what is wrong).
 */
function scanTree(body: Uint8Array, skip: IdSet): { ids: (string | undefined)[]; kinds: Uint8Array } | undefined {
  const kindsList: number[] = []
  const at: number[] = []
  let i = 0
  const n = body.length
  while (i < n) {
    let kind: number
    if (body[i] === 0x34 && body[i + 1] === 0x30 && body[i + 2] === 0x30 && body[i + 3] === 0x30 && body[i + 4] === 0x30 && body[i + 5] === 0x20) { kind = TREE; i += 6 }
    else if (body[i] === 0x31 && body[i + 6] === 0x20) {
      // 1xxxxx: the five octal digits after the 1, as one number.
      for (let k = i + 1; k <= i + 5; k++) if (body[k] < 0x30 || body[k] > 0x37) return undefined
      const m = (body[i + 1] - 0x30) * 10000 + (body[i + 2] - 0x30) * 1000 + (body[i + 3] - 0x30) * 100 + (body[i + 4] - 0x30) * 10 + (body[i + 5] - 0x30)
      if (m === 644 || m === 755 || m === 20000) kind = BLOB
      else if (m === 60000) kind = GITLINK
      else return undefined
      i += 7
    } else return undefined
    const nul = body.indexOf(0, i)
    if (nul <= i || nul + 21 > n) return undefined
    at.push(skip.has(body, nul + 1) ? -1 : nul + 1)
    kindsList.push(kind)
    i = nul + 21
  }
  const count = at.length
  if (hexScratch.length < 40 * count) hexScratch = new Uint8Array(40 * count)
  let fresh = 0
  for (let e = 0; e < count; e++) {
    const from = at[e]
    if (from < 0) continue
    const to = 40 * fresh++
    for (let k = 0; k < 20; k++) {
      const v = body[from + k] << 1
      hexScratch[to + 2 * k] = HEX_CODES[v]
      hexScratch[to + 2 * k + 1] = HEX_CODES[v + 1]
    }
  }
  const ids: (string | undefined)[] = new Array(count)
  if (fresh > 0) {
    const all = latin1.decode(hexScratch.subarray(0, 40 * fresh))
    for (let e = 0, f = 0; e < count; e++) if (at[e] >= 0) { ids[e] = all.slice(40 * f, 40 * f + 40); f++ }
  }
  return { ids, kinds: Uint8Array.from(kindsList) }
}

/** Read an object's type and body, or throw MissingObjectError. */
async function readObject(store: ObjectStore, id: string, what: string): Promise<{ type: ObjectType; body: Uint8Array }> {
  const o = await store.get(id)
  if (!o) throw new MissingObjectError(what, id)
  return o
}

/** Follow tags down to what they point at; every tag met is reported to `onTag`. */
async function peel(store: ObjectStore, id: string, onTag?: (tag: string) => void): Promise<{ id: string; type: ObjectType }> {
  for (let depth = 0; ; depth++) {
    const o = await readObject(store, id, 'object')
    if (o.type !== 'tag' || depth > 16) return { id, type: o.type }
    onTag?.(id)
    id = decodeTag(o.body).object
  }
}

async function commitOf(reader: ObjectReader, id: string): Promise<CommitObject> {
  try {
    return reader.cachedCommit(id) ?? await reader.commit(id)
  } catch (e) {
    if (e instanceof NotFoundError) throw new MissingObjectError('commit', id)
    throw e
  }
}

async function generationOf(reader: ObjectReader, id: string): Promise<number> {
  const g = reader.cachedGeneration(id)
  if (g !== undefined) return g
  try {
    return await reader.generation(id)
  } catch (e) {
    if (e instanceof NotFoundError) throw new MissingObjectError('commit', (e.data as { id: string }).id ?? id)
    throw e
  }
}

/**
 * The shallow boundary of `deepen depth` from `from` (the wants; for deepen-relative the client's shallow
 * commits, one deeper) as Git's get_shallow_commits finds it: commits at distance `depth` (`from` being
 * at 1) that have parents. `unshallow`: commits the client had as shallow that
 * now lie above the boundary, so it will get their parents.
 */
export async function shallowBoundary(
  reader: ObjectReader, from: readonly string[], depth: number, clientShallow: ReadonlySet<string>,
): Promise<{ boundary: Set<string>; shallow: string[]; unshallow: string[] }> {
  const depthOf = new Map<string, number>()
  let queue: string[] = []
  for (const w of from) if (!depthOf.has(w)) { depthOf.set(w, 1); queue.push(w) }
  const boundary = new Set<string>()
  for (let d = 1; queue.length > 0; d++) {
    const next: string[] = []
    for (const id of queue) {
      const c = await commitOf(reader, id)
      if (c.parents.length === 0) continue
      if (d >= depth) { boundary.add(id); continue }
      for (const p of c.parents) if (!depthOf.has(p)) { depthOf.set(p, d + 1); next.push(p) }
    }
    queue = next
  }
  const shallow = [...boundary].filter(id => !clientShallow.has(id))
  const unshallow = [...clientShallow].filter(id => depthOf.has(id) && !boundary.has(id))
  return { boundary, shallow, unshallow }
}

/**
 * The commits reachable from `input.wants` and not from `input.haves` (newest first), then their trees and
 * blobs not already held by the boundary commits. Tags among the wants are sent and followed.
 * Throws MissingObjectError when an object on the way is not in `store`.
 */
export async function walkObjects(store: ObjectStore, reader: ObjectReader, input: WalkInput, opts: WalkOptions = {}): Promise<WalkResult> {
  const out: WalkedObject[] = []
  const sent = new Set<string>()
  /** The same ids as `sent`, as bytes: tree entries already sent are skipped without making their hex. */
  const sentBytes = new IdSet()
  const verify = opts.verify ?? false
  const cache = opts.cache
  let cacheLeft = cache ? (opts.cacheBytes ?? 64 << 20) : 0
  const remember = (id: string, body: Uint8Array) => {
    if (cache && body.length <= cacheLeft) { cache.set(id, body); cacheLeft -= body.length }
  }
  let lastReport = 0
  /** The last tree sent at each path (by name, from the root): the next tree there is sent as a delta of it. */
  const lastAt = new Map<string, number>()
  const addTree = (id: string, path: string | undefined) => {
    const base = path === undefined ? undefined : lastAt.get(path)
    add(id, 'tree')
    if (path === undefined) return
    if (base !== undefined) out[out.length - 1].base = base
    lastAt.set(path, out.length - 1)
  }
  const add = (id: string, type: ObjectType) => {
    sentBytes.addHex(id)
    addListed(id, type)
  }
  /** `add` for an id already in `sentBytes`. */
  const addListed = (id: string, type: ObjectType) => {
    sent.add(id)
    out.push({ id, type })
    if (out.length - lastReport >= 1000) {
      lastReport = out.length
      opts.signal?.throwIfAborted()
      opts.onProgress?.(out.length)
    }
  }

  // Wants: tags are sent and peeled; commits start the walk; trees and blobs are sent as they are.
  const wantCommits: string[] = []
  const wantTrees: string[] = []
  const wantTags: string[] = []
  for (const w of input.wants) {
    const target = await peel(store, w, t => wantTags.push(t))
    if (target.type === 'commit') wantCommits.push(target.id)
    else if (target.type === 'tree') wantTrees.push(target.id)
    else if (!sent.has(target.id)) add(target.id, target.type)
  }
  const haveCommits: string[] = []
  const haveTags = new Set<string>()
  for (const h of input.haves) {
    const o = await store.get(h)
    if (!o) continue
    if (o.type === 'tag') {
      haveTags.add(h)
      try {
        const t = await peel(store, h)
        if (t.type === 'commit') haveCommits.push(t.id)
      } catch (e) { if (!(e instanceof MissingObjectError)) throw e }
    } else if (o.type === 'commit') haveCommits.push(h)
  }

  // Commits, by generation: every child of a commit is popped before it, so its flag is final when popped.
  // Each commit enters the heap once; one first met as interesting may turn uninteresting while queued.
  const flags = new Map<string, number>()
  const heap = new Heap<string>()
  const popped = new Set<string>()
  let interestingQueued = 0
  const markUninteresting = async (id: string) => {
    const f = flags.get(id)
    if (f === UNINTERESTING) return
    flags.set(id, UNINTERESTING)
    if (f === INTERESTING) { if (!popped.has(id)) interestingQueued-- } // popped already only if generations lie
    else heap.push(await generationOf(reader, id), id)
  }
  const markInteresting = async (id: string) => {
    if (flags.has(id)) return
    flags.set(id, INTERESTING)
    interestingQueued++
    heap.push(await generationOf(reader, id), id)
  }
  for (const h of haveCommits) await markUninteresting(h)
  for (const w of wantCommits) await markInteresting(w)
  // The other side has an unshallowed commit but none of its parents: they start the walk too.
  for (const u of input.unshallow ?? []) for (const p of (await commitOf(reader, u)).parents) await markInteresting(p)
  const commits: string[] = []
  const clientShallow = input.clientShallow
  const grafted = input.boundary
  while (heap.size > 0 && interestingQueued > 0) {
    if ((popped.size & 1023) === 0) opts.signal?.throwIfAborted()
    const id = heap.pop()!
    popped.add(id)
    const c = await commitOf(reader, id)
    if (flags.get(id) === UNINTERESTING) {
      if (clientShallow?.has(id)) continue // the other side's history stops here
      for (const p of c.parents) await markUninteresting(p)
      continue
    }
    interestingQueued--
    commits.push(id)
    if (grafted?.has(id)) continue
    for (const p of c.parents) await markInteresting(p)
  }
  const boundaryCommits = new Set<string>()
  // The boundary: uninteresting parents of the commits sent. The other side has their whole trees.
  for (const id of commits) {
    if (grafted?.has(id)) continue
    for (const p of (await commitOf(reader, id)).parents) if (flags.get(p) === UNINTERESTING) boundaryCommits.add(p)
  }
  for (const id of commits) add(id, 'commit')
  for (const t of wantTags) if (!sent.has(t) && !haveTags.has(t)) add(t, 'tag')


  const maxBoundary = opts.maxBoundaryTrees ?? 32
  const boundaryTrees: string[] = []
  for (const b of boundaryCommits) {
    if (boundaryTrees.length >= maxBoundary) break
    const t = (await commitOf(reader, b)).tree
    if (!boundaryTrees.includes(t)) boundaryTrees.push(t)
  }
  // Boundary trees are compared against again and again (once per commit sent): keep them decoded.
  const decodedBoundary = new Map<string, Map<string, TreeEntry>>()
  const boundaryEntries = async (id: string): Promise<Map<string, TreeEntry>> => {
    let m = decodedBoundary.get(id)
    if (m) return m
    const body = cache?.get(id) ?? (await readObject(store, id, 'tree')).body
    m = new Map(decodeTree(body).map(e => [e.name, e]))
    if (decodedBoundary.size >= 4096) decodedBoundary.clear()
    decodedBoundary.set(id, m)
    return m
  }
  // Boundary trees are read only along the paths where an interesting tree differs from them.
  const walkTree = async (id: string, against: readonly string[], path?: string): Promise<void> => {
    if (sent.has(id) || against.includes(id)) return
    const o = await readObject(store, id, 'tree')
    if (o.type !== 'tree') throw new MissingObjectError('tree', id)
    remember(id, o.body)
    addTree(id, path)
    // Nothing to compare against (a clone, or a path the other side lacks): no names needed.
    if (against.length === 0) {
      const scan = scanTree(o.body, sentBytes)
      if (scan !== undefined) {
        const { ids, kinds } = scan
        for (let k = 0; k < ids.length; k++) {
          const sub = ids[k]
          if (sub === undefined || kinds[k] === GITLINK || sent.has(sub)) continue
          if (kinds[k] === TREE) await walkTree(sub, NONE)
          else {
            if (verify && !(await store.has(sub))) throw new MissingObjectError('blob', sub)
            add(sub, 'blob')
          }
        }
        return
      }
      // Anything unusual: the full decoder, which says what is wrong.
    }
    const entries = decodeTree(o.body)
    const otherMaps: Map<string, TreeEntry>[] = []
    for (const t of against) otherMaps.push(await boundaryEntries(t))
    for (const e of entries) {
      if (e.mode === '160000' || sent.has(e.id)) continue // a gitlink names a commit of another repository
      const isTree = e.mode === MODE_TREE
      let held = false
      const sub: string[] = []
      for (const m of otherMaps) {
        const x = m.get(e.name)
        if (!x) continue
        if (x.id === e.id) { held = true; break }
        if (isTree && x.mode === MODE_TREE) sub.push(x.id)
      }
      if (held) continue
      if (isTree) await walkTree(e.id, sub, path === undefined ? undefined : `${path}/${e.name}`)
      else {
        if (verify && !(await store.has(e.id))) throw new MissingObjectError('blob', e.id)
        add(e.id, 'blob')
      }
    }
  }
  // Nothing to compare against (a clone): level by level, each level's trees read in id order, which
  // LevelDB serves from blocks it has just read (about twice as fast as reads in walk order).
  // No delta bases here: tried (visiting each level in commit order, paths from names), a 5,000-commit
  // clone's pack was 2.6x smaller, but `git clone` from larix serve took ~15% longer on loopback (the
  // walk's and writer's extra work plus git resolving the deltas cost more than the bytes saved).
  const walkLevels = async (roots: readonly string[]): Promise<void> => {
    let frontier: string[] = []
    for (const t of roots) if (!sent.has(t)) { add(t, 'tree'); frontier.push(t) }
    while (frontier.length > 0) {
      frontier.sort()
      const next: string[] = []
      const visit = async (sub: string, kind: number) => {
        if (kind === TREE) { add(sub, 'tree'); next.push(sub); return }
        if (verify && !(await store.has(sub))) throw new MissingObjectError('blob', sub)
        add(sub, 'blob')
      }
      for (const id of frontier) {
        const o = await readObject(store, id, 'tree')
        if (o.type !== 'tree') throw new MissingObjectError('tree', id)
        remember(id, o.body)
        const scan = scanTree(o.body, sentBytes)
        if (scan !== undefined) {
          const { ids, kinds } = scan
          for (let k = 0; k < ids.length; k++) {
            const sub = ids[k]
            if (sub === undefined || kinds[k] === GITLINK || sent.has(sub)) continue
            await visit(sub, kinds[k])
          }
        } else {
          for (const e of decodeTree(o.body)) {
            if (e.mode === '160000' || sent.has(e.id)) continue
            await visit(e.id, e.mode === MODE_TREE ? TREE : BLOB)
          }
        }
      }
      frontier = next
    }
  }
  // With the introduced-objects index, the trees and blobs are the union of the commits' entries: no tree
  // is read (but to build a missing entry, once). Not for shallow requests (the client's history, or the
  // one sent, stops at commits whose first parent it lacks) nor for a push's connectivity check.
  if (store.getIntroduced && !verify && !grafted && !(clientShallow && clientShallow.size > 0) && !(input.unshallow && input.unshallow.length > 0)) {
    const { records, odd } = await introducedRecords(store, reader, commits, out, sentBytes, opts.signal, opts.introduced)
    // In id order, the order the store keeps them in: the pack writer reads them in one scan. Git takes a
    // pack's objects in any order (no entry here is a delta). They are sorted as bytes and get their hex
    // ids in that order (ids that are not lowercase hex, if any, are merged in).
    sortById(odd)
    let objects = mergeById(odd, sortedRecords(records))
    if (wantTrees.length > 0) { // rare: trees wanted by id, walked on top (the walk skips what is listed)
      out.length = 0
      for (const o of objects) { sent.add(o.id); out.push(o) }
      for (const t of wantTrees) await walkTree(t, [])
      sortById(out)
      objects = out
    }
    opts.onProgress?.(objects.length)
    return { objects, commits }
  }
  if (boundaryTrees.length === 0) {
    const roots: string[] = []
    for (const id of commits) roots.push((await commitOf(reader, id)).tree)
    await walkLevels(roots)
  } else for (const id of commits) await walkTree((await commitOf(reader, id)).tree, boundaryTrees, '')
  for (const t of wantTrees) await walkTree(t, [])
  opts.onProgress?.(out.length)
  return { objects: out, commits }
}

/**
 * The objects `first` (listed already, and in `listed`) then the introduced objects of `commits`
 * (src/store/introduced.ts) not in `listed` (which they are added to), as 21-byte records (a type code, as
 * TYPE_CODE has them, and the id), each once; `odd`: those of `first` whose id is not lowercase hex.
 * Entries missing from the index (commits that came in a pack) are computed against the first parent,
 * oldest first so the parent's trees are in the reader's cache, and stored for the next request. Each
 * commit's first parent is either sent too or held by the other side, so the union covers what it lacks;
 * it may resend a few objects it has (a value reverted to one it holds at another commit, a file moved):
 * harmless, only bytes.
 */
async function introducedRecords(store: ObjectStore, reader: ObjectReader, commits: readonly string[], first: readonly WalkedObject[],
  listed: IdSet, signal: AbortSignal | undefined, known: LRU<string, Uint8Array> | undefined): Promise<{ records: Uint8Array; odd: WalkedObject[] }> {
  const entries: (Uint8Array | undefined)[] = new Array(commits.length)
  const readMany = async (ids: string[]): Promise<(Uint8Array | undefined)[]> => {
    const got = store.getMany ? await store.getMany(ids) : await Promise.all(ids.map(id => store.get(id)))
    return got.map(o => (o?.type === 'tree' ? o.body : undefined))
  }
  /** Build the entries of `todo` (indexes into commits) together, and store them. */
  const build = async (todo: number[]): Promise<void> => {
    const jobs: { tree: string; parentTree: string | undefined }[] = []
    for (const i of todo) {
      const c = await commitOf(reader, commits[i])
      jobs.push({ tree: c.tree, parentTree: c.parents.length > 0 ? (await commitOf(reader, c.parents[0])).tree : undefined })
    }
    let built: Uint8Array[]
    try {
      built = await introducedFromBodies(readMany, jobs)
    } catch (err) {
      if (err instanceof NotFoundError) throw new MissingObjectError('tree', (err.data as { id?: string })?.id ?? '?')
      throw err
    }
    todo.forEach((i, k) => { entries[i] = built[k]; known?.set(commits[i], built[k]) })
    await store.putIntroduced?.(todo.map((i, k) => ({ commit: commits[i], introduced: built[k] })))
  }
  let todo: number[] = []
  for (let i = commits.length - 1; i >= 0; i--) {
    if ((i & 1023) === 0) signal?.throwIfAborted()
    const hit = known?.get(commits[i])
    if (hit !== undefined) { entries[i] = hit; continue }
    const e = await store.getIntroduced!(commits[i])
    if (e !== undefined && isIntroducedEntry(e)) {
      // A plain Uint8Array (a store may give a Buffer): the loops below then see one kind of array.
      const plain = new Uint8Array(e.buffer, e.byteOffset, e.length)
      entries[i] = plain
      known?.set(commits[i], plain)
    }
    else todo.push(i) // none yet (or a damaged one): build it
    if (todo.length >= 1000) { await build(todo); todo = [] }
  }
  if (todo.length > 0) await build(todo)
  // Duplicates are found on the bytes: no hex string for an id listed already.
  let total = 0
  for (const e of entries) total += e!.length - e!.length % INTRODUCED_RECORD
  listed.reserve(total / INTRODUCED_RECORD)
  const out = new Uint8Array(total + INTRODUCED_RECORD * first.length)
  let n = 0
  // The objects listed already (commits, tags; in `listed`) go first.
  const odd: WalkedObject[] = []
  for (const o of first) {
    if (writeHexId(o.id, out, n + 1)) { out[n] = TYPE_CODE[o.type]; n += INTRODUCED_RECORD } else odd.push(o)
  }
  for (const e of entries) {
    for (let at = 0; at + INTRODUCED_RECORD <= e!.length; at += INTRODUCED_RECORD) {
      if (!listed.addNew(e!, at + 1)) continue
      out[n] = e![at] === INTRODUCED_TREE ? OBJ_TREE : OBJ_BLOB
      for (let k = 1; k < INTRODUCED_RECORD; k++) out[n + k] = e![at + k] // no subarray: a Buffer's costs ~0.5 µs
      n += INTRODUCED_RECORD
    }
  }
  return { records: out.subarray(0, n), odd }
}

/**
 * The objects of `records` (21 bytes each: a type code, as TYPE_CODE has them, and an id) sorted by id: a counting sort on the
 * first two bytes (SHA-1 ids are uniform: a bucket holds about n / 65536 ids), then each bucket by the
 * rest; the hex ids are made in one decode.
 */
export function sortedRecords(records: Uint8Array): WalkedObject[] {
  const R = INTRODUCED_RECORD
  const n = records.length / R
  const start = new Uint32Array(65537)
  for (let i = 0; i < n; i++) start[((records[R * i + 1] << 8) | records[R * i + 2]) + 1]++
  for (let k = 0; k < 65536; k++) start[k + 1] += start[k]
  const next = start.slice(0, 65536)
  const order = new Uint32Array(n)
  for (let i = 0; i < n; i++) order[next[(records[R * i + 1] << 8) | records[R * i + 2]]++] = i
  /** Record a's id before record b's (their first two bytes are equal). */
  const before = (a: number, b: number): boolean => {
    for (let j = 3; j <= 20; j++) {
      const x = records[R * a + j], y = records[R * b + j]
      if (x !== y) return x < y
    }
    return false
  }
  for (let k = 0; k < 65536; k++) {
    const from = start[k], to = start[k + 1]
    for (let i = from + 1; i < to; i++) { // insertion sort
      const o = order[i]
      let j = i - 1
      while (j >= from && before(o, order[j])) { order[j + 1] = order[j]; j-- }
      order[j + 1] = o
    }
  }
  const hex = new Uint8Array(40 * n)
  const pairs = new Uint16Array(hex.buffer) // two digits a store
  for (let i = 0; i < n; i++) {
    const from = R * order[i] + 1, to = 20 * i
    for (let k = 0; k < 20; k++) pairs[to + k] = HEX_PAIRS[records[from + k]]
  }
  const all = latin1.decode(hex)
  const out: WalkedObject[] = new Array(n)
  for (let i = 0; i < n; i++) out[i] = { id: all.slice(40 * i, 40 * i + 40), type: CODE_TYPE[records[R * order[i]]]! }
  return out
}

/** Two lists sorted by id, merged. */
function mergeById(a: readonly WalkedObject[], b: readonly WalkedObject[]): WalkedObject[] {
  if (a.length === 0) return b as WalkedObject[]
  const out: WalkedObject[] = new Array(a.length + b.length)
  let i = 0, j = 0, k = 0
  while (i < a.length && j < b.length) out[k++] = a[i].id <= b[j].id ? a[i++] : b[j++]
  while (i < a.length) out[k++] = a[i++]
  while (j < b.length) out[k++] = b[j++]
  return out
}

/** Sort by id (only for the rare lists that sortedRecords does not make: odd ids, trees wanted by id). */
function sortById(objects: WalkedObject[]): void {
  objects.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

/**
 * True when every wanted commit has one of `common` (commits both sides have) among its ancestors: the
 * point where a fetch negotiation can stop (Git's ok_to_give_up). `settled` remembers wants already known
 * to be covered, across calls.
 */
export async function allWantsCovered(reader: ObjectReader, wants: readonly string[], common: ReadonlySet<string>, settled: Set<string>): Promise<boolean> {
  if (common.size === 0) return false
  let floor = Infinity
  for (const c of common) floor = Math.min(floor, await generationOf(reader, c))
  for (const w of wants) {
    if (settled.has(w)) continue
    if (!(await reachesAny(reader, w, common, floor))) return false
    settled.add(w)
  }
  return true
}

async function reachesAny(reader: ObjectReader, from: string, targets: ReadonlySet<string>, floor: number): Promise<boolean> {
  if (targets.has(from)) return true
  const seen = new Set([from])
  const stack = [from]
  while (stack.length) {
    const id = stack.pop()!
    let c: CommitObject
    try { c = await commitOf(reader, id) } catch (e) { if (e instanceof MissingObjectError) return false; throw e }
    for (const p of c.parents) {
      if (targets.has(p)) return true
      if (seen.has(p)) continue
      seen.add(p)
      if ((await generationOf(reader, p)) >= floor) stack.push(p)
    }
  }
  return false
}
