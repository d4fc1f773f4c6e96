// larix for browsers: the same core; `levelBackend(name)` stores in IndexedDB (browser-level) and hashing uses
// a synchronous SHA-1 (@noble/hashes), both picked by the `browser` export condition. Plus the sync client a
// page can use: clone / pull / push over http(s):// and ws(s):// (`Repo.clone`, `branch.pull`, `branch.push`
// do the same), and the watch channel of a replica (`watchRemote`), over the page's own fetch and WebSocket.
export * from '../store/index.js'
export { clone, cloneInto, fetch, pull, push, listRemoteRefs, parseRemoteUrl, TransportError, PushRejectedError } from '../sync/client/index.js'
export type {
  CloneOptions, CloneResult, FetchOptions, FetchResult, PullOptions, PullResult, PushOptions, PushResult, ByteStream,
  TransportOptions, SyncProgress, ProgressListener,
} from '../sync/client/index.js'
export { watchRemote } from '../sync/transports/watch.js'
export type { HeadEvent, RemoteWatch, WatchRemoteOptions } from '../sync/transports/watch.js'
export { bearerSubprotocol, LARIX_SUBPROTOCOL } from '../sync/transports/websocket.js'
// The browser flavour itself (src/browser is only ever bundled for browsers; the core reaches it as #platform/websocket).
export { connectWebSocket, openWebSocket } from '../platform/browser/websocket.js'
export type { OpenWebSocketOptions } from '../platform/browser/websocket.js'
