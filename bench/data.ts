// The benchmark's data set: deterministic pseudo-random keys and values, the same bytes for every peer.
// 10,000 keys three levels deep (`d07/e13/k0042`: 20 × 25 × 20), values ~100 bytes of canonical JSON.

/** mulberry32: a small, fast, seedable PRNG; the same seed gives the same data on every machine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const WORDS = ['alder', 'birch', 'cedar', 'elm', 'fir', 'hazel', 'larch', 'maple', 'oak', 'pine', 'rowan', 'yew']

/** One value. Keys are written in sorted order, so JSON.stringify is already larix's canonical JSON. */
export interface Value { id: number; note: string; rev: number; score: number; tags: string[] }

function makeValue(rand: () => number, id: number, rev: number): Value {
  const pick = () => WORDS[Math.floor(rand() * WORDS.length)]
  return {
    id,
    note: `${pick()} ${pick()} ${pick()} ${pick()}`,
    rev,
    score: Math.floor(rand() * 1e9) / 1e6,
    tags: [pick(), pick()],
  }
}

export interface Update { key: number; path: string; value: Value; bytes: Uint8Array }

export interface DataSet {
  /** `d07/e13/k0042`, in key order. */
  paths: string[]
  /** The first-level and second-level directories (`d07`, `d07/e13`), for peers that build trees by hand. */
  dirs1: string[]
  dirs2: string[]
  values: Value[]
  /** The canonical JSON bytes of each value (what every peer stores as the blob). */
  bytes: Uint8Array[]
  /** The single-key commits of row 2: which key, its new value. Every new value is distinct. */
  updates: Update[]
  /** The order of reads in row 3: every key once, shuffled. */
  readOrder: number[]
  /** Each key's bytes after all `updates`, for checking what the readers return. */
  finalBytes: Uint8Array[]
  /** Objects a fresh import writes: distinct blobs + trees + 1 commit. */
  importObjects: number
}

const enc = new TextEncoder()
const D = 20, E = 25, K = 20

export function pathOf(i: number): string {
  const d = Math.floor(i / (E * K)), e = Math.floor(i / K) % E
  return `d${String(d).padStart(2, '0')}/e${String(e).padStart(2, '0')}/k${String(i).padStart(4, '0')}`
}

export function makeDataSet(opts: { keys?: number; commits?: number; seed?: number } = {}): DataSet {
  const keys = opts.keys ?? D * E * K
  const commits = opts.commits ?? 1000
  const rand = prng(opts.seed ?? 0x1a71c)
  const paths: string[] = [], values: Value[] = [], bytes: Uint8Array[] = []
  const dirs1 = new Set<string>(), dirs2 = new Set<string>()
  for (let i = 0; i < keys; i++) {
    const p = pathOf(i)
    paths.push(p)
    const parts = p.split('/')
    dirs1.add(parts[0])
    dirs2.add(`${parts[0]}/${parts[1]}`)
    const v = makeValue(rand, i, 0)
    values.push(v)
    bytes.push(enc.encode(JSON.stringify(v)))
  }
  const updates: Update[] = []
  const finalBytes = bytes.slice()
  for (let n = 1; n <= commits; n++) {
    const key = Math.floor(rand() * keys)
    const value = makeValue(rand, key, n)
    const b = enc.encode(JSON.stringify(value))
    updates.push({ key, path: paths[key], value, bytes: b })
    finalBytes[key] = b
  }
  const readOrder = Array.from({ length: keys }, (_, i) => i)
  for (let i = keys - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[readOrder[i], readOrder[j]] = [readOrder[j], readOrder[i]]
  }
  const distinctBlobs = new Set(bytes.map(b => Buffer.from(b).toString('latin1'))).size
  return {
    paths, dirs1: [...dirs1], dirs2: [...dirs2], values, bytes, updates, readOrder, finalBytes,
    importObjects: distinctBlobs + (1 + dirs1.size + dirs2.size) + 1, // blobs + (root + subtrees) + commit
  }
}
