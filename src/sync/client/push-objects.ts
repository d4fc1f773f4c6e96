// What a push must send: every object reachable from our tip that is not reachable from what the remote
// already has (Git's `rev-list --objects tip --not <remote refs>`). Commits are walked by generation
// number, so the walk stops as soon as every commit left is one the remote has; trees and blobs of the
// boundary commits (the remote's commits our new ones build on) are excluded, the rest of the new
// commits' trees sent.
import { Heap } from '../../store/history.js'
import { decodeTree } from '../../store/objects.js'
import type { StoredObject } from '../../store/objects.js'
import type { Repo } from '../../store/repo.js'
import { NotFoundError } from '../../store/errors.js'
import { peelToCommit } from './negotiate.js'

const NEW = 1, THEIRS = 2

/**
 * The objects to send so that the remote, which has `theirs` (ref values it advertised; ones we lack are
 * ignored), can hold `tip`. Commits first, newest first, then trees and blobs.
 */
export async function objectsToPush(repo: Repo<unknown>, tip: string, theirs: Iterable<string>): Promise<StoredObject[]> {
  const reader = repo.reader
  const flags = new Map<string, number>()
  const heap = new Heap<string>()
  const queued = new Set<string>()
  let newQueued = 0 // queued commits not (yet) known to be the remote's: the walk ends when none is left
  const enqueue = async (id: string, flag: number) => {
    const had = flags.get(id)
    if (had !== undefined) {
      if ((flag & THEIRS) && !(had & THEIRS)) {
        flags.set(id, had | THEIRS)
        if (queued.has(id)) newQueued--
      }
      return
    }
    flags.set(id, flag)
    queued.add(id)
    if (!(flag & THEIRS)) newQueued++
    heap.push(await reader.generation(id), id)
  }
  await enqueue(tip, NEW)
  for (const id of theirs) {
    const c = await peelToCommit(repo, id)
    if (c !== undefined) await enqueue(c, THEIRS)
  }
  const commits: string[] = []
  const boundary = new Set<string>()
  while (heap.size > 0 && newQueued > 0) {
    const id = heap.pop()!
    queued.delete(id)
    const f = flags.get(id)!
    if (!(f & THEIRS)) newQueued--
    const c = await reader.commit(id)
    if (f & THEIRS) {
      for (const p of c.parents) await enqueue(p, THEIRS)
    } else {
      commits.push(id)
      for (const p of c.parents) {
        await enqueue(p, NEW)
        if (flags.get(p)! & THEIRS) boundary.add(p)
      }
    }
  }
  // Parents that turned out to be the remote's after their child was walked are boundary commits too.
  for (const id of commits) for (const p of (await reader.commit(id)).parents) if (flags.get(p)! & THEIRS) boundary.add(p)

  const get = async (id: string): Promise<StoredObject> => {
    const o = await repo.backend.objects.get(id)
    if (!o) throw new NotFoundError('object', id)
    return { id, type: o.type, body: o.body }
  }
  const excluded = new Set<string>()
  const exclude = async (treeId: string): Promise<void> => {
    if (excluded.has(treeId)) return
    excluded.add(treeId)
    const o = await repo.backend.objects.get(treeId)
    if (!o) return
    for (const e of decodeTree(o.body)) {
      if (e.mode === '40000') await exclude(e.id)
      else if (e.mode !== '160000') excluded.add(e.id)
    }
  }
  for (const b of boundary) await exclude((await reader.commit(b)).tree)

  const out: StoredObject[] = []
  const sent = new Set<string>()
  for (const id of commits) out.push(await get(id))
  const add = async (treeId: string): Promise<void> => {
    if (excluded.has(treeId) || sent.has(treeId)) return
    sent.add(treeId)
    const tree = await get(treeId)
    out.push(tree)
    for (const e of decodeTree(tree.body)) {
      if (e.mode === '40000') await add(e.id)
      else if (e.mode !== '160000' && !excluded.has(e.id) && !sent.has(e.id)) {
        sent.add(e.id)
        out.push(await get(e.id))
      }
    }
  }
  for (const id of commits) await add((await reader.commit(id)).tree)
  return out
}
