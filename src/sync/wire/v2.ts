// Protocol v2 (gitprotocol-v2(5)): a request is `command=<name>`, capability lines, a delim-pkt, the
// command's arguments, a flush-pkt. This module knows the `ls-refs` and `fetch` commands: their arguments,
// the ls-refs output and the sections of a fetch response.
import { BadArgumentError } from '../../store/errors.js'
import { Capabilities } from './capabilities.js'
import { ProtocolError } from './errors.js'
import {
  checkId, checkPositive, checkRefName, checkText, parseId, parsePositive, parseRefName, parseText, readLine,
  splitWord, unexpected, writer,
} from './lines.js'
import type { PktLineReader } from './pkt-line.js'
import { demuxSideband } from './sideband.js'
import type { DemuxOptions } from './sideband.js'

/** A v2 command request. */
export interface CommandRequest {
  command: string
  capabilities: Capabilities
  /** The argument lines, LF removed. Parse them with parseLsRefsArgs / parseFetchArgs. */
  args: string[]
}

const COMMAND_RE = /^[A-Za-z0-9_-]+$/

/**
 * Format a v2 command request.
 * @example formatCommandRequest({ command: 'ls-refs', capabilities: ['agent=larix/0.1'], args: formatLsRefsArgs({ symrefs: true, peel: true }) })
 */
export function formatCommandRequest(req: { command: string; capabilities?: Capabilities | Iterable<string>; args?: readonly string[] }): Uint8Array {
  if (!COMMAND_RE.test(req.command)) throw new BadArgumentError(`bad command name ${JSON.stringify(req.command)}`, 'command')
  const w = writer().text('command=' + req.command)
  const caps = req.capabilities instanceof Capabilities ? req.capabilities : new Capabilities(req.capabilities ?? [])
  for (const c of caps.toArray()) w.text(c)
  w.delim()
  for (const a of req.args ?? []) w.text(checkText(a, 'argument'))
  return w.flush().toBytes()
}

/**
 * Read one v2 command request (server side). Returns null for an empty request (a lone flush-pkt: the
 * client is done) or when the stream ends before a request starts.
 */
export async function readCommandRequest(reader: PktLineReader): Promise<CommandRequest | null> {
  const first = await readLine(reader)
  if (first.type === 'flush' || first.type === 'end') return null
  if (first.type !== 'line' || !first.text.startsWith('command=')) throw unexpected(first, 'a command=<name> line')
  const command = first.text.slice(8)
  if (!COMMAND_RE.test(command)) throw new ProtocolError('bad command name', first.text)
  const list = []
  const args: string[] = []
  let section: 'capabilities' | 'args' = 'capabilities'
  for (;;) {
    const l = await readLine(reader)
    if (l.type === 'flush') break
    if (l.type === 'delim' && section === 'capabilities') { section = 'args'; continue }
    if (l.type !== 'line') throw unexpected(l, section === 'capabilities' ? 'a capability, a delim-pkt or a flush-pkt' : 'an argument or a flush-pkt')
    if (section === 'capabilities') list.push(Capabilities.parseLine(l.text))
    else args.push(l.text)
  }
  return { command, capabilities: new Capabilities(list), args }
}

// ---------------------------------------------------------------------------------------------- ls-refs

/** The arguments of `ls-refs`. */
export interface LsRefsArgs {
  symrefs: boolean
  peel: boolean
  unborn: boolean
  /** `ref-prefix` lines: only refs starting with one of these are wanted (a server may send more). */
  refPrefixes: string[]
}

/** The `ls-refs` argument lines for `args`. */
export function formatLsRefsArgs(args: Partial<LsRefsArgs>): string[] {
  const out: string[] = []
  if (args.peel) out.push('peel')
  if (args.symrefs) out.push('symrefs')
  if (args.unborn) out.push('unborn')
  for (const p of args.refPrefixes ?? []) out.push('ref-prefix ' + checkText(p, 'ref prefix'))
  return out
}

/** Parse `ls-refs` argument lines. Unknown arguments are refused (LARIX_PROTOCOL), as Git does. */
export function parseLsRefsArgs(lines: readonly string[]): LsRefsArgs {
  const a: LsRefsArgs = { symrefs: false, peel: false, unborn: false, refPrefixes: [] }
  for (const line of lines) {
    if (line === 'symrefs') a.symrefs = true
    else if (line === 'peel') a.peel = true
    else if (line === 'unborn') a.unborn = true
    else if (line.startsWith('ref-prefix ')) a.refPrefixes.push(parseText(line.slice(11), 'ref prefix', line))
    else throw new ProtocolError('unexpected ls-refs argument', line)
  }
  return a
}

/** One line of `ls-refs` output. `id` is null for `unborn` (HEAD pointing at a branch with no commit yet). */
export interface LsRef {
  name: string
  id: string | null
  symrefTarget?: string
  peeled?: string
}

/** Format `ls-refs` output: one line per ref, then a flush-pkt. */
export function formatLsRefsResponse(refs: readonly LsRef[]): Uint8Array {
  const w = writer()
  for (const r of refs) {
    let line = `${r.id === null ? 'unborn' : checkId(r.id)} ${checkRefName(r.name)}`
    if (r.symrefTarget !== undefined) line += ' symref-target:' + checkRefName(r.symrefTarget)
    if (r.peeled !== undefined) line += ' peeled:' + checkId(r.peeled)
    w.text(line)
  }
  return w.flush().toBytes()
}

/** Read `ls-refs` output up to its flush-pkt. */
export async function readLsRefsResponse(reader: PktLineReader): Promise<LsRef[]> {
  const refs: LsRef[] = []
  for (;;) {
    const l = await readLine(reader)
    if (l.type === 'flush') return refs
    if (l.type !== 'line') throw unexpected(l, 'a ref line or a flush-pkt')
    const [idText, ...rest] = l.text.split(' ')
    if (rest.length === 0) throw new ProtocolError('expected "<id> <ref> [attributes]"', l.text)
    const ref: LsRef = { name: parseRefName(rest[0], l.text), id: idText === 'unborn' ? null : parseId(idText, l.text) }
    for (const attr of rest.slice(1)) {
      if (attr.startsWith('symref-target:') && ref.symrefTarget === undefined) ref.symrefTarget = parseRefName(attr.slice(14), l.text)
      else if (attr.startsWith('peeled:') && ref.peeled === undefined) ref.peeled = parseId(attr.slice(7), l.text)
      else throw new ProtocolError('unexpected ref attribute', l.text)
    }
    refs.push(ref)
  }
}

// ------------------------------------------------------------------------------------------------ fetch

/** The arguments of a v2 `fetch`. */
export interface FetchArgs {
  wants: string[]
  haves: string[]
  /** Stop negotiating and send the pack. */
  done: boolean
  thinPack: boolean
  noProgress: boolean
  includeTag: boolean
  ofsDelta: boolean
  /** The client's shallow boundary. */
  shallow: string[]
  deepen?: number
  deepenRelative: boolean
  deepenSince?: number
  deepenNot: string[]
  filter?: string
  /** `want-ref <ref>` (ref-in-want). */
  wantRefs: string[]
  sidebandAll: boolean
  /** `packfile-uris <protocols>`. */
  packfileUris?: string[]
  waitForDone: boolean
}

/** The `fetch` argument lines for `args`, in the order Git sends them. */
export function formatFetchArgs(args: Partial<FetchArgs>): string[] {
  const out: string[] = []
  if (args.thinPack) out.push('thin-pack')
  if (args.noProgress) out.push('no-progress')
  if (args.includeTag) out.push('include-tag')
  if (args.ofsDelta) out.push('ofs-delta')
  if (args.sidebandAll) out.push('sideband-all')
  if (args.waitForDone) out.push('wait-for-done')
  if (args.packfileUris) out.push('packfile-uris ' + args.packfileUris.map(p => checkText(p, 'packfile-uris protocol')).join(','))
  for (const id of args.shallow ?? []) out.push('shallow ' + checkId(id))
  if (args.deepen !== undefined) out.push('deepen ' + checkPositive(args.deepen, 'deepen'))
  if (args.deepenRelative) out.push('deepen-relative')
  if (args.deepenSince !== undefined) out.push('deepen-since ' + checkPositive(args.deepenSince, 'deepen-since', true))
  for (const rev of args.deepenNot ?? []) out.push('deepen-not ' + checkText(rev, 'deepen-not'))
  if (args.filter !== undefined) out.push('filter ' + checkText(args.filter, 'filter'))
  for (const r of args.wantRefs ?? []) out.push('want-ref ' + checkRefName(r))
  for (const id of args.wants ?? []) out.push('want ' + checkId(id))
  for (const id of args.haves ?? []) out.push('have ' + checkId(id))
  if (args.done) out.push('done')
  return out
}

const FETCH_FLAGS = {
  'thin-pack': 'thinPack', 'no-progress': 'noProgress', 'include-tag': 'includeTag', 'ofs-delta': 'ofsDelta',
  'deepen-relative': 'deepenRelative', 'sideband-all': 'sidebandAll', 'wait-for-done': 'waitForDone', done: 'done',
} as const

/** Parse `fetch` argument lines. Unknown arguments, bad ids or depths are refused (LARIX_PROTOCOL). */
export function parseFetchArgs(lines: readonly string[]): FetchArgs {
  const a: FetchArgs = {
    wants: [], haves: [], done: false, thinPack: false, noProgress: false, includeTag: false, ofsDelta: false,
    shallow: [], deepenRelative: false, deepenNot: [], wantRefs: [], sidebandAll: false, waitForDone: false,
  }
  for (const line of lines) {
    if (Object.hasOwn(FETCH_FLAGS, line)) { a[FETCH_FLAGS[line as keyof typeof FETCH_FLAGS]] = true; continue }
    const [word, value] = splitWord(line)
    if (value === undefined) throw new ProtocolError('unexpected fetch argument', line)
    switch (word) {
      case 'want': a.wants.push(parseId(value, line)); break
      case 'have': a.haves.push(parseId(value, line)); break
      case 'shallow': a.shallow.push(parseId(value, line)); break
      case 'deepen': a.deepen = parsePositive(value, 'depth', line); break
      case 'deepen-since': a.deepenSince = parsePositive(value, 'timestamp', line, true); break
      case 'deepen-not': a.deepenNot.push(parseText(value, 'deepen-not rev', line)); break
      case 'filter': a.filter = parseText(value, 'filter spec', line); break
      case 'want-ref': a.wantRefs.push(parseRefName(value, line)); break
      case 'packfile-uris': a.packfileUris = parseText(value, 'packfile-uris list', line).split(','); break
      default: throw new ProtocolError('unexpected fetch argument', line)
    }
  }
  if (a.deepen !== undefined && a.deepenSince !== undefined) throw new ProtocolError('deepen cannot be combined with deepen-since')
  if (a.deepen !== undefined && a.deepenNot.length > 0) throw new ProtocolError('deepen cannot be combined with deepen-not')
  return a
}

/** The acknowledgments section of a fetch response. */
export interface Acknowledgments {
  /** No `have` was common. */
  nak: boolean
  /** The common `have`s. */
  acks: string[]
  /** The server found a cut and a packfile follows. */
  ready: boolean
}

/** The sections of a v2 fetch response, for formatting. `packfile: true` ends the bytes at the `packfile` header. */
export interface FetchResponseHead {
  acknowledgments?: Acknowledgments
  shallowInfo?: { shallow: string[]; unshallow: string[] }
  wantedRefs?: { id: string; name: string }[]
  packfileUris?: { hash: string; uri: string }[]
  packfile?: boolean
}

/** A v2 fetch response as read: the sections, and the demultiplexed pack bytes when a packfile section came. */
export interface FetchResponse extends Omit<FetchResponseHead, 'packfile'> {
  /** The pack bytes (side-band channel 1), read lazily from the same stream up to its flush-pkt. */
  packfile?: AsyncIterable<Uint8Array>
}

/**
 * Format a v2 fetch response up to the pack. Without `packfile` it is the acknowledgments and a flush-pkt;
 * with `packfile: true` the bytes end after the `packfile` header: send the pack with encodeSideband
 * (channel 1, progress on 2), then a flush-pkt.
 */
export function formatFetchResponse(r: FetchResponseHead): Uint8Array {
  const w = writer()
  const sections: (() => void)[] = []
  if (r.acknowledgments) {
    const a = r.acknowledgments
    if (a.nak && a.acks.length > 0) throw new BadArgumentError('acknowledgments cannot hold both NAK and ACKs', 'acknowledgments')
    if (a.ready !== Boolean(r.packfile)) throw new BadArgumentError('a packfile follows "ready" acknowledgments, and only those', 'acknowledgments')
    sections.push(() => {
      w.text('acknowledgments')
      if (a.nak) w.text('NAK')
      for (const id of a.acks) w.text('ACK ' + checkId(id))
      if (a.ready) w.text('ready')
    })
  }
  if (r.packfile) {
    if (r.shallowInfo) {
      const s = r.shallowInfo
      sections.push(() => {
        w.text('shallow-info')
        for (const id of s.shallow) w.text('shallow ' + checkId(id))
        for (const id of s.unshallow) w.text('unshallow ' + checkId(id))
      })
    }
    if (r.wantedRefs) {
      const refs = r.wantedRefs
      sections.push(() => { w.text('wanted-refs'); for (const x of refs) w.text(`${checkId(x.id)} ${checkRefName(x.name)}`) })
    }
    if (r.packfileUris) {
      const uris = r.packfileUris
      sections.push(() => { w.text('packfile-uris'); for (const x of uris) w.text(`${checkId(x.hash)} ${checkText(x.uri, 'uri')}`) })
    }
    sections.push(() => { w.text('packfile') })
  } else if (r.shallowInfo || r.wantedRefs || r.packfileUris) {
    throw new BadArgumentError('shallow-info, wanted-refs and packfile-uris are only sent with a packfile', 'packfile')
  }
  sections.forEach((write, i) => { if (i > 0) w.delim(); write() })
  if (!r.packfile) w.flush()
  return w.toBytes()
}

const SECTION_ORDER = ['acknowledgments', 'shallow-info', 'wanted-refs', 'packfile-uris', 'packfile'] as const

/**
 * Read a v2 fetch response (client side). Sections must come in Git's order; `ready` must be followed by a
 * packfile and its absence by the end of the response. When there is a packfile, iterate `packfile` to get
 * the pack bytes (channel 2 goes to `options.onProgress`; channel 3 throws LARIX_REMOTE).
 */
export async function readFetchResponse(reader: PktLineReader, options: DemuxOptions = {}): Promise<FetchResponse> {
  const res: FetchResponse = {}
  let seen = -1
  let l = await readLine(reader)
  for (;;) {
    if (l.type !== 'line') throw unexpected(l, 'a fetch response section header')
    const header = l.text
    const index = SECTION_ORDER.indexOf(header as typeof SECTION_ORDER[number])
    if (index < 0) throw new ProtocolError('unknown fetch response section', header)
    if (index <= seen) throw new ProtocolError('fetch response section out of order', header)
    seen = index
    if (header === 'packfile') {
      if (res.acknowledgments && !res.acknowledgments.ready) throw new ProtocolError('a packfile after acknowledgments without "ready"')
      res.packfile = demuxSideband(reader, options)
      return res
    }
    const lines: string[] = []
    for (l = await readLine(reader); l.type === 'line'; l = await readLine(reader)) lines.push(l.text)
    if (header === 'acknowledgments') {
      const a: Acknowledgments = { nak: false, acks: [], ready: false }
      for (const line of lines) {
        if (a.ready) throw new ProtocolError('a line after "ready"', line)
        if (line === 'NAK' && !a.nak && a.acks.length === 0) a.nak = true
        else if (line.startsWith('ACK ') && !a.nak) a.acks.push(parseId(line.slice(4), line))
        else if (line === 'ready') a.ready = true
        else throw new ProtocolError('unexpected acknowledgment', line)
      }
      res.acknowledgments = a
      if (a.ready !== (l.type === 'delim')) {
        throw new ProtocolError(a.ready ? 'expected a packfile after "ready"' : 'expected no more sections without "ready"')
      }
    } else if (header === 'shallow-info') {
      const s = { shallow: [] as string[], unshallow: [] as string[] }
      for (const line of lines) {
        const [word, value] = splitWord(line)
        if (word === 'shallow' && value !== undefined) s.shallow.push(parseId(value, line))
        else if (word === 'unshallow' && value !== undefined) s.unshallow.push(parseId(value, line))
        else throw new ProtocolError('unexpected shallow-info line', line)
      }
      res.shallowInfo = s
    } else if (header === 'wanted-refs') {
      res.wantedRefs = lines.map(line => {
        const [id, name] = splitWord(line)
        if (name === undefined) throw new ProtocolError('expected "<id> <ref>"', line)
        return { id: parseId(id, line), name: parseRefName(name, line) }
      })
    } else {
      res.packfileUris = lines.map(line => {
        const [hash, uri] = splitWord(line)
        if (uri === undefined) throw new ProtocolError('expected "<hash> <uri>"', line)
        return { hash: parseId(hash, line), uri: parseText(uri, 'uri', line) }
      })
    }
    if (l.type === 'flush' && header === 'acknowledgments') return res
    if (l.type !== 'delim') throw unexpected(l, 'a delim-pkt before the next section')
    l = await readLine(reader)
  }
}
