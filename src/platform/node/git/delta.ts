// Deltas inside the packs of a .git directory. The format is the one of src/sync/pack (one implementation);
// here a bad delta means a corrupt repository, so it is reported as LARIX_CORRUPT, not as a bad incoming pack.
import { CorruptObjectError } from '../../../store/errors.js'
import { applyDelta as applyPackDelta } from '../../../sync/pack/delta.js'
import { BadPackError } from '../../../sync/pack/errors.js'

/** Apply `delta` to `base` and return the target object's body. Malformed deltas throw CorruptObjectError. */
export function applyDelta(base: Uint8Array, delta: Uint8Array): Uint8Array {
  try {
    return applyPackDelta(base, delta)
  } catch (e) {
    if (e instanceof BadPackError) throw new CorruptObjectError(`bad delta: ${e.message}`)
    throw e
  }
}
