// Node flavour: a LevelDB directory is locked by one process (LevelDB's LOCK file), so the in-process
// mutex and ref cache of the level backend are the whole truth. Nothing is shared with other contexts.

/** True when other contexts (browser tabs, workers) may write the same store at the same time. */
export const sharedAcrossContexts = false

/** Run `fn` holding the store-wide lock named `name` (in Node the per-process mutex is enough). */
export function withStoreLock<T>(_name: string, fn: () => Promise<T>): Promise<T> {
  return fn()
}

export interface StoreChannel { post(message: unknown): void; close(): void }

/** A channel to the other contexts on the same store; none in Node. */
export function openStoreChannel(_name: string, _onMessage: (message: unknown) => void): StoreChannel | undefined {
  return undefined
}
