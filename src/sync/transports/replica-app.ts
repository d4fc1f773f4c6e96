// One hono app for a replica: `/healthz`, the JSON API under `/api/v1` (when given a Repo), and the Git smart
// HTTP endpoints everywhere else (so `git clone http://host:port/` works). It writes one log entry per request
// through `onLog` (never to stdout itself), refuses dot segments in any request path, and knows about
// shutdown through a RequestTracker: while draining, /healthz answers 503 and new requests get 503
// LARIX_SHUTTING_DOWN, and the tracker tells the server when the requests in flight have finished.
import { Hono } from 'hono'
import type { Backend } from '../../store/backend.js'
import { BadArgumentError, BadPathError } from '../../store/errors.js'
import type { Repo } from '../../store/repo.js'
import { API_PREFIX, apiApp } from '../api/app.js'
import type { ApiOptions } from '../api/app.js'
import { ERROR_CODE_HEADER, errorResponse, jsonResponse, NoRouteError, ShuttingDownError } from '../api/errors.js'
import { hasDotSegment, rawPathOf } from '../api/request.js'
import { Authorizer } from '../auth.js'
import { GitServer } from '../serve/index.js'
import type { GitServerOptions } from '../serve/index.js'
import { gitHttpApp } from './http.js'
import type { GitHttpOptions } from './http.js'

/** One line of the request log. */
export interface RequestLogEntry {
  /** When the request arrived (ISO 8601). */
  time: string
  method: string
  /** The request path as sent, without the query string. */
  path: string
  status: number
  /** Milliseconds from arrival until the response body was sent (or abandoned). */
  ms: number
  /** Request body bytes read, response body bytes sent. */
  bytesIn: number
  bytesOut: number
  /** The error code of a failed request (`LARIX_…`, or `HTTP_<status>` for a plain Git protocol answer). */
  error?: string
  /** True when the client went away before the response was complete. */
  aborted?: boolean
}

/**
 * Counts requests in flight (from arrival until their response body is done) and carries the draining
 * flag of a server that is shutting down.
 */
export class RequestTracker {
  #active = 0
  #waiters: (() => void)[] = []
  /** Set when the server stops taking requests. */
  draining = false

  get active(): number {
    return this.#active
  }

  begin(): void {
    this.#active++
  }

  end(): void {
    this.#active = Math.max(0, this.#active - 1)
    if (this.#active === 0) for (const w of this.#waiters.splice(0)) w()
  }

  /** Resolves true once nothing is in flight, or false after `timeoutMs`. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.#active === 0) return Promise.resolve(true)
    return new Promise(resolve => {
      let timer: ReturnType<typeof setTimeout> | undefined
      const done = () => { clearTimeout(timer); resolve(true) }
      this.#waiters.push(done)
      timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter(w => w !== done)
        resolve(false)
      }, timeoutMs)
    })
  }
}

export interface ReplicaAppOptions extends GitServerOptions, GitHttpOptions, ApiOptions {
  /** Called once per request, when its response is done. */
  onLog?: (entry: RequestLogEntry) => void
  /** Shared with the server that runs this app, for graceful shutdown. */
  tracker?: RequestTracker
  /** The Git server to use (a new one over the store otherwise), e.g. to share it with a git:// listener. */
  gitServer?: GitServer
  /**
   * Origins whose web pages may call this replica over http(s) (CORS): `https://app.example.org`, or `*` for
   * any. Default none: pages on other origins can only use the WebSocket endpoints. Tokens still apply.
   */
  cors?: readonly string[]
}

/** Methods and request headers a cross-origin page may use: the JSON API's and smart HTTP's. */
const CORS_METHODS = 'GET, HEAD, PUT, POST, DELETE'
const CORS_HEADERS = 'Authorization, Content-Type, Content-Encoding, If-Match, Git-Protocol, Accept'
const CORS_EXPOSED = `ETag, ${ERROR_CODE_HEADER}, Retry-After`

/**
 * The allowed origins, checked: each is `*` or `scheme://host[:port]` (what a browser sends in `Origin`).
 * @example corsOrigins(['https://app.example.org']) // Set { 'https://app.example.org' }
 */
export function corsOrigins(list: readonly string[] | undefined): Set<string> {
  const out = new Set<string>()
  if (list === undefined) return out
  if (!Array.isArray(list)) throw new BadArgumentError('cors is a list of origins (https://host[:port], or *)', 'cors')
  for (const o of list) {
    if (o === '*') { out.add(o); continue }
    let url: URL | undefined
    try { url = typeof o === 'string' ? new URL(o) : undefined } catch { url = undefined }
    if (!url || !/^https?:$/.test(url.protocol) || url.origin !== o.replace(/\/$/, '') || url.username || url.password) {
      throw new BadArgumentError(`bad CORS origin ${JSON.stringify(o)}: give scheme://host[:port], without a path (or * for any origin)`, 'cors')
    }
    out.add(url.origin)
  }
  return out
}

function isRepo(x: Repo | Backend): x is Repo {
  return typeof (x as Repo).branch === 'function' && typeof (x as Repo).backend === 'object'
}

/**
 * The whole HTTP face of a replica. Given a Backend rather than a Repo it serves Git and /healthz only.
 * @example
 * import { serve } from '@hono/node-server'
 * serve({ fetch: replicaApp(repo, { onLog: e => console.error(JSON.stringify(e)) }).fetch, port: 8080, hostname: '127.0.0.1' })
 */
export function replicaApp(source: Repo | Backend, options: ReplicaAppOptions = {}): Hono {
  const backend = isRepo(source) ? source.backend : source
  const auth = options.auth === undefined || options.auth instanceof Authorizer ? options.auth : new Authorizer(options.auth)
  const tracker = options.tracker ?? new RequestTracker()
  const gitServer = options.gitServer ?? new GitServer(backend, options)
  const git = gitHttpApp(gitServer, { ...options, auth })
  const api = isRepo(source) ? apiApp(source, { ...options, auth }) : undefined
  const onLog = options.onLog
  const origins = corsOrigins(options.cors)
  /** The Access-Control-Allow-Origin to send to this request, if its origin may call us. */
  const allowedOrigin = (request: Request): string | undefined => {
    const origin = request.headers.get('Origin')
    if (origin === null || origins.size === 0) return undefined
    return origins.has(origin) ? origin : origins.has('*') ? '*' : undefined
  }

  async function health(): Promise<Response> {
    if (tracker.draining) return jsonResponse({ ok: false, store: backend.name, shuttingDown: true }, 503, { 'Retry-After': '1' })
    try {
      const branches = (await backend.refs.list('refs/heads/')).length
      return jsonResponse({ ok: true, store: backend.name, branches })
    } catch {
      return jsonResponse({ ok: false, store: backend.name, error: 'the store cannot be read' }, 503)
    }
  }

  async function dispatch(request: Request, env: unknown, raw: string): Promise<Response> {
    if (raw === '/healthz') return health()
    if (tracker.draining) return errorResponse(new ShuttingDownError())
    if (hasDotSegment(raw)) return errorResponse(new BadPathError(`"." and ".." are not allowed in a request path: ${JSON.stringify(raw.slice(0, 200))}`, raw))
    if (raw === API_PREFIX || raw.startsWith(API_PREFIX + '/')) {
      if (!api) return errorResponse(new NoRouteError(raw))
      return api.fetch(request, env as object)
    }
    return git.fetch(request, env as object)
  }

  const app = new Hono()
  app.all('*', async c => {
    const arrived = Date.now()
    const started = performance.now()
    tracker.begin()
    const original = c.req.raw
    const raw = rawPathOf(original, c.env)
    let bytesIn = 0
    let request = original
    if (original.body) {
      const counted = original.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) { bytesIn += chunk.byteLength; controller.enqueue(chunk) },
      }))
      request = new Request(original.url, { method: original.method, headers: original.headers, body: counted, duplex: 'half' } as RequestInit)
    }
    const allowOrigin = allowedOrigin(original)
    let response: Response
    try {
      if (allowOrigin !== undefined && original.method === 'OPTIONS' && original.headers.has('Access-Control-Request-Method')) {
        // A CORS preflight: answered here, never by the Git or API routes.
        response = new Response(null, { status: 204, headers: {
          'Access-Control-Allow-Methods': CORS_METHODS, 'Access-Control-Allow-Headers': CORS_HEADERS, 'Access-Control-Max-Age': '600',
        } })
      } else {
        response = await dispatch(request, c.env, raw)
      }
    } catch (e) {
      response = errorResponse(e, options.onError)
    }
    const errorCode = response.headers.get(ERROR_CODE_HEADER) ?? (response.status >= 400 ? `HTTP_${response.status}` : undefined)
    let bytesOut = 0
    let finished = false
    const finish = (aborted: boolean) => {
      if (finished) return
      finished = true
      tracker.end()
      if (!onLog) return
      const entry: RequestLogEntry = {
        time: new Date(arrived).toISOString(), method: original.method, path: raw.slice(0, 1000), status: response.status,
        ms: Math.round((performance.now() - started) * 10) / 10, bytesIn, bytesOut,
      }
      if (errorCode !== undefined) entry.error = errorCode
      if (aborted) entry.aborted = true
      try { onLog(entry) } catch { /* a failing logger must not fail the request */ }
    }
    const headers = new Headers(response.headers)
    if (tracker.draining) headers.set('Connection', 'close')
    if (allowOrigin !== undefined) {
      headers.set('Access-Control-Allow-Origin', allowOrigin)
      headers.set('Access-Control-Expose-Headers', CORS_EXPOSED)
    }
    if (origins.size > 0) headers.append('Vary', 'Origin')
    if (!response.body) {
      finish(false)
      return new Response(null, { status: response.status, headers })
    }
    // Small answers (JSON, plain-text Git errors) go out whole, with their Content-Length; Git's packs stream.
    const type = (response.headers.get('Content-Type') ?? '').toLowerCase()
    if (type.startsWith('application/json') || type.startsWith('text/plain')) {
      let bytes: Uint8Array
      try {
        bytes = new Uint8Array(await response.arrayBuffer())
      } catch {
        finish(true)
        return new Response(null, { status: 500, headers })
      }
      bytesOut = bytes.length
      headers.set('Content-Length', String(bytes.length))
      finish(false)
      return new Response(bytes as Uint8Array<ArrayBuffer>, { status: response.status, headers })
    }
    const reader = response.body.getReader()
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const r = await reader.read()
          if (r.done) {
            controller.close()
            finish(false)
          } else {
            bytesOut += r.value.byteLength
            controller.enqueue(r.value)
          }
        } catch (e) {
          controller.error(e)
          finish(true)
        }
      },
      async cancel(reason) {
        finish(true)
        await reader.cancel(reason).catch(() => {})
      },
    })
    return new Response(body, { status: response.status, headers })
  })
  return app
}
