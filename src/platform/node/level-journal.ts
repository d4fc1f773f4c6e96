// Node flavour of the level backend's write-ahead journal. A commit's batch (objects + ref) is appended here
// with one write(2) and acknowledged at once; the same batch reaches LevelDB in the background, grouped with
// the batches that came meanwhile. LevelDB writes without fsync too, so an acknowledged commit is exactly as
// safe as before (it survives the process being killed, not a power cut), but a commit no longer waits for a
// round trip through libuv's thread pool (~60–100 µs here). On open, records a killed process left behind are
// replayed into LevelDB before anything is read.
// Format: records of [u32 length][u32 crc32 of payload][payload], little-endian. A torn or corrupt tail (the
// process died inside a write, so that batch was never acknowledged) is dropped.
import { closeSync, fstatSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import * as zlib from 'node:zlib'
import { crc32 as crc32Js } from '../../sync/pack/crc32.js'

// zlib's native crc32 (Node >= 20.15) is ~20x faster than the table-driven one in JS.
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32
const crc32: (data: Uint8Array) => number = nativeCrc32 ? (d) => nativeCrc32(d) >>> 0 : crc32Js

export interface LevelJournal {
  /** Append one record, all of it or (on failure, which throws) none of it. */
  append(payload: Uint8Array): void
  /** Payloads of the complete records in the file, in order. */
  recover(): Uint8Array[]
  /** Drop every record (they are all in LevelDB now). */
  reset(): void
  /** Bytes in the journal. */
  readonly size: number
  close(): void
}

const FILE = 'larix-journal'

class FileJournal implements LevelJournal {
  #fd: number
  #size: number
  readonly #path: string
  constructor(path: string) {
    this.#path = path
    this.#fd = openSync(path, 'a+')
    this.#size = fstatSync(this.#fd).size
  }
  get size(): number { return this.#size }
  append(payload: Uint8Array): void {
    const rec = new Uint8Array(payload.length + 8)
    const view = new DataView(rec.buffer)
    view.setUint32(0, payload.length, true)
    view.setUint32(4, crc32(payload), true)
    rec.set(payload, 8)
    let done = 0
    try {
      while (done < rec.length) done += writeSync(this.#fd, rec, done, rec.length - done)
    } catch (e) {
      // Leave no partial record behind: the next append would otherwise follow garbage.
      try { ftruncateSync(this.#fd, this.#size) } catch { /* recover() drops a torn tail anyway */ }
      throw e
    }
    this.#size += rec.length
  }
  recover(): Uint8Array[] {
    const data = new Uint8Array(readFileSync(this.#path))
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
    const out: Uint8Array[] = []
    let at = 0
    while (at + 8 <= data.length) {
      const len = view.getUint32(at, true)
      if (at + 8 + len > data.length) break
      const payload = data.subarray(at + 8, at + 8 + len)
      if (crc32(payload) !== view.getUint32(at + 4, true)) break
      out.push(payload)
      at += 8 + len
    }
    return out
  }
  reset(): void {
    if (this.#size === 0) return
    ftruncateSync(this.#fd, 0)
    this.#size = 0
  }
  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd)
    this.#fd = -1
  }
}

/** The journal of the LevelDB directory `location` (opened after LevelDB, which holds the directory's lock). */
export function openLevelJournal(location: string): LevelJournal | undefined {
  return new FileJournal(join(location, FILE))
}
