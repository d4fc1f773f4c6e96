// The pack file's framing (gitformat-pack(5)): the 12-byte header, each entry's type-and-size header, the
// offset encoding of OFS_DELTA bases. Pure functions over Uint8Array, shared by the reader and the writer.
import type { ObjectType } from '../../store/objects.js'
import { toHex } from '../../store/bytes.js'
import { BadPackError } from './errors.js'

export const OBJ_COMMIT = 1
export const OBJ_TREE = 2
export const OBJ_BLOB = 3
export const OBJ_TAG = 4
export const OBJ_OFS_DELTA = 6
export const OBJ_REF_DELTA = 7

export const TYPE_CODE: Readonly<Record<ObjectType, number>> = { commit: OBJ_COMMIT, tree: OBJ_TREE, blob: OBJ_BLOB, tag: OBJ_TAG }
export const CODE_TYPE: readonly (ObjectType | undefined)[] = [undefined, 'commit', 'tree', 'blob', 'tag']

/** `PACK`, the first four bytes of every pack. */
export const PACK_SIGNATURE: readonly number[] = [0x50, 0x41, 0x43, 0x4b]

/** Bytes of the pack header (`PACK`, version, object count) and of the SHA-1 trailer. */
export const PACK_HEADER_SIZE = 12
export const PACK_TRAILER_SIZE = 20

/** The 12-byte pack header for `count` objects (version 2). */
export function encodePackHeader(count: number): Uint8Array {
  if (!Number.isInteger(count) || count < 0 || count > 0xffffffff) throw new RangeError(`a pack cannot hold ${count} objects`)
  const h = new Uint8Array(PACK_HEADER_SIZE)
  h.set([0x50, 0x41, 0x43, 0x4b, 0, 0, 0, 2])
  new DataView(h.buffer).setUint32(8, count)
  return h
}

/** The object count of a pack header; throws BadPackError unless it is `PACK`, version 2 or 3. */
export function decodePackHeader(b: Uint8Array, at = 0): { version: number; count: number } {
  if (b.length - at < PACK_HEADER_SIZE) throw new BadPackError('pack truncated in its header', { reason: 'truncated', offset: 0 })
  if (b[at] !== 0x50 || b[at + 1] !== 0x41 || b[at + 2] !== 0x43 || b[at + 3] !== 0x4b) {
    throw new BadPackError('not a pack (no PACK signature)', { reason: 'header', offset: 0 })
  }
  const dv = new DataView(b.buffer, b.byteOffset + at, PACK_HEADER_SIZE)
  const version = dv.getUint32(4)
  if (version !== 2 && version !== 3) throw new BadPackError(`unsupported pack version ${version}`, { reason: 'header', offset: 4 })
  return { version, count: dv.getUint32(8) }
}

/** An entry's header: its type code (1–4, 6, 7), its inflated size, and for deltas where the base is. */
export interface EntryHeader {
  typeCode: number
  /** Size of the object (or, for a delta, of the delta data) once inflated. */
  size: number
  /** Bytes taken by the header, including a delta's base offset or base id. */
  length: number
  /** OFS_DELTA: the pack offset of the base entry. */
  baseOffset?: number
  /** REF_DELTA: the id of the base object. */
  baseId?: string
}

/** The type-and-size header of an entry whose object inflates to `size` bytes. */
export function encodeEntryHeader(typeCode: number, size: number): Uint8Array {
  const out: number[] = []
  let c = (typeCode << 4) | (size & 15)
  let rest = Math.floor(size / 16)
  while (rest > 0) {
    out.push(c | 0x80)
    c = rest & 0x7f
    rest = Math.floor(rest / 128)
  }
  out.push(c)
  return Uint8Array.from(out)
}

/** The OFS_DELTA base field for a base `distance` bytes before the entry (Git's "offset encoding"). */
export function encodeOfsDistance(distance: number): Uint8Array {
  const out = [distance & 0x7f]
  let n = Math.floor(distance / 128)
  while (n > 0) {
    n -= 1
    out.unshift(0x80 | (n & 0x7f))
    n = Math.floor(n / 128)
  }
  return Uint8Array.from(out)
}

// Sizes above 2^53 cannot be counted exactly in a JS number; no real object comes near.
const MAX_SIZE_BYTES = 8

/**
 * Parse the entry header at `b[at]`, the entry being at pack offset `offset`. Returns undefined when `b`
 * ends before the header does (read more and try again); throws BadPackError when it is malformed.
 */
export function decodeEntryHeader(b: Uint8Array, at: number, offset: number): EntryHeader | undefined {
  let p = at
  if (p >= b.length) return undefined
  let c = b[p++]
  const typeCode = (c >> 4) & 7
  let size = c & 15
  let scale = 16
  let n = 0
  while (c & 0x80) {
    if (p >= b.length) return undefined
    if (++n > MAX_SIZE_BYTES) throw new BadPackError('entry size does not fit in 64 bits', { reason: 'entry', offset })
    c = b[p++]
    size += (c & 0x7f) * scale
    scale *= 128
  }
  if (typeCode === 0 || typeCode === 5) throw new BadPackError(`bad entry type ${typeCode}`, { reason: 'entry', offset })
  const h: EntryHeader = { typeCode, size, length: 0 }
  if (typeCode === OBJ_OFS_DELTA) {
    if (p >= b.length) return undefined
    c = b[p++]
    let distance = c & 0x7f
    n = 0
    while (c & 0x80) {
      if (p >= b.length) return undefined
      if (++n > MAX_SIZE_BYTES) throw new BadPackError('delta base offset does not fit in 64 bits', { reason: 'entry', offset })
      c = b[p++]
      distance = (distance + 1) * 128 + (c & 0x7f)
    }
    if (distance === 0 || distance > offset - PACK_HEADER_SIZE) {
      throw new BadPackError(`delta base offset ${offset - distance} is outside the pack`, { reason: 'delta', offset })
    }
    h.baseOffset = offset - distance
  } else if (typeCode === OBJ_REF_DELTA) {
    if (p + 20 > b.length) return undefined
    h.baseId = toHex(b, p, p + 20)
    p += 20
  }
  h.length = p - at
  return h
}
