// The clone pack: the entries of a pack that holds every object reachable from the refs as they were at
// some moment, kept in the store (ObjectStore.clonePacks) so a clone is served the way Git serves one from
// a packed repository: stored entries are sent as they are, after the few objects newer than them.
//
// Why: larix keeps objects one by one. Reading, framing and checksumming each of a clone's objects costs
// the server more CPU than the git client spends taking them in (~250 ms for the 55,000 objects of the
// bench history); sending the stored parts of a clone pack costs a copy and the pack's SHA-1.
//
// When a clone uses it (upload-pack.ts): the request has no haves and nothing shallow, and every tip the
// pack was built from is wanted or is an ancestor of a wanted commit. So the pack never sends what the refs
// no longer reach (a branch rewound to drop a secret: the old pack is not used, a new one is built). The
// objects reachable from the wants but not from those tips are walked as for a fetch, the ones the pack
// already holds are dropped (by id, so nothing is sent twice), and they go first; then the pack's entries.
//
// When it is built: in the background, a little after a clone found no usable pack while the refs differ
// from its tips, or sent more than a tenth of the pack's count as new objects. Only one build runs at a
// time; a build publishes its manifest only once every part is stored (ClonePackStore.publish), and the
// parts of older packs are dropped once no clone in flight reads them.
import type { ClonePackStore } from '../../store/backend.js'
import { fromUtf8, utf8, writeHexId } from '../../store/bytes.js'
import { LarixError } from '../../store/errors.js'
import type { ServeContext } from './context.js'
import { packStream } from './pack-stream.js'
import { walkObjects } from './walk.js'

/** Bytes of pack entries per stored part. */
const PART_BYTES = 1 << 20
/** Ids per stored part of the id list (20 bytes each). */
const IDS_PER_PART = 52_428

export interface ClonePackManifest {
  version: 1
  generation: number
  /** The ref ids the pack was built from, sorted: it holds every object reachable from them. */
  tips: string[]
  /** Entries (objects) in the pack: whole objects, no deltas. */
  count: number
  /** Byte length of each part of entries (parts 0 … n-1). */
  parts: number[]
  /** Parts n … n+idParts-1 hold the pack's object ids, sorted, 20 bytes each. */
  idParts: number
  /** When it was built (ISO 8601). */
  built: string
}

/** A clone pack whose manifest and id list are read. */
export interface LoadedClonePack {
  manifest: ClonePackManifest
  /** The sorted ids, 20 bytes each. */
  ids: Uint8Array
}

/** The stored clone pack cannot be read back as its manifest says (a part is missing or the wrong size). */
export class ClonePackError extends LarixError<{ generation: number; part: number }> {
  constructor(message: string, generation: number, part: number) {
    super('clone-pack-damaged', message, { generation, part })
  }
}

export interface ClonePackOptions {
  /** How long after the clone that asked for it a build starts (default 1000 ms). */
  delayMs?: number
  /** New objects a clone may send on top of the pack before a rebuild is asked for (default: a tenth of the pack, at least 1,000). */
  staleObjects?: (count: number) => number
}

/** The ids the refs point at now, sorted, once each: what a clone pack is built from. */
export async function refTips(ctx: ServeContext): Promise<string[]> {
  return [...new Set((await ctx.refs.list('refs/')).map(r => r.id))].sort()
}

/** Two sorted tip lists are the same. */
export function sameTips(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i])
}

function parseManifest(bytes: Uint8Array): ClonePackManifest | undefined {
  try {
    const m = JSON.parse(fromUtf8(bytes, true)) as ClonePackManifest
    const ids = (a: unknown) => Array.isArray(a) && a.every(t => typeof t === 'string' && /^[0-9a-f]{40}$/.test(t))
    const count = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0
    if (m?.version !== 1 || !count(m.generation) || m.generation >= 2 ** 32 || !ids(m.tips) || !count(m.count) || !count(m.idParts)) return undefined
    if (!Array.isArray(m.parts) || !m.parts.every(count)) return undefined
    return m
  } catch { return undefined }
}

/** Is the 20-byte id at `hex` in the sorted list `ids`? */
function hasId(ids: Uint8Array, id: Uint8Array): boolean {
  let lo = 0, hi = ids.length / 20
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const at = mid * 20
    let c = 0
    for (let k = 0; k < 20 && c === 0; k++) c = ids[at + k] - id[k]
    if (c === 0) return true
    if (c < 0) lo = mid + 1
    else hi = mid
  }
  return false
}

/** One server's clone packs: reads the current one, builds new ones in the background. */
export class ClonePacks {
  private loaded: LoadedClonePack | undefined
  /** A generation found damaged: not used again, and rebuilt even if the refs have not moved. */
  private damaged = -1
  private timer: ReturnType<typeof setTimeout> | undefined
  private building: Promise<unknown> | undefined
  private readonly abort = new AbortController()
  private readonly delayMs: number
  private readonly staleObjects: (count: number) => number
  /** The generation last seen published (-1: none yet). */
  private published = -1
  /** Clones reading each generation now: its parts are kept until the last one is done. */
  private readonly readers = new Map<number, number>()
  /** Builds finished (published or found unneeded), for tests and logs. */
  builds = 0

  constructor(readonly store: ClonePackStore, options: ClonePackOptions = {}) {
    this.delayMs = options.delayMs ?? 1000
    this.staleObjects = options.staleObjects ?? (n => Math.max(1000, Math.floor(n / 10)))
  }

  /**
   * The current clone pack, held for reading (its parts are kept until `release`), or undefined when there
   * is none, or it is unreadable. Every pack acquired must be released.
   */
  async acquire(): Promise<LoadedClonePack | undefined> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const pack = await this.#current()
      if (pack === undefined) return undefined
      const g = pack.manifest.generation
      this.readers.set(g, (this.readers.get(g) ?? 0) + 1)
      // Still current once held? Then no prune can drop it (a prune follows its publish and keeps what is held).
      const now = await this.store.manifest()
      if (now !== undefined && parseManifest(now)?.generation === g) return pack
      await this.release(pack)
    }
    return undefined
  }

  /** Done reading `pack`: when a newer pack was published meanwhile and no one else reads it, its parts go. */
  async release(pack: LoadedClonePack): Promise<void> {
    const g = pack.manifest.generation
    const left = (this.readers.get(g) ?? 1) - 1
    if (left > 0) { this.readers.set(g, left); return }
    this.readers.delete(g)
    if (this.published !== g) await this.#prune(this.published).catch(() => { /* the next build prunes */ })
  }

  async #current(): Promise<LoadedClonePack | undefined> {
    const bytes = await this.store.manifest()
    const m = bytes === undefined ? undefined : parseManifest(bytes)
    if (m === undefined || m.generation === this.damaged) { this.loaded = undefined; return undefined }
    this.published = m.generation
    if (this.loaded?.manifest.generation === m.generation) return this.loaded
    const bad = () => { this.damaged = m.generation; return undefined }
    const ids = new Uint8Array(m.count * 20)
    let at = 0
    for (let k = 0; k < m.idParts; k++) {
      const part = await this.store.part(m.generation, m.parts.length + k)
      if (part === undefined || at + part.length > ids.length) return bad()
      ids.set(part, at)
      at += part.length
    }
    if (at !== ids.length) return bad()
    this.loaded = { manifest: m, ids }
    return this.loaded
  }

  /** Drop the parts of every generation but `current` and those being read. */
  #prune(current: number): Promise<void> {
    return this.store.prune([current, ...this.readers.keys()])
  }

  /** Does the pack hold object `id`? (Asked for every object a clone sends on top of the pack.) */
  holds(pack: LoadedClonePack, id: string): boolean {
    return writeHexId(id, this.#scratch, 0) && hasId(pack.ids, this.#scratch)
  }
  readonly #scratch = new Uint8Array(20)

  /** The pack's entries (held by `acquire`), part after part; the next part is read while one is sent. */
  async *entries(pack: LoadedClonePack): AsyncGenerator<Uint8Array> {
    const { generation, parts } = pack.manifest
    const read = (k: number) => this.store.part(generation, k)
    let next = parts.length > 0 ? read(0) : undefined
    for (let k = 0; k < parts.length; k++) {
      const part = await next!
      next = k + 1 < parts.length ? read(k + 1) : undefined
      next?.catch(() => { /* reported when awaited */ })
      if (part === undefined || part.length !== parts[k]) {
        this.loaded = undefined
        this.damaged = generation
        throw new ClonePackError(`the clone pack (generation ${generation}) is damaged: part ${k} is ${part === undefined ? 'missing' : `${part.length} bytes, not ${parts[k]}`}; a new one will be built`, generation, k)
      }
      yield part
    }
  }

  /** Whether a clone that sent `fresh` objects on top of `pack` should ask for a rebuild. */
  stale(pack: LoadedClonePack, fresh: number): boolean {
    return fresh > this.staleObjects(pack.manifest.count)
  }

  /** Ask for a build a little later (nothing if one is already asked for or running). */
  schedule(ctx: ServeContext): void {
    if (this.timer !== undefined || this.building !== undefined || this.abort.signal.aborted) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.build(ctx).catch(e => { if (!this.abort.signal.aborted) ctx.onError?.(e) })
    }, this.delayMs)
    const t = this.timer as { unref?: () => void }
    t.unref?.()
  }

  /**
   * Build a clone pack of every object reachable from the refs now, and publish it. Resolves with its
   * manifest, or with the current one when that was built from the same tips already (nothing to do), or
   * undefined when there are no refs.
   */
  build(ctx: ServeContext): Promise<ClonePackManifest | undefined> {
    if (this.building) return this.building.then(() => this.build(ctx))
    const run = this.#build(ctx)
    this.building = run.finally(() => { this.building = undefined; this.builds++ })
    this.building.catch(() => { /* the caller sees run's rejection */ })
    return run
  }

  async #build(ctx: ServeContext): Promise<ClonePackManifest | undefined> {
    const signal = this.abort.signal
    const tips = await refTips(ctx)
    if (tips.length === 0) return undefined
    const prevBytes = await this.store.manifest()
    const prev = prevBytes === undefined ? undefined : parseManifest(prevBytes)
    if (prev && prev.generation !== this.damaged && sameTips(prev.tips, tips)) return prev
    // Without a readable manifest, a generation no earlier build is likely to have used.
    const generation = ((prev?.generation ?? Math.floor(Date.now() / 1000)) + 1) % 2 ** 32
    const cache = new Map<string, Uint8Array>()
    const walked = await walkObjects(ctx.objects, ctx.reader, { wants: tips, haves: [] }, { cache, introduced: ctx.introduced, signal })
    // Whole objects only: a clone pack's entries are sent after others, and counted as reused, as they are.
    const objects = walked.objects.map(o => ({ id: o.id, type: o.type }))
    const parts: number[] = []
    let part = new Uint8Array(PART_BYTES)
    let fill = 0
    const flush = async () => {
      if (fill === 0) return
      signal.throwIfAborted()
      await this.store.putPart(generation, parts.length, part.subarray(0, fill))
      parts.push(fill)
      part = new Uint8Array(PART_BYTES)
      fill = 0
    }
    // packStream's raw output: the 12-byte header, the entries, then the 20-byte trailer as its own chunk.
    let skip = 12
    let held: Uint8Array | undefined
    for await (const chunk of packStream(ctx.objects, objects, { sideband: 0, progress: false, level: ctx.packLevel, cache })) {
      if (held !== undefined) {
        let bytes = held
        if (skip > 0) { const n = Math.min(skip, bytes.length); bytes = bytes.subarray(n); skip -= n }
        let o = 0
        while (o < bytes.length) {
          const n = Math.min(bytes.length - o, PART_BYTES - fill)
          part.set(bytes.subarray(o, o + n), fill)
          fill += n
          o += n
          if (fill === PART_BYTES) await flush()
        }
      }
      held = chunk
    }
    if (held?.length !== 20) throw new Error('clone pack: the pack writer ended without its trailer')
    await flush()
    const sorted = objects.map(o => o.id).sort()
    let idParts = 0
    for (let i = 0; i < sorted.length; i += IDS_PER_PART) {
      const n = Math.min(IDS_PER_PART, sorted.length - i)
      const ids = new Uint8Array(n * 20)
      for (let k = 0; k < n; k++) writeHexId(sorted[i + k], ids, k * 20)
      signal.throwIfAborted()
      await this.store.putPart(generation, parts.length + idParts++, ids)
    }
    const manifest: ClonePackManifest = { version: 1, generation, tips, count: objects.length, parts, idParts, built: new Date().toISOString() }
    signal.throwIfAborted()
    await this.store.publish(generation, utf8(JSON.stringify(manifest)))
    this.published = generation
    await this.#prune(generation)
    return manifest
  }

  /** Stop: no new build starts, one running stops at its next step (and publishes nothing). */
  async close(): Promise<void> {
    this.abort.abort()
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined }
    await this.building?.catch(() => {})
  }
}

