// The shallow boundary of a store made by a shallow fetch: commits whose parents were deliberately not
// fetched. It lives in the store itself, so every backend keeps it and it travels with the data:
// `refs/larix/shallow` points at a blob holding the ids, one per line, sorted (the format of Git's
// `.git/shallow`). Reading history must treat those commits as roots, as Git does with its shallow file.
import type { Repo } from '../../store/repo.js'
import type { CommitObject } from '../../store/objects.js'
import { objectId } from '../../store/objects.js'
import { BackendError } from '../../store/errors.js'

/** The ref that names the blob listing the shallow commits. */
export const SHALLOW_REF = 'refs/larix/shallow'

const utf8 = new TextEncoder()

/** The shallow boundary recorded in `repo` (empty for a complete store). */
export async function readShallow(repo: Repo<unknown>): Promise<Set<string>> {
  const id = await repo.backend.refs.get(SHALLOW_REF)
  if (id === undefined) return new Set()
  const o = await repo.backend.objects.get(id)
  if (!o || o.type !== 'blob') throw new BackendError(`${SHALLOW_REF} points at ${id}, which is not a stored blob`, 'shallow')
  return new Set(new TextDecoder().decode(o.body).split('\n').filter(s => /^[0-9a-f]{40}$/.test(s)))
}

/** Record `ids` as the shallow boundary (compare-and-set against what was read) and apply it to reads. */
export async function writeShallow(repo: Repo<unknown>, ids: ReadonlySet<string>): Promise<void> {
  const refs = repo.backend.refs
  for (let attempt = 0; ; attempt++) {
    const current = await refs.get(SHALLOW_REF)
    let next: string | undefined
    if (ids.size > 0) {
      const body = utf8.encode([...ids].sort().map(id => id + '\n').join(''))
      next = objectId('blob', body)
      await repo.backend.objects.putMany([{ id: next, type: 'blob', body }])
    }
    if (await refs.cas(SHALLOW_REF, current, next)) break
    if (attempt >= 5) throw new BackendError(`${SHALLOW_REF} kept changing while it was being written`, 'shallow')
  }
  graftShallow(repo, ids)
}

/**
 * Load the recorded boundary and make this Repo's reads stop at it (a store that reads it itself, at open,
 * is left alone). Cheap when nothing is recorded.
 */
export async function applyShallow(repo: Repo<unknown>): Promise<Set<string>> {
  const ids = await readShallow(repo)
  const reader = repo.reader as unknown as GraftableReader
  if (typeof reader.setShallow !== 'function' && (ids.size > 0 || reader[GRAFT] !== undefined)) graftShallow(repo, ids)
  return ids
}

const GRAFT = Symbol.for('larix.shallowGraft')

interface GraftableReader {
  commit(id: string): Promise<CommitObject>
  cachedCommit(id: string): CommitObject | undefined
  /** The store's own support, when it has it: replace the commits its reads treat as roots. */
  setShallow?(ids: Iterable<string>): void
  [GRAFT]?: Set<string>
}

/**
 * Make `repo`'s commit reads show shallow commits without parents, so log, merge and LCA searches stop at
 * the boundary instead of failing on parents that were never fetched. Uses the store's own
 * `reader.setShallow` when the store has it; otherwise wraps this Repo's reader (the store core does not
 * know about shallow stores yet: this shim goes when it does).
 */
export function graftShallow(repo: Repo<unknown>, ids: ReadonlySet<string>): void {
  const reader = repo.reader as unknown as GraftableReader
  if (typeof reader.setShallow === 'function') {
    reader.setShallow(ids)
    return
  }
  const target = reader[GRAFT]
  if (target) {
    target.clear()
    for (const id of ids) target.add(id)
    return
  }
  const set = new Set(ids)
  reader[GRAFT] = set
  const commit = reader.commit.bind(reader)
  const cachedCommit = reader.cachedCommit.bind(reader)
  const strip = (id: string, c: CommitObject): CommitObject => (set.has(id) && c.parents.length > 0 ? { ...c, parents: [] } : c)
  reader.commit = async id => strip(id, await commit(id))
  reader.cachedCommit = id => {
    const c = cachedCommit(id)
    return c === undefined ? undefined : strip(id, c)
  }
}
