// The client's own errors. What the wire layer finds (LARIX_BAD_PKT_LINE, LARIX_PROTOCOL, LARIX_REMOTE) and
// the pack reader (LARIX_BAD_PACK) pass through unchanged; these cover the transport and the ref updates.
import { LarixError } from '../../store/errors.js'

/**
 * The remote could not be reached or did not answer as a Git server: a refused connection, an HTTP error
 * status, a response of the wrong content type (a dumb HTTP server, a login page). No ref was moved.
 */
export class TransportError extends LarixError<{ url: string; status?: number; contentType?: string }> {
  constructor(message: string, data: { url: string; status?: number; contentType?: string }, cause?: unknown) {
    super('LARIX_TRANSPORT', message, data, { cause })
  }
}

/** Why the remote refused a ref update. */
export type PushRejection =
  /** The remote branch moved to a commit we do not have: fetch (pull) first. */
  | 'fetch-first'
  /** The remote branch is at a commit we have, which our commit does not descend from. */
  | 'non-fast-forward'
  /** The remote branch moved between its advertisement and our update (compare-and-set lost). */
  | 'stale'
  /** Any other refusal by the server (a hook, a protected branch, a bad ref name). */
  | 'remote'

/**
 * A push the remote did not take: `data.rejection` says why, `data.remoteId` is where the remote branch was.
 * The remote is unchanged; `push(…, { pullFirst: true })` turns the first three kinds into pull-then-push.
 */
export class PushRejectedError extends LarixError<{ ref: string; rejection: PushRejection; reason: string; remoteId?: string; localId?: string }> {
  constructor(message: string, data: { ref: string; rejection: PushRejection; reason: string; remoteId?: string; localId?: string }) {
    super('LARIX_PUSH_REJECTED', message, data)
  }
}
