// Small outputs of a pack being read (inflated objects, delta results) as views into shared 64 KiB slabs
// rather than buffers of their own: a pack's objects are mostly a few hundred bytes, and a buffer each (its
// own backing store) costs more to allocate and to collect than the bytes in it. A slab lives while any
// view of it does, so this is only for bytes that die about together (a batch, unpack's base cache), never
// for objects a cache may keep one by one.

/** The largest output taken from a slab. */
export const SLICE_MAX = 2048
const SLAB = 64 << 10
let slab = new Uint8Array(0)
let used = 0

/** `n` (at most SLICE_MAX) fresh bytes, zeroed, in the current slab. */
export function slabSlice(n: number): Uint8Array {
  if (used + n > slab.length) { slab = new Uint8Array(SLAB); used = 0 }
  const v = slab.subarray(used, used + n)
  used += n
  return v
}

/** Give back the last slice taken (`n` bytes), nothing having been kept of it: the next one reuses it. */
export function slabGiveBack(n: number): void {
  used -= n
  slab.fill(0, used, used + n)
}
