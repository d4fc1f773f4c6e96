// clone: a new store holding a remote's branches. Every remote branch becomes a local branch of the same
// name (and a remote-tracking ref), tags come along, and with `depth` only recent history is fetched.
import type { Backend } from '../../store/backend.js'
import { LarixError } from '../../store/errors.js'
import { Repo } from '../../store/repo.js'
import type { RepoOptions } from '../../store/repo.js'
import { fetch } from './fetch.js'
import type { FetchOptions, FetchResult } from './fetch.js'

export interface CloneOptions<V = unknown> extends Omit<FetchOptions, 'refs'>, Omit<RepoOptions<V>, 'backend'> {
  /** Where the clone lives (default: Repo.open's default, a level store at ./.larix). It must hold no branch yet. */
  backend?: Backend
}

export interface CloneResult {
  fetch: FetchResult
  /** The local branches created, sorted. */
  branches: string[]
  /** The remote's default branch (what its HEAD points at), when it said. */
  head?: string
}

/**
 * Clone the remote at `url` into a new store and return it, open.
 * @example
 * const repo = await clone('http://127.0.0.1:8080/data.git', { backend: memoryBackend() })
 * await repo.branch('main').get('todo/1')
 */
export async function clone<V = unknown>(url: string, opts: CloneOptions<V> = {}): Promise<Repo<V>> {
  const repo = await Repo.open<V>(opts)
  try {
    await cloneInto(repo, url, opts)
    return repo
  } catch (e) {
    await repo.close().catch(() => {})
    throw e
  }
}

/** Clone into a store already open (it must hold no branch yet); says what was fetched and created. */
export async function cloneInto(repo: Repo<unknown>, url: string, opts: Omit<FetchOptions, 'refs'> = {}): Promise<CloneResult> {
  const existing = await repo.branches()
  if (existing.length > 0) {
    throw new LarixError('LARIX_EXISTS', `cannot clone into a store that has branches already (${existing.slice(0, 5).join(', ')})`, { branches: existing })
  }
  const fetched = await fetch(repo, url, { ...opts, tags: opts.tags ?? true })
  const branches: string[] = []
  for (const r of fetched.refs) {
    if (!r.remoteRef.startsWith('refs/heads/')) continue
    if (await repo.backend.refs.cas(r.remoteRef, undefined, r.id)) branches.push(r.remoteRef.slice('refs/heads/'.length))
  }
  branches.sort()
  const result: CloneResult = { fetch: fetched, branches }
  if (fetched.head !== undefined) result.head = fetched.head
  return result
}
