// Pack writer: objects in, pack bytes out, as a stream. Every object is stored whole (no deltas), deflated.
import { deflate } from '#platform/zlib'
import { sha1Stream } from '#platform/sha1'
import { BadArgumentError } from '../../store/errors.js'
import type { StoredObject } from '../../store/objects.js'
import { crc32 } from './crc32.js'
import { encodeEntryHeader, encodePackHeader, TYPE_CODE } from './format.js'
import type { PackIndexEntry } from './pack-index.js'

export interface WritePackOptions {
  /** zlib level, 0–9 (default 6, Git's default; 1 is ~3x faster for ~10% more bytes). */
  level?: number
  /** Small entries are gathered into chunks of about this many bytes (default 64 KiB). */
  chunkSize?: number
}

/** What writing a pack found out: its checksum (its name) and, for its index, each entry's offset and CRC-32. */
export interface WrittenPack {
  packId: string
  entries: PackIndexEntry[]
  size: number
}

/**
 * Write a pack of exactly `count` objects (version 2; ids are trusted, not recomputed). Yields the pack in
 * chunks; the generator's return value is a WrittenPack, for `writePackIndex`.
 * @example
 * for await (const chunk of writePack(objects, objects.length)) socket.write(chunk)
 */
export async function* writePack(
  objects: AsyncIterable<StoredObject> | Iterable<StoredObject>, count: number, opts: WritePackOptions = {},
): AsyncGenerator<Uint8Array, WrittenPack, undefined> {
  const level = opts.level ?? 6
  const chunkSize = opts.chunkSize ?? 65536
  const hash = sha1Stream()
  const entries: PackIndexEntry[] = []
  let parts: Uint8Array[] = []
  let pending = 0
  let offset = 0
  const add = (b: Uint8Array): void => {
    hash.update(b)
    parts.push(b)
    pending += b.length
    offset += b.length
  }
  const take = (): Uint8Array => {
    let out: Uint8Array
    if (parts.length === 1) out = parts[0]
    else {
      out = new Uint8Array(pending)
      let o = 0
      for (const p of parts) { out.set(p, o); o += p.length }
    }
    parts = []
    pending = 0
    return out
  }

  add(encodePackHeader(count))
  for await (const o of objects) {
    if (entries.length === count) throw new BadArgumentError(`writePack was given more than the ${count} objects it announced`, 'count')
    const code = TYPE_CODE[o.type]
    if (code === undefined) throw new BadArgumentError(`cannot pack an object of type ${String(o.type)}`, 'objects')
    const header = encodeEntryHeader(code, o.body.length)
    const data = deflate(o.body, level)
    entries.push({ id: o.id, offset, crc32: crc32(data, crc32(header)) })
    add(header)
    add(data)
    if (pending >= chunkSize) yield take()
  }
  if (entries.length !== count) throw new BadArgumentError(`writePack announced ${count} objects but was given ${entries.length}`, 'count')
  const trailer = hash.digestHex()
  const t = new Uint8Array(20)
  for (let i = 0; i < 20; i++) t[i] = parseInt(trailer.slice(2 * i, 2 * i + 2), 16)
  parts.push(t)
  pending += 20
  offset += 20
  yield take()
  return { packId: trailer, entries, size: offset }
}
