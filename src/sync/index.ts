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
