// pull = fetch + larix merge: the remote branch is fetched into `refs/remotes/<remote>/<branch>`, then
// merged into the local branch with the store's content-aware mergers (per key for JSON), not Git's line
// merge. A conflict leaves the local branch where it was and is returned, with its paths.
import { BadArgumentError } from '../../store/errors.js'
import { branchRef } from '../../store/refs.js'
import type { MergeResult, Repo } from '../../store/repo.js'
import { fetch } from './fetch.js'
import type { FetchOptions, FetchResult } from './fetch.js'
import { displayUrl } from './remote.js'

export interface PullOptions extends Omit<FetchOptions, 'refs'> {
  /** The local branch to merge into (default `main`). */
  branch?: string
  /** The remote branch to merge (default: the same name as `branch`). */
  remoteBranch?: string
  /** The merge commit's message. */
  message?: string
  author?: string
}

export interface PullResult<V = unknown> {
  fetch: FetchResult
  /** The remote branch's commit that was merged. */
  remoteId: string
  /** The merge: `up-to-date`, `fast-forward`, `merged`, or `conflict` (the branch unchanged). */
  merge: MergeResult<V>
}

/**
 * Fetch `remoteBranch` from `url` and merge it into `branch`.
 * @example
 * const r = await pull(repo, 'http://127.0.0.1:8080/data.git', { branch: 'main' })
 * if (r.merge.status === 'conflict') console.log(r.merge.conflicts)
 */
export async function pull<V>(repo: Repo<V>, url: string, opts: PullOptions = {}): Promise<PullResult<V>> {
  const branch = opts.branch ?? 'main'
  branchRef(branch)
  const remoteBranch = opts.remoteBranch ?? branch
  const remoteRef = branchRef(remoteBranch)
  if ('refs' in opts) throw new BadArgumentError('pull fetches one branch: use remoteBranch, not refs', 'refs')
  const fetched = await fetch(repo as Repo<unknown>, url, { ...opts, refs: [remoteRef], tags: opts.tags ?? false })
  const ref = fetched.refs.find(r => r.remoteRef === remoteRef)!
  const message = opts.message ?? `Merge branch '${remoteBranch}' of ${displayUrl(url)} into ${branch}`
  const mergeOptions = opts.author === undefined ? { message } : { message, author: opts.author }
  const merge = await repo.branch(branch).merge(ref.id, mergeOptions)
  return { fetch: fetched, remoteId: ref.id, merge }
}
