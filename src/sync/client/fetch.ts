// fetch: bring a remote's branches (and tags) into the store. Objects arrive as one pack, verified before
// anything is written; then the remote-tracking refs `refs/remotes/<remote>/<branch>` move (tags are
// created under `refs/tags/`). A failure at any point leaves every ref where it was.
import { BadArgumentError, NotFoundError } from '../../store/errors.js'
import { refNameProblem } from '../../store/refs.js'
import type { Repo } from '../../store/repo.js'
import { unpack } from '../pack/index.js'
import type { UnpackOptions } from '../pack/index.js'
import {
  PktLineReader, ProtocolError, demuxSideband, pktText, formatCommandRequest, formatFetchArgs, formatHaves, formatUploadRequest,
  readAck, readFetchResponse, readShallowUpdate,
} from '../wire/index.js'
import type { AdvertisedRef, FetchArgs } from '../wire/index.js'
import { HaveWalker } from './negotiate.js'
import type { ProgressListener } from './progress.js'
import { checkObjectFormat, listRemoteRefs, v2CommandCapabilities } from './remote-refs.js'
import { applyShallow, writeShallow } from './shallow.js'
import { AGENT, openSession } from './transport.js'
import type { Session, TransportOptions } from './transport.js'

export interface FetchOptions extends TransportOptions {
  /** The name under `refs/remotes/` for this remote's branches (default `origin`). */
  remote?: string
  /** Which branches to fetch: names (`main`) or full refs (`refs/heads/main`). Default: every branch. */
  refs?: readonly string[]
  /** Also fetch the remote's tags into `refs/tags/` (default true; an existing tag is never moved). */
  tags?: boolean
  /** Fetch only the last `depth` commits of each branch (a shallow store; see shallow.ts). */
  depth?: number
  onProgress?: ProgressListener
  /**
   * Where the pack's objects wait until it is verified: `memory` (default: a failed fetch writes nothing)
   * or `store` (straight into the store: bounded memory; a failed fetch leaves unreferenced objects).
   * Default: `store` when the store has no refs yet (a clone), else `memory`.
   */
  staging?: 'memory' | 'store'
}

/** One remote ref and what the fetch did with it. */
export interface FetchedRef {
  /** The ref on the remote: `refs/heads/main`. */
  remoteRef: string
  /** Where it is kept here: `refs/remotes/origin/main`, `refs/tags/v1`. */
  localRef: string
  id: string
  /** The local ref's value before the fetch. */
  old?: string
  /** `kept`: a local tag of that name points elsewhere and was left alone. */
  status: 'new' | 'updated' | 'up-to-date' | 'kept'
}

export interface FetchResult {
  /** The remote's URL, without credentials. */
  url: string
  /** The protocol version spoken (2 when the server offered it). */
  protocol: 0 | 1 | 2
  /** The branch the remote's HEAD points at (`main`), when it said. */
  head?: string
  refs: FetchedRef[]
  /** Objects received in the pack (0 when everything was here already). */
  objects: number
  /** Bytes of pack received. */
  bytes: number
  /** The store's shallow boundary after the fetch (empty for a complete history). */
  shallow: string[]
}

/** Stop offering haves after this many without a new acknowledgment (Git's MAX_IN_VAIN). */
const MAX_IN_VAIN = 256
/** The most haves a v0/v1 fetch offers (it negotiates in one round). */
const V0_HAVES = 256

/**
 * Fetch the remote's branches into `refs/remotes/<remote>/…` (and its tags into `refs/tags/`).
 * @example
 * const r = await fetch(repo, 'https://example.org/data.git', { onProgress: p => console.log(p.phase) })
 * await repo.branch('main').merge('refs/remotes/origin/main') // or use pull()
 */
export async function fetch(repo: Repo<unknown>, url: string, opts: FetchOptions = {}): Promise<FetchResult> {
  const remote = opts.remote ?? 'origin'
  checkRemoteName(remote)
  if (opts.depth !== undefined && !(Number.isSafeInteger(opts.depth) && opts.depth > 0)) {
    throw new BadArgumentError(`depth must be a whole number of commits >= 1, got ${String(opts.depth)}`, 'depth')
  }
  if (opts.staging !== undefined && opts.staging !== 'memory' && opts.staging !== 'store') {
    throw new BadArgumentError(`staging must be 'memory' or 'store', got ${JSON.stringify(opts.staging)}`, 'staging')
  }
  const wanted = opts.refs?.map(fullBranchRef)
  const tags = opts.tags ?? true
  const shallow = await applyShallow(repo)
  const session = await openSession(url, 'git-upload-pack', opts)
  try {
    const listing = await listRemoteRefs(session, [...(wanted ?? ['refs/heads/']), ...(tags ? ['refs/tags/'] : [])])
    const selected = selectRefs(listing.refs, wanted, tags)

    const localRefs = await repo.backend.refs.list()
    const complete = new Set(localRefs.map(r => r.id))
    // What a local ref already points at is here with its history; a depth request re-asks for it all, so
    // the server can move the shallow boundary.
    const wants = [...new Set(selected.map(r => r.id).filter(id => opts.depth !== undefined || !complete.has(id)))]
    let objects = 0, bytes = 0
    let boundary = shallow
    if (wants.length > 0) {
      const staging = opts.staging ?? (localRefs.length === 0 ? 'store' : 'memory')
      const tracking = localRefs.filter(r => r.name.startsWith(`refs/remotes/${remote}/`)).map(r => r.id)
      const walker = await HaveWalker.start(repo, localRefs.map(r => r.id), tracking)
      const got = await fetchPack(session, repo, wants, walker, shallow, opts, staging)
      objects = got.objects
      bytes = got.bytes
      boundary = await updateShallow(repo, shallow, got.shallow, got.unshallow)
      for (const id of wants) {
        if (!(await repo.backend.objects.has(id))) throw new ProtocolError(`the remote's pack lacks ${id}, which it advertised`)
      }
    }

    const refs: FetchedRef[] = []
    for (const r of selected) refs.push(await storeRef(repo, r, localRefFor(r.name, remote)))
    opts.onProgress?.({ phase: 'done', objects, bytes })
    const result: FetchResult = { url: session.location.display, protocol: listing.version, refs, objects, bytes, shallow: [...boundary].sort() }
    if (listing.head?.startsWith('refs/heads/')) result.head = listing.head.slice('refs/heads/'.length)
    return result
  } finally {
    await session.close()
  }
}

/**
 * Point `localRef` at what the remote advertised. Remote-tracking refs follow the remote wherever it went
 * (as `+refs/heads/*:refs/remotes/origin/*` does), whoever else moved them meanwhile; an existing tag stays.
 */
async function storeRef(repo: Repo<unknown>, r: AdvertisedRef, localRef: string): Promise<FetchedRef> {
  const refs = repo.backend.refs
  for (;;) {
    const old = await refs.get(localRef)
    const entry: FetchedRef = { remoteRef: r.name, localRef, id: r.id, status: 'up-to-date' }
    if (old !== undefined) entry.old = old
    if (old === r.id) return entry
    if (old !== undefined && r.name.startsWith('refs/tags/')) return { ...entry, status: 'kept' }
    if (await refs.cas(localRef, old, r.id)) return { ...entry, status: old === undefined ? 'new' : 'updated' }
  }
}

/** `main` → `refs/heads/main`; full refs pass. */
function fullBranchRef(name: string): string {
  const full = name.startsWith('refs/') ? name : 'refs/heads/' + name
  const p = refNameProblem(full)
  if (p) throw new BadArgumentError(`bad ref ${JSON.stringify(name)}: it ${p}`, 'refs')
  return full
}

export function checkRemoteName(remote: string): void {
  const p = typeof remote === 'string' && !remote.includes('/') ? refNameProblem(`refs/remotes/${remote}/x`) : 'is not a single ref component'
  if (p) throw new BadArgumentError(`bad remote name ${JSON.stringify(remote)}: it ${p}`, 'remote')
}

/** Where a fetched remote ref is kept. */
export function localRefFor(remoteRef: string, remote: string): string {
  if (remoteRef.startsWith('refs/heads/')) return `refs/remotes/${remote}/${remoteRef.slice('refs/heads/'.length)}`
  if (remoteRef.startsWith('refs/tags/')) return remoteRef
  return `refs/remotes/${remote}/${remoteRef.slice('refs/'.length)}`
}

function selectRefs(refs: readonly AdvertisedRef[], wanted: readonly string[] | undefined, tags: boolean): AdvertisedRef[] {
  const out = refs.filter(r => (wanted ? wanted.includes(r.name) : r.name.startsWith('refs/heads/')) || (tags && r.name.startsWith('refs/tags/')))
  for (const w of wanted ?? []) {
    if (!refs.some(r => r.name === w)) throw new NotFoundError('remote ref', w)
  }
  return out
}

/** Record the boundary the server set: new shallow commits (whose parents we lack), minus those it deepened. */
async function updateShallow(repo: Repo<unknown>, before: Set<string>, shallow: readonly string[], unshallow: readonly string[]): Promise<Set<string>> {
  if (shallow.length === 0 && unshallow.length === 0) return before
  const next = new Set(before)
  for (const id of unshallow) next.delete(id)
  for (const id of shallow) {
    if (next.has(id)) continue
    // A commit whose parents are all here already is no boundary (a --depth fetch into a complete store).
    const o = await repo.backend.objects.get(id)
    const parents = o?.type === 'commit' ? parentIds(o.body) : []
    let missing = false
    for (const p of parents) if (!(await repo.backend.objects.has(p))) { missing = true; break }
    if (missing) next.add(id)
  }
  const same = next.size === before.size && [...next].every(id => before.has(id))
  if (!same) await writeShallow(repo, next)
  return next
}

/** The parent ids of a raw commit body (its header lines, without decoding the rest). */
function parentIds(body: Uint8Array): string[] {
  const out: string[] = []
  const text = new TextDecoder().decode(body.subarray(0, Math.min(body.length, 46 + 48 * 64)))
  for (const line of text.split('\n')) {
    if (line.startsWith('parent ')) out.push(line.slice(7, 47))
    else if (line.startsWith('tree ')) continue
    else break
  }
  return out
}

interface PackOutcome { objects: number; bytes: number; shallow: string[]; unshallow: string[] }

async function fetchPack(
  session: Session, repo: Repo<unknown>, wants: string[], walker: HaveWalker, shallow: Set<string>, opts: FetchOptions, staging: 'memory' | 'store',
): Promise<PackOutcome> {
  const progress = opts.onProgress
  const unpackOptions: UnpackOptions = {
    onProgress: progress && (p => progress({ phase: p.phase, objects: p.objects, total: p.total, bytes: p.bytes })),
    signal: opts.signal,
    // A fetch stores objects and writes no pack index: no CRC-32 per entry.
    indexEntries: false,
  }
  if (staging === 'store') unpackOptions.staging = repo.backend.objects
  const remoteText = progress && ((message: string) => progress({ phase: 'remote', message }))
  const adv = session.advertisement
  checkObjectFormat(adv.capabilities)

  if (adv.version === 2) {
    const features = adv.capabilities.features('fetch')
    const canShallow = features.includes('shallow')
    if (opts.depth !== undefined && !canShallow) throw new ProtocolError('the remote does not offer shallow fetches (depth)')
    const base: Partial<FetchArgs> = { wants, thinPack: true, ofsDelta: true, noProgress: !progress }
    if (canShallow) base.shallow = [...shallow]
    if (opts.depth !== undefined) base.deepen = opts.depth
    const common: string[] = []
    const commonSet = new Set<string>()
    let batch = 32, inVain = 0
    for (;;) {
      const haves = await walker.next(batch)
      const done = haves.length === 0 || walker.exhausted || inVain >= MAX_IN_VAIN
      if (haves.length > 0) progress?.({ phase: 'negotiating', objects: common.length + haves.length })
      const reader = await session.request(formatCommandRequest({
        command: 'fetch', capabilities: v2CommandCapabilities(adv.capabilities),
        args: formatFetchArgs({ ...base, haves: [...common, ...haves], done }),
      }))
      try {
        const res = await readFetchResponse(reader, { onProgress: remoteText })
        let fresh = 0
        for (const id of res.acknowledgments?.acks ?? []) {
          if (commonSet.has(id)) continue
          commonSet.add(id)
          common.push(id)
          await walker.ack(id)
          fresh++
        }
        // As Git: give up on finding more common commits only once some were found.
        inVain = fresh > 0 ? 0 : common.length > 0 ? inVain + haves.length : 0
        if (res.packfile) {
          const r = await unpack(res.packfile, repo.backend.objects, unpackOptions)
          return { objects: r.ids.length, bytes: r.size, shallow: res.shallowInfo?.shallow ?? [], unshallow: res.shallowInfo?.unshallow ?? [] }
        }
        if (done) throw new ProtocolError('the remote sent no pack after "done"')
      } finally {
        if (session.stateless) await reader.close()
      }
      batch = Math.min(batch * 2, 1024)
    }
  }

  // v0/v1: the whole negotiation in one request (wants, then our newest commits as haves, and done), so it
  // is the same over stateless HTTP and a stream. With multi_ack(_detailed) the server acknowledges common
  // haves with `ACK <id> common|continue` and ends with a bare `ACK <id>` or `NAK`; without, it may repeat
  // bare ACKs, which only side-band framing lets us tell from the pack.
  const caps = adv.capabilities
  if (opts.depth !== undefined && !caps.has('shallow')) throw new ProtocolError('the remote does not offer shallow fetches (depth)')
  const chosen: string[] = []
  const sideband = caps.has('side-band-64k') ? 'side-band-64k' : caps.has('side-band') ? 'side-band' : undefined
  if (sideband) chosen.push(sideband)
  const multiAck = caps.has('multi_ack_detailed') ? 'multi_ack_detailed' : caps.has('multi_ack') ? 'multi_ack' : undefined
  if (multiAck) chosen.push(multiAck)
  for (const c of ['ofs-delta', 'thin-pack']) if (caps.has(c)) chosen.push(c)
  const sendShallow = caps.has('shallow') && (shallow.size > 0 || opts.depth !== undefined)
  if (sendShallow) chosen.push('shallow')
  if (!progress && caps.has('no-progress')) chosen.push('no-progress')
  if (caps.has('agent')) chosen.push('agent=' + AGENT)
  const haves = await walker.next(V0_HAVES)
  const request = formatUploadRequest({
    wants, capabilities: chosen, shallow: sendShallow ? [...shallow] : [], deepen: opts.depth,
  })
  const body = concat(request, formatHaves(haves, 'done'))
  const reader: PktLineReader = await session.request(body)
  try {
    // A deepen request is answered with a shallow update; shallow lines alone may or may not be (git says
    // nothing), and what comes next is a pkt-line either way, so a peek tells.
    let update: { shallow: string[]; unshallow: string[] } = { shallow: [], unshallow: [] }
    if (opts.depth !== undefined) update = await readShallowUpdate(reader)
    else if (sendShallow) {
      const p = await reader.peek()
      if (p.type === 'flush' || (p.type === 'data' && /^(un)?shallow /.test(pktText(p.data)))) update = await readShallowUpdate(reader)
    }
    await readAcks(reader, multiAck !== undefined, sideband !== undefined)
    const pack = sideband ? demuxSideband(reader, { onProgress: remoteText }) : reader.rest()
    const r = await unpack(pack, repo.backend.objects, unpackOptions)
    return { objects: r.ids.length, bytes: r.size, shallow: update.shallow, unshallow: update.unshallow }
  } finally {
    if (session.stateless) await reader.close().catch(() => {})
  }
}

/** Read the ACK/NAK lines that precede the pack after `done`. */
async function readAcks(reader: PktLineReader, multiAck: boolean, sideband: boolean): Promise<void> {
  if (multiAck) {
    for (;;) {
      const a = await readAck(reader)
      if (a.type === 'nak' || a.status === undefined) return
    }
  }
  await readAck(reader)
  if (!sideband) return
  for (;;) {
    const p = await reader.peek()
    if (p.type !== 'data' || !startsWithAck(p.data)) return
    await readAck(reader)
  }
}

function startsWithAck(b: Uint8Array): boolean {
  return (b[0] === 0x41 && b[1] === 0x43 && b[2] === 0x4b) || (b[0] === 0x4e && b[1] === 0x41 && b[2] === 0x4b) // ACK, NAK
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}
