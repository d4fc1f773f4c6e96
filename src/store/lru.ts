/** A least-recently-used map bounded by total weight (entry count by default). */
export class LRU<K, V> {
  private readonly map = new Map<K, { v: V; w: number }>()
  private total = 0
  constructor(private readonly maxWeight: number, private readonly weigh: (v: V) => number = () => 1) {}
  get(k: K): V | undefined {
    const e = this.map.get(k)
    if (e === undefined) return undefined
    this.map.delete(k)
    this.map.set(k, e)
    return e.v
  }
  set(k: K, v: V): void {
    const old = this.map.get(k)
    if (old) { this.total -= old.w; this.map.delete(k) }
    const w = this.weigh(v)
    if (w > this.maxWeight) return
    this.map.set(k, { v, w })
    this.total += w
    while (this.total > this.maxWeight) {
      const first = this.map.keys().next().value as K
      this.total -= this.map.get(first)!.w
      this.map.delete(first)
    }
  }
  get size(): number { return this.map.size }
  clear(): void { this.map.clear(); this.total = 0 }
}
