// Node flavour of the zlib adapter: node:zlib (native zlib). The browser flavour has the same three functions.
import { kMaxLength } from 'node:buffer'
import { deflateSync, inflateSync } from 'node:zlib'
import { LarixError } from '../../store/errors.js'
import { inflateAt as inflateAtJs } from '../browser/zlib.js'

/** What `inflateAt` returns: the inflated bytes and how many input bytes the zlib stream took. */
export interface Inflated {
  data: Uint8Array
  consumed: number
}

// One output buffer per call, sized to the expected result: node:zlib's default 16 KiB chunk would be
// kept alive by every small object sliced from it. Up to 1 MiB at once, so a lying size costs nothing.
const MAX_CHUNK = 1 << 20
/** Objects up to this size are inflated in JavaScript (see inflateAt). */
const SMALL = 16 << 10

function badZlib(message: string, cause?: unknown): LarixError {
  return new LarixError('LARIX_BAD_ZLIB', message, {}, { cause })
}

/** zlib-compress `data` (a zlib stream: header, deflate data, Adler-32), at `level` 0–9 (default 6). */
export function deflate(data: Uint8Array, level = 6): Uint8Array {
  return deflateSync(data, { level })
}

/**
 * Inflate `data`, which must be exactly one zlib stream (trailing bytes are an error, as Git says of
 * loose objects). Corrupt data throws a LarixError with code LARIX_BAD_ZLIB.
 */
export function inflate(data: Uint8Array): Uint8Array {
  const r = run(data, data.length * 4, undefined)
  if (r === undefined) throw badZlib('zlib stream truncated')
  if (r.consumed !== data.length) throw badZlib(`${data.length - r.consumed} bytes after the end of the zlib stream`)
  // Without a known size the last output chunk may be mostly empty: keep only what was written.
  return r.data.byteLength * 2 < r.data.buffer.byteLength ? r.data.slice() : r.data
}

/**
 * Inflate the zlib stream that starts at `offset` in `buf` (more data may follow it) and should inflate to
 * exactly `expectedSize` bytes. Returns undefined when the stream runs past the end of `buf` (more input is
 * needed); throws LARIX_BAD_ZLIB on corrupt data or a size other than `expectedSize`. `into` says where
 * the data may go: `scratch`, a buffer that the next `scratch` call overwrites (for bytes used at once: a
 * delta); `slab`, a view into a 64 KiB buffer shared with other small outputs (for bytes whose neighbours
 * die about when they do: a pack being read); by default, a buffer of its own.
 * @example const { data, consumed } = inflateAt(packBytes, 12 + headerLength, size) ?? needMore()
 */
export function inflateAt(buf: Uint8Array, offset: number, expectedSize: number, into?: 'scratch' | 'slab'): Inflated | undefined {
  // Small objects (most of a pack: deltas, trees, commits, JSON values) through the JavaScript inflater of
  // the browser flavour: node:zlib's inflateSync builds a stream and a native handle per call, which costs
  // more than inflating a few hundred bytes and leaves garbage behind (a clone of 55,000 objects: ~2x faster).
  if (expectedSize <= SMALL && Number.isSafeInteger(expectedSize) && expectedSize >= 0) return inflateAtJs(buf, offset, expectedSize, into)
  return run(buf.subarray(offset), expectedSize, expectedSize)
}

function run(input: Uint8Array, chunkHint: number, expectedSize: number | undefined): Inflated | undefined {
  if (expectedSize !== undefined && !(Number.isSafeInteger(expectedSize) && expectedSize >= 0)) {
    throw badZlib(`bad expected size ${expectedSize}`)
  }
  if (expectedSize !== undefined && expectedSize >= kMaxLength) throw badZlib(`${expectedSize} bytes is more than this platform can hold`)
  const chunkSize = Math.max(64, Math.min(MAX_CHUNK, chunkHint + 1))
  let r: { buffer: Buffer; engine: { bytesWritten: number } }
  try {
    r = inflateSync(input, {
      info: true, chunkSize,
      // A stream that inflates to more than expected fails as soon as it does, not after the fact.
      ...(expectedSize !== undefined ? { maxOutputLength: Math.max(1, expectedSize) } : {}),
    }) as unknown as typeof r
  } catch (e) {
    if ((e as { code?: string }).code === 'Z_BUF_ERROR') return undefined
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw badZlib(`zlib stream inflates to more than ${expectedSize} bytes`, e)
    throw badZlib(`corrupt zlib stream: ${(e as Error).message}`, e)
  }
  if (expectedSize !== undefined && r.buffer.length !== expectedSize) {
    throw badZlib(`zlib stream inflates to ${r.buffer.length} bytes, expected ${expectedSize}`)
  }
  return { data: r.buffer, consumed: r.engine.bytesWritten }
}
