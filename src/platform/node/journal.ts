// An append-only journal file of CRC-framed records, shared by the level backend's write-ahead journal
// (level-journal.ts) and the git backend's (git/write-ahead.ts). A record is appended with one write(2), so a
// process killed at any moment leaves every record it finished appending, and at most one torn record at the end.
// Format: records of [u32 length][u32 crc32 of payload][payload], little-endian. A torn or corrupt tail (the
// process died inside a write, so that record was never acknowledged) is dropped by recover().
import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs'
import * as zlib from 'node:zlib'
import { crc32 as crc32Js } from '../../sync/pack/crc32.js'

// zlib's native crc32 (Node >= 20.15) is ~20x faster than the table-driven one in JS.
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32
const crc32: (data: Uint8Array) => number = nativeCrc32 ? (d) => nativeCrc32(d) >>> 0 : crc32Js

export interface Journal {
  /** Append one record, all of it or (on failure, which throws) none of it. */
  append(payload: Uint8Array): void
  /** Payloads of the complete records in the file, in order. */
  recover(): Uint8Array[]
  /** Drop every record (they are all applied now). */
  reset(): void
  /** Bytes in the journal. */
  readonly size: number
  close(): void
}

export class FileJournal implements Journal {
  #fd: number
  #size: number
  readonly #path: string
  readonly #fsync: boolean
  /** `flags`: 'a+' opens or creates, 'wx+' creates a file that must not exist. `fsync`: each append is synced. */
  constructor(path: string, opts: { flags?: 'a+' | 'wx+'; fsync?: boolean } = {}) {
    this.#path = path
    this.#fsync = opts.fsync ?? false
    this.#fd = openSync(path, opts.flags ?? 'a+')
    this.#size = fstatSync(this.#fd).size
  }
  get path(): string { return this.#path }
  get size(): number { return this.#size }
  append(payload: Uint8Array): void {
    const rec = new Uint8Array(payload.length + 8)
    const view = new DataView(rec.buffer)
    view.setUint32(0, payload.length, true)
    view.setUint32(4, crc32(payload), true)
    rec.set(payload, 8)
    let done = 0
    try {
      while (done < rec.length) done += writeSync(this.#fd, rec, done, rec.length - done, this.#size + done)
      if (this.#fsync) fdatasyncSync(this.#fd)
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
