// Where unpacked objects wait until their pack is verified.
//
// A pack is only known good when its trailing SHA-1 has been read, after every object in it; ObjectStore
// has no delete, so an object written to the destination before then could not be taken back if the pack
// turns out corrupt or truncated. unpack() therefore writes each object to a staging store first and copies
// to the destination only after the trailer checks out. The trade-off:
//  - the default staging store is this in-memory one: simplest and fastest, but it holds every object of
//    the pack at once, so memory grows with the pack (a 100 MB clone needs ~100 MB of objects in memory);
//  - a caller that receives big packs passes a disk-backed staging store (a temporary level store, a
//    scratch directory of a .git backend): memory stays bounded, at the cost of writing each object twice;
//  - a caller that accepts unreferenced garbage after a failure passes the destination itself as staging:
//    one write per object, bounded memory, and a failed pack leaves its valid objects behind (harmless in a
//    content-addressed store, since no ref points at them, but no longer "unchanged").
import type { ObjectStore } from '../../store/backend.js'
import type { GitObject, StoredObject } from '../../store/objects.js'

/** The default staging store of unpack(): a Map. Discard it (or call clear) when done. */
export class MemoryStaging implements ObjectStore {
  // The objects are kept as given (ids included) so the final copy hands them on without rebuilding them.
  readonly map = new Map<string, StoredObject>()
  async get(id: string): Promise<GitObject | undefined> { return this.map.get(id) }
  async has(id: string): Promise<boolean> { return this.map.has(id) }
  async putMany(objects: readonly StoredObject[]): Promise<void> {
    for (const o of objects) this.map.set(o.id, o)
  }
  clear(): void { this.map.clear() }
}
