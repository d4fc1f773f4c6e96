// zlib streams for objects. Small objects are written as "stored" deflate blocks (what Git writes with
// core.compression=0): valid zlib that costs no compressor call, and such streams are read back without one.
// Compressing a 100-byte value saves little (and a loose file takes a whole disk block anyway); `git gc` recompresses.
import { deflateSync, inflateSync } from 'node:zlib'

/** Objects smaller than this are stored uncompressed inside their zlib stream. */
export const STORE_BELOW = 1024

function adler32(data: Uint8Array, start = 0, end = data.length): number {
  let a = 1, b = 0
  for (let i = start; i < end;) {
    // 5552 bytes is the most that can be summed before the 32-bit sums must be reduced.
    const stop = Math.min(end, i + 5552)
    for (; i < stop; i++) { a += data[i]; b += a }
    a %= 65521
    b %= 65521
  }
  return ((b << 16) | a) >>> 0
}

/** A zlib stream of `parts` (concatenated): stored blocks when small, deflated (level 1) otherwise. */
export function zlibEncode(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  if (n >= STORE_BELOW) return deflateSync(parts.length === 1 ? parts[0] : Buffer.concat(parts), { level: 1 })
  // 78 01: deflate, 32 KiB window, no dictionary, "fastest" (the check bits make 0x7801 a multiple of 31).
  const out = new Uint8Array(2 + 5 + n + 4)
  out[0] = 0x78; out[1] = 0x01
  out[2] = 0x01 // BFINAL=1, BTYPE=00 (stored)
  out[3] = n & 0xff; out[4] = n >> 8
  out[5] = ~n & 0xff; out[6] = (~n >> 8) & 0xff
  let o = 7
  for (const p of parts) { out.set(p, o); o += p.length }
  const sum = adler32(out, 7, 7 + n)
  out[o] = sum >>> 24; out[o + 1] = (sum >>> 16) & 0xff; out[o + 2] = (sum >>> 8) & 0xff; out[o + 3] = sum & 0xff
  return out
}

/**
 * Inflate a zlib stream; streams made only of stored blocks are unwrapped without zlib. `size`, when known, sizes
 * zlib's output buffer. The result owns its memory: node:zlib returns views of 16 KiB (or pooled 8 KiB) buffers,
 * which every small cached object would otherwise keep alive.
 */
export function zlibDecode(z: Uint8Array, size?: number): Uint8Array {
  const stored = unstore(z)
  if (stored) return stored
  const out = size === undefined ? inflateSync(z) : inflateSync(z, { chunkSize: Math.max(64, Math.min(size + 64, 1 << 20)) })
  return out.buffer.byteLength - out.byteLength > 256 ? new Uint8Array(out) : out
}

/** The contents of a zlib stream of stored blocks, or undefined if it has compressed blocks (or is malformed). */
function unstore(z: Uint8Array): Uint8Array | undefined {
  if (z.length < 11 || (z[0] & 0x0f) !== 8 || (z[1] & 0x20) || ((z[0] << 8) | z[1]) % 31 !== 0) return undefined
  // First pass: block boundaries and total size.
  let p = 2, total = 0, last = 0
  while (!last) {
    if (p + 5 > z.length) return undefined
    const h = z[p]
    if ((h >> 1) & 3) return undefined
    last = h & 1
    const len = z[p + 1] | (z[p + 2] << 8), nlen = z[p + 3] | (z[p + 4] << 8)
    if ((len ^ 0xffff) !== nlen) return undefined
    p += 5 + len
    total += len
  }
  if (p + 4 > z.length) return undefined
  const out = new Uint8Array(total)
  let q = 2, o = 0
  for (;;) {
    const h = z[q], len = z[q + 1] | (z[q + 2] << 8)
    out.set(z.subarray(q + 5, q + 5 + len), o)
    o += len
    q += 5 + len
    if (h & 1) break
  }
  const sum = ((z[p] << 24) | (z[p + 1] << 16) | (z[p + 2] << 8) | z[p + 3]) >>> 0
  // A checksum mismatch goes to zlib, which reports the corruption.
  return adler32(out) === sum ? out : undefined
}
