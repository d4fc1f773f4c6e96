// The Node listeners of `larix serve`: HTTP through @hono/node-server (the replica app: Git smart HTTP, the
// JSON API when given a Repo, /healthz), and git:// (git-daemon framing: a request line naming the service,
// then the protocol) on a raw TCP port with node:net. Both bind 127.0.0.1 unless told otherwise.
// Each listener is one entry of a list with three steps for shutdown: stop accepting, (wait for the
// requests in flight), drop what is left. close() runs those steps over every listener.
import { readFileSync } from 'node:fs'
import { createServer, Server as NetServerClass } from 'node:net'
import type { AddressInfo, Server as NetServer, Socket } from 'node:net'
import { join } from 'node:path'
import { serve as serveHttp } from '@hono/node-server'
import type { ServerType } from '@hono/node-server'
import type { Backend } from '../../store/backend.js'
import { BackendError, BadArgumentError } from '../../store/errors.js'
import { Authorizer } from '../../sync/auth.js'
import type { Repo } from '../../store/repo.js'
import { GitServer } from '../../sync/serve/index.js'
import type { GitServerOptions, HeadOption } from '../../sync/serve/index.js'
import type { GitHttpOptions } from '../../sync/transports/http.js'
import { replicaApp, RequestTracker } from '../../sync/transports/replica-app.js'
import type { RequestLogEntry } from '../../sync/transports/replica-app.js'
import type { ApiOptions } from '../../sync/api/app.js'
import { socketReadable } from './socket-readable.js'
import { attachWebSockets, httpsServeOptions, startGitTlsListener } from './listeners.js'
import type { TlsServerOptions, WebSocketOptions } from './listeners.js'

export interface ServeOptions extends GitServerOptions, GitHttpOptions, ApiOptions {
  /** Port for smart HTTP (0: any free port); no HTTP listener when absent. */
  http?: number
  /** Port for git:// (0: any free port; Git's own is 9418); no git:// listener when absent. */
  git?: number
  /** Address to bind (default 127.0.0.1). */
  host?: string
  /** A git:// connection silent this long is closed (default 5 minutes). */
  idleTimeoutMs?: number
  /** One entry per HTTP request, when its response is done (the CLI prints them to stderr as JSON lines). */
  onLog?: (entry: RequestLogEntry) => void
  /** How long close() lets requests in flight finish before dropping them (default 10 s). */
  shutdownTimeoutMs?: number
  /** Certificate, key and (for mutual TLS) client CA, for `gitTls` and `https`. */
  tls?: TlsServerOptions
  /** Port for git over TLS (`larix+tls://`, needs `tls`); no such listener when absent. */
  gitTls?: number
  /** Serve the HTTP listener as HTTPS with `tls` (default false). */
  https?: boolean
  /** Web origins (`https://app.example.org`, or `*`) whose pages may call the HTTP listener (CORS); default none. */
  cors?: readonly string[]
  /** WebSocket endpoints `/git` and `/api/v1/watch` on the HTTP listener (default true when it is on). */
  websocket?: boolean | Omit<WebSocketOptions, 'auth' | 'onError'>
}

/** A running server: where it listens, and how to stop it. */
export interface RunningServer {
  readonly server: GitServer
  readonly http?: { port: number; url: string }
  readonly git?: { port: number; url: string }
  readonly gitTls?: { port: number; url: string }
  /** The WebSocket base URL (`ws://host:port/`), when the endpoints are on. */
  readonly websocket?: { url: string }
  /**
   * Graceful shutdown: stop accepting connections, answer new requests on open connections (and /healthz)
   * with 503, let the requests in flight finish (up to `shutdownTimeoutMs`), then close every connection.
   */
  close(): Promise<void>
}

/** For a store in a real Git repository: HEAD is whatever its HEAD file says. */
function gitHead(backend: Backend): HeadOption | undefined {
  const gitDir = (backend as { gitDir?: string }).gitDir
  if (backend.name !== 'git' || typeof gitDir !== 'string') return undefined
  return () => {
    try {
      const m = /^ref:\s*(refs\/\S+)\s*$/.exec(readFileSync(join(gitDir, 'HEAD'), 'utf8'))
      return m?.[1]
    } catch {
      return undefined
    }
  }
}

/** The socket's data; when abandoned, the socket stays open for writing (the answer still goes out). */
function socketInput(socket: Socket): AsyncIterable<Uint8Array> {
  return socketReadable(socket, { abandon: 'pause' })
}

function drained(socket: Socket): Promise<void> {
  return new Promise(resolve => {
    const done = () => { socket.off('drain', done); socket.off('close', done); resolve() }
    socket.on('drain', done)
    socket.on('close', done)
  })
}

async function serveSocket(server: GitServer, socket: Socket, idleMs: number): Promise<void> {
  socket.setNoDelay(true)
  socket.setTimeout(idleMs, () => socket.destroy())
  for await (const chunk of server.serveGitDaemon(socketInput(socket))) {
    if (socket.destroyed) return
    if (!socket.write(chunk)) await drained(socket)
  }
  socket.end()
}

function listening(server: NetServer | ServerType): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const ok = () => { server.off('error', fail); resolve(server.address() as AddressInfo) }
    const fail = (e: Error) => { server.off('listening', ok); reject(e) }
    if (server.listening) { resolve(server.address() as AddressInfo); return }
    server.once('listening', ok)
    server.once('error', fail)
  })
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host
}

/** A listener of startServer, in the three steps of a shutdown. */
interface Listener {
  /** Stop accepting new connections (open ones stay). */
  stopAccepting(): void
  /** Close every connection that is left. */
  dropAll(): void
  /** Resolves when the listener and all its connections are closed. */
  closed: Promise<void>
}

function isRepo(x: Repo | Backend): x is Repo {
  return typeof (x as Repo).branch === 'function' && typeof (x as Repo).backend === 'object'
}

/** A promise of the server's 'close' event that also settles when the server never listened. */
function closedPromise(server: NetServer | ServerType): { closed: Promise<void>; settle(): void } {
  let settle!: () => void
  const closed = new Promise<void>(resolve => { settle = resolve })
  server.once('close', () => settle())
  return { closed, settle }
}

function httpListener(http: ServerType): Listener {
  const { closed, settle } = closedPromise(http)
  return {
    // net.Server's close, not http.Server's: that one also drops idle keep-alive connections at once, and
    // during the drain those still get their 503 (with Connection: close) instead of a reset.
    stopAccepting: () => { if (http.listening) NetServerClass.prototype.close.call(http); else settle() },
    dropAll: () => {
      const h = http as { closeAllConnections?: () => void }
      h.closeAllConnections?.()
    },
    closed,
  }
}

/**
 * Serve a store over HTTP (Git smart HTTP, plus the JSON API when given a Repo, plus /healthz) and/or git://
 * until `close()`.
 * @example
 * const running = await startServer(await Repo.open({ backend: levelBackend('./.larix') }), { http: 8080 })
 * console.log(`git clone ${running.http!.url}`)
 */
export async function startServer(source: Repo | Backend, options: ServeOptions = {}): Promise<RunningServer> {
  if (options.http === undefined && options.git === undefined && options.gitTls === undefined) throw new BackendError('startServer needs an http, git or gitTls port', 'serve')
  if ((options.https || options.gitTls !== undefined) && options.tls === undefined) throw new BackendError('HTTPS and git over TLS need options.tls (certificate and key)', 'serve')
  const backend = isRepo(source) ? source.backend : source
  const tokens = options.auth instanceof Authorizer ? options.auth.enabled : (options.auth?.tokens?.length ?? 0) > 0
  if (tokens && options.git !== undefined) {
    throw new BadArgumentError('git:// carries no credentials, so it cannot be served when tokens are required: serve HTTP only (clone with http://x:TOKEN@host:port/)', 'git')
  }
  if (tokens && options.gitTls !== undefined && options.tls?.ca === undefined) {
    throw new BadArgumentError('git over TLS carries no tokens: with tokens required it needs mutual TLS (a client CA: --tls-ca FILE)', 'gitTls')
  }
  const host = options.host ?? '127.0.0.1'
  const head = options.head ?? gitHead(backend)
  const server = new GitServer(backend, { ...options, ...(head !== undefined ? { head } : {}) })
  const tracker = new RequestTracker()
  const listeners: Listener[] = []
  let closing: Promise<void> | undefined
  const close = () => closing ??= (async () => {
    tracker.draining = true
    const background = server.close() // a clone pack being built stops at its next step
    for (const l of listeners) l.stopAccepting()
    await tracker.idle(options.shutdownTimeoutMs ?? 10_000)
    for (const l of listeners) l.dropAll()
    await Promise.all(listeners.map(l => l.closed))
    await background
  })()
  const result: { server: GitServer; http?: { port: number; url: string }; git?: { port: number; url: string }; gitTls?: { port: number; url: string }; websocket?: { url: string }; close(): Promise<void> } = { server, close }
  try {
    if (options.http !== undefined) {
      const app = replicaApp(source, { ...options, gitServer: server, tracker })
      const https = options.https ? httpsServeOptions(options.tls!) : {}
      const http = serveHttp({ fetch: app.fetch, port: options.http, hostname: host, ...https })
      // The app counts a request until its answer is handed over; this counts it until Node has sent it.
      http.on('request', (_req: unknown, res: { once(event: 'close', fn: () => void): void }) => {
        tracker.begin()
        res.once('close', () => tracker.end())
      })
      listeners.push(httpListener(http))
      const { port } = await listening(http)
      result.http = { port, url: `http${options.https ? 's' : ''}://${hostForUrl(host)}:${port}/` }
      if (options.websocket !== false) {
        const ws = attachWebSockets(http as import('node:http').Server, server, backend, {
          ...(typeof options.websocket === 'object' ? options.websocket : {}),
          ...(options.auth ? { auth: options.auth } : {}), ...(options.onError ? { onError: options.onError } : {}),
        })
        // WebSockets are long-lived: they are closed when the listener stops accepting, not waited for.
        const wsClosed = { done: undefined as Promise<void> | undefined }
        listeners.push({
          stopAccepting: () => { wsClosed.done ??= ws.close() },
          dropAll: () => { wsClosed.done ??= ws.close() },
          get closed() { return wsClosed.done ?? Promise.resolve() },
        })
        result.websocket = { url: `ws${options.https ? 's' : ''}://${hostForUrl(host)}:${port}/` }
      }
    }
    if (options.git !== undefined) {
      const sockets = new Set<Socket>()
      const idle = options.idleTimeoutMs ?? 5 * 60_000
      const tcp = createServer(socket => {
        if (tracker.draining) { socket.destroy(); return }
        sockets.add(socket)
        tracker.begin()
        socket.on('close', () => { if (sockets.delete(socket)) tracker.end() })
        socket.on('error', () => { /* the session sees it through its input */ })
        serveSocket(server, socket, idle).catch(e => { options.onError?.(e); socket.destroy() })
      })
      tcp.listen(options.git, host)
      const { closed, settle } = closedPromise(tcp)
      listeners.push({
        stopAccepting: () => { if (tcp.listening) tcp.close(); else settle() },
        dropAll: () => { for (const s of sockets) s.destroy() },
        closed,
      })
      const { port } = await listening(tcp)
      result.git = { port, url: `git://${hostForUrl(host)}:${port}/` }
    }
    if (options.gitTls !== undefined) {
      const tls = await startGitTlsListener(server, {
        port: options.gitTls, host, tls: options.tls!, ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
        ...(options.onError ? { onError: options.onError } : {}),
      })
      let tlsClosed: Promise<void> | undefined
      listeners.push({
        stopAccepting: () => { /* open git sessions finish; new ones are refused once closed below */ },
        dropAll: () => { tlsClosed ??= tls.close() },
        get closed() { return tlsClosed ?? (tlsClosed = tls.close()) },
      })
      result.gitTls = { port: tls.port, url: tls.url }
    }
  } catch (e) {
    await close()
    throw e
  }
  return result
}
