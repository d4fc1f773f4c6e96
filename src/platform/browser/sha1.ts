// Browser flavour of the hashing adapter: @noble/hashes' synchronous SHA-1. WebCrypto's digest is async and
// costs ~50 µs a call, far too slow when every value and tree node is an object to hash.
import { sha1 } from '@noble/hashes/legacy.js'
import { bytesToHex } from '@noble/hashes/utils.js'

/** SHA-1 of the concatenation of `parts`, as 40 lowercase hex digits. */
export function sha1Hex(...parts: Uint8Array[]): string {
  const h = sha1.create()
  for (const p of parts) h.update(p)
  return bytesToHex(h.digest())
}

/** An incremental SHA-1, for streams (packs) that arrive in pieces. */
export function sha1Stream(): { update(data: Uint8Array): void; digestHex(): string } {
  const h = sha1.create()
  return { update: (d) => { h.update(d) }, digestHex: () => bytesToHex(h.digest()) }
}
