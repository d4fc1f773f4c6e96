// Streaming pack reader: parse a pack as it arrives, resolve its deltas, verify its checksum, and only then
// hand its objects to the destination store. Memory: the largest object, the cache of recent delta bases,
// one batch, per entry its id, offset and CRC-32 in flat arrays (an OFS delta finds its base's entry by a
// binary search of the offsets), whatever the staging store keeps (see staging.ts), and deltas whose base
// comes later in the pack (held until it does; Git never writes those, other packers rarely).
import { inflateAt } from '#platform/zlib'
import type { Inflated } from '#platform/zlib'
import { sha1Stream } from '#platform/sha1'
import type { ObjectStore } from '../../store/backend.js'
import { concatBytes, toHex } from '../../store/bytes.js'
import { BadArgumentError } from '../../store/errors.js'
import { decodeCommit, decodeTag, decodeTree, objectId } from '../../store/objects.js'
import type { GitObject, ObjectType, StoredObject } from '../../store/objects.js'
import { crc32 } from './crc32.js'
import { applyDelta } from './delta.js'
import { BadPackError } from './errors.js'
import { CODE_TYPE, decodeEntryHeader, decodePackHeader, OBJ_OFS_DELTA, PACK_HEADER_SIZE, PACK_SIGNATURE, PACK_TRAILER_SIZE } from './format.js'
import type { EntryHeader } from './format.js'
import type { PackIndexEntry } from './pack-index.js'
import { MemoryStaging } from './staging.js'

/** A pack arriving in chunks of any size: an async iterable (a Node stream), an iterable, or a Web ReadableStream. */
export type PackSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array> | ReadableStream<Uint8Array>

export interface UnpackProgress {
  /** `receiving`: reading and resolving the pack; `writing`: copying the verified objects to the store. */
  phase: 'receiving' | 'writing'
  objects: number
  total: number
  /** Pack bytes read so far. */
  bytes: number
}

export interface UnpackOptions {
  /** Called every few hundred objects and at the end of each phase. */
  onProgress?(p: UnpackProgress): void
  /**
   * Objects per `putMany` call (default 1000; a batch is also cut at 8 MiB). A clone of 55,639 objects into
   * a level store with 1000 rather than 4000: ~12 MiB less peak RSS and no slower (the batch's objects die
   * young, and LevelDB's writes interleave more finely with the parsing); with 500, slower.
   */
  batchSize?: number
  /**
   * Where objects wait until the pack's checksum is verified (see staging.ts). Default: in memory. Passing
   * the destination store itself writes straight through: bounded memory, but a bad pack leaves garbage.
   */
  staging?: ObjectStore
  /** Bytes of recently unpacked objects kept as delta bases (default 32 MiB). */
  cacheBytes?: number
  /** Parse every commit, tree and tag, refusing the pack if one is malformed (like `index-pack --strict`). */
  strict?: boolean
  /**
   * Stop reading at the trailer instead of at the end of `source`, for a connection that stays open after the
   * pack (receive-pack over a socket). Bytes already read past the trailer come back as `rest`.
   * The source is then never closed by unpack, even on error: the caller owns the connection.
   * Without it, anything after the trailer is an error.
   */
  stopAtTrailer?: boolean
  /**
   * Compute each entry's CRC-32 for `entries` (default true). A fetch that only stores the objects passes
   * false and saves a pass over the pack's bytes; `entries` then throws.
   */
  indexEntries?: boolean
  signal?: AbortSignal
}

export interface UnpackResult {
  /** The pack's checksum (its trailer), the name Git gives the pack file: `pack-<packId>.pack`. */
  packId: string
  /** Object ids in pack order (one per entry). */
  ids: string[]
  /** Offset and CRC-32 of every entry, in pack order: what `writePackIndex` needs (not with `indexEntries: false`). */
  entries: PackIndexEntry[]
  /** Bytes in the pack, trailer included. */
  size: number
  /** With `stopAtTrailer`: bytes that followed the pack in the last chunk read. */
  rest?: Uint8Array
}

const EMPTY = new Uint8Array(0)
const BATCH_BYTES = 8 << 20

/** The pack bytes seen through a window over the chunks; hashes every byte it moves past. */
class PackInput {
  buf: Uint8Array = EMPTY
  pos = 0
  private base = 0
  private hashed = 0
  private ended = false
  private readonly hash = sha1Stream()

  constructor(private readonly it: AsyncIterator<Uint8Array>) {}

  /** The pack offset of `buf[pos]`. */
  get offset(): number { return this.base + this.pos }
  get available(): number { return this.buf.length - this.pos }

  /** Pull chunks until `n` bytes are available or the source ends; false if it ended short. */
  async ensure(n: number): Promise<boolean> {
    if (this.available >= n) return true
    if (this.ended) return false
    this.hashConsumed()
    const parts: Uint8Array[] = []
    let have = this.available
    if (have > 0) parts.push(this.buf.subarray(this.pos))
    while (have < n) {
      const r = await this.it.next()
      if (r.done) { this.ended = true; break }
      const c: unknown = r.value
      if (!(c instanceof Uint8Array)) throw new BadArgumentError('a pack source must yield Uint8Array chunks', 'source')
      if (c.length === 0) continue
      parts.push(c)
      have += c.length
    }
    this.base += this.pos
    this.buf = parts.length === 0 ? EMPTY : parts.length === 1 ? parts[0] : concatBytes(parts)
    this.pos = 0
    this.hashed = 0
    return have >= n
  }

  /** Pull at least one more chunk; false when the source has ended. */
  async more(): Promise<boolean> {
    const before = this.available
    await this.ensure(Math.max(before * 2, before + 65536))
    return this.available > before
  }

  private hashConsumed(): void {
    if (this.pos > this.hashed && this.digested === undefined) this.hash.update(this.buf.subarray(this.hashed, this.pos))
    this.hashed = this.pos
  }

  private digested: string | undefined

  /** SHA-1 of every byte before `pos` (the trailer and what follows are not part of it). */
  digest(): string {
    this.hashConsumed()
    return (this.digested ??= this.hash.digestHex())
  }

  /** Any bytes at all after `pos`, up to the end of the source? */
  async anyMore(): Promise<boolean> {
    while (this.available === 0 && !this.ended) await this.more()
    return this.available > 0
  }

  async close(): Promise<void> {
    if (!this.ended) { this.ended = true; try { await this.it.return?.() } catch { /* the source's own business */ } }
  }
}

function iterate(source: PackSource): AsyncIterator<Uint8Array> {
  if (typeof source !== 'object' || source === null) throw new BadArgumentError('unpack needs an AsyncIterable, Iterable or ReadableStream of Uint8Array', 'source')
  if (Symbol.asyncIterator in source) return (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
  if (Symbol.iterator in source) {
    const it = (source as Iterable<Uint8Array>)[Symbol.iterator]()
    return { next: async () => it.next(), return: async () => { it.return?.(); return { done: true, value: undefined } } }
  }
  if (typeof (source as ReadableStream<Uint8Array>).getReader === 'function') {
    // Browsers without async iteration of ReadableStream.
    const reader = (source as ReadableStream<Uint8Array>).getReader()
    return {
      next: async () => {
        const r = await reader.read()
        return r.done ? { done: true, value: undefined } : { done: false, value: r.value }
      },
      return: async () => { await reader.cancel(); return { done: true, value: undefined } },
    }
  }
  throw new BadArgumentError('unpack needs an AsyncIterable, Iterable or ReadableStream of Uint8Array', 'source')
}

/** A delta waiting for its base: OFS bases later than their delta cannot be, REF bases may come later. */
interface Waiting { index: number; delta: Uint8Array }

/**
 * Read a pack from `source`, resolve its deltas (OFS and REF, including thin-pack bases taken from `store`)
 * and store its objects in `store`, in batches, once the pack's checksum is verified. A corrupt, truncated
 * or incomplete pack rejects with BadPackError (code LARIX_BAD_PACK) and leaves `store` as it was.
 * @example
 * const res = await fetch(url, { method: 'POST', body })
 * const { packId, ids } = await unpack(res.body!, backend.objects, { onProgress: p => bar.update(p.objects / p.total) })
 */
export async function unpack(source: PackSource, store: ObjectStore, opts: UnpackOptions = {}): Promise<UnpackResult> {
  const batchSize = opts.batchSize ?? 1000
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new BadArgumentError('batchSize must be a positive integer', 'batchSize')
  const staging = opts.staging ?? new MemoryStaging()
  const direct = staging === store
  const input = new PackInput(iterate(source))
  try {
    const writes: Writes = {}
    let result: UnpackResult
    try {
      result = await readPack(input, store, staging, direct, batchSize, opts, writes)
    } catch (e) {
      // A batch still being written when the pack turned out bad: let it end before the caller moves on.
      await writes.inflight?.done
      throw e
    }
    if (!direct) await copyStaged(staging, store, result, batchSize, opts)
    if (staging instanceof MemoryStaging && opts.staging === undefined) staging.clear()
    return result
  } finally {
    // A source read to its end needs no closing; one left early (an error) is released, unless the
    // caller keeps the connection for what follows the pack.
    if (!opts.stopAtTrailer) await input.close()
  }
}

/** The batch readPack is writing while it parses on. */
interface Writes { inflight?: { objects: Map<string, StoredObject>; done: Promise<unknown>; error?: unknown } }

async function readPack(input: PackInput, store: ObjectStore, staging: ObjectStore, direct: boolean, batchSize: number, opts: UnpackOptions, writes: Writes): Promise<UnpackResult> {
  const { signal, onProgress, strict } = opts
  const withCrc = opts.indexEntries !== false
  const memoryStaging = staging instanceof MemoryStaging ? staging.map : undefined
  signal?.throwIfAborted()
  if (!(await input.ensure(PACK_HEADER_SIZE))) {
    const head = input.buf.subarray(input.pos)
    if (head.some((b, k) => k < 4 && b !== PACK_SIGNATURE[k])) throw new BadPackError('not a pack (no PACK signature)', { reason: 'header', offset: 0 })
    throw new BadPackError('pack truncated in its header', { reason: 'truncated', offset: input.offset })
  }
  const { count: total } = decodePackHeader(input.buf, input.pos)
  input.pos += PACK_HEADER_SIZE

  /** Per entry, in pack order: its id ('' while it waits for its base), offset and CRC-32. */
  const ids: string[] = []
  const offsets: number[] = []
  const crcs: number[] = []
  /** Base key (`@offset` or an id) → deltas waiting for it. */
  const waiting = new Map<string, Waiting[]>()
  let waitingCount = 0
  const cache = new BaseCache(opts.cacheBytes ?? 32 << 20)
  let batch = new Map<string, StoredObject>()
  let batchBytes = 0

  // One batch may be in flight while the next is parsed: the store writes (a LevelDB batch runs on libuv's
  // thread pool) while inflating and hashing go on. Its objects stay readable from `inflight` until it is
  // written; its failure surfaces at the next flush (or the final one).
  const settleInflight = async (): Promise<void> => {
    const f = writes.inflight
    if (!f) return
    await f.done
    writes.inflight = undefined
    if ('error' in f) throw f.error
  }
  const flush = async (final = false): Promise<void> => {
    await settleInflight()
    if (batch.size === 0) return
    const objects = batch
    batch = new Map()
    batchBytes = 0
    const f: NonNullable<Writes['inflight']> = { objects, done: Promise.resolve() }
    f.done = staging.putMany([...objects.values()]).catch((e: unknown) => { f.error = e })
    writes.inflight = f
    if (final || memoryStaging) await settleInflight()
  }

  const lookup = async (id: string): Promise<GitObject | undefined> => {
    const o = batch.get(id) ?? writes.inflight?.objects.get(id) ?? (memoryStaging ? memoryStaging.get(id) : await staging.get(id))
    if (o !== undefined || direct) return o
    return store.get(id)
  }

  const check = (type: ObjectType, body: Uint8Array, offset: number): void => {
    if (!strict || type === 'blob') return
    try {
      if (type === 'commit') decodeCommit(body)
      else if (type === 'tree') decodeTree(body)
      else decodeTag(body)
    } catch (e) {
      throw new BadPackError(`corrupt ${type} at offset ${offset}: ${(e as Error).message}`, { reason: 'object', offset }, e)
    }
  }

  /**
   * Record a resolved object (its id, the cache, the batch); true when the batch is full and must be
   * flushed. Synchronous: most entries of a pack go through without a single await.
   */
  const record = (i: number, t: ObjectType, b: Uint8Array): boolean => {
    check(t, b, offsets[i])
    const id = objectId(t, b)
    ids[i] = id
    const obj: StoredObject = { id, type: t, body: b }
    cache.set(i, obj)
    if (batch.has(id)) return false
    batch.set(id, obj)
    batchBytes += b.length
    return batch.size >= batchSize || batchBytes >= BATCH_BYTES
  }
  /** After `record`: flush a full batch, and resolve every delta that was waiting for the object, depth-first. */
  const settle = async (index: number, type: ObjectType, body: Uint8Array, full: boolean): Promise<void> => {
    if (full) await flush()
    if (waitingCount === 0) return
    const stack: [number, ObjectType, Uint8Array, boolean][] = [[index, type, body, false]]
    while (stack.length > 0) {
      const [i, t, b, pending] = stack.pop()!
      if (pending && record(i, t, b)) await flush()
      if (waitingCount === 0) continue
      for (const key of ['@' + offsets[i], ids[i]]) {
        const list = waiting.get(key)
        if (!list) continue
        waiting.delete(key)
        waitingCount -= list.length
        for (const w of list) stack.push([w.index, t, applyDelta(b, w.delta, true), true])
      }
    }
  }

  const wait = (key: string, w: Waiting): void => {
    const list = waiting.get(key)
    if (list) list.push(w)
    else waiting.set(key, [w])
    waitingCount++
  }

  for (let i = 0; i < total; i++) {
    if ((i & 255) === 0) {
      signal?.throwIfAborted()
      onProgress?.({ phase: 'receiving', objects: i, total, bytes: input.offset })
    }
    const offset = input.offset
    let h: EntryHeader | undefined
    while ((h = decodeEntryHeader(input.buf, input.pos, offset)) === undefined) {
      if (!(await input.more())) throw new BadPackError(`pack truncated in entry ${i} (offset ${offset})`, { reason: 'truncated', offset })
    }
    // Deflate never grows data by more than a few bytes per 16 KiB block: a "stream" that goes on much
    // longer than its object is a corrupt one, and is not worth buffering the rest of the pack for.
    const zlibLimit = h.size + Math.floor(h.size / 8) + 65536
    let z: Inflated | undefined
    // A delta is applied at once and dropped: it may be inflated into a reused buffer (copied if it waits).
    // Other objects go to shared slabs: they live about as long as one another (a batch, the base cache).
    const isDelta = CODE_TYPE[h.typeCode] === undefined
    for (;;) {
      try {
        z = inflateAt(input.buf, input.pos + h.length, h.size, isDelta ? 'scratch' : 'slab')
      } catch (e) {
        throw new BadPackError(`bad zlib data in entry ${i} (offset ${offset}): ${(e as Error).message}`, { reason: 'zlib', offset }, e)
      }
      if (z !== undefined) break
      if (input.available - h.length > zlibLimit) throw new BadPackError(`zlib stream of entry ${i} (offset ${offset}) does not end`, { reason: 'zlib', offset })
      if (!(await input.more())) throw new BadPackError(`pack truncated in entry ${i} (offset ${offset})`, { reason: 'truncated', offset })
    }
    const length = h.length + z.consumed
    if (withCrc) crcs.push(crc32(input.buf.subarray(input.pos, input.pos + length)))
    offsets.push(offset)
    ids.push('')
    input.pos += length

    const type = CODE_TYPE[h.typeCode]
    if (type !== undefined) {
      const full = record(i, type, z.data)
      if (full || waitingCount > 0) await settle(i, type, z.data, full)
      continue
    }
    // The delta may sit in the inflater's reused buffer: copied before anything else can run (an await).
    let delta = z.data
    let base: GitObject | undefined
    if (h.typeCode === OBJ_OFS_DELTA) {
      const b = entryAt(offsets, h.baseOffset!)
      if (b < 0) throw new BadPackError(`delta at offset ${offset} refers to offset ${h.baseOffset}, where no entry starts`, { reason: 'delta', offset })
      const baseId = ids[b]
      if (baseId === '') { wait('@' + h.baseOffset, { index: i, delta: delta.slice() }); continue }
      base = cache.get(b)
      if (base === undefined) {
        delta = delta.slice()
        base = await lookup(baseId)
      }
      if (base === undefined) throw new Error(`unpack lost the object ${baseId} it had just stored`)
    } else {
      delta = delta.slice()
      base = await lookup(h.baseId!)
      // Not here yet: it may come later in the pack. If it never does, the pack is incomplete.
      if (base === undefined) { wait(h.baseId!, { index: i, delta }); continue }
    }
    const body = applyDelta(base.body, delta, true)
    const full = record(i, base.type, body)
    if (full || waitingCount > 0) await settle(i, base.type, body, full)
  }

  if (!(await input.ensure(PACK_TRAILER_SIZE))) throw new BadPackError('pack truncated before its checksum', { reason: 'truncated', offset: input.offset })
  const digest = input.digest()
  const trailer = toHex(input.buf, input.pos, input.pos + PACK_TRAILER_SIZE)
  if (trailer !== digest) throw new BadPackError(`pack checksum mismatch: trailer ${trailer}, content ${digest}`, { reason: 'checksum', offset: input.offset })
  input.pos += PACK_TRAILER_SIZE
  let rest: Uint8Array | undefined
  if (opts.stopAtTrailer) rest = input.buf.slice(input.pos)
  else if (await input.anyMore()) throw new BadPackError('data after the end of the pack', { reason: 'trailing', offset: input.offset })
  if (waitingCount > 0) {
    const missing = [...waiting.keys()].filter(k => !k.startsWith('@'))
    throw new BadPackError(`pack is missing delta bases (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''})`, { reason: 'base' })
  }
  await flush(true)
  onProgress?.({ phase: 'receiving', objects: total, total, bytes: input.offset })
  let entries: PackIndexEntry[] | undefined
  const result: UnpackResult = {
    packId: digest, ids, size: input.offset,
    // Built when asked for (writePackIndex): a fetch never does.
    get entries() {
      if (!withCrc) throw new BadArgumentError('unpack was called with indexEntries: false, so it kept no entries', 'indexEntries')
      return (entries ??= ids.map((id, k) => ({ id, offset: offsets[k], crc32: crcs[k] })))
    },
  }
  if (rest !== undefined) result.rest = rest
  return result
}

/**
 * After verification: staged objects to the destination, in batches, one batch being written while the
 * next is gathered. From the memory staging store in the order they were staged (each object once);
 * from another staging store in pack order.
 */
async function copyStaged(staging: ObjectStore, store: ObjectStore, result: UnpackResult, batchSize: number, opts: UnpackOptions): Promise<void> {
  const { ids, size: packBytes } = result
  const total = ids.length
  let inflight: Promise<void> | undefined
  let batch: StoredObject[] = []
  let bytes = 0
  let done = 0
  const send = async (): Promise<void> => {
    if (inflight) await inflight
    opts.signal?.throwIfAborted()
    const objects = batch
    batch = []
    bytes = 0
    inflight = objects.length > 0 ? store.putMany(objects) : undefined
    opts.onProgress?.({ phase: 'writing', objects: Math.min(total, Math.round(done)), total, bytes: packBytes })
  }
  const add = async (o: StoredObject): Promise<void> => {
    batch.push(o)
    bytes += o.body.length
    if (batch.length >= batchSize || bytes >= BATCH_BYTES) await send()
  }
  try {
    if (staging instanceof MemoryStaging) {
      // Duplicates in the pack were staged once; `done` counts pack entries for the progress figures.
      const per = staging.map.size > 0 ? total / staging.map.size : 0
      for (const o of staging.map.values()) { done += per; await add(o) }
    } else {
      const seen = new Set<string>()
      for (const id of ids) {
        done++
        if (seen.has(id)) continue
        seen.add(id)
        const o = await staging.get(id)
        if (o === undefined) throw new Error(`staged object ${id} vanished from the staging store`)
        await add({ id, type: o.type, body: o.body })
      }
    }
    done = total
    await send()
    await inflight
  } catch (e) {
    // Let a batch being written end before the caller moves on.
    await inflight?.catch(() => {})
    throw e
  }
}
/** The index of the entry that starts at `offset` (offsets are increasing), or -1. */
function entryAt(offsets: readonly number[], offset: number): number {
  let lo = 0, hi = offsets.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const v = offsets[mid]
    if (v === offset) return mid
    if (v < offset) lo = mid + 1
    else hi = mid - 1
  }
  return -1
}

/**
 * Recently resolved objects by entry index, for the deltas that follow: first in, first out within a byte
 * budget (a pack's deltas mostly refer to entries shortly before them). A plain array by index and a queue
 * of what to drop: no hashing, no reordering.
 */
class BaseCache {
  private readonly objects: (GitObject | undefined)[] = []
  private readonly queue: number[] = []
  private head = 0
  private bytes = 0
  constructor(private readonly budget: number) {}
  get(i: number): GitObject | undefined { return this.objects[i] }
  set(i: number, o: GitObject): void {
    const w = o.body.length + 64
    if (w > this.budget / 2) return
    while (this.objects.length < i) this.objects.push(undefined)
    if (this.objects[i] !== undefined) return
    this.objects[i] = o
    this.queue.push(i)
    this.bytes += w
    while (this.bytes > this.budget) {
      const k = this.queue[this.head++]
      this.bytes -= this.objects[k]!.body.length + 64
      this.objects[k] = undefined
    }
    if (this.head > 4096 && this.head * 2 > this.queue.length) { this.queue.splice(0, this.head); this.head = 0 }
  }
}
