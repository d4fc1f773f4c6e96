// The server side of the Git smart protocol: upload-pack (fetch, clone; protocol v2 and v0/v1) and
// receive-pack (push), transport-neutral and platform-neutral. Transports live in ../transports/.
export { GitServer, ServiceNotEnabledError } from './server.js'
export type { GitServerOptions, GitService, RequestOptions } from './server.js'
export type { HeadOption, RefListing } from './refs.js'
export { listRefs, headTarget } from './refs.js'
export { walkObjects, shallowBoundary, MissingObjectError } from './walk.js'
export type { WalkInput, WalkOptions, WalkResult, WalkedObject } from './walk.js'
