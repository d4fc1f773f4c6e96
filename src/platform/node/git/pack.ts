// Pack files (.pack) as the git backend uses them: read one entry at a time by offset (deltas are resolved by
// the caller, which knows the other packs), and write a batch of objects as one pack + .idx, without deltas.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { crc32 } from 'node:zlib'
import { CorruptObjectError } from '../../../store/errors.js'
import type { StoredObject } from '../../../store/objects.js'
import { CODE_TYPE, encodeEntryHeader, OBJ_OFS_DELTA as OFS_DELTA, OBJ_REF_DELTA as REF_DELTA, TYPE_CODE } from '../../../sync/pack/format.js'
import { encodePackIndex } from './pack-index.js'
import type { IndexEntry, PackIndex } from './pack-index.js'
import { zlibDecode, zlibEncode } from './zlib.js'

export { CODE_TYPE, TYPE_CODE, OBJ_OFS_DELTA as OFS_DELTA, OBJ_REF_DELTA as REF_DELTA } from '../../../sync/pack/format.js'

/** One entry as stored: a whole object (`type` 1–4), or a delta against a base at `baseOffset` or with id `baseId` (20 bytes). */
export interface PackEntry {
  type: number
  /** The inflated data: the object's body, or the delta. */
  data: Uint8Array
  baseOffset?: number
  baseId?: Uint8Array
}

let nextPackKey = 0

/** An open pack and its index. Reads are positional (no shared file cursor), synchronous and small. */
export class PackReader {
  /** A small number unique in this process, for cache keys. */
  readonly key = nextPackKey++
  private fd: number
  readonly size: number

  constructor(readonly path: string, readonly index: PackIndex) {
    this.fd = openSync(path, 'r')
    try {
      this.size = fstatSync(this.fd).size
      const head = Buffer.alloc(12)
      readSync(this.fd, head, 0, 12, 0)
      if (head.toString('latin1', 0, 4) !== 'PACK') throw new CorruptObjectError(`${path} is not a pack file`)
      const version = head.readUInt32BE(4)
      if (version !== 2 && version !== 3) throw new CorruptObjectError(`${path}: unsupported pack version ${version}`)
      if (head.readUInt32BE(8) !== index.count) throw new CorruptObjectError(`${path}: the pack holds ${head.readUInt32BE(8)} objects, its index ${index.count}`)
    } catch (e) {
      closeSync(this.fd)
      throw e
    }
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd)
    this.fd = -1
  }

  /** The whole pack file, read through the open descriptor (so even a pack removed meanwhile reads whole). */
  bytes(): Buffer {
    const buf = Buffer.allocUnsafe(this.size)
    let got = 0
    while (got < buf.length) {
      const n = readSync(this.fd, buf, got, buf.length - got, got)
      if (n === 0) throw new CorruptObjectError(`${this.path}: truncated at ${got}`)
      got += n
    }
    return buf
  }

  /** Read and inflate the entry at `offset`. */
  read(offset: number): PackEntry {
    const end = this.index.entryEnd(offset, this.size)
    if (!(offset >= 12 && end > offset && end <= this.size - 20)) throw new CorruptObjectError(`${this.path}: bad entry offset ${offset}`)
    const buf = Buffer.allocUnsafe(end - offset)
    let got = 0
    while (got < buf.length) {
      const n = readSync(this.fd, buf, got, buf.length - got, offset + got)
      if (n === 0) throw new CorruptObjectError(`${this.path}: truncated at ${offset + got}`)
      got += n
    }
    let p = 0
    let c = buf[p++]
    const type = (c >> 4) & 7
    let size = c & 0x0f
    let mul = 16
    while (c & 0x80) {
      if (p >= buf.length) throw new CorruptObjectError(`${this.path}: truncated entry header at ${offset}`)
      c = buf[p++]
      size += (c & 0x7f) * mul
      mul *= 128
    }
    const entry: PackEntry = { type, data: buf }
    if (type === OFS_DELTA) {
      c = buf[p++]
      let back = c & 0x7f
      while (c & 0x80) {
        c = buf[p++]
        back = (back + 1) * 128 + (c & 0x7f)
      }
      entry.baseOffset = offset - back
      if (!(entry.baseOffset >= 12)) throw new CorruptObjectError(`${this.path}: delta base before the start of the pack at ${offset}`)
    } else if (type === REF_DELTA) {
      entry.baseId = buf.subarray(p, p + 20)
      p += 20
    } else if (!CODE_TYPE[type]) {
      throw new CorruptObjectError(`${this.path}: unknown entry type ${type} at ${offset}`)
    }
    let data: Uint8Array
    try { data = zlibDecode(buf.subarray(p), size) } catch (e) {
      throw new CorruptObjectError(`${this.path}: entry at ${offset} does not inflate: ${(e as Error).message}`)
    }
    if (data.length !== size) throw new CorruptObjectError(`${this.path}: entry at ${offset} inflates to ${data.length} bytes, its header says ${size}`)
    entry.data = data
    return entry
  }
}

export interface BuiltPack {
  /** The pack's bytes, in order (write them one after another). */
  chunks: Uint8Array[]
  /** The version 2 index. */
  index: Uint8Array
  /** The pack checksum in hex: the name Git gives the pack (`pack-<checksum>.pack`). */
  checksum: string
}

/**
 * Encode `objects` (distinct ids) as a pack without deltas, and its index. Each entry is deflated on its own;
 * the index records each entry's CRC-32 over its raw bytes, as `git index-pack` would.
 */
export function buildPack(objects: readonly StoredObject[]): BuiltPack {
  const hash = createHash('sha1')
  const chunks: Uint8Array[] = []
  const entries: IndexEntry[] = new Array(objects.length)
  const head = packHeader(objects.length)
  chunks.push(head)
  hash.update(head)
  let offset = 12
  for (let i = 0; i < objects.length; i++) {
    const o = objects[i]
    const h = encodeEntryHeader(TYPE_CODE[o.type], o.body.length)
    const z = zlibEncode([o.body])
    const id = Buffer.from(o.id, 'hex')
    if (id.length !== 20) throw new CorruptObjectError(`not an object id: ${o.id}`)
    entries[i] = { id, crc: crc32(z, crc32(h)), offset }
    chunks.push(h, z)
    hash.update(h)
    hash.update(z)
    offset += h.length + z.length
  }
  return finishPack(hash, chunks, entries)
}

function packHeader(count: number): Buffer {
  const head = Buffer.alloc(12)
  head.write('PACK', 0, 'latin1')
  head.writeUInt32BE(2, 4)
  head.writeUInt32BE(count, 8)
  return head
}

function finishPack(hash: ReturnType<typeof createHash>, chunks: Uint8Array[], entries: IndexEntry[]): BuiltPack {
  const sum = hash.digest()
  chunks.push(sum)
  return { chunks, index: encodePackIndex(entries, sum), checksum: sum.toString('hex') }
}

/**
 * One pack holding every object of `packs`, each entry copied as it is stored (no inflating, no recompressing),
 * an object in several packs once. Only packs of whole objects can be merged this way (a delta's base offset would
 * move): the first pack that holds a delta is returned instead.
 */
export function mergePacks(packs: readonly PackReader[]): { built: BuiltPack } | { hasDeltas: PackReader } {
  const parts: { data: Buffer; at: number; end: number; id: Uint8Array; crc: number }[] = []
  const seen = new Set<string>()
  for (const pack of packs) {
    const data = pack.bytes()
    const index = pack.index
    for (let i = 0; i < index.count; i++) {
      const at = index.offsetAt(i)
      const type = (data[at] >> 4) & 7
      if (!CODE_TYPE[type]) return { hasDeltas: pack }
      const hex = index.idAt(i)
      if (seen.has(hex)) continue
      seen.add(hex)
      const end = index.entryEnd(at, data.length)
      const crc = index.crcAt(i) ?? crc32(data.subarray(at, end))
      parts.push({ data, at, end, id: Buffer.from(hex, 'hex'), crc })
    }
  }
  const hash = createHash('sha1')
  const head = packHeader(parts.length)
  const chunks: Uint8Array[] = [head]
  hash.update(head)
  const entries: IndexEntry[] = new Array(parts.length)
  let offset = 12
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]
    const bytes = p.data.subarray(p.at, p.end)
    entries[i] = { id: p.id, crc: p.crc, offset }
    chunks.push(bytes)
    hash.update(bytes)
    offset += bytes.length
  }
  return { built: finishPack(hash, chunks, entries) }
}
