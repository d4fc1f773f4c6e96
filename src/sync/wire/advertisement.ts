// What a server says first: the v0/v1 ref advertisement (refs, capabilities behind a NUL on the first line,
// peeled tags as `<ref>^{}`, `capabilities^{}` for an empty repository) or the v2 capability advertisement
// (`version 2` and one capability per line). Smart HTTP puts `# service=<name>` and a flush-pkt in front.
import { BadArgumentError } from '../../store/errors.js'
import { Capabilities } from './capabilities.js'
import { ProtocolError } from './errors.js'
import {
  ZERO_ID, checkId, checkRefName, expectFlush, parseId, parseRefName, readLine, unexpected, wireRefProblem, writer,
} from './lines.js'
import type { PktLineReader } from './pkt-line.js'

/** A ref as advertised: its name, the object it points to, and for an annotated tag the object it peels to. */
export interface AdvertisedRef {
  name: string
  id: string
  peeled?: string
}

/** A v0/v1 ref advertisement (upload-pack or receive-pack). */
export interface RefAdvertisement {
  version: 0 | 1
  /** The service named by the smart HTTP `# service=` line, when there was one. */
  service?: string
  /** In the order sent; HEAD first when the server has one. Peeled `^{}` lines are folded into `peeled`. */
  refs: AdvertisedRef[]
  capabilities: Capabilities
  /** From the `symref=` capabilities: `HEAD` → `refs/heads/main`. */
  symrefs: Map<string, string>
  /** `shallow <id>` lines: the server's own shallow boundary. */
  shallow: string[]
  /** Ids of `.have` lines (receive-pack: objects the server has through alternates). */
  haves: string[]
}

/** A protocol v2 capability advertisement. */
export interface V2Advertisement {
  version: 2
  service?: string
  capabilities: Capabilities
}

export type Advertisement = RefAdvertisement | V2Advertisement

/** What to send when making a v0/v1 ref advertisement. */
export interface RefAdvertisementInit {
  refs: readonly AdvertisedRef[]
  capabilities: Capabilities | Iterable<string>
  /** 1 adds the `version 1` line; default 0 (none). */
  version?: 0 | 1
  shallow?: readonly string[]
  haves?: readonly string[]
  /** Smart HTTP: put `# service=<service>` and a flush-pkt first. */
  service?: string
}

const SERVICE_PREFIX = '# service='
const SERVICE_RE = /^git-[a-z][a-z-]*$/

function caps(c: Capabilities | Iterable<string>): Capabilities {
  return c instanceof Capabilities ? c : new Capabilities(c)
}

/**
 * The smart HTTP preamble: `# service=<service>` and a flush-pkt.
 * @example formatServiceHeader('git-upload-pack') // "001e# service=git-upload-pack\n0000"
 */
export function formatServiceHeader(service: string): Uint8Array {
  if (!SERVICE_RE.test(service)) throw new BadArgumentError(`bad service name ${JSON.stringify(service)}`, 'service')
  return writer().text(SERVICE_PREFIX + service).flush().toBytes()
}

/**
 * Format a v0/v1 ref advertisement: refs (capabilities behind a NUL on the first), peeled lines, `.have`
 * lines, shallow lines, flush. With no refs, the `capabilities^{}` line carries the capabilities.
 * Refs are sent in the order given (Git sends HEAD first, then the rest sorted by name).
 */
export function formatRefAdvertisement(adv: RefAdvertisementInit): Uint8Array {
  const w = writer()
  if (adv.service !== undefined) w.raw(formatServiceHeader(adv.service))
  if (adv.version === 1) w.text('version 1')
  const capList = caps(adv.capabilities).toString()
  let first = true
  const line = (id: string, name: string): void => {
    w.text(first ? `${id} ${name}\0${capList}` : `${id} ${name}`)
    first = false
  }
  for (const r of adv.refs) {
    line(checkId(r.id), checkRefName(r.name))
    if (r.peeled !== undefined) line(checkId(r.peeled), r.name + '^{}')
  }
  for (const id of adv.haves ?? []) line(checkId(id), '.have')
  if (first) line(ZERO_ID, 'capabilities^{}')
  for (const id of adv.shallow ?? []) w.text('shallow ' + checkId(id))
  return w.flush().toBytes()
}

/**
 * Format a protocol v2 capability advertisement: `version 2`, one line per capability, flush.
 * @example formatV2Advertisement(['agent=larix/0.1', 'ls-refs=unborn', 'fetch=shallow', 'server-option', 'object-format=sha1'])
 */
export function formatV2Advertisement(capabilities: Capabilities | Iterable<string>, options: { service?: string } = {}): Uint8Array {
  const w = writer()
  if (options.service !== undefined) w.raw(formatServiceHeader(options.service))
  w.text('version 2')
  for (const c of caps(capabilities).toArray()) w.text(c)
  return w.flush().toBytes()
}

/** The `symref=<from>:<to>` capabilities as a map. Throws LARIX_PROTOCOL on a malformed one. */
export function symrefsOf(capabilities: Capabilities): Map<string, string> {
  const out = new Map<string, string>()
  for (const v of capabilities.getAll('symref')) {
    const i = v.indexOf(':')
    const from = v.slice(0, i), to = v.slice(i + 1)
    if (i < 0 || wireRefProblem(from) || wireRefProblem(to)) throw new ProtocolError('bad symref capability', 'symref=' + v)
    if (!out.has(from)) out.set(from, to)
  }
  return out
}

/**
 * Read what a server sends first, whichever protocol it chose: a v2 capability advertisement or a v0/v1
 * ref advertisement, with or without the smart HTTP `# service=` preamble (checked against
 * `options.service` when given). Reads up to and including the closing flush-pkt.
 * Throws LARIX_PROTOCOL on anything malformed, LARIX_REMOTE on an `ERR` line.
 * @example
 * const adv = await readAdvertisement(new PktLineReader(res.body), { service: 'git-upload-pack' })
 * if (adv.version === 2) { ... } else for (const r of adv.refs) ...
 */
export async function readAdvertisement(reader: PktLineReader, options: { service?: string } = {}): Promise<Advertisement> {
  let l = await readLine(reader)
  let service: string | undefined
  if (l.type === 'line' && l.text.startsWith(SERVICE_PREFIX)) {
    service = l.text.slice(SERVICE_PREFIX.length)
    if (!SERVICE_RE.test(service)) throw new ProtocolError('bad service line', l.text)
    if (options.service !== undefined && service !== options.service) {
      throw new ProtocolError(`expected service ${options.service}, the server answered for another`, l.text)
    }
    await expectFlush(reader, 'the service line')
    l = await readLine(reader)
  } else if (options.service !== undefined && l.type === 'line' && l.text.startsWith('#')) {
    throw new ProtocolError('bad service line', l.text)
  }
  const withService = <T extends object>(x: T): T => (service === undefined ? x : { ...x, service })

  if (l.type === 'line' && l.text === 'version 2') {
    const list = []
    for (;;) {
      const c = await readLine(reader)
      if (c.type === 'flush') break
      if (c.type !== 'line') throw unexpected(c, 'a capability or a flush-pkt')
      list.push(Capabilities.parseLine(c.text))
    }
    return withService<V2Advertisement>({ version: 2, capabilities: new Capabilities(list) })
  }

  let version: 0 | 1 = 0
  if (l.type === 'line' && l.text === 'version 1') {
    version = 1
    l = await readLine(reader)
  }
  const adv: RefAdvertisement = {
    version, refs: [], capabilities: new Capabilities(), symrefs: new Map(), shallow: [], haves: [],
  }
  let first = true
  let emptyRepo = false
  for (;; l = await readLine(reader)) {
    if (l.type === 'flush') break
    if (l.type !== 'line') throw unexpected(l, first ? 'a ref, a capabilities^{} line or a flush-pkt' : 'a ref line or a flush-pkt')
    let text = l.text
    if (text.startsWith('shallow ')) {
      adv.shallow.push(parseId(text.slice(8), text))
      continue
    }
    if (adv.shallow.length > 0) throw new ProtocolError('a ref line after the shallow lines', text)
    if (emptyRepo) throw new ProtocolError('a ref line after capabilities^{}', text)
    if (first) {
      const nul = text.indexOf('\0')
      if (nul >= 0) {
        adv.capabilities = Capabilities.parse(text.slice(nul + 1), text)
        text = text.slice(0, nul)
      }
    }
    if (text.length < 42 || text[40] !== ' ') throw new ProtocolError('expected "<id> <ref>"', l.text)
    const id = parseId(text.slice(0, 40), l.text)
    const name = text.slice(41)
    if (first && name === 'capabilities^{}') {
      if (id !== ZERO_ID) throw new ProtocolError('capabilities^{} must carry the zero id', l.text)
      emptyRepo = true
    } else if (name === '.have') {
      adv.haves.push(id)
    } else if (name.endsWith('^{}')) {
      const last = adv.refs[adv.refs.length - 1]
      if (first || !last || last.name !== name.slice(0, -3) || last.peeled !== undefined) {
        throw new ProtocolError('a peeled line must follow the ref it peels', l.text)
      }
      last.peeled = id
    } else {
      adv.refs.push({ name: parseRefName(name, l.text), id })
    }
    first = false
  }
  adv.symrefs = symrefsOf(adv.capabilities)
  return withService(adv)
}
