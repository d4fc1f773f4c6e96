// Git's delta format (the body of OFS_DELTA and REF_DELTA pack entries): two sizes, then copy and insert ops.
import { CorruptObjectError } from '../../../store/errors.js'

function fail(why: string): never {
  throw new CorruptObjectError(`bad delta: ${why}`)
}

/** Apply `delta` to `base` and return the target object's body. Malformed deltas throw CorruptObjectError. */
export function applyDelta(base: Uint8Array, delta: Uint8Array): Uint8Array {
  let p = 0
  const size = (): number => {
    let n = 0, mul = 1, c: number
    do {
      if (p >= delta.length) fail('truncated size')
      c = delta[p++]
      n += (c & 0x7f) * mul
      mul *= 128
    } while (c & 0x80)
    return n
  }
  const srcSize = size()
  if (srcSize !== base.length) fail(`base is ${base.length} bytes, the delta expects ${srcSize}`)
  const dstSize = size()
  const out = new Uint8Array(dstSize)
  let o = 0
  while (p < delta.length) {
    const op = delta[p++]
    if (op & 0x80) {
      let off = 0, len = 0
      // Little-endian offset (bits 0-3) and length (bits 4-6), only the bytes the op's flags name.
      if (op & 0x01) off = delta[p++]
      if (op & 0x02) off |= delta[p++] << 8
      if (op & 0x04) off |= delta[p++] << 16
      if (op & 0x08) off = (off + delta[p++] * 0x1000000) >>> 0
      if (op & 0x10) len = delta[p++]
      if (op & 0x20) len |= delta[p++] << 8
      if (op & 0x40) len |= delta[p++] << 16
      if (len === 0) len = 0x10000
      if (p > delta.length) fail('truncated copy op')
      if (off + len > base.length || o + len > dstSize) fail('copy out of range')
      out.set(base.subarray(off, off + len), o)
      o += len
    } else if (op !== 0) {
      if (p + op > delta.length || o + op > dstSize) fail('insert out of range')
      out.set(delta.subarray(p, p + op), o)
      p += op
      o += op
    } else {
      fail('reserved op 0')
    }
  }
  if (o !== dstSize) fail(`produced ${o} bytes, expected ${dstSize}`)
  return out
}
