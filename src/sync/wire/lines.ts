// Text lines over pkt-lines, and the checks every message parser shares: object ids, ref names, ERR lines.
import { BadArgumentError, BadIdError, BadRefError } from '../../store/errors.js'
import { refNameProblem } from '../../store/refs.js'
import { ProtocolError, RemoteError } from './errors.js'
import { PktLineWriter } from './pkt-line.js'
import type { PktLineReader } from './pkt-line.js'

/** The all-zero id: "no object" (a ref being created or deleted; an empty repository's advertisement). */
export const ZERO_ID = '0'.repeat(40)

/** A pkt-line read as text, or a special packet. */
export type Line =
  | { type: 'line'; text: string }
  | { type: 'flush' }
  | { type: 'delim' }
  | { type: 'response-end' }
  | { type: 'end' }

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Read the next pkt-line as text (strict UTF-8, one trailing LF dropped). An `ERR <message>` line becomes a
 * RemoteError (LARIX_REMOTE), since the protocol allows one wherever a line is expected.
 */
export async function readLine(reader: PktLineReader): Promise<Line> {
  const p = await reader.read()
  if (p.type !== 'data') return p
  let text: string
  try {
    text = strictUtf8.decode(p.data)
  } catch {
    throw new ProtocolError('a pkt-line is not valid UTF-8')
  }
  if (text.endsWith('\n')) text = text.slice(0, -1)
  if (text.startsWith('ERR ')) throw new RemoteError(text.slice(4))
  return { type: 'line', text }
}

/** Read a text line, refusing special packets and the end of the stream. */
export async function readTextLine(reader: PktLineReader, what: string): Promise<string> {
  const l = await readLine(reader)
  if (l.type !== 'line') throw unexpected(l, what)
  return l.text
}

/** Read a flush-pkt, refusing anything else. */
export async function expectFlush(reader: PktLineReader, what: string): Promise<void> {
  const l = await readLine(reader)
  if (l.type !== 'flush') throw unexpected(l, `a flush-pkt after ${what}`)
}

/** The error for a line or packet that should not be there. */
export function unexpected(l: Line, expected: string): ProtocolError {
  if (l.type === 'line') return new ProtocolError(`expected ${expected}, got a line`, l.text)
  if (l.type === 'end') return new ProtocolError(`expected ${expected}, but the stream ended`)
  return new ProtocolError(`expected ${expected}, got a ${l.type}-pkt`)
}

const ID_RE = /^[0-9a-fA-F]{40}$/
const LOWER_ID_RE = /^[0-9a-f]{40}$/

/** An object id from the wire: 40 hex digits, either case (Git treats them case-insensitively); returned in lower case. */
export function parseId(s: string, line: string): string {
  if (!ID_RE.test(s)) throw new ProtocolError(`bad object id ${JSON.stringify(s.slice(0, 60))}`, line)
  return s.toLowerCase()
}

/** An object id we are about to send: must be 40 lower-case hex digits. */
export function checkId(id: string): string {
  if (typeof id !== 'string' || !LOWER_ID_RE.test(id)) throw new BadIdError(id)
  return id
}

/** Why `name` cannot be a ref on the wire (Git's rules, and `HEAD` or under `refs/`), or undefined. */
export function wireRefProblem(name: string): string | undefined {
  if (name === 'HEAD') return undefined
  const p = refNameProblem(name)
  if (p) return p
  if (!name.startsWith('refs/')) return 'is neither HEAD nor under refs/'
  return undefined
}

/** A ref name from the wire. */
export function parseRefName(name: string, line: string): string {
  const p = wireRefProblem(name)
  if (p) throw new ProtocolError(`bad ref name ${JSON.stringify(name.slice(0, 200))}: it ${p}`, line)
  return name
}

/** A ref name we are about to send. */
export function checkRefName(name: string): string {
  const p = typeof name === 'string' ? wireRefProblem(name) : 'is not a string'
  if (p) throw new BadRefError(`bad ref name ${JSON.stringify(String(name))}: it ${p}`, String(name))
  return name
}

// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\x00-\x1f\x7f]/

/** Free text from the wire (a filter spec, a push option, a rev): non-empty, no control characters. */
export function parseText(s: string, what: string, line: string): string {
  if (s.length === 0 || CONTROL_RE.test(s)) throw new ProtocolError(`bad ${what}`, line)
  return s
}

/** Free text we are about to send. */
export function checkText(s: string, what: string): string {
  if (typeof s !== 'string' || s.length === 0 || CONTROL_RE.test(s)) {
    throw new BadArgumentError(`bad ${what} ${JSON.stringify(String(s))}: must be non-empty text without control characters`, what)
  }
  return s
}

/** A positive decimal integer from the wire (a depth, a timestamp). */
export function parsePositive(s: string, what: string, line: string, allowZero = false): number {
  const n = /^[0-9]{1,15}$/.test(s) ? Number(s) : NaN
  if (!Number.isSafeInteger(n) || n < (allowZero ? 0 : 1)) throw new ProtocolError(`bad ${what}`, line)
  return n
}

/** A positive integer we are about to send. */
export function checkPositive(n: number, what: string, allowZero = false): number {
  if (!Number.isSafeInteger(n) || n < (allowZero ? 0 : 1)) {
    throw new BadArgumentError(`bad ${what} ${String(n)}: must be a ${allowZero ? 'non-negative' : 'positive'} integer`, what)
  }
  return n
}

/** Split `text` at its first space: `['want', '<id> caps']`. */
export function splitWord(text: string): [string, string | undefined] {
  const i = text.indexOf(' ')
  return i < 0 ? [text, undefined] : [text.slice(0, i), text.slice(i + 1)]
}

/** A writer, shared by the formatters. */
export function writer(): PktLineWriter {
  return new PktLineWriter()
}
