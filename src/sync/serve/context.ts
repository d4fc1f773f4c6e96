// What every server session needs: the store, a long-lived reader (its caches of commits and generation
// numbers outlive one request), and the server's settings.
import type { ObjectStore, RefStore } from '../../store/backend.js'
import type { LRU } from '../../store/lru.js'
import type { ObjectReader } from '../../store/tree.js'
import type { ClonePacks } from './clone-pack.js'
import type { HeadOption } from './refs.js'

export interface ServeContext {
  objects: ObjectStore
  refs: RefStore
  reader: ObjectReader
  /**
   * Introduced-objects index entries read or built (src/store/introduced.ts), by commit: an entry never
   * changes (it is a function of the commit), so repeated clones read the index from memory.
   */
  introduced: LRU<string, Uint8Array>
  head: HeadOption | undefined
  /** `agent=` value, e.g. `larix/0.1.0`. */
  agent: string
  /** The store's clone packs (clone-pack.ts); undefined when the store has no room for them or they are off. */
  clonePacks: ClonePacks | undefined
  /** zlib level of the packs sent. */
  packLevel: number
  /** Where received packs wait until verified; a fresh one per push. */
  staging: (() => ObjectStore) | undefined
  /** Most ref updates one push may carry. */
  maxPushCommands: number
  /** Most `have` lines one fetch request may carry. */
  maxHaves: number
  /** Told about every request that failed (the other side was told too). */
  onError: ((e: unknown) => void) | undefined
}
