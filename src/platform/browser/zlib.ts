// Browser flavour of the zlib adapter. Compression is fflate's. Decompression is our own small inflater:
// a pack holds its zlib streams back to back with no lengths, so the reader must learn where each stream
// ends, and neither fflate (no count of input used, Adler-32 not checked) nor DecompressionStream (no
// count either, and it rejects trailing data) can say. Table-driven Huffman decoding, RFC 1950/1951.
import { zlibSync } from 'fflate'
import { LarixError } from '../../store/errors.js'
import { SLICE_MAX, slabGiveBack, slabSlice } from '../../sync/pack/slab.js'

/** What `inflateAt` returns: the inflated bytes and how many input bytes the zlib stream took. */
export interface Inflated {
  data: Uint8Array
  consumed: number
}

function badZlib(message: string): LarixError {
  return new LarixError('LARIX_BAD_ZLIB', message)
}

/** zlib-compress `data` (a zlib stream: header, deflate data, Adler-32), at `level` 0–9 (default 6). */
export function deflate(data: Uint8Array, level = 6): Uint8Array {
  return zlibSync(data, { level: level as 6 })
}

/**
 * Inflate `data`, which must be exactly one zlib stream (trailing bytes are an error, as Git says of
 * loose objects). Corrupt data throws a LarixError with code LARIX_BAD_ZLIB.
 */
export function inflate(data: Uint8Array): Uint8Array {
  const r = inflateZlib(data, 0, undefined)
  if (r === undefined) throw badZlib('zlib stream truncated')
  if (r.consumed !== data.length) throw badZlib(`${data.length - r.consumed} bytes after the end of the zlib stream`)
  return r.data
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
  if (!(Number.isSafeInteger(expectedSize) && expectedSize >= 0)) throw badZlib(`bad expected size ${expectedSize}`)
  return inflateZlib(buf, offset, expectedSize, into)
}

// ---- the inflater --------------------------------------------------------------------------------
//
// One function with the bit buffer, the input position and the output in local variables (fields cost a
// load and a store per bit read). Huffman tables are two-level, as zlib's: a root table indexed by the
// next ROOT bits, whose entries for longer codes point at a subtable for the remaining bits, so building a
// code costs ~2^ROOT entries, not 2^15, per block. The tables live in module-level arrays reused by every
// call (inflating is synchronous; nothing else runs in between).

/** Thrown inside the decoder when the input ends mid-stream; turned into `undefined` at the edge. */
const TRUNCATED = Symbol('truncated')

const LEN_BASE = new Uint16Array([3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258])
const LEN_EXTRA = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0])
const DIST_BASE = new Uint16Array([1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577])
const DIST_EXTRA = new Uint8Array([0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13])
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

/** Bits of the root tables: literal/length, distance, code-length codes. */
const LIT_ROOT = 10, DIST_ROOT = 8, CL_ROOT = 7
/**
 * A table entry is `sym << 8 | len` for a code of `len` (1–15) bits, `offset << 8 | 0x80 | bits` in a root
 * table for a subtable at `offset` indexed by the next `bits` bits, and 0 where no code matches (an
 * incomplete code; decoding it is an error).
 */
const SUB = 0x80

/** Bit-reversed bytes, to turn canonical codes into the LSB-first order the input arrives in. */
const REV8 = (() => {
  const t = new Uint8Array(256)
  for (let i = 0; i < 256; i++) { let r = 0; for (let k = 0; k < 8; k++) r |= ((i >> k) & 1) << (7 - k); t[i] = r }
  return t
})()

const count = new Uint16Array(16)
const used = new Uint16Array(320)
const offs = new Uint16Array(17)
const sorted = new Uint16Array(320)

/**
 * Build the canonical Huffman code for `lengths[start .. start + n)` (RFC 1951 3.2.2) into `table`; returns
 * `root | maxLen << 8` (root: the root table's bits). `kind` sets which incomplete codes pass.
 */
function build(lengths: Uint8Array, start: number, n: number, table: Int32Array, rootBits: number, kind: 'codes' | 'lens' | 'dists'): number {
  count.fill(0)
  let nUsed = 0
  for (let i = 0; i < n; i++) { const len = lengths[start + i]; if (len !== 0) { count[len]++; used[nUsed++] = i } }
  return buildFrom(lengths, start, count, used, nUsed, table, rootBits, kind)
}

/**
 * `build`, given the count of codes of each length (`count[0]` ignored) and the symbols with a code, in
 * increasing order (`syms[0 .. nSyms)`): a dynamic block's header counts them as it reads the lengths.
 */
function buildFrom(lengths: Uint8Array, start: number, count: Uint16Array, syms: Uint16Array, nSyms: number, table: Int32Array, rootBits: number, kind: 'codes' | 'lens' | 'dists'): number {
  let maxLen = 15
  while (maxLen > 0 && count[maxLen] === 0) maxLen--
  let left = 1
  for (let len = 1; len <= 15; len++) {
    left = (left << 1) - count[len]
    if (left < 0) throw badZlib(`over-subscribed ${kind} code`)
  }
  // Like zlib: an incomplete code is only allowed as no codes at all (any symbol then decodes as an error)
  // or, for literals/lengths and distances, a single code of length 1.
  if (left > 0 && maxLen > 0 && (kind === 'codes' || maxLen > 1)) throw badZlib(`incomplete ${kind} code`)
  if (maxLen === 0) {
    // No codes at all. zlib's code-length decoder then reads every bit as a zero length (the stream fails
    // later, for want of an end-of-block code); literal and distance decoders fail at the first symbol.
    table[0] = table[1] = kind === 'codes' ? 1 : 0
    return 1 | (1 << 8)
  }
  const root = Math.min(rootBits, maxLen)
  const rootSize = 1 << root
  table.fill(0, 0, rootSize)
  offs[1] = 0
  for (let len = 1; len < 16; len++) offs[len + 1] = offs[len] + count[len]
  for (let k = 0; k < nSyms; k++) { const sym = syms[k]; sorted[offs[lengths[start + sym]]++] = sym }
  const subBits = maxLen - root
  let next = rootSize
  let code = 0, k = 0
  for (let len = 1; len <= maxLen; len++) {
    for (let c = count[len]; c > 0; c--, k++) {
      const sym = sorted[k]
      const rev = ((REV8[code & 255] << 8) | REV8[code >>> 8]) >>> (16 - len)
      code++
      const entry = (sym << 8) | len
      if (len <= root) {
        for (let i = rev; i < rootSize; i += 1 << len) table[i] = entry
        continue
      }
      const prefix = rev & (rootSize - 1)
      let sub = table[prefix]
      if (sub === 0) {
        sub = (next << 8) | SUB | subBits
        table[prefix] = sub
        table.fill(0, next, next + (1 << subBits))
        next += 1 << subBits
      }
      const base = sub >>> 8, size = 1 << subBits
      for (let i = rev >>> root; i < size; i += 1 << (len - root)) table[base + i] = entry
    }
    code <<= 1
  }
  return root | (maxLen << 8)
}

// Root + the most subtables a 15-bit code can need.
const litTable = new Int32Array((1 << LIT_ROOT) + (1 << 15))
const distTable = new Int32Array((1 << DIST_ROOT) + (1 << 15))
const clTable = new Int32Array(1 << CL_ROOT)
const lengths = new Uint8Array(286 + 30)
const litCount = new Uint16Array(16), distCount = new Uint16Array(16)
const litSyms = new Uint16Array(286), distSyms = new Uint16Array(30)
const FIXED_LIT = new Int32Array((1 << LIT_ROOT) + (1 << 15))
const FIXED_DIST = new Int32Array((1 << DIST_ROOT) + (1 << 15))
let fixedLitInfo = 0, fixedDistInfo = 0
{
  const l = new Uint8Array(288)
  l.fill(8, 0, 144); l.fill(9, 144, 256); l.fill(7, 256, 280); l.fill(8, 280, 288)
  fixedLitInfo = build(l, 0, 288, FIXED_LIT, LIT_ROOT, 'lens')
  // The fixed distance code has 30 real symbols of 32 (30 and 31 are invalid); build it as complete.
  fixedDistInfo = build(new Uint8Array(32).fill(5), 0, 32, FIXED_DIST, DIST_ROOT, 'dists')
}

/** What `inflateRaw` leaves behind. */
const EMPTY = new Uint8Array(0)
let outBuf: Uint8Array = EMPTY
let outLen = 0
let inPos = 0

/**
 * Inflate the raw deflate blocks at `src[pos..]` up to and including the final one, into a new buffer of
 * at most `maxOut` bytes, starting with `out` (grown as needed). Sets outBuf/outLen and inPos (byte-aligned, after the
 * last block). Throws TRUNCATED when the input ends first.
 */
function inflateRaw(src: Uint8Array, pos: number, maxOut: number, first: Uint8Array): void {
  const end = src.length
  let out: Uint8Array = first
  let o = 0
  let bb = 0, bc = 0
  let last = 0
  while (last === 0) {
    while (bc < 3) { if (pos >= end) throw TRUNCATED; bb |= src[pos++] << bc; bc += 8 }
    last = bb & 1
    const type = (bb >>> 1) & 3
    bb >>>= 3; bc -= 3
    if (type === 0) {
      pos -= bc >> 3; bb = 0; bc = 0
      if (pos + 4 > end) throw TRUNCATED
      const len = src[pos] | (src[pos + 1] << 8)
      const nlen = src[pos + 2] | (src[pos + 3] << 8)
      if ((len ^ 0xffff) !== nlen) throw badZlib('stored block length check failed')
      pos += 4
      if (pos + len > end) throw TRUNCATED
      if (o + len > out.length) out = grow(out, o, maxOut, o + len)
      out.set(src.subarray(pos, pos + len), o)
      o += len
      pos += len
      continue
    }
    let lit: Int32Array, dist: Int32Array, litInfo: number, distInfo: number
    if (type === 1) { lit = FIXED_LIT; dist = FIXED_DIST; litInfo = fixedLitInfo; distInfo = fixedDistInfo }
    else if (type === 2) {
      while (bc < 14) { if (pos >= end) throw TRUNCATED; bb |= src[pos++] << bc; bc += 8 }
      const nlen = (bb & 31) + 257, ndist = ((bb >>> 5) & 31) + 1, ncode = ((bb >>> 10) & 15) + 4
      bb >>>= 14; bc -= 14
      if (nlen > 286 || ndist > 30) throw badZlib('too many length or distance symbols')
      lengths.fill(0, 0, 19)
      for (let i = 0; i < ncode; i++) {
        while (bc < 3) { if (pos >= end) throw TRUNCATED; bb |= src[pos++] << bc; bc += 8 }
        lengths[CODE_LENGTH_ORDER[i]] = bb & 7
        bb >>>= 3; bc -= 3
      }
      const clInfo = build(lengths, 0, 19, clTable, CL_ROOT, 'codes')
      const clMask = (1 << (clInfo & 255)) - 1, clMax = clInfo >>> 8
      const total = nlen + ndist
      // Count the codes of each length, and list the symbols that have one, as the lengths come.
      litCount.fill(0); distCount.fill(0)
      let nLit = 0, nDist = 0
      let i = 0
      while (i < total) {
        while (bc < 24 && pos < end) { bb |= src[pos++] << bc; bc += 8 }
        const e = clTable[bb & clMask]
        const len = e & 15
        if (len === 0 || len > bc) { if (len !== 0 || bc < clMax) throw TRUNCATED; throw badZlib('invalid Huffman code') }
        bb >>>= len; bc -= len
        const sym = e >>> 8
        if (sym < 16) {
          lengths[i] = sym
          if (sym !== 0) { if (i < nlen) { litCount[sym]++; litSyms[nLit++] = i } else { distCount[sym]++; distSyms[nDist++] = i - nlen } }
          i++
          continue
        }
        let value = 0, repeat: number
        const xb = sym === 16 ? 2 : sym === 17 ? 3 : 7
        while (bc < xb) { if (pos >= end) throw TRUNCATED; bb |= src[pos++] << bc; bc += 8 }
        const x = bb & ((1 << xb) - 1)
        bb >>>= xb; bc -= xb
        if (sym === 16) {
          if (i === 0) throw badZlib('repeat with no first length')
          value = lengths[i - 1]
          repeat = 3 + x
        } else repeat = (sym === 17 ? 3 : 11) + x
        if (i + repeat > total) throw badZlib('too many code lengths')
        lengths.fill(value, i, i + repeat)
        if (value !== 0) {
          for (let k = i; k < i + repeat; k++) { if (k < nlen) { litCount[value]++; litSyms[nLit++] = k } else { distCount[value]++; distSyms[nDist++] = k - nlen } }
        }
        i += repeat
      }
      if (lengths[256] === 0) throw badZlib('no end-of-block code')
      litInfo = buildFrom(lengths, 0, litCount, litSyms, nLit, litTable, LIT_ROOT, 'lens')
      distInfo = buildFrom(lengths, nlen, distCount, distSyms, nDist, distTable, DIST_ROOT, 'dists')
      lit = litTable; dist = distTable
    } else throw badZlib('invalid block type')

    const litRoot = litInfo & 255, litMask = (1 << litRoot) - 1, litMax = litInfo >>> 8
    const distRoot = distInfo & 255, distMask = (1 << distRoot) - 1, distMax = distInfo >>> 8
    for (;;) {
      // Two bytes at a time while the input lasts: 16+ bits cover any code (15); extra bits refill below.
      if (bc < 16) {
        if (pos + 1 < end) { bb |= (src[pos] | (src[pos + 1] << 8)) << bc; pos += 2; bc += 16 }
        else while (bc < 24 && pos < end) { bb |= src[pos++] << bc; bc += 8 }
      }
      let e = lit[bb & litMask]
      if (e & SUB) e = lit[(e >>> 8) + ((bb >>> litRoot) & ((1 << (e & 15)) - 1))]
      let len = e & 15
      if (len === 0 || len > bc) { if (len !== 0 || bc < litMax) throw TRUNCATED; throw badZlib('invalid Huffman code') }
      bb >>>= len; bc -= len
      let sym = e >>> 8
      if (sym < 256) {
        if (o >= out.length) out = grow(out, o, maxOut, o + 1)
        out[o++] = sym
        continue
      }
      if (sym === 256) break
      sym -= 257
      if (sym >= 29) throw badZlib('invalid length symbol')
      let xb = LEN_EXTRA[sym]
      while (bc < xb) { if (pos >= end) throw TRUNCATED; bb |= src[pos++] << bc; bc += 8 }
      const length = LEN_BASE[sym] + (bb & ((1 << xb) - 1))
      bb >>>= xb; bc -= xb
      if (bc < 16) {
        if (pos + 1 < end) { bb |= (src[pos] | (src[pos + 1] << 8)) << bc; pos += 2; bc += 16 }
        else while (bc < 24 && pos < end) { bb |= src[pos++] << bc; bc += 8 }
      }
      e = dist[bb & distMask]
      if (e & SUB) e = dist[(e >>> 8) + ((bb >>> distRoot) & ((1 << (e & 15)) - 1))]
      len = e & 15
      if (len === 0 || len > bc) { if (len !== 0 || bc < distMax) throw TRUNCATED; throw badZlib('invalid Huffman code') }
      bb >>>= len; bc -= len
      sym = e >>> 8
      if (sym >= 30) throw badZlib('invalid distance symbol')
      xb = DIST_EXTRA[sym]
      while (bc < xb) { if (pos >= end) throw TRUNCATED; bb |= src[pos++] << bc; bc += 8 }
      const d = DIST_BASE[sym] + (bb & ((1 << xb) - 1))
      bb >>>= xb; bc -= xb
      if (d > o) throw badZlib('distance too far back')
      const stop = o + length
      if (stop > out.length) out = grow(out, o, maxOut, stop)
      if (d >= length && length > 32) { out.copyWithin(o, o - d, stop - d); o = stop }
      else for (; o < stop; o++) out[o] = out[o - d]
    }
  }
  // Give back the whole unread bytes held in the bit buffer: the stream is byte-aligned now.
  pos -= bc >> 3
  outBuf = out
  outLen = o
  inPos = pos
}

/** A bigger output buffer holding the `used` bytes of `out`; LARIX_BAD_ZLIB past `maxOut`. */
function grow(out: Uint8Array, used: number, maxOut: number, want: number): Uint8Array {
  if (want > maxOut) throw badZlib(`zlib stream inflates to more than ${maxOut} bytes`)
  const g = new Uint8Array(Math.min(maxOut, Math.max(want, out.length * 2)))
  g.set(out.subarray(0, used))
  return g
}

function adler32(data: Uint8Array, start: number, end: number): number {
  let a = 1, b = 0
  let i = start
  while (i < end) {
    // 5552 bytes is the most that can be summed before b could overflow 2^32 (zlib's NMAX).
    const stop = Math.min(end, i + 5552)
    for (; i < stop; i++) { a += data[i]; b += a }
    a %= 65521
    b %= 65521
  }
  return ((b << 16) | a) >>> 0
}

/** Reused output for `scratch` calls (a delta is applied at once and dropped: no allocation for it). */
let scratchBuf = new Uint8Array(64 << 10)

function inflateZlib(src: Uint8Array, offset: number, expectedSize: number | undefined, into?: 'scratch' | 'slab'): Inflated | undefined {
  if (offset + 2 > src.length) return undefined
  const cmf = src[offset], flg = src[offset + 1]
  if ((cmf & 15) !== 8 || cmf >> 4 > 7) throw badZlib('not a zlib stream (bad compression method)')
  if (((cmf << 8) | flg) % 31 !== 0) throw badZlib('not a zlib stream (bad header check)')
  if (flg & 0x20) throw badZlib('zlib stream needs a preset dictionary')
  const maxOut = expectedSize ?? 2 ** 32
  // A declared size is checked, never trusted for an allocation beyond 1 MiB: past that, start small and grow.
  const initial = Math.min(maxOut, 1 << 20, expectedSize ?? Math.max(1024, (src.length - offset) * 4))
  const reuse = into === 'scratch' && expectedSize !== undefined && expectedSize <= 1 << 20
  if (reuse && scratchBuf.length < expectedSize) scratchBuf = new Uint8Array(expectedSize)
  const sliced = into === 'slab' && expectedSize !== undefined && expectedSize <= SLICE_MAX
  const first = reuse ? scratchBuf.subarray(0, expectedSize) : sliced ? slabSlice(expectedSize) : new Uint8Array(initial)
  try {
    inflateRaw(src, offset + 2, maxOut, first)
  } catch (e) {
    if (sliced) slabGiveBack(expectedSize)
    if (e === TRUNCATED) return undefined
    throw e
  }
  const out = outBuf, n = outLen, p = inPos
  outBuf = EMPTY
  // Give the slice back unless the stream is whole and good (the last slice taken is this one).
  const ok = p + 4 <= src.length && ((src[p] << 24) | (src[p + 1] << 16) | (src[p + 2] << 8) | src[p + 3]) >>> 0 === adler32(out, 0, n)
  if (sliced && (!ok || n !== expectedSize)) slabGiveBack(expectedSize)
  if (p + 4 > src.length) return undefined
  if (!ok) throw badZlib('incorrect data check')
  if (expectedSize !== undefined && n !== expectedSize) {
    throw badZlib(`zlib stream inflates to ${n} bytes, expected ${expectedSize}`)
  }
  const data = n === out.length ? out : out.slice(0, n)
  return { data, consumed: p + 4 - offset }
}
