// The errors of the wire layer. Each is a LarixError with a stable code, so callers can tell a garbled
// stream (LARIX_BAD_PKT_LINE) from a well-framed but wrong message (LARIX_PROTOCOL) from the peer's own
// report of failure (LARIX_REMOTE).
import { LarixError } from '../../store/errors.js'

/** Bytes that are not a pkt-line: a length that is not 4 hex digits, 0003, over 65520, or a stream cut short. */
export class BadPktLineError extends LarixError<{ offset?: number }> {
  constructor(message: string, offset?: number) {
    super('LARIX_BAD_PKT_LINE', offset === undefined ? message : `${message} (at byte ${offset})`, offset === undefined ? {} : { offset })
  }
}

/** Well-framed pkt-lines that do not follow the Git protocol: an unknown line, a bad id or ref name, a section out of order. */
export class ProtocolError extends LarixError<{ line?: string }> {
  constructor(message: string, line?: string) {
    super('LARIX_PROTOCOL', line === undefined ? message : `${message}: ${quote(line)}`, line === undefined ? {} : { line })
  }
}

/** The peer said it failed: an `ERR` pkt-line or a side-band channel 3 message. `data.message` is its text. */
export class RemoteError extends LarixError<{ message: string }> {
  constructor(message: string) {
    super('LARIX_REMOTE', `remote error: ${message}`, { message })
  }
}

/** A short, printable rendering of untrusted text for error messages. */
export function quote(s: string, max = 100): string {
  const q = JSON.stringify(s.length > max ? s.slice(0, max) + '…' : s)
  return q
}
