// The platform-neutral core of larix.
export { Repo, Branch, Snapshot, Transaction, toCommit } from './repo.js'
export type {
  Commit, CommitInfo, RepoOptions, WriteOptions, TransactionOptions, TransactionResult, HeadChange, KeyChange,
  MergeResult, MergeOptions, TreeMerge,
} from './repo.js'
export { mergers, conflict, MergeConflict } from './merge/mergers.js'
export type { Merger, MergeContext, LwwRegister } from './merge/mergers.js'
export type { Conflict, TreeSide } from './merge/trees.js'
export type { LcaResult, LcaOptions } from './history.js'
export { Tree } from './tree.js'
export type { ListEntry, CacheOptions } from './tree.js'
export type { Backend, ObjectStore, RefStore, RefChange } from './backend.js'
export { memoryBackend } from './backends/memory.js'
export { levelBackend } from './backends/level.js'
export type { LevelBackend } from './backends/level.js'
export { json, msgpack, string, bytes, codecs, canonicalJson } from './contents.js'
export type { Codec, CodecName, JsonValue } from './contents.js'
export * as objects from './objects.js'
export { parsePath, formatPath } from './path.js'
export type { Path, PathInput } from './path.js'
export { branchRef, checkRefName, refNameProblem } from './refs.js'
export {
  LarixError, BadPathError, BadValueError, NotFoundError, ConflictError, BadRefError, CorruptObjectError,
  BadIdError, BackendError, BadArgumentError,
} from './errors.js'
