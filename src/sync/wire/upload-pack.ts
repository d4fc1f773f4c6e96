// Protocol v0/v1 fetch negotiation (gitprotocol-pack(5)): the client's want lines (capabilities on the
// first), shallow and deepen lines and a flush-pkt; then rounds of have lines ended by a flush-pkt or
// `done`; the server's shallow update and its ACK / NAK lines.
import { BadArgumentError } from '../../store/errors.js'
import { Capabilities } from './capabilities.js'
import { ProtocolError } from './errors.js'
import {
  checkId, checkPositive, checkText, parseId, parsePositive, parseText, readLine, splitWord, unexpected, writer,
} from './lines.js'
import { encodeTextLine } from './pkt-line.js'
import type { PktLineReader } from './pkt-line.js'

/** The first part of a v0/v1 fetch request. */
export interface UploadRequest {
  wants: string[]
  /** The capabilities the client chose, from its first want line. */
  capabilities: Capabilities
  shallow: string[]
  deepen?: number
  deepenSince?: number
  deepenNot: string[]
  filter?: string
}

export type UploadRequestInit = Pick<UploadRequest, 'wants'> & Partial<Omit<UploadRequest, 'wants' | 'capabilities'>> & {
  capabilities?: Capabilities | Iterable<string>
}

/**
 * Format the want section: want lines (the capabilities on the first), shallow lines, deepen lines, the
 * filter, a flush-pkt.
 * @example formatUploadRequest({ wants: [id], capabilities: ['side-band-64k', 'ofs-delta'] })
 */
export function formatUploadRequest(req: UploadRequestInit): Uint8Array {
  if (req.wants.length === 0) throw new BadArgumentError('a fetch request needs at least one want', 'wants')
  const caps = req.capabilities instanceof Capabilities ? req.capabilities : new Capabilities(req.capabilities ?? [])
  const capList = caps.toString()
  const w = writer()
  req.wants.forEach((id, i) => w.text(i === 0 && capList ? `want ${checkId(id)} ${capList}` : `want ${checkId(id)}`))
  for (const id of req.shallow ?? []) w.text('shallow ' + checkId(id))
  if (req.deepen !== undefined) w.text('deepen ' + checkPositive(req.deepen, 'deepen'))
  if (req.deepenSince !== undefined) w.text('deepen-since ' + checkPositive(req.deepenSince, 'deepen-since', true))
  for (const rev of req.deepenNot ?? []) w.text('deepen-not ' + checkText(rev, 'deepen-not'))
  if (req.filter !== undefined) w.text('filter ' + checkText(req.filter, 'filter'))
  return w.flush().toBytes()
}

/**
 * Read the want section (server side). Returns null when the client sent only a flush-pkt (it wants
 * nothing: `git ls-remote`, or already up to date) or closed the stream.
 */
export async function readUploadRequest(reader: PktLineReader): Promise<UploadRequest | null> {
  const req: UploadRequest = { wants: [], capabilities: new Capabilities(), shallow: [], deepenNot: [] }
  let any = false
  for (;;) {
    const l = await readLine(reader)
    if (l.type === 'flush' || (l.type === 'end' && !any)) break
    if (l.type !== 'line') throw unexpected(l, 'a want, shallow, deepen or filter line, or a flush-pkt')
    any = true
    const [word, value] = splitWord(l.text)
    if (value === undefined) throw new ProtocolError('unexpected line in a fetch request', l.text)
    switch (word) {
      case 'want': {
        const id = value.slice(0, 40)
        const rest = value.slice(40)
        if (rest !== '' && (req.wants.length > 0 || rest[0] !== ' ')) throw new ProtocolError('bad want line', l.text)
        req.wants.push(parseId(id, l.text))
        if (rest !== '') req.capabilities = Capabilities.parse(rest.slice(1), l.text)
        break
      }
      case 'shallow': req.shallow.push(parseId(value, l.text)); break
      case 'deepen': req.deepen = parsePositive(value, 'depth', l.text); break
      case 'deepen-since': req.deepenSince = parsePositive(value, 'timestamp', l.text, true); break
      case 'deepen-not': req.deepenNot.push(parseText(value, 'deepen-not rev', l.text)); break
      case 'filter': req.filter = parseText(value, 'filter spec', l.text); break
      default: throw new ProtocolError('unexpected line in a fetch request', l.text)
    }
  }
  if (!any) return null
  if (req.wants.length === 0) throw new ProtocolError('a fetch request without a want line')
  return req
}

/**
 * Format one round of have lines, ended by a flush-pkt or by `done`.
 * @example formatHaves([id1, id2], 'flush')
 */
export function formatHaves(haves: readonly string[], end: 'flush' | 'done'): Uint8Array {
  const w = writer()
  for (const id of haves) w.text('have ' + checkId(id))
  return end === 'done' ? w.text('done').toBytes() : w.flush().toBytes()
}

/**
 * Read one round of have lines (server side), up to a flush-pkt (`done: false`) or `done` (`done: true`).
 * Returns null if the stream ended before the round began.
 */
export async function readHaves(reader: PktLineReader): Promise<{ haves: string[]; done: boolean } | null> {
  const haves: string[] = []
  for (;;) {
    const l = await readLine(reader)
    if (l.type === 'end' && haves.length === 0) return null
    if (l.type === 'flush') return { haves, done: false }
    if (l.type !== 'line') throw unexpected(l, 'a have line, "done" or a flush-pkt')
    if (l.text === 'done') return { haves, done: true }
    if (!l.text.startsWith('have ')) throw new ProtocolError('expected a have line', l.text)
    haves.push(parseId(l.text.slice(5), l.text))
  }
}

/** A server's acknowledgment in v0/v1 negotiation. */
export type Ack =
  | { type: 'ack'; id: string; status?: 'continue' | 'common' | 'ready' }
  | { type: 'nak' }

/** Format `ACK <id> [status]`. */
export function formatAck(id: string, status?: 'continue' | 'common' | 'ready'): Uint8Array {
  return encodeTextLine(status ? `ACK ${checkId(id)} ${status}` : `ACK ${checkId(id)}`)
}

/** Format `NAK`. */
export function formatNak(): Uint8Array {
  return encodeTextLine('NAK')
}

/** Parse an ACK or NAK line. */
export function parseAck(text: string): Ack {
  if (text === 'NAK') return { type: 'nak' }
  const m = /^ACK ([0-9a-fA-F]{40})(?: (continue|common|ready))?$/.exec(text)
  if (!m) throw new ProtocolError('expected ACK or NAK', text)
  const id = parseId(m[1], text)
  return m[2] ? { type: 'ack', id, status: m[2] as 'continue' | 'common' | 'ready' } : { type: 'ack', id }
}

/** Read one ACK or NAK line (client side). */
export async function readAck(reader: PktLineReader): Promise<Ack> {
  const l = await readLine(reader)
  if (l.type !== 'line') throw unexpected(l, 'ACK or NAK')
  return parseAck(l.text)
}

/** The shallow update a server sends after a deepen request. */
export interface ShallowUpdate {
  shallow: string[]
  unshallow: string[]
}

/** Format shallow and unshallow lines and the closing flush-pkt. */
export function formatShallowUpdate(u: ShallowUpdate): Uint8Array {
  const w = writer()
  for (const id of u.shallow) w.text('shallow ' + checkId(id))
  for (const id of u.unshallow) w.text('unshallow ' + checkId(id))
  return w.flush().toBytes()
}

/** Read shallow and unshallow lines up to the flush-pkt (client side, after sending a deepen request). */
export async function readShallowUpdate(reader: PktLineReader): Promise<ShallowUpdate> {
  const u: ShallowUpdate = { shallow: [], unshallow: [] }
  for (;;) {
    const l = await readLine(reader)
    if (l.type === 'flush') return u
    if (l.type !== 'line') throw unexpected(l, 'a shallow or unshallow line, or a flush-pkt')
    const [word, value] = splitWord(l.text)
    if (word === 'shallow' && value !== undefined) u.shallow.push(parseId(value, l.text))
    else if (word === 'unshallow' && value !== undefined) u.unshallow.push(parseId(value, l.text))
    else throw new ProtocolError('expected a shallow or unshallow line', l.text)
  }
}
