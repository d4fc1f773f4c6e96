// The storage contract every backend implements: a content-addressed object store and a ref store whose
// only write is an atomic compare-and-set. Repo validates and normalises; backends store.
import type { StoredObject, GitObject } from './objects.js'
import type { IntroducedEntry } from './introduced.js'

/** Content-addressed objects. Ids are computed by the caller; backends trust them (they come from our codecs or a verified pack). */
export interface ObjectStore {
  get(id: string): Promise<GitObject | undefined>
  has(id: string): Promise<boolean>
  /** Store many objects in one batch: all or nothing. Storing an object twice is harmless. */
  putMany(objects: readonly StoredObject[]): Promise<void>
  /**
   * Optional commit-graph index: every stored commit whose generation is in [low, high], with its parents.
   * Read in generation order, it lets an LCA search load the commits it walks in a few sequential reads.
   */
  graphRange?(low: number, high: number): Promise<GraphEntry[]>
  /** Ids that start with `prefix` (at most a few; used to resolve short ids). Optional. */
  findPrefix?(prefix: string): Promise<string[]>
  /**
   * Optional "introduced objects" index (src/store/introduced.ts): per commit, the trees and blobs of its
   * tree not at the same path in its first parent's. A server sends the union over the commits it sends
   * instead of walking their trees. Undefined when the commit has no entry (yet).
   */
  getIntroduced?(commit: string): Promise<Uint8Array | undefined>
  /** Store index entries. Only for commits whose objects (all of them) are stored already. */
  putIntroduced?(entries: readonly IntroducedEntry[]): Promise<void>
  /**
   * Optional: the objects `ids`, in that order, read as one batch (sorted ids may read faster); undefined
   * for one the store lacks.
   */
  getMany?(ids: readonly string[]): Promise<(GitObject | undefined)[]>
  /** Optional room for a server's clone pack (src/sync/serve/clone-pack.ts); a store without it serves clones object by object. */
  clonePacks?: ClonePackStore
}

/**
 * Blobs that belong to one generation of a clone pack, and the manifest that says which generation is
 * current. The store does not look inside them. Parts of a generation are written first, then `publish`
 * makes it current in one atomic write, so a reader never sees a manifest whose parts are not all there.
 */
export interface ClonePackStore {
  /** The current manifest, or undefined when none was published. */
  manifest(): Promise<Uint8Array | undefined>
  /** Part `index` of `generation`, or undefined when it is not there. */
  part(generation: number, index: number): Promise<Uint8Array | undefined>
  putPart(generation: number, index: number, bytes: Uint8Array): Promise<void>
  /** Make `manifest` (of `generation`) current, in one atomic write. */
  publish(generation: number, manifest: Uint8Array): Promise<void>
  /** Drop the parts of every generation not in `keep` (older packs, or a build that never finished). */
  prune(keep: readonly number[]): Promise<void>
}

/** One commit of the commit-graph index. */
export interface GraphEntry { id: string; generation: number; parents: string[] }

/** A change of one ref, as watchers see it. `old`/`new` undefined mean absent. */
export interface RefChange {
  name: string
  old: string | undefined
  new: string | undefined
}

export interface RefStore {
  get(name: string): Promise<string | undefined>
  /** All refs whose name starts with `prefix`, sorted by name. */
  list(prefix?: string): Promise<{ name: string; id: string }[]>
  /**
   * Atomically set `name` to `next` (undefined deletes) if it currently is `expected` (undefined: absent).
   * Returns false, changing nothing, when the ref is not `expected`.
   */
  cas(name: string, expected: string | undefined, next: string | undefined): Promise<boolean>
  /** Called after every successful change, in order. Returns the unsubscribe function. */
  watch(listener: (change: RefChange) => void): () => void
}

export interface Backend {
  readonly name: string
  readonly objects: ObjectStore
  readonly refs: RefStore
  /**
   * Optional: store `objects` and move one ref by compare-and-set in a single atomic write. Returns false,
   * writing nothing, when the ref is not `expected`. Repo uses it for commits when present (one write, not two).
   * A backend with `objects.putIntroduced` writes `introduced` (index entries of the commit) in the same write.
   */
  atomicWrite?(objects: readonly StoredObject[], ref: { name: string; expected: string | undefined; next: string | undefined },
    introduced?: readonly IntroducedEntry[]): Promise<boolean>
  /** Open the underlying storage; called once by Repo.open. */
  open(): Promise<void>
  close(): Promise<void>
}

/** A tiny in-order notifier shared by the backends. Listener errors are reported, never break a write. */
export class Watchers<T> {
  private readonly listeners = new Set<(v: T) => void>()
  add(fn: (v: T) => void): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }
  emit(v: T): void {
    for (const fn of [...this.listeners]) {
      try { fn(v) } catch (e) { queueMicrotask(() => { throw e }) }
    }
  }
}

/** A FIFO async mutex: `run` calls `fn` after every earlier call has settled. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve()
  run<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.tail.then(fn, fn)
    this.tail = r.then(() => undefined, () => undefined)
    return r
  }
}
