// push: a compare-and-set update of one remote branch. The old id sent is what the remote advertised, so a
// remote that moved meanwhile refuses the update; one that is ahead of us, or on another line of history,
// is refused before anything is sent (LARIX_PUSH_REJECTED). With `pullFirst`, a refusal becomes
// pull-then-push: the remote branch is fetched, merged with larix's mergers, and the merge pushed.
import { BadArgumentError, ConflictError, NotFoundError } from '../../store/errors.js'
import { concatBytes } from '../../store/bytes.js'
import { isAncestor } from '../../store/history.js'
import { branchRef } from '../../store/refs.js'
import type { Repo } from '../../store/repo.js'
import { writePack } from '../pack/index.js'
import {
  PktLineReader, ProtocolError, RemoteError, ZERO_ID, demuxSideband, formatReceiveRequest, readReportStatus,
} from '../wire/index.js'
import type { ReportStatus } from '../wire/index.js'
import { PushRejectedError } from './errors.js'
import type { PushRejection } from './errors.js'
import { checkRemoteName, localRefFor } from './fetch.js'
import type { ProgressListener } from './progress.js'
import { pull } from './pull.js'
import type { PullResult } from './pull.js'
import { objectsToPush } from './push-objects.js'
import { applyShallow } from './shallow.js'
import { AGENT, openSession } from './transport.js'
import type { TransportOptions } from './transport.js'

export interface PushOptions extends TransportOptions {
  /** The local branch to push (default `main`). */
  branch?: string
  /** The remote branch to update (default: the same name). */
  remoteBranch?: string
  /** The name under `refs/remotes/` whose tracking ref follows a successful push (default `origin`). */
  remote?: string
  /** Update the remote branch even when that loses its commits (Git's --force). The old id is still checked. */
  force?: boolean
  /** On a rejection because the remote moved: pull (fetch + larix merge) and push again. */
  pullFirst?: boolean
  /** How many pull-then-push rounds `pullFirst` may take before giving up (default 3). */
  retries?: number
  /** The message of a merge made by `pullFirst`. */
  message?: string
  onProgress?: ProgressListener
}

export interface PushResult {
  url: string
  /** The remote ref updated: `refs/heads/main`. */
  ref: string
  status: 'created' | 'updated' | 'forced' | 'up-to-date'
  /** Where the remote branch was (absent when the push created it). */
  oldId?: string
  newId: string
  /** Objects sent. */
  objects: number
  /** Bytes of pack sent. */
  bytes: number
  /** The pulls `pullFirst` made before the push went through. */
  pulls: PullResult[]
}

/**
 * Push `branch` to `url`. Rejected pushes throw PushRejectedError (LARIX_PUSH_REJECTED) unless `pullFirst`.
 * @example
 * await push(repo, 'http://127.0.0.1:8080/data.git', { branch: 'main', pullFirst: true })
 */
export async function push(repo: Repo<unknown>, url: string, opts: PushOptions = {}): Promise<PushResult> {
  const branch = opts.branch ?? 'main'
  const localRef = branchRef(branch)
  const remoteRef = branchRef(opts.remoteBranch ?? branch)
  const remote = opts.remote ?? 'origin'
  checkRemoteName(remote)
  const retries = opts.retries ?? 3
  if (!Number.isInteger(retries) || retries < 0) throw new BadArgumentError(`retries must be a whole number >= 0, got ${retries}`, 'retries')
  const pulls: PullResult[] = []
  for (let attempt = 0; ; attempt++) {
    try {
      return { ...(await pushOnce(repo, url, localRef, remoteRef, remote, opts)), pulls }
    } catch (e) {
      if (!opts.pullFirst || !(e instanceof PushRejectedError) || e.data.rejection === 'remote' || attempt >= retries) throw e
    }
    const pulled = await pull(repo, url, {
      ...opts, branch, remoteBranch: opts.remoteBranch ?? branch, remote, message: opts.message,
    })
    pulls.push(pulled)
    if (pulled.merge.status === 'conflict') {
      throw new ConflictError(`push rejected, and merging ${remoteRef} of the remote into ${branch} stopped on conflicts: ${pulled.merge.conflicts.map(c => c.path).join(', ')}`, {
        branch, conflicts: pulled.merge.conflicts,
      })
    }
  }
}

async function pushOnce(repo: Repo<unknown>, url: string, localRef: string, remoteRef: string, remote: string, opts: PushOptions): Promise<Omit<PushResult, 'pulls'>> {
  const tip = await repo.backend.refs.get(localRef)
  if (tip === undefined) throw new NotFoundError('branch', localRef.slice('refs/heads/'.length))
  await applyShallow(repo)
  const progress = opts.onProgress
  const session = await openSession(url, 'git-receive-pack', { ...opts, protocolVersion: 0 })
  try {
    const adv = session.advertisement
    if (adv.version === 2) throw new ProtocolError('receive-pack answered with protocol v2, which has no push')
    const oldId = adv.refs.find(r => r.name === remoteRef)?.id
    const base = { url: session.location.display, ref: remoteRef, newId: tip }
    const track = () => moveTrackingRef(repo, localRefFor(remoteRef, remote), tip)
    if (oldId === tip) {
      await track()
      return { ...base, oldId, status: 'up-to-date', objects: 0, bytes: 0 }
    }
    let forced = false
    if (oldId !== undefined) {
      const have = await repo.backend.objects.has(oldId)
      const fastForward = have && await isAncestor(repo.reader, oldId, tip).catch(() => false)
      if (!fastForward) {
        if (!opts.force) {
          throw rejection(remoteRef, have ? 'non-fast-forward' : 'fetch-first', have ? 'non-fast-forward' : 'fetch first', oldId, tip)
        }
        forced = true
      }
    }

    progress?.({ phase: 'counting', objects: 0 })
    const theirs = [...adv.refs.map(r => r.id), ...adv.haves]
    const have: string[] = []
    for (const id of new Set(theirs)) if (await repo.backend.objects.has(id)) have.push(id)
    const objects = await objectsToPush(repo, tip, have)
    progress?.({ phase: 'counting', objects: objects.length, total: objects.length })

    const caps = adv.capabilities
    const chosen: string[] = []
    const reportStatus = caps.has('report-status')
    if (reportStatus) chosen.push('report-status')
    const sideband = caps.has('side-band-64k')
    if (sideband) chosen.push('side-band-64k')
    if (!progress && caps.has('quiet')) chosen.push('quiet')
    if (caps.has('agent')) chosen.push('agent=' + AGENT)
    const parts: Uint8Array[] = [formatReceiveRequest({
      commands: [{ ref: remoteRef, oldId: oldId ?? ZERO_ID, newId: tip }], capabilities: chosen,
    })]
    let bytes = 0
    for await (const chunk of writePack(objects, objects.length, { level: 1 })) {
      parts.push(chunk)
      bytes += chunk.length
      progress?.({ phase: 'sending', objects: objects.length, total: objects.length, bytes })
    }
    const reader = await session.request(concatBytes(parts))
    try {
      if (reportStatus) {
        const status = sideband
          ? await readReportStatus(new PktLineReader(demuxSideband(reader, { onProgress: progress && (message => progress({ phase: 'remote', message })) })))
          : await readReportStatus(reader)
        checkStatus(status, remoteRef, oldId, tip)
      }
    } finally {
      if (session.stateless) await reader.close().catch(() => {})
    }
    await track()
    progress?.({ phase: 'done', objects: objects.length, bytes })
    const result: Omit<PushResult, 'pulls'> = { ...base, status: oldId === undefined ? 'created' : forced ? 'forced' : 'updated', objects: objects.length, bytes }
    if (oldId !== undefined) result.oldId = oldId
    return result
  } finally {
    await session.close()
  }
}

function checkStatus(status: ReportStatus, ref: string, oldId: string | undefined, tip: string): void {
  if (!status.unpackOk) throw new RemoteError(`the remote could not unpack what we sent: ${status.unpackError ?? 'unknown error'}`)
  const mine = status.refs.find(r => r.ref === ref)
  if (!mine) throw new ProtocolError(`the remote's report says nothing about ${ref}`)
  if (mine.ok) return
  const reason = mine.reason
  const kind: PushRejection = /non-fast-forward/.test(reason) ? 'non-fast-forward'
    : /fetch first/.test(reason) ? 'fetch-first'
      : /stale info|failed to lock|cannot lock|failed to update ref/.test(reason) ? 'stale'
        : 'remote'
  throw rejection(ref, kind, reason, oldId, tip)
}

function rejection(ref: string, kind: PushRejection, reason: string, remoteId: string | undefined, localId: string): PushRejectedError {
  const advice: Record<PushRejection, string> = {
    'fetch-first': 'the remote has commits this store does not: pull first (or push with pullFirst)',
    'non-fast-forward': 'the remote branch is not an ancestor of ours: pull first (or push with pullFirst), or force',
    stale: 'the remote branch moved while we pushed: pull and push again',
    remote: 'the remote refused the update',
  }
  const data: PushRejectedError['data'] = { ref, rejection: kind, reason, localId }
  if (remoteId !== undefined) data.remoteId = remoteId
  return new PushRejectedError(`push to ${ref} rejected (${reason}): ${advice[kind]}`, data)
}

/** After a push, the tracking ref shows where the remote branch now is. A lost race is not an error here. */
async function moveTrackingRef(repo: Repo<unknown>, ref: string, id: string): Promise<void> {
  const cur = await repo.backend.refs.get(ref)
  if (cur !== id) await repo.backend.refs.cas(ref, cur, id)
}


export interface DeleteRemoteBranchOptions extends TransportOptions {
  /** The remote branch to delete. */
  branch: string
  /** Delete it only if it is still here (compare-and-set); a remote that moved refuses (LARIX_PUSH_REJECTED, `stale`). */
  expected: string
  /** The name under `refs/remotes/` whose tracking ref goes with the branch (default `origin`). */
  remote?: string
}

/**
 * Delete a remote branch by compare-and-set: the remote deletes it only if it still points at `expected`.
 * Returns false when the remote has no such branch (nothing to do). The tracking ref goes too.
 * @example await deleteRemoteBranch(repo, 'http://127.0.0.1:8080/', { branch: 'old', expected: id })
 */
export async function deleteRemoteBranch(repo: Repo<unknown>, url: string, opts: DeleteRemoteBranchOptions): Promise<boolean> {
  const remoteRef = branchRef(opts.branch)
  const remote = opts.remote ?? 'origin'
  checkRemoteName(remote)
  const session = await openSession(url, 'git-receive-pack', { ...opts, protocolVersion: 0 })
  try {
    const adv = session.advertisement
    if (adv.version === 2) throw new ProtocolError('receive-pack answered with protocol v2, which has no push')
    const current = adv.refs.find(r => r.name === remoteRef)?.id
    const dropTracking = async () => {
      const ref = localRefFor(remoteRef, remote)
      const cur = await repo.backend.refs.get(ref)
      if (cur !== undefined) await repo.backend.refs.cas(ref, cur, undefined)
    }
    if (current === undefined) { await dropTracking(); return false }
    if (current !== opts.expected) throw rejection(remoteRef, 'stale', 'stale info', current, ZERO_ID)
    const caps = adv.capabilities
    if (!caps.has('delete-refs')) throw new RemoteError(`the remote does not allow deleting branches (no delete-refs capability): delete ${opts.branch} there by hand`)
    const chosen: string[] = ['delete-refs']
    const reportStatus = caps.has('report-status')
    if (reportStatus) chosen.push('report-status')
    if (caps.has('agent')) chosen.push('agent=' + AGENT)
    // A delete-only request carries no pack (gitprotocol-pack(5)).
    const reader = await session.request(formatReceiveRequest({ commands: [{ ref: remoteRef, oldId: current, newId: ZERO_ID }], capabilities: chosen }))
    try {
      if (reportStatus) checkStatus(await readReportStatus(reader), remoteRef, current, ZERO_ID)
    } finally {
      if (session.stateless) await reader.close().catch(() => {})
    }
    await dropTracking()
    return true
  } finally {
    await session.close()
  }
}
