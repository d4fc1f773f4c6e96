import type { Backend, ClonePackStore, ObjectStore, RefChange, RefStore } from '../backend.js'
import { Watchers } from '../backend.js'
import { BackendError } from '../errors.js'
import type { GitObject, StoredObject } from '../objects.js'
import type { IntroducedEntry } from '../introduced.js'

class MemoryObjects implements ObjectStore {
  readonly map = new Map<string, GitObject>()
  /** The introduced-objects index (src/store/introduced.ts), by commit id. */
  readonly introduced = new Map<string, Uint8Array>()
  async getIntroduced(commit: string) { return this.introduced.get(commit) }
  async putIntroduced(entries: readonly IntroducedEntry[]) {
    for (const e of entries) this.introduced.set(e.commit, e.introduced.slice())
  }
  async getMany(ids: readonly string[]) { return ids.map(id => this.map.get(id)) }
  readonly clonePacks: ClonePackStore = new MemoryClonePacks()
  async get(id: string) { return this.map.get(id) }
  async has(id: string) { return this.map.has(id) }
  async findPrefix(prefix: string) {
    const out: string[] = []
    for (const id of this.map.keys()) if (id.startsWith(prefix) && out.push(id) >= 16) break
    return out
  }
  async putMany(objects: readonly StoredObject[]) {
    for (const o of objects) {
      const had = this.map.get(o.id)
      if (!had || (had.generation === undefined && o.generation !== undefined)) {
        const v: GitObject = { type: o.type, body: o.body }
        if (o.generation !== undefined) v.generation = o.generation
        this.map.set(o.id, v)
      }
    }
  }
}

class MemoryClonePacks implements ClonePackStore {
  private current: Uint8Array | undefined
  /** Parts by `generation:index`. */
  private readonly parts = new Map<string, Uint8Array>()
  async manifest() { return this.current }
  async part(generation: number, index: number) { return this.parts.get(`${generation}:${index}`) }
  async putPart(generation: number, index: number, bytes: Uint8Array) { this.parts.set(`${generation}:${index}`, bytes.slice()) }
  async publish(_generation: number, manifest: Uint8Array) { this.current = manifest.slice() }
  async prune(keep: readonly number[]) {
    for (const k of [...this.parts.keys()]) if (!keep.includes(Number(k.slice(0, k.indexOf(':'))))) this.parts.delete(k)
  }
}

class MemoryRefs implements RefStore {
  readonly map = new Map<string, string>()
  readonly watchers = new Watchers<RefChange>()
  async get(name: string) { return this.map.get(name) }
  async list(prefix = '') {
    return [...this.map].filter(([n]) => n.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, id]) => ({ name, id }))
  }
  async cas(name: string, expected: string | undefined, next: string | undefined) {
    const cur = this.map.get(name)
    if (cur !== expected) return false
    if (next === undefined) this.map.delete(name)
    else this.map.set(name, next)
    if (cur !== next) this.watchers.emit({ name, old: cur, new: next })
    return true
  }
  watch(fn: (c: RefChange) => void) { return this.watchers.add(fn) }
}

/**
 * A backend that keeps everything in memory: for tests, caches and short-lived replicas.
 * @example const repo = await Repo.open({ backend: memoryBackend() })
 */
export function memoryBackend(): Backend {
  const objects = new MemoryObjects()
  const refs = new MemoryRefs()
  let closed = false
  const guard = <T extends object>(target: T): T => new Proxy(target, {
    get(t, p, r) {
      const v = Reflect.get(t, p, r)
      if (typeof v !== 'function' || p === 'watch') return v
      return (...args: unknown[]) => closed ? Promise.reject(new BackendError('the memory store is closed', String(p))) : v.apply(t, args)
    },
  })
  return {
    name: 'memory',
    objects: guard(objects),
    refs: guard(refs),
    async open() { closed = false },
    async close() { closed = true },
  }
}
