// Git's delta format (gitformat-pack(5), "Deltified representation"): the base size and result size as
// little-endian base-128 numbers, then instructions: copy a range of the base (high bit set) or insert the
// next 1–127 bytes of the delta (high bit clear; 0 is reserved). Every instruction is checked before the
// result is allocated, so a hostile delta can neither read outside its base nor make us allocate its claim.
import { SLICE_MAX, slabSlice } from './slab.js'
import { BadPackError } from './errors.js'

function fail(message: string): never {
  throw new BadPackError(`bad delta: ${message}`, { reason: 'delta' })
}

function readSize(d: Uint8Array, p: number): [number, number] {
  let size = 0, scale = 1, c: number
  do {
    if (p >= d.length) fail('truncated size')
    if (scale > 2 ** 49) fail('size does not fit in 56 bits')
    c = d[p++]
    size += (c & 0x7f) * scale
    scale *= 128
  } while (c & 0x80)
  return [size, p]
}

/** The base and result sizes a delta declares, and where its instructions start. */
export function deltaSizes(delta: Uint8Array): { baseSize: number; resultSize: number; start: number } {
  const [baseSize, p] = readSize(delta, 0)
  const [resultSize, start] = readSize(delta, p)
  return { baseSize, resultSize, start }
}

/**
 * Rebuild an object from its delta base and delta. Throws BadPackError (reason `delta`) on a base of the
 * wrong size, a copy outside the base, a reserved opcode, or a result of a size other than declared.
 * `slab`: a small result may share its buffer with others (see slab.ts).
 * @example applyDelta(utf8('hello world'), delta) // → the target bytes
 */
export function applyDelta(base: Uint8Array, delta: Uint8Array, slab = false): Uint8Array {
  // Git refuses deltas under 4 bytes (DELTA_SIZE_MIN), even the 2-byte "empty to empty" one; so do we.
  if (delta.length < 4) fail(`${delta.length} bytes is shorter than any delta`)
  const { baseSize, resultSize, start } = deltaSizes(delta)
  if (baseSize !== base.length) fail(`made for a base of ${baseSize} bytes, the base has ${base.length}`)
  // Pass 1: check every instruction and add up what they make.
  let total = 0
  let p = start
  while (p < delta.length) {
    const op = delta[p++]
    if (op & 0x80) {
      let off = 0, size = 0
      for (let k = 0; k < 4; k++) if (op & (1 << k)) { if (p >= delta.length) fail('truncated copy'); off += delta[p++] * 2 ** (8 * k) }
      for (let k = 0; k < 3; k++) if (op & (0x10 << k)) { if (p >= delta.length) fail('truncated copy'); size |= delta[p++] << (8 * k) }
      if (size === 0) size = 0x10000
      if (off + size > base.length) fail(`copy of ${size} bytes at ${off} is outside the ${base.length}-byte base`)
      total += size
    } else if (op !== 0) {
      if (p + op > delta.length) fail('truncated insert')
      p += op
      total += op
    } else fail('reserved opcode 0')
    if (total > resultSize) fail(`makes more than the declared ${resultSize} bytes`)
  }
  if (total !== resultSize) fail(`makes ${total} bytes, declared ${resultSize}`)
  // Pass 2: build it.
  const out = slab && resultSize <= SLICE_MAX ? slabSlice(resultSize) : new Uint8Array(resultSize)
  let o = 0
  p = start
  while (p < delta.length) {
    const op = delta[p++]
    if (op & 0x80) {
      let off = 0, size = 0
      for (let k = 0; k < 4; k++) if (op & (1 << k)) off += delta[p++] * 2 ** (8 * k)
      for (let k = 0; k < 3; k++) if (op & (0x10 << k)) size |= delta[p++] << (8 * k)
      if (size === 0) size = 0x10000
      // Most instructions move a few bytes: a loop beats making a subarray for them.
      if (size < 32) for (let k = 0; k < size; k++) out[o++] = base[off + k]
      else { out.set(base.subarray(off, off + size), o); o += size }
    } else {
      if (op < 32) for (let k = 0; k < op; k++) out[o++] = delta[p + k]
      else { out.set(delta.subarray(p, p + op), o); o += op }
      p += op
    }
  }
  return out
}

/** Write `n` as a little-endian base-128 number at `out[p]`; returns the position after it. */
function putSize(out: Uint8Array, p: number, n: number): number {
  while (n >= 0x80) { out[p++] = (n % 0x80) | 0x80; n = Math.floor(n / 0x80) }
  out[p++] = n
  return p
}

/** Copy instructions for `size` bytes of the base at `off`, at `out[p]`; returns the position after them. */
function putCopy(out: Uint8Array, p: number, off: number, size: number): number {
  // Chunks of at most 0xffff bytes keep every copy within Git's oldest readers' limits.
  while (size > 0) {
    const n = Math.min(size, 0xffff)
    const at = p++
    let op = 0x80
    for (let k = 0; k < 4; k++) { const b = Math.floor(off / 2 ** (8 * k)) & 0xff; if (b) { op |= 1 << k; out[p++] = b } }
    if (n & 0xff) { op |= 0x10; out[p++] = n & 0xff }
    if (n >> 8) { op |= 0x20; out[p++] = n >> 8 }
    out[at] = op
    off += n
    size -= n
  }
  return p
}

/**
 * A delta from `base` to `target` made of at most three parts: a copy of their common prefix, an insert of
 * the middle of `target`, and a copy of their common suffix. Cheap (one pass from each end), and enough for
 * trees where one entry changed. `applyDelta(base, prefixSuffixDelta(base, target))` equals `target`.
 */
export function prefixSuffixDelta(base: Uint8Array, target: Uint8Array): Uint8Array {
  const limit = Math.min(base.length, target.length)
  let pre = 0
  while (pre < limit && base[pre] === target[pre]) pre++
  let suf = 0
  while (suf < limit - pre && base[base.length - 1 - suf] === target[target.length - 1 - suf]) suf++
  const mid = target.length - suf - pre
  // Sizes (at most 8 bytes each), copies (at most 7 bytes per 0xffff), inserts (1 byte per 127).
  const out = new Uint8Array(16 + 7 * (Math.ceil(pre / 0xffff) + Math.ceil(suf / 0xffff)) + mid + Math.ceil(mid / 127))
  let p = putSize(out, 0, base.length)
  p = putSize(out, p, target.length)
  p = putCopy(out, p, 0, pre)
  for (let i = pre; i < target.length - suf; i += 127) {
    const n = Math.min(127, target.length - suf - i)
    out[p++] = n
    out.set(target.subarray(i, i + n), p)
    p += n
  }
  p = putCopy(out, p, base.length - suf, suf)
  return out.subarray(0, p)
}
