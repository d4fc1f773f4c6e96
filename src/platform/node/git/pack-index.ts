// Pack index files (.idx), version 2 (and reading version 1): find an object's offset in its pack by id.
//   v2: magic ff 74 4f 63, version 2, fan-out (256 × u32), sorted ids (N × 20), crc32 (N × u32),
//       offsets (N × u32; high bit set: index into the 8-byte table), 8-byte offsets, pack checksum, idx checksum.
//   v1: fan-out, then N × (u32 offset, 20-byte id), pack checksum, idx checksum.
import { createHash } from 'node:crypto'
import { toHex } from '../../../store/bytes.js'
import { CorruptObjectError } from '../../../store/errors.js'

const MAGIC = 0xff744f63

export interface IndexEntry {
  /** The object id as 20 bytes. */
  id: Uint8Array
  crc: number
  offset: number
}

function compareId(a: Uint8Array, ao: number, b: Uint8Array, bo: number): number {
  for (let i = 0; i < 20; i++) {
    const d = a[ao + i] - b[bo + i]
    if (d !== 0) return d
  }
  return 0
}

/** A parsed, in-memory pack index. Lookups are binary searches inside the fan-out bucket. */
export class PackIndex {
  readonly count: number
  private readonly view: DataView
  private readonly version: 1 | 2
  private readonly idsAt: number
  private readonly idStride: number
  private sortedOffsets: Float64Array | undefined

  constructor(readonly data: Uint8Array, readonly name = 'pack index') {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength)
    const v2 = data.length >= 8 && this.view.getUint32(0) === MAGIC
    if (v2) {
      const version = this.view.getUint32(4)
      if (version !== 2) throw new CorruptObjectError(`${name}: unsupported pack index version ${version}`)
      this.version = 2
    } else {
      this.version = 1
    }
    const fan = v2 ? 8 : 0
    if (data.length < fan + 1024 + 40) throw new CorruptObjectError(`${name}: truncated pack index`)
    this.count = this.view.getUint32(fan + 255 * 4)
    this.idsAt = v2 ? 8 + 1024 : 1024 + 4
    this.idStride = v2 ? 20 : 24
    const min = v2 ? 8 + 1024 + this.count * 28 + 40 : 1024 + this.count * 24 + 40
    if (data.length < min) throw new CorruptObjectError(`${name}: truncated pack index (${this.count} objects)`)
  }

  private fanout(b: number): number {
    return b < 0 ? 0 : this.view.getUint32((this.version === 2 ? 8 : 0) + b * 4)
  }

  /** The position of `id` (20 bytes at `at`) in the sorted table, or -1. */
  position(id: Uint8Array, at = 0): number {
    let lo = this.fanout(id[at] - 1), hi = this.fanout(id[at])
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const c = compareId(this.data, this.idsAt + mid * this.idStride, id, at)
      if (c === 0) return mid
      if (c < 0) lo = mid + 1
      else hi = mid
    }
    return -1
  }

  idAt(i: number): string {
    const o = this.idsAt + i * this.idStride
    return toHex(this.data, o, o + 20)
  }

  offsetAt(i: number): number {
    if (this.version === 1) return this.view.getUint32(1024 + i * 24)
    const v = this.view.getUint32(8 + 1024 + this.count * 24 + i * 4)
    if (!(v & 0x80000000)) return v
    const at = 8 + 1024 + this.count * 28 + (v & 0x7fffffff) * 8
    if (at + 8 > this.data.length - 40) throw new CorruptObjectError(`${this.name}: large offset out of range`)
    return this.view.getUint32(at) * 2 ** 32 + this.view.getUint32(at + 4)
  }

  crcAt(i: number): number | undefined {
    return this.version === 2 ? this.view.getUint32(8 + 1024 + this.count * 20 + i * 4) : undefined
  }

  /** The offset of `id` (20 bytes) in the pack, or -1. */
  find(id: Uint8Array, at = 0): number {
    const i = this.position(id, at)
    return i < 0 ? -1 : this.offsetAt(i)
  }

  /** Ids beginning with the hex digits `prefix` (at most `limit`). */
  findPrefix(prefix: string, limit: number): string[] {
    const out: string[] = []
    if (prefix.length === 0) return out
    const first = parseInt(prefix.slice(0, 2).padEnd(2, '0'), 16)
    const last = prefix.length >= 2 ? first : first | 0x0f
    for (let i = this.fanout(first - 1), end = this.fanout(last); i < end && out.length < limit; i++) {
      const id = this.idAt(i)
      if (id.startsWith(prefix)) out.push(id)
      else if (id > prefix) break
    }
    return out
  }

  /** The pack's checksum, as recorded in the index. */
  packChecksum(): string {
    return toHex(this.data, this.data.length - 40, this.data.length - 20)
  }

  /**
   * Where the entry at `offset` ends: the next entry's offset, or `packSize - 20` (the trailing checksum).
   * Entries are contiguous, so this is the exact length of the entry's bytes.
   */
  entryEnd(offset: number, packSize: number): number {
    let s = this.sortedOffsets
    if (!s) {
      s = new Float64Array(this.count)
      for (let i = 0; i < this.count; i++) s[i] = this.offsetAt(i)
      s.sort()
      this.sortedOffsets = s
    }
    let lo = 0, hi = s.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (s[mid] <= offset) lo = mid + 1
      else hi = mid
    }
    return lo < s.length ? s[lo] : packSize - 20
  }
}

/** Encode a version 2 index for `entries` (any order; sorted here) of the pack whose checksum is `packChecksum` (20 bytes). */
export function encodePackIndex(entries: IndexEntry[], packChecksum: Uint8Array): Uint8Array {
  const sorted = entries.slice().sort((a, b) => compareId(a.id, 0, b.id, 0))
  const n = sorted.length
  const large = sorted.filter(e => e.offset >= 0x80000000).length
  const size = 8 + 1024 + n * 28 + large * 8 + 40
  const out = new Uint8Array(size)
  const view = new DataView(out.buffer)
  view.setUint32(0, MAGIC)
  view.setUint32(4, 2)
  const counts = new Uint32Array(256)
  for (const e of sorted) counts[e.id[0]]++
  let acc = 0
  for (let b = 0; b < 256; b++) { acc += counts[b]; view.setUint32(8 + b * 4, acc) }
  const ids = 8 + 1024, crcs = ids + n * 20, offs = crcs + n * 4, bigs = offs + n * 4
  let nextLarge = 0
  for (let i = 0; i < n; i++) {
    const e = sorted[i]
    if (i > 0 && compareId(sorted[i - 1].id, 0, e.id, 0) === 0) throw new CorruptObjectError(`duplicate object ${toHex(e.id)} in a pack index`)
    out.set(e.id, ids + i * 20)
    view.setUint32(crcs + i * 4, e.crc >>> 0)
    if (e.offset < 0x80000000) view.setUint32(offs + i * 4, e.offset)
    else {
      view.setUint32(offs + i * 4, (0x80000000 | nextLarge) >>> 0)
      view.setUint32(bigs + nextLarge * 8, Math.floor(e.offset / 2 ** 32))
      view.setUint32(bigs + nextLarge * 8 + 4, e.offset >>> 0)
      nextLarge++
    }
  }
  out.set(packChecksum, size - 40)
  out.set(createHash('sha1').update(out.subarray(0, size - 20)).digest(), size - 20)
  return out
}
