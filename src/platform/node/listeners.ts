// The listeners `larix serve` adds beside smart HTTP and git://, kept apart from serve.ts:
//  - git over TLS (`larix+tls://`): git-daemon framing over node:tls; with a CA given, mutual TLS: a client
//    without a certificate signed by that CA is refused at the handshake;
//  - HTTPS for the HTTP listener (options for @hono/node-server);
//  - WebSocket upgrades on the HTTP(S) server (`ws`, noServer): `/git` carries git-daemon framing (one binary
//    message per chunk) into GitServer.serveGitDaemon; `/api/v1/watch` is the watch channel (msgpack
//    messages): `{ type: 'heads', heads }` on connect, `{ type: 'head', branch, commit, previous }` on every
//    branch head change, in order, `{ type: 'ping' }` every 30 s; the client may send
//    `{ type: 'subscribe', branches }` (absent or empty: all) and `{ type: 'ping' }` (answered `pong`);
//    anything else gets `{ type: 'error', code, message }` and the socket stays open.
// Both WebSocket endpoints need a token with read scope when tokens are configured (an Authorization header,
// or the `larix.bearer.<base64url>` subprotocol browsers use); a /git stream that asks for git-receive-pack
// needs read-write, checked on its request line. Refusals at the upgrade are HTTP 401/403.
import { createServer as createTlsServer } from 'node:tls'
import type { TlsOptions as NodeTlsOptions, TLSSocket } from 'node:tls'
import { createServer as createHttpsServer } from 'node:https'
import type { IncomingMessage, Server as HttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { Packr } from 'msgpackr'
import { WebSocketServer } from 'ws'
import type { WebSocket } from 'ws'
import type { Backend, RefChange } from '../../store/backend.js'
import { LarixError } from '../../store/errors.js'
import { AuthError, Authorizer } from '../../sync/auth.js'
import type { AuthOptions } from '../../sync/auth.js'
import type { ByteStream, TlsMaterial } from '../../sync/client/transport.js'
import { WEBSOCKET_GIT_PATH, WEBSOCKET_WATCH_PATH } from '../../sync/client/remote.js'
import type { GitServer } from '../../sync/serve/index.js'
import { LARIX_SUBPROTOCOL, tokenFromSubprotocols, webSocketStream } from '../../sync/transports/websocket.js'
import type { WebSocketLike } from '../../sync/transports/websocket.js'
import { pem, socketStream } from './tls.js'

/** The server's certificate and key, and the CA whose client certificates it accepts (mutual TLS). */
export interface TlsServerOptions {
  cert: TlsMaterial
  key: TlsMaterial
  /** With a CA, clients must present a certificate it signed (requestCert and rejectUnauthorized). */
  ca?: TlsMaterial | TlsMaterial[]
  /** Ask clients for a certificate (default: true when `ca` is given) and refuse those without a valid one. */
  requestCert?: boolean
}

/** node:tls server options for `tls`: mutual TLS when a CA is given. */
export function nodeTlsServerOptions(tls: TlsServerOptions): NodeTlsOptions {
  if (tls === undefined || tls.cert === undefined || tls.key === undefined) {
    throw new LarixError('LARIX_BAD_ARGUMENT', 'TLS needs a certificate and its key (--tls-cert FILE --tls-key FILE)', { argument: 'tls' })
  }
  const requestCert = tls.requestCert ?? tls.ca !== undefined
  const o: NodeTlsOptions = { cert: pem(tls.cert), key: pem(tls.key), requestCert, rejectUnauthorized: requestCert }
  if (tls.ca !== undefined) o.ca = Array.isArray(tls.ca) ? tls.ca.map(pem) : pem(tls.ca as TlsMaterial)
  return o
}

/** A certificate problem at start-up, said as what to do. */
function tlsConfigError(e: unknown): LarixError {
  const msg = (e as Error)?.message ?? String(e)
  const hint = /key values mismatch/i.test(msg) ? 'the key (--tls-key) does not belong to the certificate (--tls-cert)'
    : 'check that --tls-cert, --tls-key and --tls-ca are PEM files (a certificate, its private key, a CA certificate)'
  return new LarixError('LARIX_BAD_CONFIG', `cannot use the TLS certificate: ${msg}; ${hint}`, { argument: 'tls' })
}

/** Options for @hono/node-server's `serve` that make the HTTP listener HTTPS. */
export function httpsServeOptions(tls: TlsServerOptions): { createServer: typeof createHttpsServer; serverOptions: NodeTlsOptions } {
  return { createServer: createHttpsServer, serverOptions: nodeTlsServerOptions(tls) }
}

function listening(server: { listening: boolean; address(): unknown; once(e: string, f: (...a: any[]) => void): unknown; off(e: string, f: (...a: any[]) => void): unknown }): Promise<AddressInfo> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return new Promise((resolve, reject) => {
    const ok = () => { server.off('error', fail); resolve(server.address() as AddressInfo) }
    const fail = (e: Error) => { server.off('listening', ok); reject(e) }
    if (server.listening) { resolve(server.address() as AddressInfo); return }
    server.once('listening', ok)
    server.once('error', fail)
  })
}

/** Run one git-daemon conversation over `stream` and close it. */
async function serveDaemon(server: GitServer, input: AsyncIterable<Uint8Array>, stream: ByteStream): Promise<void> {
  try {
    for await (const chunk of server.serveGitDaemon(input)) await stream.write(chunk)
  } finally {
    await stream.close().catch(() => {})
  }
}

export interface GitTlsListenerOptions {
  port: number
  host?: string
  tls: TlsServerOptions
  /** A connection silent this long is closed (default 5 minutes). */
  idleTimeoutMs?: number
  onError?: (e: unknown) => void
}

export interface Listener {
  port: number
  url: string
  close(): Promise<void>
}

/**
 * Serve git-daemon framing over TLS (`larix+tls://host:port/`) until `close()`.
 * @example const l = await startGitTlsListener(server, { port: 0, tls: { cert, key, ca } }); l.url
 */
export async function startGitTlsListener(server: GitServer, options: GitTlsListenerOptions): Promise<Listener> {
  const host = options.host ?? '127.0.0.1'
  const idle = options.idleTimeoutMs ?? 5 * 60_000
  let secure: NodeTlsOptions
  try {
    secure = nodeTlsServerOptions(options.tls)
  } catch (e) {
    throw e instanceof LarixError ? e : tlsConfigError(e)
  }
  const sockets = new Set<TLSSocket>()
  let tcp
  try {
    tcp = createTlsServer(secure, socket => {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.setNoDelay(true)
      socket.setTimeout(idle, () => socket.destroy())
      const stream = socketStream(socket)
      serveDaemon(server, stream.readable, stream).catch(e => { options.onError?.(e); socket.destroy() })
    })
  } catch (e) {
    throw tlsConfigError(e)
  }
  // A client refused at the handshake (no certificate, an unknown CA) is not our failure: nothing to report.
  tcp.on('tlsClientError', (_e, socket) => socket.destroy())
  tcp.listen(options.port, host)
  const { port } = await listening(tcp)
  return {
    port,
    url: `larix+tls://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    close: () => new Promise<void>(resolve => {
      tcp.close(() => resolve())
      for (const s of sockets) s.destroy()
    }),
  }
}

export interface WebSocketOptions {
  /** Who may read and write (tokens). Default: no authentication. */
  auth?: Authorizer | AuthOptions
  /** How often the watch channel sends `{ type: 'ping' }` (default 30 s). */
  pingIntervalMs?: number
  /** Largest message a watch client may send (default 64 KiB); larger ones close the socket (1009). */
  maxWatchMessageBytes?: number
  /** Largest message on a /git stream (default 8 MiB; our client sends at most 256 KiB). */
  maxGitMessageBytes?: number
  onError?: (e: unknown) => void
}

/** A message of the watch channel. */
export type WatchMessage =
  | { type: 'heads'; heads: Record<string, string> }
  | { type: 'head'; branch: string; commit: string | null; previous: string | null }
  | { type: 'ping' }
  | { type: 'pong' }
  | { type: 'error'; code: string; message: string }

const packr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true })

/** Encode a watch-channel message. */
export function encodeWatchMessage(m: unknown): Uint8Array {
  const b = packr.pack(m)
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

function reject(socket: Duplex, status: number, message: string): void {
  const reason = status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : status === 404 ? 'Not Found' : 'Bad Request'
  const body = message + '\n'
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    `${status === 401 ? 'WWW-Authenticate: Bearer realm="larix"\r\n' : ''}Connection: close\r\n\r\n${body}`)
  socket.destroy()
}

/** The Authorization value a request carries: the header, else a token offered as a subprotocol. */
function authorizationOf(req: IncomingMessage): string | undefined {
  if (typeof req.headers.authorization === 'string') return req.headers.authorization
  const token = tokenFromSubprotocols(req.headers['sec-websocket-protocol'])
  return token === undefined ? undefined : `Bearer ${token}`
}

/** Which endpoint a path names: `/git` and `/api/v1/watch`, at the root or under a prefix. */
function endpointOf(url: string | undefined): 'git' | 'watch' | undefined {
  let path: string
  try {
    path = new URL(url ?? '/', 'http://x').pathname.replace(/\/+$/, '')
  } catch {
    return undefined
  }
  if (path === WEBSOCKET_GIT_PATH || path.endsWith(WEBSOCKET_GIT_PATH)) return 'git'
  if (path === WEBSOCKET_WATCH_PATH || path.endsWith(WEBSOCKET_WATCH_PATH)) return 'watch'
  return undefined
}

/**
 * The input of a /git stream, with the request line's service checked before GitServer sees it: a
 * git-receive-pack request needs write access. A refusal is thrown to the server, which answers it with an
 * ERR line.
 */
function checkedInput(input: AsyncIterable<Uint8Array>, check: (service: string) => void): AsyncIterable<Uint8Array> {
  return (async function* () {
    const it = input[Symbol.asyncIterator]()
    let head = new Uint8Array(0)
    let checked = false
    try {
      for (;;) {
        const r = await it.next()
        if (r.done) { if (head.length > 0) yield head; return }
        if (checked) { yield r.value; continue }
        const joined = new Uint8Array(head.length + r.value.length)
        joined.set(head)
        joined.set(r.value, head.length)
        head = joined
        if (head.length < 4) continue
        const len = parseInt(new TextDecoder().decode(head.subarray(0, 4)), 16)
        if (!Number.isFinite(len) || len < 4) { checked = true; yield head; continue } // the server reports the bad line
        if (head.length < len) {
          if (head.length > 65_540) { checked = true; yield head } // let the server reject an oversized line
          continue
        }
        const line = new TextDecoder().decode(head.subarray(4, len))
        check(line.slice(0, Math.max(0, line.indexOf(' '))))
        checked = true
        yield head
      }
    } finally {
      await it.return?.()
    }
  })()
}

export interface WebSocketEndpoints {
  /** Open connections right now (for tests and status). */
  readonly connections: number
  close(): Promise<void>
}

/**
 * Handle WebSocket upgrades on `http` (an HTTP or HTTPS server): `/git` and `/api/v1/watch`.
 * @example attachWebSockets(httpServer, gitServer, backend, { auth: { tokens } })
 */
export function attachWebSockets(http: HttpServer, server: GitServer, backend: Pick<Backend, 'refs'>, options: WebSocketOptions = {}): WebSocketEndpoints {
  const auth = options.auth instanceof Authorizer ? options.auth : new Authorizer(options.auth ?? {})
  const handleProtocols = (protocols: Set<string>) => (protocols.has(LARIX_SUBPROTOCOL) ? LARIX_SUBPROTOCOL : false)
  const gitWss = new WebSocketServer({ noServer: true, maxPayload: options.maxGitMessageBytes ?? 8 << 20, perMessageDeflate: false, handleProtocols })
  const watchWss = new WebSocketServer({ noServer: true, maxPayload: options.maxWatchMessageBytes ?? 64 << 10, perMessageDeflate: false, handleProtocols })
  const open = new Set<WebSocket>()

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => { /* a client gone mid-handshake */ })
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') { reject(socket, 400, 'only WebSocket upgrades are served here'); return }
    const endpoint = endpointOf(req.url)
    if (endpoint === undefined) { reject(socket, 404, `no WebSocket endpoint here: use ${WEBSOCKET_GIT_PATH} or ${WEBSOCKET_WATCH_PATH}`); return }
    const authorization = authorizationOf(req)
    try {
      auth.check(authorization, 'read')
    } catch (e) {
      if (e instanceof AuthError) { reject(socket, e.status, e.message); return }
      reject(socket, 400, 'bad request')
      return
    }
    const wss = endpoint === 'git' ? gitWss : watchWss
    wss.handleUpgrade(req, socket, head, ws => {
      open.add(ws)
      ws.on('close', () => open.delete(ws))
      ws.on('error', () => { /* seen through the stream's events */ })
      if (endpoint === 'git') {
        const stream = webSocketStream(ws as unknown as WebSocketLike, 'client')
        const input = checkedInput(stream.readable, service => { if (service === 'git-receive-pack') auth.check(authorization, 'write') })
        serveDaemon(server, input, stream).catch(e => { options.onError?.(e); ws.terminate() })
      } else {
        serveWatch(ws, backend, options)
      }
    })
  }
  http.on('upgrade', onUpgrade)
  return {
    get connections() { return open.size },
    close: async () => {
      http.off('upgrade', onUpgrade)
      for (const ws of open) ws.terminate()
      open.clear()
      await Promise.all([gitWss, watchWss].map(w => new Promise<void>(resolve => w.close(() => resolve()))))
    },
  }
}

function validBranchList(v: unknown): v is string[] {
  return Array.isArray(v) && v.length <= 10_000 && v.every(b => typeof b === 'string' && b.length > 0 && b.length <= 1024)
}

/** One watch-channel client. */
function serveWatch(ws: WebSocket, backend: Pick<Backend, 'refs'>, options: WebSocketOptions): void {
  let subscribed: Set<string> | undefined
  let ready = false
  const early: RefChange[] = []
  const send = (m: WatchMessage) => { if (ws.readyState === ws.OPEN) ws.send(encodeWatchMessage(m)) }
  const sendChange = (c: RefChange) => {
    const branch = c.name.slice('refs/heads/'.length)
    if (subscribed !== undefined && !subscribed.has(branch)) return
    send({ type: 'head', branch, commit: c.new ?? null, previous: c.old ?? null })
  }
  // Watch first, list second: a change between the two is sent after the list, never lost.
  const unwatch = backend.refs.watch(c => {
    if (!c.name.startsWith('refs/heads/')) return
    if (ready) sendChange(c)
    else early.push(c)
  })
  const ping = setInterval(() => send({ type: 'ping' }), options.pingIntervalMs ?? 30_000)
  ping.unref?.()
  ws.on('close', () => { unwatch(); clearInterval(ping) })
  ws.on('message', (data, isBinary) => {
    const fail = (message: string) => send({ type: 'error', code: 'LARIX_BAD_MESSAGE', message })
    if (!isBinary) { fail('watch messages are msgpack in binary WebSocket messages'); return }
    let m: unknown
    try {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer)
      m = packr.unpack(bytes)
    } catch {
      fail('not a msgpack message')
      return
    }
    const type = typeof m === 'object' && m !== null ? (m as { type?: unknown }).type : undefined
    if (type === 'subscribe') {
      const branches = (m as { branches?: unknown }).branches
      if (branches === undefined || branches === null) { subscribed = undefined; return }
      if (!validBranchList(branches)) { fail('subscribe takes { type: "subscribe", branches: string[] } (absent or empty: every branch)'); return }
      subscribed = branches.length === 0 ? undefined : new Set(branches)
      return
    }
    if (type === 'ping') { send({ type: 'pong' }); return }
    fail(`unknown message type ${JSON.stringify(type ?? null)?.slice(0, 40)} (expected "subscribe" or "ping")`)
  })
  backend.refs.list('refs/heads/').then(refs => {
    const heads: Record<string, string> = {}
    for (const r of refs) heads[r.name.slice('refs/heads/'.length)] = r.id
    send({ type: 'heads', heads })
    ready = true
    for (const c of early.splice(0)) sendChange(c)
  }, e => {
    options.onError?.(e)
    send({ type: 'error', code: e instanceof LarixError ? e.code : 'LARIX_BACKEND', message: 'cannot list the branches' })
    ws.close(1011, 'cannot list the branches')
  })
}
