// Pack index version 2 (gitformat-pack(5), "idx files"): the map from object id to pack offset that sits
// next to every pack in .git/objects/pack. Byte for byte what `git index-pack` writes for the same pack.
//   magic \377tOc, version 2 · fan-out: 256 × count of ids whose first byte ≤ i · sorted ids (20 bytes each)
//   · CRC-32 of each packed entry · 31-bit offsets, or MSB + index into the 64-bit offset table · pack checksum
//   · SHA-1 of all the above
import { sha1Hex } from '#platform/sha1'
import { toHex, writeHexId } from '../../store/bytes.js'
import { BadIdError } from '../../store/errors.js'
import { BadPackError } from './errors.js'

/** One packed object: its id, where its entry starts in the pack, and the CRC-32 of the entry's bytes. */
export interface PackIndexEntry {
  id: string
  offset: number
  crc32: number
}

const MAGIC = [0xff, 0x74, 0x4f, 0x63]
const HEADER = 8
const FANOUT = 256 * 4
/** Offsets above this go to the 64-bit table (Git's default `off32_limit`). */
const MAX_SMALL_OFFSET = 0x7fffffff

/**
 * The version 2 index of a pack, given its entries (any order) and the pack's checksum (its trailer).
 * @example const idx = writePackIndex(result.entries, result.packId) // → pack-<packId>.idx
 */
export function writePackIndex(entries: readonly PackIndexEntry[], packChecksum: string): Uint8Array {
  const sorted = [...entries].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.offset - b.offset))
  const n = sorted.length
  let large = 0
  for (const e of sorted) if (e.offset > MAX_SMALL_OFFSET) large++
  const out = new Uint8Array(HEADER + FANOUT + n * 28 + large * 8 + 40)
  const dv = new DataView(out.buffer)
  out.set(MAGIC, 0)
  dv.setUint32(4, 2)
  const idsAt = HEADER + FANOUT, crcAt = idsAt + n * 20, offAt = crcAt + n * 4, largeAt = offAt + n * 4
  let bucket = 0
  let nextLarge = 0
  for (let i = 0; i < n; i++) {
    const e = sorted[i]
    if (!writeHexId(e.id, out, idsAt + i * 20)) throw new BadIdError(e.id)
    const first = out[idsAt + i * 20]
    while (bucket < first) dv.setUint32(HEADER + 4 * bucket++, i)
    dv.setUint32(crcAt + i * 4, e.crc32 >>> 0)
    if (e.offset > MAX_SMALL_OFFSET) {
      dv.setUint32(offAt + i * 4, (0x80000000 | nextLarge) >>> 0)
      dv.setUint32(largeAt + nextLarge * 8, Math.floor(e.offset / 2 ** 32))
      dv.setUint32(largeAt + nextLarge * 8 + 4, e.offset >>> 0)
      nextLarge++
    } else dv.setUint32(offAt + i * 4, e.offset)
  }
  while (bucket < 256) dv.setUint32(HEADER + 4 * bucket++, n)
  const end = largeAt + large * 8
  if (!writeHexId(packChecksum, out, end)) throw new BadIdError(packChecksum)
  writeHexId(sha1Hex(out.subarray(0, end + 20)), out, end + 20)
  return out
}

/** A parsed pack index: look ids up, list them. */
export interface PackIndex {
  readonly count: number
  /** The checksum of the pack this index describes. */
  readonly packId: string
  /** Where the object's entry starts in the pack and its CRC-32, or undefined if the pack does not hold it. */
  find(id: string): { offset: number; crc32: number } | undefined
  /** Ids starting with `prefix` (hex), at most `limit`. */
  findPrefix(prefix: string, limit?: number): string[]
  /** Every entry, in id order. */
  entries(): IterableIterator<PackIndexEntry>
}

function bad(message: string): never {
  throw new BadPackError(`bad pack index: ${message}`, { reason: 'index' })
}

/**
 * Parse a version 2 pack index, checking its structure and its own checksum.
 * @example const idx = readPackIndex(await readFile('pack-….idx')); idx.find(id)?.offset
 */
export function readPackIndex(bytes: Uint8Array): PackIndex {
  if (bytes.length < HEADER + FANOUT + 40) bad('too short')
  if (MAGIC.some((m, k) => bytes[k] !== m)) bad('no index signature (only version 2 indexes are read)')
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (dv.getUint32(4) !== 2) bad(`unsupported version ${dv.getUint32(4)}`)
  const fan = new Uint32Array(256)
  for (let i = 0; i < 256; i++) {
    fan[i] = dv.getUint32(HEADER + 4 * i)
    if (i > 0 && fan[i] < fan[i - 1]) bad('fan-out table is not monotonic')
  }
  const n = fan[255]
  const idsAt = HEADER + FANOUT, crcAt = idsAt + n * 20, offAt = crcAt + n * 4, largeAt = offAt + n * 4
  const large = bytes.length - 40 - largeAt
  if (large < 0 || large % 8 !== 0) bad(`size ${bytes.length} does not fit ${n} objects`)
  const end = bytes.length - 40
  if (toHex(bytes, end + 20, end + 40) !== sha1Hex(bytes.subarray(0, end + 20))) bad('checksum mismatch')
  const packId = toHex(bytes, end, end + 20)

  const offsetOf = (i: number): number => {
    const v = dv.getUint32(offAt + 4 * i)
    if (!(v & 0x80000000)) return v
    const k = v & 0x7fffffff
    if (largeAt + k * 8 + 8 > end) bad(`64-bit offset ${k} is outside the table`)
    return dv.getUint32(largeAt + k * 8) * 2 ** 32 + dv.getUint32(largeAt + k * 8 + 4)
  }
  const compareAt = (i: number, key: Uint8Array): number => {
    const p = idsAt + i * 20
    for (let k = 0; k < 20; k++) if (bytes[p + k] !== key[k]) return bytes[p + k] - key[k]
    return 0
  }
  return {
    count: n,
    packId,
    find(id: string) {
      const key = new Uint8Array(20)
      if (!writeHexId(id, key, 0)) return undefined
      let lo = key[0] === 0 ? 0 : fan[key[0] - 1], hi = fan[key[0]]
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        const c = compareAt(mid, key)
        if (c === 0) return { offset: offsetOf(mid), crc32: dv.getUint32(crcAt + 4 * mid) }
        if (c < 0) lo = mid + 1
        else hi = mid
      }
      return undefined
    },
    findPrefix(prefix: string, limit = 16) {
      const out: string[] = []
      if (!/^[0-9a-f]{1,40}$/.test(prefix)) return out
      const key = new Uint8Array(20)
      writeHexId(prefix.padEnd(40, '0'), key, 0)
      let lo = key[0] === 0 ? 0 : fan[key[0] - 1], hi = fan[key[0]]
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (compareAt(mid, key) < 0) lo = mid + 1
        else hi = mid
      }
      for (let i = lo; i < n && out.length < limit; i++) {
        const id = toHex(bytes, idsAt + i * 20, idsAt + i * 20 + 20)
        if (!id.startsWith(prefix)) break
        out.push(id)
      }
      return out
    },
    *entries() {
      for (let i = 0; i < n; i++) {
        yield { id: toHex(bytes, idsAt + i * 20, idsAt + i * 20 + 20), offset: offsetOf(i), crc32: dv.getUint32(crcAt + 4 * i) }
      }
    },
  }
}
