// Random-access reads from a pack through its index: what a .git backend needs for objects/pack/*.pack.
// The pack is reached through a `read(position, length)` function, so it can be a file, a Blob, or bytes.
import { inflateAt } from '#platform/zlib'
import { LRU } from '../../store/lru.js'
import type { GitObject } from '../../store/objects.js'
import { applyDelta } from './delta.js'
import { BadPackError } from './errors.js'
import { CODE_TYPE, decodeEntryHeader, OBJ_OFS_DELTA, PACK_TRAILER_SIZE } from './format.js'
import type { PackIndex } from './pack-index.js'

export interface PackFileOptions {
  /** Objects outside this pack, for REF_DELTA bases it does not hold (thin packs kept as they came). */
  external?: (id: string) => Promise<GitObject | undefined>
  /** Bytes of recently read objects (delta bases) to keep (default 16 MiB). */
  cacheBytes?: number
}

/** Git never writes delta chains near this long; a longer one is a loop in a corrupt pack. */
const MAX_CHAIN = 10_000

/**
 * Objects of one pack, read on demand: the index finds the entry, the next entry's offset bounds it, deltas
 * are followed to their base (cached, since neighbouring objects share bases).
 * @example
 * const fh = await open(packPath)
 * const pack = new PackFile(readPackIndex(idxBytes), async (pos, len) => { const b = new Uint8Array(len); await fh.read(b, 0, len, pos); return b }, size)
 * await pack.get(id) // → { type, body } or undefined
 */
export class PackFile {
  private ends: Float64Array | undefined
  private readonly cache: LRU<number, GitObject>

  constructor(
    readonly index: PackIndex,
    private readonly read: (position: number, length: number) => Promise<Uint8Array>,
    /** Size of the pack file in bytes, trailer included. */
    readonly size: number,
    private readonly opts: PackFileOptions = {},
  ) {
    this.cache = new LRU(opts.cacheBytes ?? 16 << 20, o => o.body.length + 64)
  }

  has(id: string): boolean {
    return this.index.find(id) !== undefined
  }

  /** The object, or undefined if this pack does not hold it. Corrupt data throws BadPackError. */
  async get(id: string): Promise<GitObject | undefined> {
    const e = this.index.find(id)
    return e === undefined ? undefined : this.at(e.offset)
  }

  /** Where the entry at `offset` ends: the next entry's offset, or the trailer. */
  private endOf(offset: number): number {
    if (!this.ends) {
      const offsets = Float64Array.from(this.index.entries(), e => e.offset).sort()
      this.ends = offsets
    }
    const a = this.ends
    let lo = 0, hi = a.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (a[mid] <= offset) lo = mid + 1
      else hi = mid
    }
    return lo < a.length ? a[lo] : this.size - PACK_TRAILER_SIZE
  }

  /** The object whose entry starts at `offset`, following its delta chain. */
  async at(offset: number): Promise<GitObject> {
    const chain: { offset: number; delta: Uint8Array }[] = []
    let cur = offset
    let base: GitObject | undefined
    while ((base = this.cache.get(cur)) === undefined) {
      if (chain.length > MAX_CHAIN) throw new BadPackError(`delta chain from offset ${offset} does not end`, { reason: 'delta', offset })
      const end = this.endOf(cur)
      if (!(end > cur) || end > this.size) throw new BadPackError(`no entry at offset ${cur}`, { reason: 'entry', offset: cur })
      const bytes = await this.read(cur, end - cur)
      const h = decodeEntryHeader(bytes, 0, cur)
      if (h === undefined) throw new BadPackError(`entry at offset ${cur} is truncated`, { reason: 'truncated', offset: cur })
      let z
      try {
        z = inflateAt(bytes, h.length, h.size)
      } catch (e) {
        throw new BadPackError(`bad zlib data at offset ${cur}: ${(e as Error).message}`, { reason: 'zlib', offset: cur }, e)
      }
      if (z === undefined) throw new BadPackError(`entry at offset ${cur} is truncated`, { reason: 'truncated', offset: cur })
      const type = CODE_TYPE[h.typeCode]
      if (type !== undefined) {
        base = { type, body: z.data }
        this.cache.set(cur, base)
        break
      }
      chain.push({ offset: cur, delta: z.data })
      if (h.typeCode === OBJ_OFS_DELTA) { cur = h.baseOffset!; continue }
      const inPack = this.index.find(h.baseId!)
      if (inPack !== undefined) { cur = inPack.offset; continue }
      base = await this.opts.external?.(h.baseId!)
      if (base === undefined) throw new BadPackError(`delta base ${h.baseId} is neither in the pack nor outside it`, { reason: 'base', offset: cur })
      break
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      base = { type: base.type, body: applyDelta(base.body, chain[i].delta) }
      this.cache.set(chain[i].offset, base)
    }
    return base
  }
}
