// The pack format: streaming read (deltas resolved, checksum verified before anything is stored), write,
// and pack index v2. Platform-neutral; zlib and SHA-1 come from the `#platform/*` adapters.
export { unpack } from './read.js'
export type { PackSource, UnpackOptions, UnpackProgress, UnpackResult } from './read.js'
export { writePack } from './write.js'
export type { WritePackOptions, WrittenPack } from './write.js'
export { writePackIndex, readPackIndex } from './pack-index.js'
export type { PackIndex, PackIndexEntry } from './pack-index.js'
export { applyDelta, deltaSizes } from './delta.js'
export { crc32 } from './crc32.js'
export { MemoryStaging } from './staging.js'
export { BadPackError } from './errors.js'
export type { BadPackReason } from './errors.js'
export {
  encodePackHeader, decodePackHeader, encodeEntryHeader, decodeEntryHeader, encodeOfsDistance,
  OBJ_COMMIT, OBJ_TREE, OBJ_BLOB, OBJ_TAG, OBJ_OFS_DELTA, OBJ_REF_DELTA,
} from './format.js'
export type { EntryHeader } from './format.js'
export { PackFile } from './pack-file.js'
export type { PackFileOptions } from './pack-file.js'
