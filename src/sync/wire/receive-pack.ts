// Push (gitprotocol-pack(5), receive-pack): the client's ref update commands (`<old> <new> <ref>`, the
// capabilities behind a NUL on the first), optional push options, then the raw pack; the server's
// report-status (`unpack ok`, `ok <ref>`, `ng <ref> <reason>`) and report-status-v2 `option` lines.
import { BadArgumentError } from '../../store/errors.js'
import { Capabilities } from './capabilities.js'
import { ProtocolError } from './errors.js'
import { checkId, checkRefName, checkText, parseId, parseRefName, parseText, readLine, splitWord, unexpected, writer } from './lines.js'
import type { PktLineReader } from './pkt-line.js'

/** One ref update: create (old is the zero id), delete (new is the zero id) or update. */
export interface RefUpdate {
  ref: string
  oldId: string
  newId: string
}

/** A push request as the server reads it. The pack (if any) follows: `reader.rest()`. */
export interface ReceiveRequest {
  commands: RefUpdate[]
  capabilities: Capabilities
  /** The client's shallow boundary. */
  shallow: string[]
  /** Sent after the commands when `push-options` was requested. */
  pushOptions: string[]
}

export type ReceiveRequestInit = Pick<ReceiveRequest, 'commands'> & {
  capabilities?: Capabilities | Iterable<string>
  shallow?: readonly string[]
  pushOptions?: readonly string[]
}

/**
 * Format the command list of a push (and the push options when the capabilities ask for `push-options`).
 * The pack follows these bytes, raw or not at all when every command is a delete.
 * @example formatReceiveRequest({ commands: [{ ref: 'refs/heads/main', oldId, newId }], capabilities: ['report-status', 'side-band-64k'] })
 */
export function formatReceiveRequest(req: ReceiveRequestInit): Uint8Array {
  if (req.commands.length === 0) throw new BadArgumentError('a push needs at least one command', 'commands')
  const caps = req.capabilities instanceof Capabilities ? req.capabilities : new Capabilities(req.capabilities ?? [])
  const w = writer()
  for (const id of req.shallow ?? []) w.text('shallow ' + checkId(id))
  req.commands.forEach((c, i) => {
    const line = `${checkId(c.oldId)} ${checkId(c.newId)} ${checkRefName(c.ref)}`
    w.text(i === 0 ? `${line}\0${caps.toString()}` : line)
  })
  w.flush()
  if (caps.has('push-options')) {
    for (const o of req.pushOptions ?? []) w.text(checkText(o, 'push option'))
    w.flush()
  } else if (req.pushOptions && req.pushOptions.length > 0) {
    throw new BadArgumentError('push options need the push-options capability', 'pushOptions')
  }
  return w.toBytes()
}

function parseCommand(text: string, line: string): RefUpdate {
  if (text.length < 83 || text[40] !== ' ' || text[81] !== ' ') throw new ProtocolError('expected "<old-id> <new-id> <ref>"', line)
  return { oldId: parseId(text.slice(0, 40), line), newId: parseId(text.slice(41, 81), line), ref: parseRefName(text.slice(82), line) }
}

/**
 * Read a push request up to the pack (server side). Returns null when the client sent only a flush-pkt
 * (nothing to update) or closed the stream. Push certificates are refused (LARIX_PROTOCOL).
 */
export async function readReceiveRequest(reader: PktLineReader): Promise<ReceiveRequest | null> {
  const req: ReceiveRequest = { commands: [], capabilities: new Capabilities(), shallow: [], pushOptions: [] }
  let any = false
  for (;;) {
    const l = await readLine(reader)
    if (l.type === 'flush' || (l.type === 'end' && !any)) break
    if (l.type !== 'line') throw unexpected(l, 'a ref update command or a flush-pkt')
    any = true
    let text = l.text
    if (text.startsWith('shallow ')) {
      if (req.commands.length > 0) throw new ProtocolError('a shallow line after the commands', text)
      req.shallow.push(parseId(text.slice(8), text))
      continue
    }
    if (text.startsWith('push-cert\0')) throw new ProtocolError('push certificates are not supported')
    if (req.commands.length === 0) {
      const nul = text.indexOf('\0')
      if (nul >= 0) {
        req.capabilities = Capabilities.parse(text.slice(nul + 1), l.text)
        text = text.slice(0, nul)
      }
    }
    req.commands.push(parseCommand(text, l.text))
  }
  if (!any) return null
  if (req.commands.length === 0) throw new ProtocolError('a push request without a command')
  if (req.capabilities.has('push-options')) {
    for (;;) {
      const l = await readLine(reader)
      if (l.type === 'flush') break
      if (l.type !== 'line') throw unexpected(l, 'a push option or a flush-pkt')
      req.pushOptions.push(parseText(l.text, 'push option', l.text))
    }
  }
  return req
}

/** report-status-v2 details of an accepted update (a proc-receive hook may have rewritten it). */
export interface RefStatusOptions {
  refname?: string
  oldId?: string
  newId?: string
  forcedUpdate?: boolean
}

/** The fate of one command. */
export type RefStatus =
  | { ref: string; ok: true; options?: RefStatusOptions }
  | { ref: string; ok: false; reason: string }

/** What the server reports after a push. */
export interface ReportStatus {
  unpackOk: boolean
  /** Why unpacking failed, when it did. */
  unpackError?: string
  refs: RefStatus[]
}

/**
 * Format report-status (report-status-v2 when a status carries options), ending with a flush-pkt. With
 * side-band, wrap these bytes with encodeSideband(1, …) and send a flush-pkt after.
 * @example formatReportStatus({ unpackOk: true, refs: [{ ref: 'refs/heads/main', ok: true }] })
 */
export function formatReportStatus(r: ReportStatus): Uint8Array {
  const w = writer()
  w.text(r.unpackOk ? 'unpack ok' : 'unpack ' + checkText(r.unpackError || 'error', 'unpack error'))
  for (const s of r.refs) {
    if (s.ok) {
      w.text('ok ' + checkRefName(s.ref))
      const o = s.options
      if (o?.refname !== undefined) w.text('option refname ' + checkRefName(o.refname))
      if (o?.oldId !== undefined) w.text('option old-oid ' + checkId(o.oldId))
      if (o?.newId !== undefined) w.text('option new-oid ' + checkId(o.newId))
      if (o?.forcedUpdate) w.text('option forced-update')
    } else {
      w.text(`ng ${checkRefName(s.ref)} ${checkText(s.reason || 'failed', 'reason')}`)
    }
  }
  return w.flush().toBytes()
}

/** Read report-status or report-status-v2 up to its flush-pkt (client side). */
export async function readReportStatus(reader: PktLineReader): Promise<ReportStatus> {
  const first = await readLine(reader)
  if (first.type !== 'line') throw unexpected(first, 'an unpack status line')
  if (!first.text.startsWith('unpack ')) throw new ProtocolError('expected an unpack status line', first.text)
  const result = first.text.slice(7)
  const report: ReportStatus = result === 'ok' ? { unpackOk: true, refs: [] } : { unpackOk: false, unpackError: result, refs: [] }
  for (;;) {
    const l = await readLine(reader)
    if (l.type === 'flush') return report
    if (l.type !== 'line') throw unexpected(l, 'a ref status line or a flush-pkt')
    const [word, rest] = splitWord(l.text)
    if (word === 'ok' && rest !== undefined) {
      report.refs.push({ ref: parseRefName(rest, l.text), ok: true })
    } else if (word === 'ng' && rest !== undefined) {
      const [ref, reason] = splitWord(rest)
      report.refs.push({ ref: parseRefName(ref, l.text), ok: false, reason: reason ?? '' })
    } else if (word === 'option' && rest !== undefined) {
      const last = report.refs[report.refs.length - 1]
      if (!last || !last.ok) throw new ProtocolError('an option line that does not follow an ok line', l.text)
      const o = (last.options ??= {})
      const [key, value] = splitWord(rest)
      if (key === 'refname' && value !== undefined) o.refname = parseRefName(value, l.text)
      else if (key === 'old-oid' && value !== undefined) o.oldId = parseId(value, l.text)
      else if (key === 'new-oid' && value !== undefined) o.newId = parseId(value, l.text)
      else if (key === 'forced-update' && value === undefined) o.forcedUpdate = true
      else throw new ProtocolError('unknown report-status option', l.text)
    } else {
      throw new ProtocolError('expected an ok, ng or option line', l.text)
    }
  }
}
