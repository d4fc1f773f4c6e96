// larix sync for users: the client (fetch, pull, push, clone) and the errors of the wire and pack layers.
// The server (serve) adds its exports here too.
export * from './client/index.js'
export { BadPktLineError, ProtocolError, RemoteError } from './wire/index.js'
export { BadPackError } from './pack/index.js'
export { GitServer, ServiceNotEnabledError, MissingObjectError } from './serve/index.js'
export type { GitServerOptions, GitService, HeadOption, RequestOptions } from './serve/index.js'
export { gitHttpApp, BodyTooLargeError, BadBodyError } from './transports/http.js'
export type { GitHttpOptions } from './transports/http.js'
export { AuthError, Authorizer, parseTokenArgument, tokenFromHeader } from './auth.js'
export type { Access, AuthOptions, TokenGrant, TokenScope } from './auth.js'
export * from './api/index.js'
export { replicaApp, RequestTracker } from './transports/replica-app.js'
export type { ReplicaAppOptions, RequestLogEntry } from './transports/replica-app.js'
export type { TlsOptions, TlsMaterial } from './client/transport.js'
export { LARIX_TLS_PORT, REMOTE_SCHEMES, WEBSOCKET_GIT_PATH, WEBSOCKET_WATCH_PATH, watchEndpoint } from './client/remote.js'
export { watchRemote } from './transports/watch.js'
export type { HeadEvent, RemoteWatch, WatchRemoteOptions } from './transports/watch.js'
export { webSocketStream, bearerSubprotocol, tokenFromSubprotocols, LARIX_SUBPROTOCOL } from './transports/websocket.js'
export type { WebSocketLike } from './transports/websocket.js'
export { replicate, startReplication, peerId, aheadBehind, DEFAULT_POLL_MS, LAG_LIMIT } from './replicate.js'
export type {
  Replicator, ReplicateOptions, PeerSpec, PeerStatus, PeerState, ReplicationError, WatchRemote, WatchRemoteOptions as ReplicaWatchOptions, RemoteHeadEvent,
  BackoffOptions, BranchSyncResult, SyncEvent, ReplicatorEvents, TlsOption,
} from './replicate.js'
