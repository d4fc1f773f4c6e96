// Node flavour of the hashing adapter: node:crypto's SHA-1 (native, ~1 µs per small object).
import { createHash } from 'node:crypto'

/** SHA-1 of the concatenation of `parts`, as 40 lowercase hex digits. */
export function sha1Hex(...parts: Uint8Array[]): string {
  const h = createHash('sha1')
  for (const p of parts) h.update(p)
  return h.digest('hex')
}

/** An incremental SHA-1, for streams (packs) that arrive in pieces. */
export function sha1Stream(): { update(data: Uint8Array): void; digestHex(): string } {
  const h = createHash('sha1')
  return { update: (d) => { h.update(d) }, digestHex: () => h.digest('hex') }
}
