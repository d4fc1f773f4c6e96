import { LarixError } from '../../store/errors.js'

/** Why a pack was refused: a short stable word, for logs and tests. */
export type BadPackReason =
  | 'header' | 'truncated' | 'entry' | 'zlib' | 'delta' | 'base' | 'checksum' | 'trailing' | 'too-large' | 'object' | 'index'

/**
 * A pack (or pack index) that is corrupt, truncated or refers to objects nobody has. Nothing it held was
 * written to the destination store.
 */
export class BadPackError extends LarixError<{ reason: BadPackReason; offset?: number }> {
  constructor(message: string, data: { reason: BadPackReason; offset?: number }, cause?: unknown) {
    super('LARIX_BAD_PACK', message, data, { cause })
  }
}
