// LevelDB in Node (classic-level) and IndexedDB in browsers (browser-level), through the `level` package.
// Layout: `o<id>` → one type byte + the object body; `r<refname>` → the ref's id as UTF-8;
// `g<generation><id>` → a commit's parents (the commit-graph index); `i<commit id>` → the commit's
// introduced objects (src/store/introduced.ts), written in the same batch as the objects or after them;
// `k` → the current clone-pack manifest, `k<generation><index>` → its parts (src/sync/serve/clone-pack.ts).
// In Node, a commit's batch goes first to a journal file (one write(2), see platform/node/level-journal.ts)
// and is acknowledged; it reaches LevelDB in the background, and until it has, reads find it in `pending`.
import { Level } from 'level'
import { openLevelJournal } from '#platform/level-journal'
import type { LevelJournal } from '#platform/level-journal'
import { openStoreChannel, sharedAcrossContexts, withStoreLock } from '#platform/store-sharing'
import type { StoreChannel } from '#platform/store-sharing'
import type { Backend, ClonePackStore, GraphEntry, ObjectStore, RefChange, RefStore } from '../backend.js'
import { Mutex, Watchers } from '../backend.js'
import { fromUtf8, utf8 } from '../bytes.js'
import { BackendError } from '../errors.js'
import { commitParents } from '../objects.js'
import type { GitObject, ObjectType, StoredObject } from '../objects.js'
import type { IntroducedEntry } from '../introduced.js'

const TYPE_CODE: Record<ObjectType, number> = { commit: 1, tree: 2, blob: 3, tag: 4 }
const CODE_TYPE: (ObjectType | undefined)[] = [undefined, 'commit', 'tree', 'blob', 'tag']
/** A commit stored with its generation number: the type byte, 4 bytes of generation (big-endian), the body. */
const COMMIT_WITH_GENERATION = 5

type DB = Level<string, Uint8Array>

function wrap(op: string, e: unknown): BackendError {
  const msg = (e as Error)?.message ?? String(e)
  return new BackendError(`level store ${op} failed: ${msg}`, op, e)
}

type Op = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string }

/** A batch bigger than this skips the journal and waits for LevelDB itself (an import, say). */
const JOURNAL_MAX_RECORD = 4 << 20
/** Past this size, a writer waits for the journal to be applied and emptied. */
const JOURNAL_MAX_SIZE = 64 << 20

function encodeOps(ops: readonly Op[]): Uint8Array {
  let size = 0
  const keys = ops.map(o => utf8(o.key))
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i]!
    size += 9 + keys[i]!.length + (o.type === 'put' ? o.value.length : 0)
  }
  const out = new Uint8Array(size)
  const view = new DataView(out.buffer)
  let at = 0
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i]!
    const k = keys[i]!
    out[at] = o.type === 'put' ? 1 : 2
    view.setUint32(at + 1, k.length, true)
    out.set(k, at + 5)
    at += 5 + k.length
    const v = o.type === 'put' ? o.value : new Uint8Array(0)
    view.setUint32(at, v.length, true)
    out.set(v, at + 4)
    at += 4 + v.length
  }
  return out
}

function decodeOps(data: Uint8Array): Op[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  const ops: Op[] = []
  let at = 0
  while (at < data.length) {
    const kind = data[at]
    if ((kind !== 1 && kind !== 2) || at + 5 > data.length) throw new BackendError('the level store journal holds a malformed record', 'open')
    const klen = view.getUint32(at + 1, true)
    const key = fromUtf8(data.subarray(at + 5, at + 5 + klen))
    at += 5 + klen
    const vlen = view.getUint32(at, true)
    if (at + 4 + vlen > data.length) throw new BackendError('the level store journal holds a malformed record', 'open')
    const value = data.slice(at + 4, at + 4 + vlen)
    at += 4 + vlen
    ops.push(kind === 1 ? { type: 'put', key, value } : { type: 'del', key })
  }
  return ops
}

/**
 * The open database and, in Node, its journal: batches acknowledged but not yet in LevelDB live in `pending`
 * (key → value, null for a deletion) and `queue` (the ops, in order, not yet handed to LevelDB).
 */
class LevelState {
  db: DB | undefined
  journal: LevelJournal | undefined
  readonly pending = new Map<string, Uint8Array | null>()
  queue: Op[] = []
  flushing: Promise<void> | undefined
  /** Set when a background apply failed: the journal still has the batches, but no more writes go in. */
  failed: unknown

  constructor(readonly location: string) {}

  get(): DB {
    if (!this.db) throw new BackendError('the level store is not open', 'open')
    return this.db
  }

  /** A key's value: what is pending, else what LevelDB has. */
  read(key: string): Uint8Array | undefined {
    if (this.pending.size > 0) {
      const p = this.pending.get(key)
      if (p !== undefined) return p ?? undefined
    }
    const db = this.get()
    return db.getSync(key)
  }

  /** Write `ops` as one atomic batch: through the journal when there is one, else straight to LevelDB. */
  async write(ops: Op[], op: string): Promise<void> {
    if (this.failed !== undefined) throw wrap(op, this.failed)
    const journal = this.journal
    if (!journal) {
      try { await this.get().batch(ops) } catch (e) { throw wrap(op, e) }
      return
    }
    const record = encodeOps(ops)
    if (record.length > JOURNAL_MAX_RECORD || journal.size > JOURNAL_MAX_SIZE) {
      await this.drain()
      if (record.length > JOURNAL_MAX_RECORD) {
        try { await this.get().batch(ops) } catch (e) { throw wrap(op, e) }
        return
      }
    }
    try { journal.append(record) } catch (e) { throw wrap(op, e) }
    for (const o of ops) this.pending.set(o.key, o.type === 'put' ? o.value : null)
    for (const o of ops) this.queue.push(o)
    if (!this.flushing) this.flushing = this.flush()
  }

  /** Hand the queued ops to LevelDB, as many batches as it takes; empty the journal when all are in. */
  private async flush(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const ops = this.queue
        this.queue = []
        await this.get().batch(ops)
        for (const o of ops) {
          if (this.pending.get(o.key) === (o.type === 'put' ? o.value : null)) this.pending.delete(o.key)
        }
      }
      // Nothing is queued and nothing is in flight: every record of the journal is in LevelDB.
      this.journal?.reset()
    } catch (e) {
      this.failed = e
    } finally {
      this.flushing = undefined
    }
  }

  /** Wait until everything acknowledged is in LevelDB (before scans, and on close). */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing
    if (this.failed !== undefined) throw wrap('write', this.failed)
  }

  /** Replay what a previous process left in the journal. */
  async recover(): Promise<void> {
    const journal = this.journal
    if (!journal || journal.size === 0) return
    const ops: Op[] = []
    for (const rec of journal.recover()) ops.push(...decodeOps(rec))
    if (ops.length > 0) await this.get().batch(ops)
    journal.reset()
  }
}

/** Key of a commit in the commit-graph index: `g`, the generation as 8 hex digits (so keys sort by it), the id. */
function graphKey(generation: number, id: string): string {
  return 'g' + generation.toString(16).padStart(8, '0') + id
}

function objectOps(objects: readonly StoredObject[]): Op[] {
  const ops: Op[] = []
  objectPuts(objects, (key, value) => { ops.push({ type: 'put', key, value }) })
  return ops
}

/** Each key and value that storing `objects` takes, handed to `put` (a batch's put, without Op objects). */
function objectPuts(objects: readonly StoredObject[], put: (key: string, value: Uint8Array) => void): void {
  // Every value of the batch is a view into one buffer: one allocation instead of one per object (a
  // clone's batches hold thousands of small objects). LevelDB copies the bytes into its write batch.
  let total = 0
  for (let i = 0; i < objects.length; i++) total += objects[i].body.length + 5
  const arena = new Uint8Array(total)
  let used = 0
  const view = (n: number) => { const v = arena.subarray(used, used + n); used += n; return v }
  for (let i = 0; i < objects.length; i++) {
    const o = objects[i]
    let v: Uint8Array
    if (o.type === 'commit' && o.generation !== undefined && o.generation > 0 && o.generation < 2 ** 32) {
      v = view(o.body.length + 5)
      v[0] = COMMIT_WITH_GENERATION
      new DataView(v.buffer, v.byteOffset, v.byteLength).setUint32(1, o.generation)
      v.set(o.body, 5)
      // The commit-graph entry: parents as ASCII hex, one after another.
      put(graphKey(o.generation, o.id), utf8(commitParents(o.body).join('')))
    } else {
      v = view(o.body.length + 1)
      v[0] = TYPE_CODE[o.type]
      v.set(o.body, 1)
    }
    put('o' + o.id, v)
  }
}

/** An object from its stored value (see objectOps). */
function decodeStored(id: string, v: Uint8Array): GitObject {
  if (v[0] === COMMIT_WITH_GENERATION) {
    return { type: 'commit', body: v.subarray(5), generation: new DataView(v.buffer, v.byteOffset, v.byteLength).getUint32(1) }
  }
  const type = CODE_TYPE[v[0]]
  if (!type) throw new BackendError(`object ${id} has an unknown type byte ${v[0]}`, 'get')
  return { type, body: v.subarray(1) }
}

/** The ops that store index entries of the introduced objects (src/store/introduced.ts). */
function introducedOps(entries: readonly IntroducedEntry[]): Op[] {
  return entries.map(e => ({ type: 'put', key: 'i' + e.commit, value: e.introduced }))
}

/** Key of a clone-pack part: `k`, the generation and the index as 8 hex digits each. */
function clonePartKey(generation: number, index: number): string {
  return 'k' + generation.toString(16).padStart(8, '0') + index.toString(16).padStart(8, '0')
}

/**
 * Clone-pack parts go to LevelDB directly, not through the journal: they are large, rebuilt at will, and
 * LevelDB applies writes in order, so a manifest written after its parts never outlives them.
 */
class LevelClonePacks implements ClonePackStore {
  constructor(private readonly state: LevelState) {}
  private db(): DB { return this.state.get() }
  async manifest(): Promise<Uint8Array | undefined> {
    try { return await this.db().get('k') } catch (e) { throw wrap('get', e) }
  }
  async part(generation: number, index: number): Promise<Uint8Array | undefined> {
    try { return await this.db().get(clonePartKey(generation, index)) } catch (e) { throw wrap('get', e) }
  }
  async putPart(generation: number, index: number, bytes: Uint8Array): Promise<void> {
    try { await this.db().put(clonePartKey(generation, index), bytes) } catch (e) { throw wrap('put', e) }
  }
  async publish(_generation: number, manifest: Uint8Array): Promise<void> {
    try { await this.db().put('k', manifest) } catch (e) { throw wrap('put', e) }
  }
  async prune(keep: readonly number[]): Promise<void> {
    const db = this.db()
    const kept = keep.map(g => clonePartKey(g, 0).slice(0, 9))
    try {
      const stale: Op[] = []
      for await (const k of db.keys({ gt: 'k', lt: 'l' })) {
        if (!kept.some(p => k.startsWith(p))) stale.push({ type: 'del', key: k })
        if (stale.length >= 256) await db.batch(stale.splice(0))
      }
      if (stale.length > 0) await db.batch(stale)
    } catch (e) { throw wrap('batch', e) }
  }
}

class LevelObjects implements ObjectStore {
  readonly clonePacks: ClonePackStore
  constructor(private readonly state: LevelState) { this.clonePacks = new LevelClonePacks(state) }
  private db(): DB { return this.state.get() }
  async get(id: string): Promise<GitObject | undefined> {
    const v = await this.value('o' + id, 'get')
    return v === undefined ? undefined : decodeStored(id, v)
  }
  private async value(key: string, op: string): Promise<Uint8Array | undefined> {
    const db = this.db()
    // classic-level reads synchronously in ~2 µs; its async get costs ~30 µs of thread hops.
    try {
      return (db.supports as { getSync?: boolean }).getSync ? this.state.read(key) : (this.state.pending.get(key) ?? await db.get(key))
    } catch (e) { throw wrap(op, e) }
  }
  async getIntroduced(commit: string): Promise<Uint8Array | undefined> {
    return this.value('i' + commit, 'get')
  }
  async putIntroduced(entries: readonly IntroducedEntry[]): Promise<void> {
    if (entries.length > 0) await this.state.write(introducedOps(entries), 'index')
  }
  /**
   * Many objects in one call into LevelDB (classic-level reads them all on its thread, without a round trip
   * per object; ids in sorted order read their blocks in order). What is still pending comes from the journal.
   */
  async getMany(ids: readonly string[]): Promise<(GitObject | undefined)[]> {
    const out: (GitObject | undefined)[] = new Array(ids.length)
    if (ids.length === 0) return out
    const keys = ids.map(id => 'o' + id)
    let values: (Uint8Array | undefined)[]
    try { values = await this.db().getMany(keys) } catch (e) { throw wrap('get', e) }
    const pending = this.state.pending
    for (let i = 0; i < ids.length; i++) {
      // The batch read may have started before a pending write reached LevelDB: the journal's copy wins.
      const v = pending.size > 0 && pending.has(keys[i]) ? pending.get(keys[i]) ?? undefined : values[i]
      out[i] = v === undefined ? undefined : decodeStored(ids[i], v)
    }
    return out
  }
  async has(id: string): Promise<boolean> {
    const db = this.db()
    try {
      if (this.state.pending.has('o' + id)) return true
      return (db.supports as { getSync?: boolean }).getSync ? db.getSync('o' + id) !== undefined : await db.has('o' + id)
    } catch (e) { throw wrap('has', e) }
  }
  async graphRange(low: number, high: number): Promise<GraphEntry[]> {
    const out: GraphEntry[] = []
    await this.state.drain()
    try {
      for await (const [k, v] of this.db().iterator({ gte: graphKey(Math.max(0, low), ''), lt: graphKey(high + 1, '') })) {
        const text = fromUtf8(v)
        const parents: string[] = []
        for (let i = 0; i + 40 <= text.length; i += 40) parents.push(text.slice(i, i + 40))
        out.push({ id: k.slice(9), generation: parseInt(k.slice(1, 9), 16), parents })
      }
    } catch (e) { throw wrap('scan', e) }
    return out
  }

  async findPrefix(prefix: string): Promise<string[]> {
    const out: string[] = []
    await this.state.drain()
    try {
      for await (const k of this.db().keys({ gte: 'o' + prefix, lt: 'o' + prefix + 'g', limit: 16 })) out.push(k.slice(1))
    } catch (e) { throw wrap('scan', e) }
    return out
  }
  async putMany(objects: readonly StoredObject[]): Promise<void> {
    if (objects.length === 0) return
    // A chained batch: classic-level takes each put's key and value as arguments, where an array batch
    // makes it read three properties of every operation (~1.5x the main-thread time for a clone's batches).
    const batch = this.db().batch()
    try {
      objectPuts(objects, (key, value) => { batch.put(key, value) })
      await batch.write()
    } catch (e) {
      await batch.close().catch(() => {})
      throw wrap('batch', e)
    }
  }
}

class LevelRefs implements RefStore {
  readonly cache = new Map<string, string>()
  readonly watchers = new Watchers<RefChange>()
  private readonly lock = new Mutex()
  private channel: StoreChannel | undefined
  private readonly location: string
  constructor(private readonly state: LevelState) { this.location = state.location }
  private db(): DB { return this.state.get() }
  async load(): Promise<void> {
    // The channel opens before the refs are read: an announcement that arrives meanwhile is handled after
    // the read (both run under the same mutex), so no move by another tab is missed.
    await this.lock.run(async () => {
      this.channel = openStoreChannel('larix-refs:' + this.location, (m) => {
        const name = (m as RefChange | undefined)?.name
        // The message only says which ref moved; the database says where it is now, so a late or
        // reordered message can never roll the cache back.
        if (typeof name === 'string') void this.lock.run(() => this.refresh(name)).catch(() => { /* store closed */ })
      })
      this.cache.clear()
      for await (const [k, v] of this.db().iterator({ gte: 'r', lt: 's' })) this.cache.set(k.slice(1), fromUtf8(v))
    })
  }
  close(): void {
    this.channel?.close()
    this.channel = undefined
  }
  /** Re-read a ref from the database; if it moved, update the cache and tell the watchers. */
  private async refresh(name: string): Promise<string | undefined> {
    const key = 'r' + name
    const v = this.state.pending.has(key) ? this.state.pending.get(key) ?? undefined : await this.db().get(key)
    const id = v === undefined ? undefined : fromUtf8(v)
    const old = this.cache.get(name)
    if (old !== id) {
      if (id === undefined) this.cache.delete(name)
      else this.cache.set(name, id)
      this.watchers.emit({ name, old, new: id })
    }
    return id
  }
  /** The ref as stored: from the cache, or re-read when other contexts may have moved it. */
  private current(name: string): Promise<string | undefined> | string | undefined {
    return sharedAcrossContexts ? this.refresh(name) : this.cache.get(name)
  }
  async get(name: string) { return this.cache.get(name) }
  async list(prefix = '') {
    return [...this.cache].filter(([n]) => n.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, id]) => ({ name, id }))
  }
  cas(name: string, expected: string | undefined, next: string | undefined, objects: readonly StoredObject[] = [], introduced: readonly IntroducedEntry[] = []): Promise<boolean> {
    return this.lock.run(() => withStoreLock('larix-refs:' + this.location, async () => {
      const cur = await this.current(name)
      if (cur !== expected) return false
      if (cur === next && objects.length === 0) return true
      // Objects and the ref go in one LevelDB batch: the ref can never point at objects that are not there.
      const ops = objectOps(objects)
      // Index entries of the commit go in the same batch: never an entry naming objects that are not stored.
      if (introduced.length > 0) ops.push(...introducedOps(introduced))
      ops.push(next === undefined ? { type: 'del', key: 'r' + name } : { type: 'put', key: 'r' + name, value: utf8(next) })
      await this.state.write(ops, 'ref update')
      if (cur === next) return true
      if (next === undefined) this.cache.delete(name)
      else this.cache.set(name, next)
      this.watchers.emit({ name, old: cur, new: next })
      this.channel?.post({ name })
      return true
    }))
  }
  watch(fn: (c: RefChange) => void) { return this.watchers.add(fn) }
}

/**
 * A persistent backend on `level`: LevelDB files in `location` under Node, an IndexedDB database named
 * `location` in browsers. One process at a time may open a LevelDB directory.
 * @example const repo = await Repo.open({ backend: levelBackend('./data') })
 */
export interface LevelBackend extends Backend { readonly location: string }

export function levelBackend(location: string): LevelBackend {
  if (typeof location !== 'string' || location === '') throw new BackendError('levelBackend needs a directory (or, in browsers, a database name)', 'open')
  const state = new LevelState(location)
  const objects = new LevelObjects(state)
  const refs = new LevelRefs(state)
  return {
    name: 'level',
    location,
    objects,
    refs,
    atomicWrite: (objs, ref, introduced) => refs.cas(ref.name, ref.expected, ref.next, objs, introduced),
    async open() {
      if (state.db) return
      const d = new Level<string, Uint8Array>(location, { keyEncoding: 'utf8', valueEncoding: 'view' })
      try { await d.open() } catch (e) {
        const cause = (e as { cause?: { message?: string } }).cause?.message ?? ''
        const hint = /lock/i.test(cause) ? ' (another process has it open: stop it, or use another --store)' : ''
        throw new BackendError(`cannot open the level store at ${location}${hint}: ${cause || (e as Error).message}`, 'open', e)
      }
      state.db = d
      state.failed = undefined
      try {
        state.journal = openLevelJournal(location)
        await state.recover()
      } catch (e) {
        state.journal?.close()
        state.journal = undefined
        state.db = undefined
        await d.close().catch(() => {})
        throw e instanceof BackendError ? e : new BackendError(`cannot replay the journal of the level store at ${location}: ${(e as Error)?.message ?? e}`, 'open', e)
      }
      await refs.load()
    },
    async close() {
      const d = state.db
      if (!d) return
      refs.close()
      // Everything acknowledged goes into LevelDB first; if that fails, the journal keeps it for the next open.
      let failure: unknown
      try { await state.drain() } catch (e) { failure = e }
      state.journal?.close()
      state.journal = undefined
      state.db = undefined
      await d.close()
      if (failure !== undefined) throw failure
    },
  }
}
