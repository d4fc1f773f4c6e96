/**
 * A bounded cache that keeps recently used entries: two generations of Maps. Hits in the old generation move
 * to the young one; when the young one has taken half the budget, the old one is dropped and the young one
 * becomes old. No per-hit reordering (cheaper than a strict LRU on hot paths), at most `maxWeight` kept.
 */
export class LRU<K, V> {
  private young = new Map<K, { v: V; w: number }>()
  private old = new Map<K, { v: V; w: number }>()
  private youngWeight = 0
  constructor(private readonly maxWeight: number, private readonly weigh: (v: V) => number = () => 1) {}
  get(k: K): V | undefined {
    const y = this.young.get(k)
    if (y !== undefined) return y.v
    const o = this.old.get(k)
    if (o === undefined) return undefined
    this.old.delete(k)
    this.insert(k, o)
    return o.v
  }
  set(k: K, v: V): void {
    const w = this.weigh(v)
    if (w > this.maxWeight / 2) return
    const prev = this.young.get(k)
    if (prev) { this.youngWeight -= prev.w; this.young.delete(k) }
    this.old.delete(k)
    this.insert(k, { v, w })
  }
  private insert(k: K, e: { v: V; w: number }): void {
    if (this.youngWeight + e.w > this.maxWeight / 2) {
      this.old = this.young
      this.young = new Map()
      this.youngWeight = 0
    }
    this.young.set(k, e)
    this.youngWeight += e.w
  }
  get size(): number { return this.young.size + this.old.size }
  clear(): void { this.young.clear(); this.old.clear(); this.youngWeight = 0 }
}
