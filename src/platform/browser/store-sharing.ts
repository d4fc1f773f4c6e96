// Browser flavour: several tabs and workers of one origin can open the same IndexedDB store at once, and
// IndexedDB has nothing like LevelDB's lock. Ref updates therefore run under a Web Lock named for the store
// and re-read the ref from the database, and a BroadcastChannel tells the other contexts what moved.

/** True when other contexts (browser tabs, workers) may write the same store at the same time. */
export const sharedAcrossContexts = true

interface LockManagerLike { request<T>(name: string, fn: () => Promise<T>): Promise<T> }

/** Run `fn` holding the Web Lock `name`, shared by every tab and worker of this origin. */
export function withStoreLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks
  // Web Locks exist in every current browser (secure contexts and localhost); without them, one context only.
  return locks ? locks.request(name, fn) : fn()
}

export interface StoreChannel { post(message: unknown): void; close(): void }

/** A BroadcastChannel to the other contexts on the same store. */
export function openStoreChannel(name: string, onMessage: (message: unknown) => void): StoreChannel | undefined {
  if (typeof BroadcastChannel === 'undefined') return undefined
  const ch = new BroadcastChannel(name)
  ch.onmessage = (ev: MessageEvent) => onMessage(ev.data)
  return { post: (m) => ch.postMessage(m), close: () => ch.close() }
}
