// receive-pack, the server side of push (gitprotocol-pack(5)): advertise the refs, read the client's ref
// update commands and its pack, store the pack's objects once it is verified, check every update (the new
// objects exist and are connected to what the refs already reach, branches only move forward), move the
// refs by compare-and-set (all or none when the client asked for `atomic`) and report `ok`/`ng` per ref.
// A bad pack stores nothing and moves no ref.
import { LarixError } from '../../store/errors.js'
import { refNameProblem } from '../../store/refs.js'
import type { ObjectStore } from '../../store/backend.js'
import { MemoryStaging, unpack } from '../pack/index.js'
import {
  encodeSideband, FLUSH_PKT, formatRefAdvertisement, formatReportStatus, ProtocolError, readReceiveRequest,
  SIDEBAND_64K_MAX_PKT_LENGTH, SIDEBAND_DATA, SIDEBAND_MAX_PKT_LENGTH, ZERO_ID,
} from '../wire/index.js'
import type { PktLineReader, RefStatus, RefUpdate } from '../wire/index.js'
import type { ServeContext } from './context.js'
import { listRefs } from './refs.js'
import type { SessionState } from './session.js'
import { describe } from './session.js'
import { MissingObjectError, walkObjects } from './walk.js'

export interface ReceivePackSessionOptions {
  /** 0 or 1 (`version 1` first); receive-pack has no v2, a client asking for it gets v0. */
  version: 0 | 1
  /** Smart HTTP: the body ends after the pack. On a connection the pack ends at its trailer. */
  stateless: boolean
  advertise: boolean
}

/** The receive-pack advertisement: every ref, and the capabilities. */
export async function receivePackAdvertisement(ctx: ServeContext, opts: { version: 0 | 1; service?: boolean }): Promise<Uint8Array> {
  const listing = await listRefs(ctx.refs, ctx.objects, ctx.head, { peel: false })
  const caps = ['report-status', 'report-status-v2', 'delete-refs', 'side-band-64k', 'quiet', 'atomic', 'ofs-delta',
    'object-format=sha1', `agent=${ctx.agent}`]
  return formatRefAdvertisement({
    refs: listing.refs, capabilities: caps, version: opts.version,
    ...(opts.service ? { service: 'git-receive-pack' } : {}),
  })
}

const undef = (id: string): string | undefined => (id === ZERO_ID ? undefined : id)

/** A receive-pack session over `reader`. Throws on bad input before the pack: wrap it with guarded(). */
export async function* receivePackSession(ctx: ServeContext, reader: PktLineReader, opts: ReceivePackSessionOptions, state: SessionState): AsyncGenerator<Uint8Array> {
  if (opts.advertise) yield await receivePackAdvertisement(ctx, { version: opts.version })
  const req = await readReceiveRequest(reader)
  if (req === null) return
  if (req.commands.length > ctx.maxPushCommands) throw new ProtocolError(`too many ref updates in one push (the limit is ${ctx.maxPushCommands})`)
  const caps = req.capabilities
  const format = caps.get('object-format')
  if (format !== undefined && format !== 'sha1') throw new ProtocolError(`object-format ${format} is not supported (this server speaks sha1)`)
  const sideband = caps.has('side-band-64k') ? SIDEBAND_64K_MAX_PKT_LENGTH : caps.has('side-band') ? SIDEBAND_MAX_PKT_LENGTH : 0
  const report = caps.has('report-status') || caps.has('report-status-v2')
  const atomic = caps.has('atomic')

  let unpackError: string | undefined
  // The pack's objects stay at hand (they were all in memory already) for the connectivity walk.
  const staging = ctx.staging?.() ?? new MemoryStaging()
  let statuses: RefStatus[]
  try {
    if (req.commands.some(c => c.newId !== ZERO_ID)) {
      try {
        await unpack(reader.rest(), ctx.objects, { strict: true, stopAtTrailer: !opts.stateless, staging })
      } catch (e) {
        ctx.onError?.(e)
        unpackError = describe(e)
      }
    }
    statuses = unpackError === undefined
      ? await update(ctx, req.commands, atomic, staging instanceof MemoryStaging ? withRecent(ctx.objects, staging) : ctx.objects)
      : req.commands.map((c): RefStatus => ({ ref: c.ref, ok: false, reason: 'unpacker error' }))
  } finally {
    if (staging instanceof MemoryStaging) staging.clear()
  }
  if (!report) return
  const bytes = formatReportStatus({ unpackOk: unpackError === undefined, ...(unpackError !== undefined ? { unpackError } : {}), refs: statuses })
  if (sideband) {
    state.sideband = sideband
    yield encodeSideband(SIDEBAND_DATA, bytes, sideband)
    yield FLUSH_PKT
  } else yield bytes
}

/** Why `c` cannot be applied (before any ref moves), or undefined. */
async function check(ctx: ServeContext, c: RefUpdate, seen: Set<string>): Promise<string | undefined> {
  if (seen.has(c.ref)) return 'duplicate ref update'
  seen.add(c.ref)
  if (!c.ref.startsWith('refs/') || refNameProblem(c.ref)) return 'funny refname'
  const current = await ctx.refs.get(c.ref)
  if (current !== undef(c.oldId)) return current === undefined ? 'stale info: the ref does not exist' : `stale info: the ref is at ${current}`
  if (c.newId === ZERO_ID) return undefined
  const o = await ctx.objects.get(c.newId)
  if (!o) return 'missing necessary objects'
  if (c.ref.startsWith('refs/heads/')) {
    if (o.type !== 'commit') return `not a commit (a ${o.type}): branches point at commits`
    if (current !== undefined && current !== c.newId) {
      const old = await ctx.objects.get(current)
      if (old?.type === 'commit' && !(await isAncestorSafe(ctx, current, c.newId))) return 'non-fast-forward'
    }
  }
  return undefined
}

async function isAncestorSafe(ctx: ServeContext, ancestor: string, descendant: string): Promise<boolean> {
  const { reader } = ctx
  const floor = await reader.generation(ancestor)
  const seen = new Set([descendant])
  const stack = [descendant]
  while (stack.length) {
    const id = stack.pop()!
    if (id === ancestor) return true
    for (const p of (await reader.commit(id)).parents) {
      if (seen.has(p)) continue
      seen.add(p)
      if ((await reader.generation(p)) >= floor) stack.push(p)
    }
  }
  return false
}

/** The store, read through the objects a push just brought (stored already; this saves reading them back). */
function withRecent(store: ObjectStore, recent: MemoryStaging): ObjectStore {
  return {
    get: async id => recent.map.get(id) ?? store.get(id),
    has: async id => recent.map.has(id) || store.has(id),
    putMany: objects => store.putMany(objects),
  }
}

/** Every object reachable from `tips` and not from the refs is in the store. */
async function connected(ctx: ServeContext, objects: ObjectStore, tips: readonly string[], existing: readonly string[]): Promise<boolean> {
  try {
    await walkObjects(objects, ctx.reader, { wants: tips, haves: existing }, { verify: true })
    return true
  } catch (e) {
    if (e instanceof MissingObjectError) return false
    if (e instanceof LarixError && (e.code === 'LARIX_NOT_FOUND' || e.code === 'LARIX_CORRUPT')) return false
    throw e
  }
}

async function update(ctx: ServeContext, commands: readonly RefUpdate[], atomic: boolean, objects: ObjectStore): Promise<RefStatus[]> {
  const reasons = new Map<RefUpdate, string>()
  const seen = new Set<string>()
  for (const c of commands) {
    let why: string | undefined
    try { why = await check(ctx, c, seen) } catch (e) { ctx.onError?.(e); why = describe(e) }
    if (why !== undefined) reasons.set(c, why)
  }
  // Connectivity: one walk for all new tips; on failure, one per tip to say which.
  const existing = [...new Set((await ctx.refs.list('refs/')).map(r => r.id))]
  const live = commands.filter(c => !reasons.has(c) && c.newId !== ZERO_ID)
  if (live.length > 0 && !(await connected(ctx, objects, live.map(c => c.newId), existing))) {
    for (const c of live) if (!(await connected(ctx, objects, [c.newId], existing))) reasons.set(c, 'missing necessary objects')
  }
  if (atomic && reasons.size > 0) {
    return commands.map(c => ({ ref: c.ref, ok: false, reason: reasons.get(c) ?? 'atomic push failure' }))
  }
  const applied: RefUpdate[] = []
  const statuses: RefStatus[] = []
  for (const c of commands) {
    const why = reasons.get(c)
    if (why !== undefined) { statuses.push({ ref: c.ref, ok: false, reason: why }); continue }
    let moved = false
    try { moved = await ctx.refs.cas(c.ref, undef(c.oldId), undef(c.newId)) } catch (e) {
      ctx.onError?.(e)
      reasons.set(c, describe(e))
    }
    if (moved) { applied.push(c); statuses.push({ ref: c.ref, ok: true }); continue }
    const reason = reasons.get(c) ?? 'failed to update ref: it moved while the push was checked'
    if (atomic) {
      // Undo what moved, newest first; a ref moved again meanwhile is left to its new writer.
      for (const a of applied.reverse()) await ctx.refs.cas(a.ref, undef(a.newId), undef(a.oldId)).catch(() => false)
      return commands.map(x => ({ ref: x.ref, ok: false, reason: x === c ? reason : 'atomic transaction failed' }))
    }
    statuses.push({ ref: c.ref, ok: false, reason })
  }
  return statuses
}
