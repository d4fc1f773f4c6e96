// larix sync for users: the client (fetch, pull, push, clone) and the errors of the wire and pack layers.
// The server (serve) adds its exports here too.
export * from './client/index.js'
export { BadPktLineError, ProtocolError, RemoteError } from './wire/index.js'
export { BadPackError } from './pack/index.js'
export { GitServer, ServiceNotEnabledError, MissingObjectError } from './serve/index.js'
export type { GitServerOptions, GitService, HeadOption, RequestOptions } from './serve/index.js'
export { gitHttpApp, BodyTooLargeError, BadBodyError } from './transports/http.js'
export type { GitHttpOptions } from './transports/http.js'
export { replicate, startReplication, peerId, aheadBehind, DEFAULT_POLL_MS, LAG_LIMIT } from './replicate.js'
export type {
  Replicator, ReplicateOptions, PeerSpec, PeerStatus, PeerState, ReplicationError, WatchRemote, WatchRemoteOptions, RemoteHeadEvent,
  BackoffOptions, BranchSyncResult, SyncEvent, ReplicatorEvents, TlsOption,
} from './replicate.js'
