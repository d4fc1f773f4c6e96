// Turning a failure into something the other side understands: an `ERR` pkt-line while lines are being
// exchanged, a side-band channel 3 message once a side-band stream has begun, silence in a raw pack (the
// truncated pack tells the client). A session never throws at its transport, except what the transport
// asked to see itself (a framing error before any answer, which HTTP turns into a 4xx status).
import { LarixError } from '../../store/errors.js'
import { encodePktLine, encodeSideband, FLUSH_PKT, SIDEBAND_ERROR } from '../wire/index.js'

/** Where a session is, so that a failure is reported in the right framing. */
export interface SessionState {
  /** Inside a side-band stream (the pack of a fetch, a push's report): the largest pkt-line; 0 when not. */
  sideband: number
  /** Inside a raw pack: nothing more can be said. */
  rawPack: boolean
}

export interface GuardOptions {
  /** Errors that the transport wants thrown when nothing has been sent yet. */
  rethrow?: (e: unknown) => boolean
  onError?: (e: unknown) => void
  /** `upload-pack` or `receive-pack`, to prefix messages as Git does. */
  service: string
}

/** The message for the other side: ours for errors we raise on purpose, a generic one for the rest. */
export function describe(e: unknown): string {
  const text = e instanceof LarixError ? e.message : `internal error: ${(e as Error)?.message ?? String(e)}`
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\x00-\x09\x0b-\x1f\x7f]/g, ' ').replace(/\n/g, ' ')
  return clean.length > 900 ? clean.slice(0, 900) + '…' : clean
}

/** Run `body` and report any failure in the framing its state calls for. */
export async function* guarded(body: (state: SessionState) => AsyncGenerator<Uint8Array>, opts: GuardOptions): AsyncGenerator<Uint8Array> {
  const state: SessionState = { sideband: 0, rawPack: false }
  let sent = false
  const gen = body(state)
  try {
    for (;;) {
      const r = await gen.next()
      if (r.done) return
      sent = true
      yield r.value
    }
  } catch (e) {
    if (!sent && opts.rethrow?.(e)) throw e
    opts.onError?.(e)
    const message = `${opts.service}: ${describe(e)}`
    if (state.rawPack) return
    if (state.sideband) {
      yield encodeSideband(SIDEBAND_ERROR, message + '\n', state.sideband)
      yield FLUSH_PKT
      return
    }
    yield encodePktLine(`ERR ${message}\n`)
  } finally {
    await gen.return(undefined)
  }
}
