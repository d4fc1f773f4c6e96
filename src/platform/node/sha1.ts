// Node flavour of the hashing adapter: node:crypto's SHA-1 (native, ~1 µs per small object).
import * as crypto from 'node:crypto'
import { createHash } from 'node:crypto'

// crypto.hash (Node >= 20.12) hashes in one call without building a Hash object: parts are copied into
// one reused buffer first, ~2x faster for the small objects of a pack (a header and a body).
const oneShot = (crypto as { hash?: (algorithm: string, data: Uint8Array, encoding: 'hex') => string }).hash
let scratch = new Uint8Array(64 << 10)
const ONE_SHOT_MAX = 1 << 20

/** SHA-1 of the concatenation of `parts`, as 40 lowercase hex digits. */
export function sha1Hex(...parts: Uint8Array[]): string {
  if (oneShot !== undefined) {
    let n = 0
    for (const p of parts) n += p.length
    if (n <= ONE_SHOT_MAX) {
      if (scratch.length < n) scratch = new Uint8Array(Math.max(n, 2 * scratch.length))
      let o = 0
      for (const p of parts) { scratch.set(p, o); o += p.length }
      return oneShot('sha1', scratch.subarray(0, n), 'hex')
    }
  }
  const h = createHash('sha1')
  for (const p of parts) h.update(p)
  return h.digest('hex')
}

/** An incremental SHA-1, for streams (packs) that arrive in pieces. */
export function sha1Stream(): { update(data: Uint8Array): void; digestHex(): string } {
  const h = createHash('sha1')
  return { update: (d) => { h.update(d) }, digestHex: () => h.digest('hex') }
}
