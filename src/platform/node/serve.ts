// The Node listeners of `larix serve`: smart HTTP through @hono/node-server, and git:// (git-daemon framing:
// a request line naming the service, then the protocol) on a raw TCP port with node:net. Both bind
// 127.0.0.1 unless told otherwise.
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import type { AddressInfo, Server as NetServer, Socket } from 'node:net'
import { join } from 'node:path'
import { serve as serveHttp } from '@hono/node-server'
import type { ServerType } from '@hono/node-server'
import type { Backend } from '../../store/backend.js'
import { BackendError } from '../../store/errors.js'
import { GitServer } from '../../sync/serve/index.js'
import type { GitServerOptions, HeadOption } from '../../sync/serve/index.js'
import { gitHttpApp } from '../../sync/transports/http.js'
import type { GitHttpOptions } from '../../sync/transports/http.js'
import type { AuthOptions, Authorizer } from '../../sync/auth.js'
import { attachWebSockets, httpsServeOptions, startGitTlsListener } from './listeners.js'
import type { TlsServerOptions, WebSocketOptions } from './listeners.js'

export interface ServeOptions extends GitServerOptions, GitHttpOptions {
  /** Port for smart HTTP (0: any free port); no HTTP listener when absent. */
  http?: number
  /** Port for git:// (0: any free port; Git's own is 9418); no git:// listener when absent. */
  git?: number
  /** Address to bind (default 127.0.0.1). */
  host?: string
  /** A git:// connection silent this long is closed (default 5 minutes). */
  idleTimeoutMs?: number
  /** Certificate, key and (for mutual TLS) client CA, for `gitTls` and `https`. */
  tls?: TlsServerOptions
  /** Port for git over TLS (`larix+tls://`, needs `tls`); no such listener when absent. */
  gitTls?: number
  /** Serve the HTTP listener as HTTPS with `tls` (default false). */
  https?: boolean
  /** WebSocket endpoints `/git` and `/api/v1/watch` on the HTTP listener (default true when it is on). */
  websocket?: boolean | Omit<WebSocketOptions, 'auth' | 'onError'>
  /** Tokens for the WebSocket endpoints. */
  auth?: Authorizer | AuthOptions
}

/** A running server: where it listens, and how to stop it. */
export interface RunningServer {
  readonly server: GitServer
  readonly http?: { port: number; url: string }
  readonly git?: { port: number; url: string }
  readonly gitTls?: { port: number; url: string }
  /** The WebSocket base URL (`ws://host:port/`), when the endpoints are on. */
  readonly websocket?: { url: string }
  /** Stop listening and close open connections. */
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

/** The socket's data as an async iterable that applies backpressure and, when abandoned, leaves the socket open for writing. */
function socketInput(socket: Socket): AsyncIterable<Uint8Array> {
  const queue: Uint8Array[] = []
  let queued = 0
  let ended = false
  let failure: unknown
  let wake: (() => void) | undefined
  const notify = () => { const w = wake; wake = undefined; w?.() }
  socket.on('data', (chunk: Buffer) => {
    queue.push(chunk)
    queued += chunk.length
    if (queued > 1 << 20) socket.pause()
    notify()
  })
  socket.on('end', () => { ended = true; notify() })
  socket.on('close', () => { ended = true; notify() })
  socket.on('error', e => { failure = e; notify() })
  return {
    [Symbol.asyncIterator]() {
      return {
        async next(): Promise<IteratorResult<Uint8Array>> {
          for (;;) {
            if (queue.length > 0) {
              const value = queue.shift()!
              queued -= value.length
              if (queued <= 1 << 19 && socket.isPaused()) socket.resume()
              return { done: false, value }
            }
            if (failure !== undefined) throw failure
            if (ended) return { done: true, value: undefined }
            await new Promise<void>(resolve => { wake = resolve })
          }
        },
        async return(): Promise<IteratorResult<Uint8Array>> {
          queue.length = 0
          socket.pause()
          return { done: true, value: undefined }
        },
      }
    },
  }
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

/**
 * Serve `backend` over smart HTTP and/or git:// until `close()`.
 * @example
 * const running = await startServer(levelBackend('./.larix'), { http: 8080 })
 * console.log(`git clone ${running.http!.url}`)
 */
export async function startServer(backend: Backend, options: ServeOptions = {}): Promise<RunningServer> {
  if (options.http === undefined && options.git === undefined && options.gitTls === undefined) throw new BackendError('startServer needs an http or a git port', 'serve')
  const host = options.host ?? '127.0.0.1'
  const head = options.head ?? gitHead(backend)
  const server = new GitServer(backend, { ...options, ...(head !== undefined ? { head } : {}) })
  const closers: (() => Promise<void>)[] = []
  const close = async () => { for (const c of closers.splice(0).reverse()) await c().catch(() => {}) }
  const result: { server: GitServer; http?: { port: number; url: string }; git?: { port: number; url: string }; gitTls?: { port: number; url: string }; websocket?: { url: string }; close(): Promise<void> } = { server, close }
  if ((options.https || options.gitTls !== undefined) && options.tls === undefined) throw new BackendError('HTTPS and git over TLS need options.tls (certificate and key)', 'serve')
  try {
    if (options.http !== undefined) {
      const app = gitHttpApp(server, options)
      const https = options.https ? httpsServeOptions(options.tls!) : {}
      const http = serveHttp({ fetch: app.fetch, port: options.http, hostname: host, ...https })
      closers.push(() => new Promise<void>(resolve => {
        http.close(() => resolve())
        ;(http as { closeAllConnections?: () => void }).closeAllConnections?.()
      }))
      const { port } = await listening(http)
      result.http = { port, url: `http${options.https ? 's' : ''}://${hostForUrl(host)}:${port}/` }
      if (options.websocket !== false) {
        const ws = attachWebSockets(http as import('node:http').Server, server, backend, {
          ...(typeof options.websocket === 'object' ? options.websocket : {}),
          ...(options.auth ? { auth: options.auth } : {}), ...(options.onError ? { onError: options.onError } : {}),
        })
        closers.push(() => ws.close())
        result.websocket = { url: `ws${options.https ? 's' : ''}://${hostForUrl(host)}:${port}/` }
      }
    }
    if (options.git !== undefined) {
      const sockets = new Set<Socket>()
      const idle = options.idleTimeoutMs ?? 5 * 60_000
      const tcp = createServer(socket => {
        sockets.add(socket)
        socket.on('close', () => sockets.delete(socket))
        socket.on('error', () => { /* the session sees it through its input */ })
        serveSocket(server, socket, idle).catch(e => { options.onError?.(e); socket.destroy() })
      })
      tcp.listen(options.git, host)
      closers.push(() => new Promise<void>(resolve => {
        tcp.close(() => resolve())
        for (const s of sockets) s.destroy()
      }))
      const { port } = await listening(tcp)
      result.git = { port, url: `git://${hostForUrl(host)}:${port}/` }
    }
    if (options.gitTls !== undefined) {
      const tls = await startGitTlsListener(server, {
        port: options.gitTls, host, tls: options.tls!, ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
        ...(options.onError ? { onError: options.onError } : {}),
      })
      closers.push(() => tls.close())
      result.gitTls = { port: tls.port, url: tls.url }
    }
  } catch (e) {
    await close()
    throw e
  }
  return result
}
