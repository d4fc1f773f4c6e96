// Sending a pack: the objects a walk chose, read one at a time and written into side-band-sized chunks as
// they come, so a clone of any size holds one object (plus the walk's bounded cache) and one chunk in
// memory, never the pack.
//
// Why not writePack: it is the right writer for packs that are kept (it records each entry's offset and
// CRC-32 for the index). A pack on the wire needs neither, and most larix objects are a few hundred bytes
// (JSON values, trees of ids, commits), which deflate shrinks by little at a cost of ~5 µs per call, the
// largest part of serving a clone. So objects under STORE_BELOW bytes go out as zlib "stored" blocks
// (a copy and an Adler-32); larger ones are deflated. Every Git reads both.
import { deflate } from '#platform/zlib'
import { sha1Stream } from '#platform/sha1'
import type { ObjectStore } from '../../store/backend.js'
import { prefixSuffixDelta } from '../pack/delta.js'
import { encodeEntryHeader, encodeOfsDistance, encodePackHeader, OBJ_OFS_DELTA, TYPE_CODE } from '../pack/format.js'
import { encodeSideband, FLUSH_PKT, SIDEBAND_DATA, SIDEBAND_PROGRESS } from '../wire/index.js'
import { MissingObjectError } from './walk.js'
import type { WalkedObject } from './walk.js'

export interface PackStreamOptions {
  /** Largest side-band pkt-line (65520 for side-band-64k and v2, 1000 for side-band); 0 for a raw pack. */
  sideband: number
  progress: boolean
  /** zlib level for objects of STORE_BELOW bytes and more. */
  level: number
  /** Bodies the walk already read; entries are dropped once written. */
  cache?: Map<string, Uint8Array>
  /**
   * Entries written already (a clone pack's: src/sync/serve/clone-pack.ts), sent as they are after
   * `objects`: `count` whole objects (no deltas), their bytes in order.
   */
  reuse?: { count: number; bytes: AsyncIterable<Uint8Array> }
}

/** Objects smaller than this are stored, not deflated (see above). */
export const STORE_BELOW = 1024

const RAW_CHUNK = 65536

/** Longest chain of deltas sent (Git's pack.depth default): a reader resolves at most this many in a row. */
export const MAX_DELTA_DEPTH = 50

/** One progress message, framed for channel 2. */
export function progressPkt(text: string, sideband: number): Uint8Array {
  return encodeSideband(SIDEBAND_PROGRESS, text, sideband)
}

/**
 * Adler-32 of `data`, eight bytes a step: b gains 8a plus the bytes weighted 8..1, a their sum (the same
 * values as byte by byte, with a shorter chain of additions), reduced every 5552 bytes as zlib does.
 */
export function adler32(data: Uint8Array): number {
  let a = 1, b = 0
  const n = data.length
  let i = 0
  while (i < n) {
    const end = Math.min(n, i + 5552) // the most bytes before b can overflow 2^32
    const end8 = end - ((end - i) & 7)
    for (; i < end8; i += 8) {
      const x0 = data[i], x1 = data[i + 1], x2 = data[i + 2], x3 = data[i + 3]
      const x4 = data[i + 4], x5 = data[i + 5], x6 = data[i + 6], x7 = data[i + 7]
      b += 8 * a + 8 * x0 + 7 * x1 + 6 * x2 + 5 * x3 + 4 * x4 + 3 * x5 + 2 * x6 + x7
      a += x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7
    }
    for (; i < end; i++) { a += data[i]; b += a }
    a %= 65521
    b %= 65521
  }
  return ((b << 16) | a) >>> 0
}

/**
 * Fills chunks with pack bytes; each chunk leaves room in front for the side-band header, so framing costs
 * no copy. Hashes the pack bytes (not the framing) for the trailer.
 */
class ChunkWriter {
  private buf: Uint8Array
  private pos: number
  private readonly head: number
  private readonly cap: number
  private readonly hash = sha1Stream()
  readonly full: Uint8Array[] = []
  /** Pack bytes written so far (the offset of the next entry). */
  offset = 0

  constructor(private readonly sideband: number) {
    this.head = sideband ? 5 : 0
    this.cap = sideband ? sideband : RAW_CHUNK
    this.buf = new Uint8Array(this.cap)
    this.pos = this.head
  }

  write(bytes: Uint8Array): void {
    this.offset += bytes.length
    let o = 0
    while (o < bytes.length) {
      const n = Math.min(bytes.length - o, this.cap - this.pos)
      this.buf.set(n === bytes.length && o === 0 ? bytes : bytes.subarray(o, o + n), this.pos)
      this.pos += n
      o += n
      if (this.pos === this.cap) this.cut()
    }
  }

  byte(b: number): void {
    this.offset++
    this.buf[this.pos++] = b
    if (this.pos === this.cap) this.cut()
  }

  /**
   * A whole entry of a small object: its header (type, size) and `body` as one zlib stored block, written
   * straight into the chunk when it fits (most larix objects: no allocation, no call per byte). False,
   * writing nothing, when it does not fit or `body` is too large for one stored block.
   */
  storedEntry(typeCode: number, body: Uint8Array): boolean {
    const n = body.length
    if (n > 65535 || this.pos + n + 22 > this.cap) return false
    const b = this.buf
    let p = this.pos
    let c = (typeCode << 4) | (n & 15)
    let rest = n >>> 4
    while (rest > 0) { b[p++] = c | 0x80; c = rest & 0x7f; rest >>>= 7 }
    b[p++] = c
    b[p++] = 0x78
    b[p++] = 0x01
    b[p++] = 1 // the last block, stored
    b[p++] = n & 0xff
    b[p++] = n >> 8
    b[p++] = ~n & 0xff
    b[p++] = (~n >> 8) & 0xff
    b.set(body, p)
    p += n
    const a = adler32(body)
    b[p++] = a >>> 24
    b[p++] = (a >>> 16) & 0xff
    b[p++] = (a >>> 8) & 0xff
    b[p++] = a & 0xff
    this.offset += p - this.pos
    this.pos = p
    if (p === this.cap) this.cut()
    return true
  }

  /** Close the current chunk (if it holds anything) and start another. */
  cut(): void {
    if (this.pos === this.head) return
    const chunk = this.buf.subarray(0, this.pos)
    this.hash.update(chunk.subarray(this.head))
    if (this.sideband) {
      const n = this.pos
      const hex = '0123456789abcdef'
      chunk[0] = hex.charCodeAt((n >> 12) & 15)
      chunk[1] = hex.charCodeAt((n >> 8) & 15)
      chunk[2] = hex.charCodeAt((n >> 4) & 15)
      chunk[3] = hex.charCodeAt(n & 15)
      chunk[4] = SIDEBAND_DATA
    }
    this.full.push(chunk)
    this.buf = new Uint8Array(this.cap)
    this.pos = this.head
  }

  /** The pack's checksum, once everything before it is written. */
  trailer(): Uint8Array {
    this.cut()
    const hex = this.hash.digestHex()
    const t = new Uint8Array(20)
    for (let i = 0; i < 20; i++) t[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16)
    return t
  }
}

/** A zlib stream of `body` in stored blocks: header 78 01, blocks of at most 65535 bytes, Adler-32. */
function writeStored(w: ChunkWriter, body: Uint8Array): void {
  w.byte(0x78)
  w.byte(0x01)
  let o = 0
  do {
    const n = Math.min(65535, body.length - o)
    const last = o + n === body.length
    w.byte(last ? 1 : 0)
    w.byte(n & 0xff)
    w.byte(n >> 8)
    w.byte(~n & 0xff)
    w.byte((~n >> 8) & 0xff)
    w.write(body.subarray(o, o + n))
    o += n
  } while (o < body.length)
  const a = adler32(body)
  w.byte(a >>> 24)
  w.byte((a >>> 16) & 0xff)
  w.byte((a >>> 8) & 0xff)
  w.byte(a & 0xff)
}

/** Objects per getMany call: enough for a store to read them in one scan, few enough to bound memory. */
const READ_WINDOW = 2048

/**
 * Reads the bodies of the objects to send ahead, READ_WINDOW at a time, with the store's getMany (ids
 * sorted, as LevelDB keeps them: the walk sends large sets in id order, so a clone's reads are one scan).
 */
class ReadWindow {
  private start = 0
  private bodies: (Uint8Array | undefined)[] = []
  /** The next window, read while the current one is written (the store reads on another thread). */
  private ahead: Promise<(Uint8Array | undefined)[]> | undefined

  constructor(private readonly store: ObjectStore, private readonly objects: readonly WalkedObject[], private readonly cache: Map<string, Uint8Array> | undefined) {}

  /** True when objects[i]'s read is done (its body, or its absence, is known without waiting). */
  loaded(i: number): boolean {
    return i >= this.start && i < this.start + this.bodies.length
  }

  /** objects[i]'s body (undefined if the store lacks it), for an i that is loaded. */
  loadedBody(i: number): Uint8Array | undefined {
    return this.bodies[i - this.start]
  }

  /** The body of objects[i] (i ascending), or undefined if the store lacks it. */
  async body(i: number): Promise<Uint8Array | undefined> {
    if (i >= this.start + this.bodies.length) {
      const from = this.start + this.bodies.length
      if (i !== from || this.ahead === undefined) this.ahead = this.read(i)
      this.bodies = await this.ahead
      this.start = i
      const next = i + this.bodies.length
      this.ahead = next < this.objects.length ? this.read(next) : undefined
      this.ahead?.catch(() => { /* reported when awaited */ })
    }
    return this.bodies[i - this.start]
  }

  private async read(from: number): Promise<(Uint8Array | undefined)[]> {
    const end = Math.min(this.objects.length, from + READ_WINDOW)
    const bodies: (Uint8Array | undefined)[] = new Array(end - from)
    // The ids to read and where each goes; the walk lists large sets in id order, checked here.
    const ids: string[] = []
    const at: number[] = []
    let sorted = true
    for (let i = from; i < end; i++) {
      const id = this.objects[i].id
      const hit = this.cache?.get(id)
      if (hit !== undefined) { bodies[i - from] = hit; continue }
      if (ids.length > 0 && ids[ids.length - 1] >= id) sorted = false
      ids.push(id)
      at.push(i - from)
    }
    if (!sorted) {
      const want = ids.map((id, k) => ({ id, at: at[k] })).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      ids.length = 0
      at.length = 0
      // getMany takes no duplicates (a pack has none; if one did, packStream reads it again)
      for (const w of want) if (ids.length === 0 || ids[ids.length - 1] !== w.id) { ids.push(w.id); at.push(w.at) }
    }
    const got = await this.store.getMany!(ids)
    for (let k = 0; k < ids.length; k++) bodies[at[k]] = got[k]?.body
    return bodies
  }
}

/**
 * The pack of `objects`, framed as asked; with side-band it ends with the flush-pkt that closes the stream.
 * Throws (MissingObjectError, a store error) in the middle if an object cannot be read: the caller reports it.
 */
export async function* packStream(store: ObjectStore, objects: readonly WalkedObject[], opts: PackStreamOptions): AsyncGenerator<Uint8Array> {
  const w = new ChunkWriter(opts.sideband)
  const cache = opts.cache
  // Trees the walk named as delta bases (each the base of one later entry): once written, where it is, its
  // body and the length of its delta chain, until its user is written.
  const isBase = new Uint8Array(objects.length)
  for (const o of objects) if (o.base !== undefined && o.base >= 0 && o.base < objects.length) isBase[o.base] = 1
  const bases = new Map<number, { offset: number; body: Uint8Array; depth: number }>()
  let deltas = 0
  const reused = opts.reuse?.count ?? 0
  w.write(encodePackHeader(objects.length + reused))
  const window = store.getMany ? new ReadWindow(store, objects, cache) : undefined
  for (let i = 0; i < objects.length; i++) {
    const { id, type, base } = objects[i]
    // One await per window, not per object: the bodies of a window are there once it is read.
    let body = window ? (window.loaded(i) ? window.loadedBody(i) : await window.body(i)) : cache?.get(id)
    if (body !== undefined) cache?.delete(id)
    else {
      const o = await store.get(id)
      if (!o) throw new MissingObjectError(type, id)
      body = o.body
    }
    const at = w.offset
    let depth = 0
    const b = base === undefined ? undefined : bases.get(base)
    let delta: Uint8Array | undefined
    if (b !== undefined && b.depth < MAX_DELTA_DEPTH) {
      const d = prefixSuffixDelta(b.body, body)
      // Worth it only when much smaller; Git refuses deltas under 4 bytes.
      if (d.length >= 4 && 2 * d.length < body.length) { delta = d; depth = b.depth + 1 }
    }
    if (b !== undefined) bases.delete(base!)
    if (isBase[i] === 1) bases.set(i, { offset: at, body, depth })
    if (delta === undefined && body.length < STORE_BELOW && w.storedEntry(TYPE_CODE[type], body)) {
      while (w.full.length > 0) yield w.full.shift()!
      continue
    }
    if (delta !== undefined) {
      deltas++
      w.write(encodeEntryHeader(OBJ_OFS_DELTA, delta.length))
      w.write(encodeOfsDistance(at - b!.offset))
    } else w.write(encodeEntryHeader(TYPE_CODE[type], body.length))
    const data = delta ?? body
    if (data.length < STORE_BELOW) writeStored(w, data)
    else w.write(deflate(data, opts.level))
    while (w.full.length > 0) yield w.full.shift()!
  }
  if (opts.reuse) {
    for await (const bytes of opts.reuse.bytes) {
      w.write(bytes)
      while (w.full.length > 0) yield w.full.shift()!
    }
  }
  const trailer = w.trailer()
  while (w.full.length > 0) yield w.full.shift()!
  yield opts.sideband ? encodeSideband(SIDEBAND_DATA, trailer, opts.sideband) : trailer
  if (opts.sideband) {
    if (opts.progress) yield progressPkt(`Total ${objects.length + reused} (delta ${deltas}), reused ${reused} (delta 0), pack-reused ${reused}\n`, opts.sideband)
    yield FLUSH_PKT
  }
}
