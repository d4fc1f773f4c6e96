// Browser flavour of the zlib adapter. Compression is fflate's. Decompression is our own small inflater:
// a pack holds its zlib streams back to back with no lengths, so the reader must learn where each stream
// ends, and neither fflate (no count of input used, Adler-32 not checked) nor DecompressionStream (no
// count either, and it rejects trailing data) can say. Table-driven Huffman decoding, RFC 1950/1951.
import { zlibSync } from 'fflate'
import { LarixError } from '../../store/errors.js'

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
 * needed); throws LARIX_BAD_ZLIB on corrupt data or a size other than `expectedSize`.
 * @example const { data, consumed } = inflateAt(packBytes, 12 + headerLength, size) ?? needMore()
 */
export function inflateAt(buf: Uint8Array, offset: number, expectedSize: number): Inflated | undefined {
  if (!(Number.isSafeInteger(expectedSize) && expectedSize >= 0)) throw badZlib(`bad expected size ${expectedSize}`)
  return inflateZlib(buf, offset, expectedSize)
}

// ---- the inflater --------------------------------------------------------------------------------

/** Thrown inside the decoder when the input ends mid-stream; turned into `undefined` at the edge. */
const TRUNCATED = Symbol('truncated')

const LEN_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
const LEN_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

/**
 * A Huffman decoding table indexed by the next `bits` input bits (least significant first): each entry is
 * `symbol << 4 | codeLength`, or 0 where no code matches (an incomplete code; decoding it is an error).
 */
interface Huffman { table: Uint16Array; bits: number }

/** Build the canonical Huffman code for `lengths` (RFC 1951 3.2.2). `kind` sets which incomplete codes pass. */
function huffman(lengths: Uint8Array, kind: 'codes' | 'lens' | 'dists'): Huffman {
  const count = new Uint16Array(16)
  for (let i = 0; i < lengths.length; i++) count[lengths[i]]++
  count[0] = 0
  let bits = 15
  while (bits > 0 && count[bits] === 0) bits--
  let left = 1
  for (let len = 1; len <= 15; len++) {
    left = (left << 1) - count[len]
    if (left < 0) throw badZlib(`over-subscribed ${kind} code`)
  }
  // Like zlib: an incomplete code is only allowed as a single code of length 1 (or no codes at all).
  if (left > 0 && (kind === 'codes' || bits > 1)) throw badZlib(`incomplete ${kind} code`)
  const next = new Uint16Array(16)
  for (let len = 1; len < 15; len++) next[len + 1] = (next[len] + count[len]) << 1
  const size = 1 << Math.max(bits, 1)
  const table = new Uint16Array(size)
  for (let sym = 0; sym < lengths.length; sym++) {
    const len = lengths[sym]
    if (len === 0) continue
    let code = next[len]++
    let rev = 0
    for (let k = 0; k < len; k++) { rev = (rev << 1) | (code & 1); code >>>= 1 }
    const entry = (sym << 4) | len
    for (let i = rev; i < size; i += 1 << len) table[i] = entry
  }
  return { table, bits: Math.max(bits, 1) }
}

let fixed: { lit: Huffman; dist: Huffman } | undefined
function fixedCodes(): { lit: Huffman; dist: Huffman } {
  if (!fixed) {
    const l = new Uint8Array(288)
    l.fill(8, 0, 144); l.fill(9, 144, 256); l.fill(7, 256, 280); l.fill(8, 280, 288)
    // The fixed distance code has 30 real symbols of 32 (30 and 31 are invalid); build it as complete.
    fixed = { lit: huffman(l, 'lens'), dist: huffman(new Uint8Array(32).fill(5), 'dists') }
  }
  return fixed
}

class Inflater {
  private bitBuf = 0
  private bitCount = 0
  out: Uint8Array
  outLen = 0

  constructor(private readonly src: Uint8Array, public pos: number, private readonly maxOut: number) {
    // Start small and grow: the size a pack declares is checked, never trusted for an allocation.
    this.out = new Uint8Array(Math.min(maxOut, Math.max(1024, (src.length - pos) * 4), 1 << 20))
  }

  private need(n: number): void {
    while (this.bitCount < n) {
      if (this.pos >= this.src.length) throw TRUNCATED
      this.bitBuf |= this.src[this.pos++] << this.bitCount
      this.bitCount += 8
    }
  }

  private bits(n: number): number {
    if (n === 0) return 0
    this.need(n)
    const v = this.bitBuf & ((1 << n) - 1)
    this.bitBuf >>>= n
    this.bitCount -= n
    return v
  }

  /** Give back whole unread bytes held in the bit buffer and drop the partial one: the stream is byte-aligned now. */
  alignToByte(): void {
    this.pos -= this.bitCount >> 3
    this.bitBuf = 0
    this.bitCount = 0
  }

  private decode(h: Huffman): number {
    // Peek `h.bits` bits, or as many as the input still has: a short code near the end decodes from fewer
    // (the missing bits read as 0 and the table entry says how many the code really used), as zlib does.
    while (this.bitCount < h.bits && this.pos < this.src.length) {
      this.bitBuf |= this.src[this.pos++] << this.bitCount
      this.bitCount += 8
    }
    const e = h.table[this.bitBuf & ((1 << h.bits) - 1)]
    const len = e & 15
    if (this.bitCount < h.bits && (len === 0 || len > this.bitCount)) throw TRUNCATED
    if (len === 0) throw badZlib('invalid Huffman code')
    this.bitBuf >>>= len
    this.bitCount -= len
    return e >> 4
  }

  private room(n: number): void {
    const want = this.outLen + n
    if (want > this.maxOut) throw badZlib(`zlib stream inflates to more than ${this.maxOut} bytes`)
    if (want <= this.out.length) return
    const grown = new Uint8Array(Math.min(this.maxOut, Math.max(want, this.out.length * 2)))
    grown.set(this.out.subarray(0, this.outLen))
    this.out = grown
  }

  private stored(): void {
    this.alignToByte()
    const s = this.src
    if (this.pos + 4 > s.length) throw TRUNCATED
    const len = s[this.pos] | (s[this.pos + 1] << 8)
    const nlen = s[this.pos + 2] | (s[this.pos + 3] << 8)
    if ((len ^ 0xffff) !== nlen) throw badZlib('stored block length check failed')
    this.pos += 4
    if (this.pos + len > s.length) throw TRUNCATED
    this.room(len)
    this.out.set(s.subarray(this.pos, this.pos + len), this.outLen)
    this.outLen += len
    this.pos += len
  }

  private dynamicCodes(): { lit: Huffman; dist: Huffman } {
    const nlen = this.bits(5) + 257
    const ndist = this.bits(5) + 1
    const ncode = this.bits(4) + 4
    if (nlen > 286 || ndist > 30) throw badZlib('too many length or distance symbols')
    const cl = new Uint8Array(19)
    for (let i = 0; i < ncode; i++) cl[CODE_LENGTH_ORDER[i]] = this.bits(3)
    const clCode = huffman(cl, 'codes')
    const lengths = new Uint8Array(nlen + ndist)
    let i = 0
    while (i < nlen + ndist) {
      const sym = this.decode(clCode)
      if (sym < 16) { lengths[i++] = sym; continue }
      let value = 0, repeat: number
      if (sym === 16) {
        if (i === 0) throw badZlib('repeat with no first length')
        value = lengths[i - 1]
        repeat = 3 + this.bits(2)
      } else if (sym === 17) repeat = 3 + this.bits(3)
      else repeat = 11 + this.bits(7)
      if (i + repeat > nlen + ndist) throw badZlib('too many code lengths')
      lengths.fill(value, i, i + repeat)
      i += repeat
    }
    if (lengths[256] === 0) throw badZlib('no end-of-block code')
    return { lit: huffman(lengths.subarray(0, nlen), 'lens'), dist: huffman(lengths.subarray(nlen), 'dists') }
  }

  private codes(lit: Huffman, dist: Huffman): void {
    for (;;) {
      let sym = this.decode(lit)
      if (sym < 256) {
        if (this.outLen === this.out.length) this.room(1)
        this.out[this.outLen++] = sym
        continue
      }
      if (sym === 256) return
      sym -= 257
      if (sym >= 29) throw badZlib('invalid length symbol')
      const len = LEN_BASE[sym] + this.bits(LEN_EXTRA[sym])
      const dsym = this.decode(dist)
      if (dsym >= 30) throw badZlib('invalid distance symbol')
      const d = DIST_BASE[dsym] + this.bits(DIST_EXTRA[dsym])
      if (d > this.outLen) throw badZlib('distance too far back')
      this.room(len)
      const out = this.out
      let o = this.outLen
      const end = o + len
      if (d >= len) out.copyWithin(o, o - d, end - d)
      else for (; o < end; o++) out[o] = out[o - d]
      this.outLen = end
    }
  }

  /** Inflate raw deflate blocks up to and including the final one. */
  run(): void {
    let last = 0
    while (last === 0) {
      last = this.bits(1)
      const type = this.bits(2)
      if (type === 0) this.stored()
      else if (type === 1) { const f = fixedCodes(); this.codes(f.lit, f.dist) }
      else if (type === 2) { const d = this.dynamicCodes(); this.codes(d.lit, d.dist) }
      else throw badZlib('invalid block type')
    }
    this.alignToByte()
  }
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

function inflateZlib(src: Uint8Array, offset: number, expectedSize: number | undefined): Inflated | undefined {
  if (offset + 2 > src.length) return undefined
  const cmf = src[offset], flg = src[offset + 1]
  if ((cmf & 15) !== 8 || cmf >> 4 > 7) throw badZlib('not a zlib stream (bad compression method)')
  if (((cmf << 8) | flg) % 31 !== 0) throw badZlib('not a zlib stream (bad header check)')
  if (flg & 0x20) throw badZlib('zlib stream needs a preset dictionary')
  const inf = new Inflater(src, offset + 2, expectedSize ?? 2 ** 32)
  try {
    inf.run()
  } catch (e) {
    if (e === TRUNCATED) return undefined
    throw e
  }
  if (inf.pos + 4 > src.length) return undefined
  const p = inf.pos
  const stored = ((src[p] << 24) | (src[p + 1] << 16) | (src[p + 2] << 8) | src[p + 3]) >>> 0
  if (stored !== adler32(inf.out, 0, inf.outLen)) throw badZlib('incorrect data check')
  if (expectedSize !== undefined && inf.outLen !== expectedSize) {
    throw badZlib(`zlib stream inflates to ${inf.outLen} bytes, expected ${expectedSize}`)
  }
  const data = inf.outLen === inf.out.length ? inf.out : inf.out.slice(0, inf.outLen)
  return { data, consumed: p + 4 - offset }
}
