// What a remote has: its refs, what HEAD points at, and what its upload-pack can do, from the v0/v1
// advertisement or from a v2 `ls-refs`.
import { Capabilities, ProtocolError, formatCommandRequest, formatLsRefsArgs, readLsRefsResponse } from '../wire/index.js'
import type { AdvertisedRef } from '../wire/index.js'
import { AGENT } from './transport.js'
import type { Session } from './transport.js'

export interface RemoteRefs {
  /** Refs, HEAD excluded; `peeled` is the commit an annotated tag points at. */
  refs: AdvertisedRef[]
  /** The ref HEAD points at (`refs/heads/main`), when the server says. */
  head?: string
  /** The id HEAD points at, when it has one. */
  headId?: string
  /** The protocol version the server answered with. */
  version: 0 | 1 | 2
}

/** The capabilities to send with a v2 command: `agent` and `object-format` when the server offers them. */
export function v2CommandCapabilities(caps: Capabilities): string[] {
  const out: string[] = []
  if (caps.has('agent')) out.push('agent=' + AGENT)
  if (caps.has('object-format')) out.push('object-format=sha1')
  return out
}

/** Refuse a server whose objects are not SHA-1 (larix's only hash so far). */
export function checkObjectFormat(caps: Capabilities): void {
  const format = caps.get('object-format')
  if (format !== undefined && format !== 'sha1') throw new ProtocolError(`the remote uses ${format} object ids; larix speaks sha1 only`)
}

/**
 * List the remote's refs. With v2, only refs under `prefixes` are asked for (a server may send more).
 * @example const { refs, head } = await listRemoteRefs(session, ['refs/heads/', 'refs/tags/'])
 */
export async function listRemoteRefs(session: Session, prefixes: readonly string[]): Promise<RemoteRefs> {
  const adv = session.advertisement
  checkObjectFormat(adv.capabilities)
  if (adv.version !== 2) {
    const head = adv.refs.find(r => r.name === 'HEAD')
    const out: RemoteRefs = { refs: adv.refs.filter(r => r.name !== 'HEAD'), version: adv.version }
    const target = adv.symrefs.get('HEAD')
    if (target !== undefined) out.head = target
    if (head) out.headId = head.id
    return out
  }
  if (!adv.capabilities.has('ls-refs')) throw new ProtocolError('the remote speaks protocol v2 without the ls-refs command')
  const unborn = adv.capabilities.features('ls-refs').includes('unborn')
  const reader = await session.request(formatCommandRequest({
    command: 'ls-refs',
    capabilities: v2CommandCapabilities(adv.capabilities),
    args: formatLsRefsArgs({ symrefs: true, peel: true, unborn, refPrefixes: ['HEAD', ...prefixes] }),
  }))
  try {
    const list = await readLsRefsResponse(reader)
    const out: RemoteRefs = { refs: [], version: 2 }
    for (const r of list) {
      if (r.name === 'HEAD') {
        if (r.symrefTarget !== undefined) out.head = r.symrefTarget
        if (r.id !== null) out.headId = r.id
        continue
      }
      if (r.id === null) continue
      out.refs.push(r.peeled === undefined ? { name: r.name, id: r.id } : { name: r.name, id: r.id, peeled: r.peeled })
    }
    return out
  } finally {
    if (session.stateless) await reader.close()
  }
}
