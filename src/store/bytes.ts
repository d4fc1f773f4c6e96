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

export function toHex(b: Uint8Array, start = 0, end = b.length): string {
  let s = ''
  for (let i = start; i < end; i++) s += HEX[b[i]]
  return s
}

function nibble(c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 97 && c <= 102) return c - 87
  return -1
}

// Ids recur in every tree written on top of another, and V8 keeps a string's hash: a lookup beats parsing.
const idBytes = new Map<string, Uint8Array>()
const ID_CACHE_MAX = 50_000

/** Write the 20 bytes of a 40-hex-digit id into `out` at `offset`. Returns false if `hex` is not lowercase hex. */
export function writeHexId(hex: string, out: Uint8Array, offset: number): boolean {
  const cached = idBytes.get(hex)
  if (cached !== undefined) { out.set(cached, offset); return true }
  if (!parseHexId(hex, out, offset)) return false
  if (idBytes.size >= ID_CACHE_MAX) idBytes.clear()
  idBytes.set(hex, out.slice(offset, offset + 20))
  return true
}

function parseHexId(hex: string, out: Uint8Array, offset: number): boolean {
  if (hex.length !== 40) return false
  for (let i = 0; i < 20; i++) {
    const hi = nibble(hex.charCodeAt(2 * i)), lo = nibble(hex.charCodeAt(2 * i + 1))
    if (hi < 0 || lo < 0) return false
    out[offset + i] = (hi << 4) | lo
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
