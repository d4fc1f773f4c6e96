// upload-pack, the server side of fetch and clone (gitprotocol-pack(5), gitprotocol-v2(5)).
// v0/v1: ref advertisement, the client's wants (and shallow/deepen lines), rounds of haves answered with
// ACK/NAK (multi_ack, multi_ack_detailed), then the pack, over side-band or raw.
// v2: a capability advertisement, then `ls-refs` and `fetch` commands; a fetch without `done` gets its
// acknowledgments (and `ready` once every want reaches a common commit), with `done` or `ready` the pack.
// Stateless (smart HTTP) sessions answer one request and end; the client repeats its state each time.
import { decodeTag } from '../../store/objects.js'
import { concatBytes } from '../../store/bytes.js'
import { formatAck, formatFetchResponse, formatLsRefsResponse, formatNak, formatRefAdvertisement,
  formatShallowUpdate, formatV2Advertisement, parseFetchArgs, parseLsRefsArgs, ProtocolError, readCommandRequest, readHaves,
  readUploadRequest, SIDEBAND_64K_MAX_PKT_LENGTH, SIDEBAND_MAX_PKT_LENGTH } from '../wire/index.js'
import type { FetchArgs, LsRef, PktLineReader, UploadRequest } from '../wire/index.js'
import { refTips, sameTips } from './clone-pack.js'
import type { LoadedClonePack } from './clone-pack.js'
import type { ServeContext } from './context.js'
import { packStream, progressPkt } from './pack-stream.js'
import { listRefs, peeledId } from './refs.js'
import type { SessionState } from './session.js'
import { allWantsCovered, MissingObjectError, shallowBoundary, walkObjects } from './walk.js'
import type { WalkedObject } from './walk.js'

export interface UploadPackSessionOptions {
  /** 0 or 1 (the v0/v1 exchange; 1 adds the `version 1` line) or 2. */
  version: 0 | 1 | 2
  /** Smart HTTP: one request, one response; the advertisement was a separate GET. */
  stateless: boolean
  /** Send the advertisement first (git:// and other stateful connections; smart HTTP's GET). */
  advertise: boolean
}

/** The v2 capabilities this server offers. */
export function v2Capabilities(ctx: ServeContext): string[] {
  return [`agent=${ctx.agent}`, 'ls-refs=unborn', 'fetch=shallow wait-for-done', 'server-option', 'object-format=sha1']
}

/** The v0/v1 upload-pack advertisement: refs, HEAD first, with the capabilities on the first line. */
export async function uploadPackAdvertisement(ctx: ServeContext, opts: { version: 0 | 1; stateless: boolean; service?: boolean }): Promise<Uint8Array> {
  const listing = await listRefs(ctx.refs, ctx.objects, ctx.head)
  const caps = ['multi_ack', 'thin-pack', 'side-band', 'side-band-64k', 'ofs-delta', 'shallow', 'no-progress', 'include-tag',
    'multi_ack_detailed', 'allow-tip-sha1-in-want', 'allow-reachable-sha1-in-want']
  if (opts.stateless) caps.push('no-done')
  const refs = [...listing.refs]
  if (listing.head.id !== undefined) {
    caps.push(`symref=HEAD:${listing.head.target}`)
    const headRef = listing.refs.find(r => r.name === listing.head.target)
    refs.unshift({ name: 'HEAD', id: listing.head.id, ...(headRef?.peeled ? { peeled: headRef.peeled } : {}) })
  }
  caps.push('object-format=sha1', `agent=${ctx.agent}`)
  return formatRefAdvertisement({
    refs, capabilities: caps, version: opts.version,
    ...(opts.service ? { service: 'git-upload-pack' } : {}),
  })
}

/** The v2 capability advertisement. */
export function uploadPackV2Advertisement(ctx: ServeContext, opts: { service?: boolean }): Uint8Array {
  return formatV2Advertisement(v2Capabilities(ctx), opts.service ? { service: 'git-upload-pack' } : {})
}

/** An upload-pack session over `reader`, yielding what to send back. Throws on bad input: wrap it with guarded(). */
export async function* uploadPackSession(ctx: ServeContext, reader: PktLineReader, opts: UploadPackSessionOptions, state: SessionState): AsyncGenerator<Uint8Array> {
  if (opts.version === 2) {
    if (opts.advertise) yield uploadPackV2Advertisement(ctx, {})
    for (;;) {
      const req = await readCommandRequest(reader)
      if (req === null) return
      const format = req.capabilities.get('object-format')
      if (format !== undefined && format !== 'sha1') throw new ProtocolError(`object-format ${format} is not supported (this server speaks sha1)`)
      if (req.command === 'ls-refs') yield await lsRefs(ctx, req.args)
      else if (req.command === 'fetch') yield* fetchV2(ctx, req.args, state)
      else throw new ProtocolError(`unknown command ${JSON.stringify(req.command)}`)
      if (opts.stateless) return
      state.sideband = 0 // the next command's failures are reported as ERR lines again
      state.rawPack = false
    }
  }
  if (opts.advertise) yield await uploadPackAdvertisement(ctx, { version: opts.version, stateless: opts.stateless })
  yield* fetchV0(ctx, reader, opts, state)
}

// ------------------------------------------------------------------------------------------------- common

/** Refuse wants the server does not have or does not show: refs' ids, what they peel to, and their ancestors. */
async function checkWants(ctx: ServeContext, wants: readonly string[]): Promise<void> {
  let tips: Set<string> | undefined
  let tipCommits: string[] | undefined
  for (const w of wants) {
    if (!tips) {
      tips = new Set()
      tipCommits = []
      for (const r of await ctx.refs.list('refs/')) {
        tips.add(r.id)
        const p = r.name.startsWith('refs/tags/') ? await peeledId(ctx.objects, r.id) : undefined
        if (p !== undefined) tips.add(p)
        tipCommits.push(p ?? r.id)
      }
    }
    if (tips.has(w)) continue
    const o = await ctx.objects.get(w)
    if (o?.type === 'commit' && await reachableFrom(ctx, w, tipCommits!)) continue
    throw new ProtocolError(`not our ref ${w}`)
  }
}

/** Is commit `target` an ancestor of one of `tips`? A walk down to target's generation. */
async function reachableFrom(ctx: ServeContext, target: string, tips: readonly string[]): Promise<boolean> {
  const { reader } = ctx
  const floor = await reader.generation(target)
  const seen = new Set<string>()
  const stack: string[] = []
  for (const t of tips) {
    const o = await ctx.objects.get(t)
    if (o?.type === 'commit' && !seen.has(t)) { seen.add(t); stack.push(t) }
  }
  while (stack.length) {
    const id = stack.pop()!
    if (id === target) return true
    for (const p of (await reader.commit(id)).parents) {
      if (seen.has(p)) continue
      seen.add(p)
      if ((await reader.generation(p)) >= floor) stack.push(p)
    }
  }
  return false
}

/** The commits among `ids` (tags peeled), for the depth walk. */
async function commitsOf(ctx: ServeContext, ids: readonly string[]): Promise<string[]> {
  const out: string[] = []
  for (const id of ids) {
    const p = (await peeledId(ctx.objects, id)) ?? id
    if ((await ctx.objects.get(p))?.type === 'commit') out.push(p)
  }
  return out
}

interface ShallowPlan {
  clientShallow: Set<string>
  boundary?: Set<string>
  shallow: string[]
  unshallow: string[]
}

async function planShallow(ctx: ServeContext, wants: readonly string[], clientShallow: readonly string[], depth: number | undefined, relative = false): Promise<ShallowPlan> {
  const client = new Set<string>()
  for (const id of clientShallow) if (await ctx.objects.has(id)) client.add(id)
  if (depth === undefined) return { clientShallow: client, shallow: [], unshallow: [] }
  // deepen-relative: `depth` more commits below the client's shallow boundary.
  const b = relative
    ? await shallowBoundary(ctx.reader, [...client], depth + 1, client)
    : await shallowBoundary(ctx.reader, await commitsOf(ctx, wants), depth, client)
  return { clientShallow: client, boundary: b.boundary, shallow: b.shallow, unshallow: b.unshallow }
}

/**
 * Annotated tags (under refs/tags/) that point into what is being sent, for `include-tag`; `inPack` tells
 * the objects a clone pack sends too.
 */
async function tagsToInclude(ctx: ServeContext, objects: readonly WalkedObject[], haves: ReadonlySet<string>, inPack: (id: string) => boolean = () => false): Promise<WalkedObject[]> {
  const tagRefs = await ctx.refs.list('refs/tags/')
  if (tagRefs.length === 0) return [] // most clones: no set of every id sent
  const sending = new Set(objects.map(o => o.id))
  const out: WalkedObject[] = []
  for (const r of tagRefs) {
    if (sending.has(r.id) || haves.has(r.id) || inPack(r.id)) continue
    const chain: string[] = []
    let id = r.id
    for (let depth = 0; depth < 16; depth++) {
      const o = await ctx.objects.get(id)
      if (!o || o.type !== 'tag') break
      chain.push(id)
      id = decodeTag(o.body).object
    }
    if (chain.length === 0 || !(sending.has(id) || inPack(id))) continue
    for (const t of chain) if (!sending.has(t) && !inPack(t)) { sending.add(t); out.push({ id: t, type: 'tag' }) }
  }
  return out
}

interface PackPlan {
  wants: readonly string[]
  common: readonly string[]
  shallow: ShallowPlan
  includeTag: boolean
  sideband: number
  progress: boolean
}

/**
 * The clone pack this request can be sent from, if any (see clone-pack.ts): a clone (no haves, nothing
 * shallow) whose wants reach every tip the pack was built from. Asks for a new pack when there is none,
 * or when the refs have moved away from its tips.
 */
async function usableClonePack(ctx: ServeContext, plan: PackPlan): Promise<LoadedClonePack | undefined> {
  const packs = ctx.clonePacks
  const { shallow } = plan
  if (!packs || plan.common.length > 0 || shallow.clientShallow.size > 0 || shallow.boundary || shallow.unshallow.length > 0) return undefined
  let pack: LoadedClonePack | undefined
  try { pack = await packs.acquire() } catch (e) { ctx.onError?.(e); return undefined }
  if (!pack) { packs.schedule(ctx); return undefined }
  try {
    if (await reaches(ctx, plan.wants, pack.manifest.tips)) return pack
  } catch (e) {
    await packs.release(pack)
    throw e
  }
  await packs.release(pack)
  // Not for this clone: it wants less than the pack holds, or the refs moved away from the pack's tips.
  if (!sameTips(await refTips(ctx), pack.manifest.tips)) packs.schedule(ctx)
  return undefined
}

/** Is every one of `tips` wanted, or a commit reachable from a wanted one? */
async function reaches(ctx: ServeContext, wantList: readonly string[], tips: readonly string[]): Promise<boolean> {
  const wants = new Set(wantList)
  let wantCommits: string[] | undefined
  for (const tip of tips) {
    if (wants.has(tip)) continue
    wantCommits ??= await commitsOf(ctx, wantList)
    if ((await ctx.objects.get(tip))?.type === 'commit' && await reachableFrom(ctx, tip, wantCommits)) continue
    return false
  }
  return true
}

/** Walk, then stream the pack; progress on channel 2 while the walk runs, when the client wants it. */
async function* sendPack(ctx: ServeContext, plan: PackPlan, state: SessionState): AsyncGenerator<Uint8Array> {
  const clonePack = await usableClonePack(ctx, plan)
  try {
    yield* sendPackFrom(ctx, plan, state, clonePack)
  } finally {
    if (clonePack) await ctx.clonePacks!.release(clonePack)
  }
}

async function* sendPackFrom(ctx: ServeContext, plan: PackPlan, state: SessionState, clonePack: LoadedClonePack | undefined): AsyncGenerator<Uint8Array> {
  const showProgress = plan.progress && plan.sideband > 0
  if (plan.sideband) state.sideband = plan.sideband
  const cache = new Map<string, Uint8Array>()
  const abort = new AbortController() // a client that hangs up stops the walk too
  let found = 0
  let lastShown = 0
  let wake: (() => void) | undefined
  const walking = walkObjects(ctx.objects, ctx.reader, {
    wants: plan.wants, haves: clonePack ? clonePack.manifest.tips : plan.common, clientShallow: plan.shallow.clientShallow, unshallow: plan.shallow.unshallow,
    ...(plan.shallow.boundary ? { boundary: plan.shallow.boundary } : {}),
  }, { cache, introduced: ctx.introduced, signal: abort.signal, onProgress: n => { found = n; wake?.() } })
  let result: Awaited<typeof walking> | undefined
  let failure: unknown
  walking.then(r => { result = r }, e => { failure = e ?? new Error('walk failed') }).finally(() => wake?.())
  let lastTime = Date.now()
  try {
    while (result === undefined && failure === undefined) {
      await new Promise<void>(resolve => { wake = resolve })
      wake = undefined
      if (showProgress && found !== lastShown && Date.now() - lastTime >= 250 && result === undefined) {
        lastShown = found
        lastTime = Date.now()
        yield progressPkt(`Enumerating objects: ${found}\r`, plan.sideband)
      }
    }
  } finally {
    if (result === undefined && failure === undefined) abort.abort()
  }
  if (failure !== undefined) {
    if (failure instanceof MissingObjectError) throw new ProtocolError(`cannot send the pack: ${failure.message} (the store is missing an object)`)
    throw failure
  }
  let objects = result!.objects
  // What the clone pack holds is sent from it: the walk may list an object again (one the pack's tips
  // hold at another path), and a pack must not hold an object twice.
  const inPack = clonePack ? (id: string) => ctx.clonePacks!.holds(clonePack, id) : undefined
  if (inPack) objects = objects.filter(o => !inPack(o.id))
  if (plan.includeTag) {
    const tags = await tagsToInclude(ctx, objects, new Set(plan.common), inPack)
    if (tags.length) objects = objects.concat(tags)
  }
  const total = objects.length + (clonePack?.manifest.count ?? 0)
  if (showProgress) yield progressPkt(`Enumerating objects: ${total}, done.\n`, plan.sideband)
  if (!plan.sideband) state.rawPack = true
  if (clonePack && ctx.clonePacks!.stale(clonePack, objects.length)) ctx.clonePacks!.schedule(ctx)
  const reuse = clonePack ? { reuse: { count: clonePack.manifest.count, bytes: ctx.clonePacks!.entries(clonePack) } } : {}
  yield* packStream(ctx.objects, objects, { sideband: plan.sideband, progress: showProgress, level: ctx.packLevel, cache, ...reuse })
}

/** Negotiation bookkeeping shared by v0 and v2: which haves are common, and whether that covers every want. */
class Negotiation {
  /** Common objects, in the order the client named them. */
  readonly common: string[] = []
  private readonly theyHave = new Set<string>()
  private readonly commonCommits = new Set<string>()
  private readonly settled = new Set<string>()
  private haveCount = 0
  private coveredAt = -1
  private wantCommits: string[] | undefined

  constructor(private readonly ctx: ServeContext, private readonly wants: readonly string[]) {}

  /**
   * Record one `have`: 'unknown' (we do not have it), 'new' (common, first time) or 'known' (common, or an
   * ancestor of a common commit, already).
   */
  async have(id: string): Promise<'unknown' | 'new' | 'known'> {
    if (++this.haveCount > this.ctx.maxHaves) throw new ProtocolError(`too many have lines (the limit is ${this.ctx.maxHaves})`)
    const o = await this.ctx.objects.get(id)
    if (!o) return 'unknown'
    const known = this.theyHave.has(id)
    if (o.type === 'commit') {
      this.theyHave.add(id)
      this.commonCommits.add(id)
      try {
        for (const p of (await this.ctx.reader.commit(id)).parents) this.theyHave.add(p)
      } catch { /* a commit we cannot read is still common */ }
    }
    if (known) return 'known'
    this.common.push(id)
    return 'new'
  }

  /** Every want reaches a common commit: the client can stop sending haves. */
  async okToGiveUp(): Promise<boolean> {
    if (this.commonCommits.size === 0) return false
    if (this.coveredAt === this.commonCommits.size) return false // nothing new since the last "no"
    this.wantCommits ??= await commitsOf(this.ctx, this.wants)
    const ok = await allWantsCovered(this.ctx.reader, this.wantCommits, this.commonCommits, this.settled)
    if (!ok) this.coveredAt = this.commonCommits.size
    return ok
  }
}

// ---------------------------------------------------------------------------------------------- v0 / v1

function sidebandOf(req: UploadRequest): number {
  return req.capabilities.has('side-band-64k') ? SIDEBAND_64K_MAX_PKT_LENGTH : req.capabilities.has('side-band') ? SIDEBAND_MAX_PKT_LENGTH : 0
}

async function* fetchV0(ctx: ServeContext, reader: PktLineReader, opts: UploadPackSessionOptions, state: SessionState): AsyncGenerator<Uint8Array> {
  const req = await readUploadRequest(reader)
  if (req === null) return // ls-remote, or nothing to fetch
  if (req.deepenSince !== undefined || req.deepenNot.length > 0) throw new ProtocolError('deepen-since and deepen-not are not supported; use --depth')
  if (req.filter !== undefined) throw new ProtocolError('filter is not supported (partial clone)')
  await checkWants(ctx, req.wants)
  const caps = req.capabilities
  const multiAck = caps.has('multi_ack_detailed') ? 2 : caps.has('multi_ack') ? 1 : 0
  const noDone = caps.has('no-done')
  const shallow = await planShallow(ctx, req.wants, req.shallow, req.deepen)
  if (req.deepen !== undefined || req.shallow.length > 0) yield formatShallowUpdate({ shallow: shallow.shallow, unshallow: shallow.unshallow })

  const nego = new Negotiation(ctx, req.wants)
  let last: string | undefined
  let gotCommon = false
  let gotOther = false
  let sentReady = false
  for (;;) {
    const round = await readHaves(reader)
    if (round === null) return // stateless: the client only wanted the shallow update; stateful: it hung up
    const out: Uint8Array[] = []
    for (const id of round.haves) {
      const r = await nego.have(id)
      if (r === 'unknown') {
        gotOther = true
        if (multiAck && await nego.okToGiveUp()) {
          if (multiAck === 2) { sentReady = true; out.push(formatAck(id, 'ready')) } else out.push(formatAck(id, 'continue'))
        }
        continue
      }
      gotCommon = true
      last = id
      if (multiAck === 2) out.push(formatAck(id, 'common'))
      else if (multiAck === 1) out.push(formatAck(id, 'continue'))
      else if (nego.common.length === 1 && r === 'new') out.push(formatAck(id))
    }
    if (round.done) {
      if (nego.common.length > 0) { if (multiAck) out.push(formatAck(last ?? nego.common[nego.common.length - 1])) } else out.push(formatNak())
      yield concat(out)
      break
    }
    if (multiAck === 2 && gotCommon && !gotOther && last !== undefined && await nego.okToGiveUp()) {
      sentReady = true
      out.push(formatAck(last, 'ready'))
    }
    if (nego.common.length === 0 || multiAck) out.push(formatNak())
    if (noDone && sentReady && last !== undefined) {
      out.push(formatAck(last))
      yield concat(out)
      break
    }
    yield concat(out)
    if (opts.stateless) return
    gotCommon = false
    gotOther = false
  }
  yield* sendPack(ctx, {
    wants: req.wants, common: nego.common, shallow, includeTag: caps.has('include-tag'),
    sideband: sidebandOf(req), progress: !caps.has('no-progress'),
  }, state)
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0] : concatBytes(parts)
}

// --------------------------------------------------------------------------------------------------- v2

async function lsRefs(ctx: ServeContext, argLines: readonly string[]): Promise<Uint8Array> {
  const args = parseLsRefsArgs(argLines)
  // Git ignores prefixes when there are too many to be worth filtering by.
  const prefixes = args.refPrefixes.length > 0 && args.refPrefixes.length <= 64 ? args.refPrefixes : undefined
  const listing = await listRefs(ctx.refs, ctx.objects, ctx.head, { peel: args.peel, ...(prefixes ? { prefixes } : {}) })
  const out: LsRef[] = []
  if (!prefixes || prefixes.some(p => 'HEAD'.startsWith(p))) {
    const { target, id } = listing.head
    if (id !== undefined || args.unborn) {
      const head: LsRef = { name: 'HEAD', id: id ?? null }
      if (args.symrefs || id === undefined) head.symrefTarget = target
      const peeled = listing.refs.find(r => r.name === target)?.peeled
      if (args.peel && peeled) head.peeled = peeled
      out.push(head)
    }
  }
  for (const r of listing.refs) {
    const ref: LsRef = { name: r.name, id: r.id }
    if (args.peel && r.peeled) ref.peeled = r.peeled
    out.push(ref)
  }
  return formatLsRefsResponse(out)
}

async function* fetchV2(ctx: ServeContext, argLines: readonly string[], state: SessionState): AsyncGenerator<Uint8Array> {
  const args: FetchArgs = parseFetchArgs(argLines)
  if (args.filter !== undefined) throw new ProtocolError('filter is not supported (partial clone)')
  if (args.deepenSince !== undefined || args.deepenNot.length > 0) throw new ProtocolError('deepen-since and deepen-not are not supported; use --depth')
  if (args.deepenRelative && args.deepen === undefined) throw new ProtocolError('deepen-relative needs deepen')
  if (args.wantRefs.length > 0) throw new ProtocolError('want-ref is not supported')
  if (args.wants.length === 0) return
  await checkWants(ctx, args.wants)
  const nego = new Negotiation(ctx, args.wants)
  for (const h of args.haves) await nego.have(h)
  let ready = args.done
  const head: Parameters<typeof formatFetchResponse>[0] = {}
  if (!args.done) {
    ready = !args.waitForDone && await nego.okToGiveUp()
    head.acknowledgments = { nak: nego.common.length === 0, acks: [...nego.common], ready }
    if (!ready) { yield formatFetchResponse(head); return }
  }
  const shallow = await planShallow(ctx, args.wants, args.shallow, args.deepen, args.deepenRelative)
  if (args.deepen !== undefined || args.shallow.length > 0) head.shallowInfo = { shallow: shallow.shallow, unshallow: shallow.unshallow }
  head.packfile = true
  yield formatFetchResponse(head)
  yield* sendPack(ctx, {
    wants: args.wants, common: nego.common, shallow, includeTag: args.includeTag,
    sideband: SIDEBAND_64K_MAX_PKT_LENGTH, progress: !args.noProgress,
  }, state)
}
