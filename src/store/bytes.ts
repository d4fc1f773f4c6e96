// Small byte helpers shared by the codecs. Platform-neutral: Uint8Array, TextEncoder, TextDecoder.

export const utf8Encoder = new TextEncoder()
const strictDecoder = new TextDecoder('utf-8', { fatal: true })
const lenientDecoder = new TextDecoder('utf-8')

/** UTF-8 bytes of a string. */
export function utf8(s: string): Uint8Array {
  return utf8Encoder.encode(s)
}

/** Decode UTF-8; `strict` throws on malformed input instead of substituting U+FFFD. */
export function fromUtf8(b: Uint8Array, strict = false): string {
  return (strict ? strictDecoder : lenientDecoder).decode(b)
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

// Hex through a byte buffer and one decode: a flat string, several times faster than concatenating pairs
// (which builds a rope that every later charCodeAt has to flatten).
const HEX_CODES = new Uint8Array(512)
for (let i = 0; i < 256; i++) { HEX_CODES[2 * i] = HEX[i].charCodeAt(0); HEX_CODES[2 * i + 1] = HEX[i].charCodeAt(1) }
const asciiDecoder = new TextDecoder('latin1')
let hexScratch = new Uint8Array(40)

export function toHex(b: Uint8Array, start = 0, end = b.length): string {
  const n = end - start
  if (hexScratch.length < 2 * n) hexScratch = new Uint8Array(2 * n)
  for (let i = 0; i < n; i++) {
    const v = b[start + i] << 1
    hexScratch[2 * i] = HEX_CODES[v]
    hexScratch[2 * i + 1] = HEX_CODES[v + 1]
  }
  return asciiDecoder.decode(hexScratch.subarray(0, 2 * n))
}

// Two hex digits at a time: a table indexed by both character codes (ASCII), -1 where not lowercase hex.
const PAIR = new Int16Array(128 * 128).fill(-1)
for (let hi = 0; hi < 16; hi++) {
  for (let lo = 0; lo < 16; lo++) PAIR[(HEX[hi * 16 + lo].charCodeAt(0) << 7) | HEX[hi * 16 + lo].charCodeAt(1)] = hi * 16 + lo
}

/** Write the 20 bytes of a 40-hex-digit id into `out` at `offset`. Returns false if `hex` is not lowercase hex. */
export function writeHexId(hex: string, out: Uint8Array, offset: number): boolean {
  if (hex.length !== 40) return false
  for (let i = 0; i < 20; i++) {
    const a = hex.charCodeAt(2 * i), b = hex.charCodeAt(2 * i + 1)
    const v = a < 128 && b < 128 ? PAIR[(a << 7) | b] : -1
    if (v < 0) return false
    out[offset + i] = v
  }
  return true
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Lexicographic comparison of byte strings (Git's order for names). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i]
  return a.length - b.length
}
