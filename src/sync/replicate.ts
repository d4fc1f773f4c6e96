// Continuous replication: keep branches of a store in sync with peers, for as long as it runs.
//
// One sync with one peer = fetch the peer's branches (into `refs/remotes/<peer-id>/<branch>`), merge each
// fetched head into the local branch with the store's mergers (a fast-forward when possible), then push
// the local head by compare-and-set. A push the peer refuses because its branch moved meanwhile becomes
// fetch → merge → push again (bounded). Merge conflicts are not retried: they are reported in the status
// (with the structured conflicts) and the branch is left as it was. Any other failure (the peer is down, a
// connection cut) backs off exponentially with jitter, capped. At most one sync per peer is in flight.
//
// What wakes a sync (no busy polling):
//  - local head changes (`refs.watch`), debounced a few milliseconds so that bursts coalesce; a peer is
//    only synced when the changed branch differs from what we know the peer has (its tracking ref);
//  - remote head changes, through an injectable `watchRemote` (a long-lived notification channel); a
//    (re)connection of that channel (`onOpen`) re-syncs, since changes may have been missed meanwhile;
//  - a slow safety-net poll: every `pollMs` (default 30 s when no `watchRemote` is given, off otherwise);
//  - `syncNow()`, and the first sync at start.
//
// Resumable: the tracking refs record what was last fetched from each peer, so a replicator started again
// over the same store knows the lag at once and fetches only what is new (the refs are fetch's "haves").
//
// Deleted branches: the tracking ref is the common base of a three-way decision on the branch itself. Deleted
// here and unchanged there (the peer's head is still the tracking ref): deleted there, by compare-and-set.
// Deleted there and unchanged here: deleted here. Deleted on one side and moved on the other: the move wins
// and the branch comes back on both sides (no commit is ever dropped by replication). Without a tracking ref
// (never synced) nothing is deleted: a branch missing on one side is created there.
import { BadArgumentError, LarixError } from '../store/errors.js'
import { Heap } from '../store/history.js'
import type { Conflict } from '../store/merge/trees.js'
import { branchRef, refNameProblem } from '../store/refs.js'
import type { Repo } from '../store/repo.js'
import { PushRejectedError } from './client/errors.js'
import { fetch } from './client/fetch.js'
import { deleteRemoteBranch, push } from './client/push.js'
import { displayUrl, parseRemoteUrl } from './client/remote.js'
import type { TlsOptions, TransportOptions } from './client/transport.js'
import { watchRemote } from './transports/watch.js'

/** The TLS options of the transports, whatever their shape (they travel untouched to `watchRemote`). */
export type TlsOption = TransportOptions extends { tls?: infer T } ? T : never

/** A peer with its own name (for its tracking refs) and transport options (headers, connect, tls…). */
export interface PeerSpec extends TransportOptions {
  url: string
  /** The peer id under `refs/remotes/` (default: derived from the URL without credentials, see {@link peerId}). */
  name?: string
}

/** A remote head change, as a notification channel reports it (`commit: null`: the branch was deleted). */
export interface RemoteHeadEvent { branch: string; commit: string | null }

export interface WatchRemoteOptions {
  /** The branches of interest (absent: all). */
  branches?: string[]
  headers?: Record<string, string>
  tls?: TlsOption
  onHead(ev: RemoteHeadEvent): void
  onError?(e: unknown): void
  /** Called on every (re)connection of the channel; the replicator syncs then, as changes may have been missed. */
  onOpen?(): void
}

/** Opens a notification channel to a peer (the WebSocket one lives in transports/watch.ts). */
export type WatchRemote = (url: string, opts: WatchRemoteOptions) => { close(): Promise<void> }

/** The WebSocket watch channel of a larix replica (transports/watch.ts), in this file's terms. */
const defaultWatchRemote: WatchRemote = (url, o) => watchRemote(url, {
  onHead: ev => o.onHead(ev),
  ...(o.branches ? { branches: o.branches } : {}),
  ...(o.headers ? { headers: o.headers } : {}),
  ...(o.tls !== undefined ? { tls: o.tls as TlsOptions } : {}),
  ...(o.onError ? { onError: (e: unknown) => o.onError!(e) } : {}),
  onConnect: () => o.onOpen?.(),
})

export interface BackoffOptions {
  /** The first delay after a failure (default 250 ms). */
  minMs?: number
  /** The longest delay (default 30 s). */
  maxMs?: number
}

export interface ReplicateOptions extends TransportOptions {
  peers: readonly (string | PeerSpec)[]
  /** Branch names to keep in sync, or 'all' (every local branch and every branch of each peer). Default 'all'. */
  branches?: readonly string[] | 'all'
  /**
   * A notification channel for remote head changes. Default: the WebSocket watch channel of a larix replica
   * (`/api/v1/watch`) for http(s):// and ws(s):// peers, with the safety-net poll kept for peers that have none
   * (a plain Git host); `false`: none (only the poll).
   */
  watchRemote?: WatchRemote | false
  backoff?: BackoffOptions
  /** Safety-net poll interval in ms (0: none). Default 30,000 without watchRemote, 0 with it. */
  pollMs?: number
  /** How long local head changes are collected before a sync (default 5 ms). */
  debounceMs?: number
  /** Fetch-merge-push rounds after a refused push, before the sync counts as failed (default 5). */
  pushRetries?: number
  /** false: do nothing on its own (no first sync, no watches, no timers): only `syncNow` syncs. Default true. */
  auto?: boolean
  /** Called with a peer's status whenever it changes. */
  onStatus?: (status: PeerStatus) => void
  /** Aborting stops the replicator (and cancels transfers in flight). */
  signal?: AbortSignal
}

export type PeerState = 'idle' | 'syncing' | 'backoff' | 'stopped'

export interface ReplicationError {
  code: string
  message: string
  /** When it happened (ms since the epoch). */
  at: number
  /** The branch, for a merge conflict. */
  branch?: string
  /** The structured conflicts of a merge that stopped (the branch was left unchanged). */
  conflicts?: Conflict[]
}

export interface PeerStatus {
  /** The peer's URL, without credentials. */
  peer: string
  /** Its id: tracking refs are `refs/remotes/<id>/<branch>`. */
  id: string
  state: PeerState
  /** When the last sync finished without failing (ms since the epoch). */
  lastSync?: number
  /** The last error (kept after later successes; see `healthy`). */
  lastError?: ReplicationError
  /** Whether the last sync went through without an error or a conflict. */
  healthy: boolean
  /** Per branch, in commits: local commits the peer lacks (ahead), and the peer's we lack (behind), as last known. */
  lag: Record<string, { ahead: number; behind: number }>
  /** Failed attempts in a row (0 after a success). */
  attempts: number
  /** Syncs completed (with or without conflicts). */
  syncs: number
  /** In back-off: when the next attempt is due (ms since the epoch). */
  retryAt?: number
}

/** What one sync did to one branch. */
export interface BranchSyncResult {
  branch: string
  /** The peer's head as fetched (undefined: the peer lacks the branch). */
  remote?: string
  /** `deleted`: the peer deleted the branch and it had not moved here since, so it was deleted here too. */
  merge: 'none' | 'up-to-date' | 'fast-forward' | 'merged' | 'conflict' | 'deleted'
  /** `deleted`: the branch was deleted here and had not moved there since, so it was deleted there too. */
  push: 'none' | 'created' | 'updated' | 'forced' | 'up-to-date' | 'deleted'
  /** Fetch-merge-push rounds after refused pushes. */
  retries: number
}

export interface SyncEvent {
  peer: string
  id: string
  branches: BranchSyncResult[]
  /** Objects and bytes received by the sync's fetches. */
  objects: number
  bytes: number
  at: number
}

export interface ReplicatorEvents {
  status: PeerStatus
  sync: SyncEvent
  error: { peer: string; id: string; error: ReplicationError }
}

export interface Replicator {
  /** Every peer's status (copies). */
  status(): PeerStatus[]
  /**
   * Sync now with one peer (by URL, display URL or id) or all, even during a back-off; resolves after a
   * sync that started after this call, with the statuses. Failures are in the statuses, not thrown.
   */
  syncNow(peer?: string): Promise<PeerStatus[]>
  /** Resolves when no sync is in flight or queued (back-off timers may still be pending). */
  whenIdle(): Promise<void>
  /** Stop: no new syncs, timers and channels closed; resolves after the syncs in flight have finished. */
  stop(): Promise<void>
  on<E extends keyof ReplicatorEvents>(event: E, listener: (ev: ReplicatorEvents[E]) => void): () => void
}

/** The safety-net poll interval without a notification channel. */
export const DEFAULT_POLL_MS = 30_000
const DEFAULT_BACKOFF = { minMs: 250, maxMs: 30_000 }
/** Ahead/behind counts stop at this many commits. */
export const LAG_LIMIT = 10_000

/**
 * A stable, ref-safe peer id for a URL: its scheme, host, port and path (no credentials) made ref-safe,
 * plus a short hash of the URL so that different URLs never share an id.
 * @example peerId('http://ann:pw@127.0.0.1:8080/data.git') // 'http-127.0.0.1-8080-data.git-1c9a…'
 */
export function peerId(url: string): string {
  const shown = displayUrl(url)
  const readable = shown.replace(/^([a-z0-9+.-]+):\/\//i, '$1-').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/\.{2,}/g, '.')
    .replace(/-+/g, '-').replace(/^[-.]+|[-.]+$/g, '').slice(0, 60).replace(/[-.]+$/, '')
  return `${readable || 'peer'}-${fnv1a(shown)}`
}

function fnv1a(text: string): string {
  let h = 0x811c9dc5
  for (const b of new TextEncoder().encode(text)) {
    h ^= b
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h.toString(16).padStart(8, '0')
}

/**
 * Commits reachable from `a` and not from `b` (ahead), and the reverse (behind), each stopping at `limit`.
 * Walks both histories newest first by generation and stops as soon as only common commits are left.
 */
export async function aheadBehind(repo: Repo<unknown>, a: string | undefined, b: string | undefined, limit = LAG_LIMIT): Promise<{ ahead: number; behind: number }> {
  if (a === b) return { ahead: 0, behind: 0 }
  const reader = repo.reader
  const flags = new Map<string, number>()
  const heap = new Heap<string>()
  let open = 0 // queued commits not known to be common
  const add = async (id: string, f: number) => {
    const old = flags.get(id)
    if (old === undefined) {
      flags.set(id, f)
      if (f !== 3) open++
      heap.push(await reader.generation(id), id)
    } else if ((old | f) !== old) {
      flags.set(id, old | f)
      if ((old | f) === 3) open--
    }
  }
  if (a !== undefined) await add(a, 1)
  if (b !== undefined) await add(b, 2)
  let ahead = 0, behind = 0
  while (open > 0 && heap.size > 0 && (ahead < limit || behind < limit)) {
    const id = heap.pop()!
    const f = flags.get(id)!
    if (f === 1) { ahead++; open-- } else if (f === 2) { behind++; open-- }
    let parents: readonly string[] = []
    try {
      parents = (await reader.commit(id)).parents
    } catch (e) {
      // A commit outside the store (a shallow boundary): its history is simply not counted.
      if (!(e instanceof LarixError)) throw e
    }
    for (const p of parents) await add(p, f)
  }
  return { ahead: Math.min(ahead, limit), behind: Math.min(behind, limit) }
}

interface Peer extends Omit<PeerStatus, 'peer'> {
  url: string
  display: string
  transport: TransportOptions
  inFlight?: Promise<void>
  pendingForce: boolean
  pendingLocal: boolean
  /** Resolved after the next sync that starts. */
  waiting: (() => void)[]
  timer?: ReturnType<typeof setTimeout>
  channel?: { close(): Promise<void> }
}

function checkBranchName(name: unknown): string {
  if (typeof name !== 'string') throw new BadArgumentError(`a branch name is a string, got ${typeof name}`, 'branches')
  const p = refNameProblem('refs/heads/' + name)
  if (p) throw new BadArgumentError(`bad branch name ${JSON.stringify(name)}: it ${p}`, 'branches')
  return name
}

function checkMs(v: unknown, what: string, min = 0): number | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw new BadArgumentError(`${what} must be a number of milliseconds >= ${min}, got ${String(v)}`, what)
  return v
}

function toReplicationError(e: unknown): ReplicationError {
  if (e instanceof LarixError) return { code: e.code, message: e.message, at: Date.now() }
  const err = e as { name?: string; message?: string }
  if (err?.name === 'AbortError') return { code: 'LARIX_ABORTED', message: 'the sync was stopped', at: Date.now() }
  return { code: 'LARIX_INTERNAL', message: String(err?.message ?? e), at: Date.now() }
}

const TRANSPORT_KEYS = ['protocolVersion', 'connect', 'httpFetch', 'headers', 'tls'] as const

/** Copy the transport options (those of today and `tls`, which the TLS transport adds) from `from` onto `into`. */
function pickTransport(from: object, into: TransportOptions): TransportOptions {
  const src = from as Record<string, unknown>, dst = into as Record<string, unknown>
  for (const k of TRANSPORT_KEYS) if (src[k] !== undefined) dst[k] = src[k]
  return into
}

/**
 * Keep `branches` in sync with `peers` until `stop()`.
 * @example
 * const r = replicate(repo, { peers: ['http://127.0.0.1:8080/'], branches: ['main'] })
 * r.on('status', s => console.log(s.peer, s.state, s.lag))
 * await r.stop()
 */
export function replicate(repo: Repo<any>, opts: ReplicateOptions): Replicator {
  if (typeof opts !== 'object' || opts === null) throw new BadArgumentError('replicate takes an options object { peers, branches }', 'options')
  if (!Array.isArray(opts.peers) || opts.peers.length === 0) throw new BadArgumentError('replicate needs at least one peer URL in peers', 'peers')
  const scope: readonly string[] | 'all' = opts.branches === undefined || opts.branches === 'all' ? 'all'
    : Array.isArray(opts.branches) ? [...new Set(opts.branches.map(checkBranchName))]
      : (() => { throw new BadArgumentError(`branches must be an array of branch names or 'all'`, 'branches') })()
  const backoff = {
    minMs: checkMs(opts.backoff?.minMs, 'backoff.minMs', 1) ?? DEFAULT_BACKOFF.minMs,
    maxMs: checkMs(opts.backoff?.maxMs, 'backoff.maxMs', 1) ?? DEFAULT_BACKOFF.maxMs,
  }
  if (backoff.maxMs < backoff.minMs) throw new BadArgumentError('backoff.maxMs must be >= backoff.minMs', 'backoff')
  const pollMs = checkMs(opts.pollMs, 'pollMs') ?? (opts.watchRemote ? 0 : DEFAULT_POLL_MS)
  const watcher: WatchRemote | undefined = opts.watchRemote === false ? undefined : opts.watchRemote ?? defaultWatchRemote
  const debounceMs = checkMs(opts.debounceMs, 'debounceMs') ?? 5
  const pushRetries = opts.pushRetries ?? 5
  if (!Number.isInteger(pushRetries) || pushRetries < 0) throw new BadArgumentError(`pushRetries must be a whole number >= 0, got ${String(pushRetries)}`, 'pushRetries')
  const auto = opts.auto ?? true

  const base: TransportOptions = pickTransport(opts, {})
  const abort = new AbortController()
  const onAbort = () => { void stop(true) }
  base.signal = abort.signal

  const peers: Peer[] = []
  for (const p of opts.peers) {
    const spec: PeerSpec = typeof p === 'string' ? { url: p } : p
    if (typeof spec !== 'object' || spec === null || typeof spec.url !== 'string') throw new BadArgumentError('a peer is a URL or { url, name?, … }', 'peers')
    parseRemoteUrl(spec.url) // a bad URL is refused here, not at the first sync
    const id = spec.name ?? peerId(spec.url)
    const problem = typeof id === 'string' && !id.includes('/') ? refNameProblem(`refs/remotes/${id}/x`) : 'is not a single ref component'
    if (problem) throw new BadArgumentError(`bad peer name ${JSON.stringify(id)}: it ${problem}`, 'peers')
    if (peers.some(q => q.id === id)) throw new BadArgumentError(`two peers share the id ${id}: give them different names`, 'peers')
    const transport: TransportOptions = pickTransport(spec, { ...base })
    peers.push({
      url: spec.url, display: displayUrl(spec.url), id, transport, state: 'idle', healthy: true, lag: {}, attempts: 0, syncs: 0,
      pendingForce: false, pendingLocal: false, waiting: [],
    })
  }

  const listeners: { [E in keyof ReplicatorEvents]: Set<(ev: ReplicatorEvents[E]) => void> } = { status: new Set(), sync: new Set(), error: new Set() }
  function emit<E extends keyof ReplicatorEvents>(event: E, ev: ReplicatorEvents[E]): void {
    for (const fn of [...listeners[event]]) {
      try { fn(ev) } catch (e) { queueMicrotask(() => { throw e }) }
    }
  }
  function snapshot(p: Peer): PeerStatus {
    const s: PeerStatus = {
      peer: p.display, id: p.id, state: p.state, healthy: p.healthy, attempts: p.attempts, syncs: p.syncs,
      lag: Object.fromEntries(Object.entries(p.lag).map(([b, l]) => [b, { ...l }])),
    }
    if (p.lastSync !== undefined) s.lastSync = p.lastSync
    if (p.lastError !== undefined) s.lastError = { ...p.lastError }
    if (p.retryAt !== undefined) s.retryAt = p.retryAt
    return s
  }
  function changed(p: Peer): void {
    const s = snapshot(p)
    if (opts.onStatus) {
      try { opts.onStatus(s) } catch (e) { queueMicrotask(() => { throw e }) }
    }
    emit('status', s)
  }

  let stopped = false
  const idleWaiters: (() => void)[] = []
  function checkIdle(): void {
    if (peers.some(p => p.inFlight)) return
    for (const w of idleWaiters.splice(0)) w()
  }

  const refs = repo.backend.refs
  const tracking = (p: Peer, b: string) => `refs/remotes/${p.id}/${b}`
  const inScope = (b: string) => scope === 'all' || scope.includes(b)

  /** The branches a sync or a lag count looks at: the scope, or every local and tracked branch. */
  async function branchesOf(p: Peer): Promise<string[]> {
    if (scope !== 'all') return [...scope]
    const names = new Set(await repo.branches())
    for (const r of await refs.list(`refs/remotes/${p.id}/`)) names.add(r.name.slice(`refs/remotes/${p.id}/`.length))
    return [...names].sort()
  }

  async function updateLag(p: Peer): Promise<void> {
    const lag: Record<string, { ahead: number; behind: number }> = {}
    for (const b of await branchesOf(p)) {
      const [local, remote] = await Promise.all([refs.get(branchRef(b)), refs.get(tracking(p, b))])
      lag[b] = await aheadBehind(repo, local, remote)
    }
    p.lag = lag
  }

  /** Whether some local branch differs from what the peer had when last seen. */
  async function localDiffers(p: Peer): Promise<boolean> {
    for (const b of await branchesOf(p)) {
      // A branch deleted here that the peer still has (its tracking ref) differs too: the deletion is to send.
      if (await refs.get(branchRef(b)) !== await refs.get(tracking(p, b))) return true
    }
    return false
  }

  function mergeMessage(p: Peer, b: string): string {
    return `Merge branch '${b}' of ${p.display} (replication)`
  }

  async function syncOnce(p: Peer): Promise<{ event: SyncEvent; conflict?: ReplicationError }> {
    const event: SyncEvent = { peer: p.display, id: p.id, branches: [], objects: 0, bytes: 0, at: 0 }
    let conflict: ReplicationError | undefined
    const remoteHeads = new Map<string, string>()
    // What the peer had at the last sync: the base of the deletion rules (the fetch moves the tracking refs).
    const before = new Map<string, string>()
    for (const r of await refs.list(`refs/remotes/${p.id}/`)) before.set(r.name.slice(`refs/remotes/${p.id}/`.length), r.id)
    let want = scope === 'all' ? undefined : [...scope]
    while (want === undefined || want.length > 0) {
      try {
        const f = await fetch(repo, p.url, { ...p.transport, remote: p.id, tags: false, ...(want ? { refs: want } : {}) })
        event.objects += f.objects
        event.bytes += f.bytes
        for (const r of f.refs) if (r.remoteRef.startsWith('refs/heads/')) remoteHeads.set(r.remoteRef.slice('refs/heads/'.length), r.id)
        break
      } catch (e) {
        // A branch the peer does not have yet: fetch the others; the push below creates it there.
        const missing = e instanceof LarixError && e.code === 'LARIX_NOT_FOUND' ? (e.data as { what?: string; id?: string }) : undefined
        if (!want || missing?.what !== 'remote ref') throw e
        const before = want.length
        want = want.filter(b => 'refs/heads/' + b !== missing.id)
        if (want.length === before) throw e
      }
    }
    const names = scope === 'all' ? [...new Set([...await repo.branches(), ...remoteHeads.keys(), ...before.keys()])].sort() : [...scope]
    for (const b of names) {
      const r: BranchSyncResult = { branch: b, merge: 'none', push: 'none', retries: 0 }
      let remote = remoteHeads.get(b)
      if (remote !== undefined) r.remote = remote
      const base = before.get(b)
      const local = await refs.get(branchRef(b))
      if (local === undefined && remote === undefined && base === undefined) continue
      event.branches.push(r)
      if (base !== undefined && local === undefined) {
        if (remote === undefined) {
          // Deleted on both sides: only the tracking ref is left to go.
          await refs.cas(tracking(p, b), base, undefined)
          continue
        }
        if (remote === base) {
          // Deleted here, unchanged there since the last sync: delete it there, if it still has not moved.
          try {
            await deleteRemoteBranch(repo, p.url, { ...p.transport, branch: b, expected: base, remote: p.id })
            r.push = 'deleted'
            continue
          } catch (e) {
            if (!(e instanceof PushRejectedError) || e.data.rejection === 'remote') throw e
          }
          // It moved meanwhile: the move wins, the branch comes back here (below).
          const f = await fetch(repo, p.url, { ...p.transport, remote: p.id, tags: false, refs: [b] })
          event.objects += f.objects
          event.bytes += f.bytes
          remote = f.refs[0]!.id
          r.remote = remote
        }
      }
      if (base !== undefined && remote === undefined && local === base) {
        // Deleted there, unchanged here since the last sync: delete it here, unless it moves right now.
        if (await repo.deleteBranch(b, { expected: local })) {
          await refs.cas(tracking(p, b), base, undefined)
          r.merge = 'deleted'
          continue
        }
      }
      const branch = repo.branch(b)
      const mergeIn = async (id: string): Promise<boolean> => {
        const m = await branch.merge(id, { message: mergeMessage(p, b) })
        r.merge = m.status
        if (m.status !== 'conflict') return true
        conflict = {
          code: 'LARIX_CONFLICT', at: Date.now(), branch: b, conflicts: m.conflicts,
          message: `merging ${b} of ${p.display} into ${b} stopped on conflicts at ${m.conflicts.map(c => c.path).join(', ')}; ${b} is unchanged here and there: make the values agree on either side and it syncs again`,
        }
        return false
      }
      if (remote !== undefined && !(await mergeIn(remote))) continue
      for (let attempt = 0; ; attempt++) {
        const local = await refs.get(branchRef(b))
        if (local === undefined || local === remote) break
        try {
          r.push = (await push(repo, p.url, { ...p.transport, branch: b, remote: p.id })).status
          break
        } catch (e) {
          if (!(e instanceof PushRejectedError) || e.data.rejection === 'remote' || attempt >= pushRetries) throw e
        }
        // The peer's branch moved since we fetched it: fetch it again, merge, push the merge.
        r.retries++
        const f = await fetch(repo, p.url, { ...p.transport, remote: p.id, tags: false, refs: [b] })
        event.objects += f.objects
        event.bytes += f.bytes
        remote = f.refs[0]!.id
        r.remote = remote
        if (!(await mergeIn(remote))) break
      }
    }
    event.at = Date.now()
    return conflict ? { event, conflict } : { event }
  }

  function delayFor(attempts: number): number {
    const capped = Math.min(backoff.maxMs, backoff.minMs * 2 ** Math.min(attempts - 1, 30))
    return Math.max(1, Math.round(capped * (0.5 + Math.random() * 0.5)))
  }

  async function run(p: Peer, checkFirst: boolean): Promise<void> {
    for (let check = checkFirst; !stopped;) {
      if (check) {
        p.pendingLocal = false
        let differs = true
        try { differs = await localDiffers(p) } catch { /* let the sync find out what is wrong */ }
        if (stopped || (!differs && !p.pendingForce && p.waiting.length === 0)) break
      }
      const waiting = p.waiting.splice(0)
      p.pendingForce = false
      p.pendingLocal = false
      if (p.timer !== undefined) { clearTimeout(p.timer); p.timer = undefined }
      p.state = 'syncing'
      p.retryAt = undefined
      changed(p)
      let failed = false
      try {
        const { event, conflict } = await syncOnce(p)
        p.attempts = 0
        p.syncs++
        p.lastSync = event.at
        p.healthy = conflict === undefined
        if (conflict) { p.lastError = conflict; emit('error', { peer: p.display, id: p.id, error: conflict }) }
        emit('sync', event)
      } catch (e) {
        failed = true
        p.attempts++
        p.healthy = false
        p.lastError = toReplicationError(e)
        emit('error', { peer: p.display, id: p.id, error: p.lastError })
      }
      try { await updateLag(p) } catch { /* the lag stays as last known */ }
      if (stopped) { p.state = 'stopped'; changed(p); for (const w of waiting) w(); break }
      if (failed && auto) {
        const delay = delayFor(p.attempts)
        p.state = 'backoff'
        p.retryAt = Date.now() + delay
        p.timer = setTimeout(() => { p.timer = undefined; request(p, 'force') }, delay)
      } else {
        p.state = 'idle'
      }
      changed(p)
      for (const w of waiting) w()
      if (p.pendingForce || p.waiting.length > 0) { check = false; continue }
      if (p.pendingLocal && p.state !== 'backoff') { check = true; continue }
      break
    }
  }

  function request(p: Peer, kind: 'force' | 'local'): void {
    if (stopped) return
    if (p.inFlight) {
      if (kind === 'force') p.pendingForce = true
      else p.pendingLocal = true
      return
    }
    if (kind === 'local' && p.state === 'backoff') { p.pendingLocal = true; return }
    p.inFlight = run(p, kind === 'local').finally(() => {
      p.inFlight = undefined
      checkIdle()
    })
  }

  // Wake-ups.
  let debounce: ReturnType<typeof setTimeout> | undefined
  let unwatch: (() => void) | undefined
  let poll: ReturnType<typeof setInterval> | undefined
  if (auto) {
    unwatch = refs.watch(change => {
      if (stopped || !change.name.startsWith('refs/heads/') || !inScope(change.name.slice('refs/heads/'.length))) return
      if (debounce !== undefined) return
      debounce = setTimeout(() => {
        debounce = undefined
        for (const p of peers) request(p, 'local')
      }, debounceMs)
    })
    if (pollMs > 0) poll = setInterval(() => { for (const p of peers) request(p, 'force') }, pollMs)
    for (const p of peers) {
      if (watcher && (opts.watchRemote || /^(https?|wss?):/i.test(p.url))) {
        const watchOpts: WatchRemoteOptions = {
          onHead: ev => {
            if (stopped || typeof ev?.branch !== 'string' || !inScope(ev.branch)) return
            void (async () => {
              // Our own push echoing back: the peer is where we know it is, and so are we.
              // (A deletion echoing back: neither side has the branch, and no tracking ref is left.)
              if (ev.commit === await refs.get(tracking(p, ev.branch)) && ev.commit === await refs.get(branchRef(ev.branch))) return
              if (ev.commit === null && await refs.get(tracking(p, ev.branch)) === undefined && await refs.get(branchRef(ev.branch)) === undefined) return
              request(p, 'force')
            })().catch(() => request(p, 'force'))
          },
          onOpen: () => request(p, 'force'),
          onError: e => { if (!stopped) emit('error', { peer: p.display, id: p.id, error: toReplicationError(e) }) },
        }
        if (scope !== 'all') watchOpts.branches = [...scope]
        if (p.transport.headers) watchOpts.headers = p.transport.headers
        const tls = (p.transport as { tls?: TlsOption }).tls
        if (tls !== undefined) watchOpts.tls = tls
        try {
          p.channel = watcher(p.url, watchOpts)
        } catch (e) {
          p.lastError = toReplicationError(e)
          emit('error', { peer: p.display, id: p.id, error: p.lastError })
        }
      }
      // The lag as the tracking refs left it (a restarted replicator knows it before its first sync), then
      // the first sync.
      void updateLag(p).catch(() => {}).then(() => {
        if (stopped) return
        if (p.state === 'idle' && !p.inFlight) changed(p)
        request(p, 'force')
      })
    }
  }
  if (opts.signal) {
    if (opts.signal.aborted) queueMicrotask(onAbort)
    else opts.signal.addEventListener('abort', onAbort, { once: true })
  }

  async function stop(cancel = false): Promise<void> {
    if (!stopped) {
      stopped = true
      opts.signal?.removeEventListener('abort', onAbort)
      if (cancel) abort.abort()
      if (debounce !== undefined) clearTimeout(debounce)
      if (poll !== undefined) clearInterval(poll)
      unwatch?.()
      for (const p of peers) {
        if (p.timer !== undefined) { clearTimeout(p.timer); p.timer = undefined }
        p.retryAt = undefined
      }
      await Promise.all(peers.map(p => p.channel?.close().catch(() => {})))
    }
    await Promise.all(peers.map(p => p.inFlight?.catch(() => {})))
    for (const p of peers) {
      for (const w of p.waiting.splice(0)) w()
      if (p.state !== 'stopped') { p.state = 'stopped'; changed(p) }
    }
    checkIdle()
  }

  function select(peer: string | undefined): Peer[] {
    if (peer === undefined) return peers
    const shown = displayUrl(peer)
    const found = peers.filter(p => p.url === peer || p.id === peer || p.display === shown)
    if (found.length === 0) throw new BadArgumentError(`no such peer ${JSON.stringify(displayUrl(peer))} (peers: ${peers.map(p => p.display).join(', ')})`, 'peer')
    return found
  }

  return {
    status: () => peers.map(snapshot),
    async syncNow(peer) {
      const chosen = select(peer)
      if (stopped) return chosen.map(snapshot)
      await Promise.all(chosen.map(p => new Promise<void>(resolve => {
        p.waiting.push(resolve)
        request(p, 'force')
      })))
      return chosen.map(snapshot)
    },
    whenIdle() {
      return new Promise<void>(resolve => {
        idleWaiters.push(resolve)
        checkIdle()
      })
    },
    stop: () => stop(false),
    on(event, listener) {
      const set = listeners[event] as Set<typeof listener>
      set.add(listener)
      return () => { set.delete(listener) }
    },
  }
}

/**
 * Replicate every branch (or `opts.branches`) with `peers`: what `larix serve --peer` and `larix replicate`
 * run. The same as `replicate(repo, { ...opts, peers })` with `branches` defaulting to 'all'.
 */
export function startReplication(repo: Repo<any>, peers: readonly (string | PeerSpec)[], opts: Omit<ReplicateOptions, 'peers'> = {}): Replicator {
  return replicate(repo, { branches: 'all', ...opts, peers })
}
