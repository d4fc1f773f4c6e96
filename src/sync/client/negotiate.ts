// Which of our commits to offer as `have`s: newest first from every local ref, skipping the ancestors of
// commits the server has already acknowledged (it has those too), as Git's default negotiator does.
import { Heap } from '../../store/history.js'
import { decodeTag } from '../../store/objects.js'
import type { Repo } from '../../store/repo.js'

/** The commit a ref's object stands for: itself, or what an (annotated) tag chain points at. */
export async function peelToCommit(repo: Repo<unknown>, id: string): Promise<string | undefined> {
  for (let depth = 0; depth < 16; depth++) {
    const o = await repo.backend.objects.get(id)
    if (!o) return undefined
    if (o.type === 'commit') return id
    if (o.type !== 'tag') return undefined
    id = decodeTag(o.body).object
  }
  return undefined
}

export class HaveWalker {
  private readonly heap = new Heap<string>()
  private readonly queued = new Set<string>()
  private readonly common = new Set<string>()
  private readonly offered = new Set<string>()

  /** Commits offered before the walk: the remote-tracking tips, which the server most likely has. */
  private readonly first: string[] = []

  private constructor(private readonly repo: Repo<unknown>) {}

  /**
   * A walker over everything reachable from `tips` (ref values; tags are peeled, missing objects skipped),
   * offering the `likely` ones (say, the remote-tracking tips) first.
   */
  static async start(repo: Repo<unknown>, tips: Iterable<string>, likely: Iterable<string> = []): Promise<HaveWalker> {
    const w = new HaveWalker(repo)
    for (const t of likely) {
      const c = await peelToCommit(repo, t)
      if (c !== undefined && !w.first.includes(c)) w.first.push(c)
    }
    for (const t of tips) {
      const c = await peelToCommit(repo, t)
      if (c !== undefined) await w.push(c)
    }
    return w
  }

  get exhausted(): boolean { return this.first.length === 0 && this.heap.size === 0 }

  private async push(id: string): Promise<void> {
    if (this.queued.has(id)) return
    this.queued.add(id)
    try {
      const c = await this.repo.reader.commit(id)
      this.heap.push(c.committer.timestamp, id)
    } catch {
      // A commit we do not have (a damaged store): it simply cannot be offered.
    }
  }

  /** Up to `n` more commits to offer, newest first. */
  async next(n: number): Promise<string[]> {
    const out: string[] = []
    while (out.length < n && this.first.length > 0) {
      const id = this.first.shift()!
      if (this.common.has(id) || this.offered.has(id)) continue
      this.offered.add(id)
      out.push(id)
    }
    while (out.length < n && this.heap.size > 0) {
      const id = this.heap.pop()!
      const c = await this.repo.reader.commit(id)
      if (this.common.has(id)) {
        for (const p of c.parents) this.common.add(p)
        continue
      }
      for (const p of c.parents) await this.push(p)
      if (this.offered.has(id)) continue
      this.offered.add(id)
      out.push(id)
    }
    return out
  }

  /** The server has `id`: do not offer its ancestors. */
  async ack(id: string): Promise<void> {
    if (this.common.has(id)) return
    this.common.add(id)
    // Its parents were queued when it was offered: mark them now, before they come up.
    try {
      for (const p of (await this.repo.reader.commit(id)).parents) this.common.add(p)
    } catch { /* not ours to walk */ }
  }
}
