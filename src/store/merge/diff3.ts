// Line-based three-way merge (diff3): the lines both sides kept from the base anchor the merge; between
// anchors, a change on one side wins, the same change on both sides is taken once, different changes conflict.

/** Longest common subsequence of two line arrays as index pairs, after trimming common prefix and suffix. */
function matchLines(a: readonly string[], b: readonly string[]): [number, number][] {
  let pre = 0
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++
  let suf = 0
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++
  const pairs: [number, number][] = []
  for (let i = 0; i < pre; i++) pairs.push([i, i])
  const n = a.length - pre - suf, m = b.length - pre - suf
  if (n > 0 && m > 0 && n * m <= 16_000_000) {
    // Classic dynamic programme over the middle; bounded above so a huge rewrite cannot eat the memory.
    const w = m + 1
    const dp = new Uint32Array((n + 1) * w)
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        dp[i * w + j] = a[pre + i] === b[pre + j] ? dp[(i + 1) * w + j + 1] + 1 : Math.max(dp[(i + 1) * w + j], dp[i * w + j + 1])
      }
    }
    let i = 0, j = 0
    while (i < n && j < m) {
      if (a[pre + i] === b[pre + j]) { pairs.push([pre + i, pre + j]); i++; j++ }
      else if (dp[(i + 1) * w + j] >= dp[i * w + j + 1]) i++
      else j++
    }
  }
  for (let k = suf; k > 0; k--) pairs.push([a.length - k, b.length - k])
  return pairs
}

export type Diff3Result = { ok: true; lines: string[] } | { ok: false; line: number }

/** Merge line arrays. On conflict, `line` is the first conflicting line of the base (0-based). */
export function diff3(base: readonly string[], ours: readonly string[], theirs: readonly string[]): Diff3Result {
  const mo = new Map(matchLines(base, ours))
  const mt = new Map(matchLines(base, theirs))
  const out: string[] = []
  let b = 0, o = 0, t = 0
  const same = (x: readonly string[], y: readonly string[]) => x.length === y.length && x.every((v, i) => v === y[i])
  for (;;) {
    // Next base line that both sides kept, at or after the current positions.
    let nb = b
    while (nb < base.length && !(mo.has(nb) && mt.has(nb) && mo.get(nb)! >= o && mt.get(nb)! >= t)) nb++
    const no = nb < base.length ? mo.get(nb)! : ours.length
    const nt = nb < base.length ? mt.get(nb)! : theirs.length
    const cb = base.slice(b, nb), co = ours.slice(o, no), ct = theirs.slice(t, nt)
    if (same(co, ct)) out.push(...co)
    else if (same(cb, co)) out.push(...ct)
    else if (same(cb, ct)) out.push(...co)
    else return { ok: false, line: b }
    if (nb >= base.length) break
    out.push(base[nb])
    b = nb + 1; o = no + 1; t = nt + 1
  }
  return { ok: true, lines: out }
}

/** Merge texts line by line (lines keep their endings, so a missing final newline is a change like any other). */
export function mergeText(base: string, ours: string, theirs: string): { ok: true; text: string } | { ok: false; line: number } {
  const split = (s: string) => s.match(/[^\n]*\n|[^\n]+$/g) ?? []
  const r = diff3(split(base), split(ours), split(theirs))
  return r.ok ? { ok: true, text: r.lines.join('') } : r
}
