// Smart HTTP (gitprotocol-http(5)) as a hono app: `GET …/info/refs?service=git-upload-pack|git-receive-pack`,
// `POST …/git-upload-pack`, `POST …/git-receive-pack`, under any path prefix (one app serves one store).
// Web standards only (Request, Response, streams, DecompressionStream), so it runs wherever hono runs.
import { Hono } from 'hono'
import { LarixError } from '../../store/errors.js'
import { GitServer } from '../serve/index.js'
import type { GitService } from '../serve/index.js'
import { BadPktLineError, parseProtocolParameters, protocolVersion } from '../wire/index.js'
import { AuthError, Authorizer } from '../auth.js'
import type { Access, AuthOptions } from '../auth.js'

export interface GitHttpOptions {
  /** Largest upload-pack request body, after gzip decoding (default 64 MiB: wants and haves are small). */
  maxFetchRequestBytes?: number
  /** Largest receive-pack request body, commands and pack, after gzip decoding (default 2 GiB). */
  maxPushRequestBytes?: number
  /**
   * Bearer tokens (or HTTP Basic with the token as password, as `git clone http://x:TOKEN@host/` sends):
   * clone and fetch need `read`, push needs `read-write`. None: open.
   */
  auth?: AuthOptions | Authorizer
}

/** A request body over its limit (HTTP 413). */
export class BodyTooLargeError extends LarixError<{ limit: number }> {
  constructor(limit: number) {
    super('LARIX_TOO_LARGE', `the request body is larger than this server accepts (${limit} bytes)`, { limit })
  }
}

/** A request body that cannot be decoded (HTTP 400). */
export class BadBodyError extends LarixError<{ encoding: string }> {
  constructor(message: string, encoding: string) {
    super('LARIX_BAD_REQUEST', message, { encoding })
  }
}

const NO_CACHE = {
  'Cache-Control': 'no-cache, max-age=0, must-revalidate',
  Pragma: 'no-cache',
  Expires: 'Fri, 01 Jan 1980 00:00:00 GMT',
}

function text(status: number, message: string): Response {
  return new Response(message.endsWith('\n') ? message : message + '\n', {
    status, headers: { 'Content-Type': 'text/plain; charset=utf-8', ...NO_CACHE },
  })
}

/** The request body as chunks, decoded from gzip when so labelled, failing once it passes `limit` bytes. */
async function* bodyChunks(request: Request, limit: number): AsyncGenerator<Uint8Array> {
  const raw = request.body as ReadableStream<Uint8Array> | null
  if (!raw) return
  const encoding = (request.headers.get('Content-Encoding') ?? '').trim().toLowerCase()
  const gzip = encoding === 'gzip' || encoding === 'x-gzip'
  const stream: ReadableStream<Uint8Array> = gzip
    ? raw.pipeThrough(new DecompressionStream('gzip') as unknown as ReadableWritablePair<Uint8Array, Uint8Array>)
    : raw
  const reader = stream.getReader()
  let total = 0
  let finished = false
  try {
    for (;;) {
      let r: ReadableStreamReadResult<Uint8Array>
      try {
        r = await reader.read()
      } catch (e) {
        if (gzip) throw new BadBodyError(`the request body is not valid gzip: ${(e as Error)?.message ?? e}`, 'gzip')
        throw e
      }
      if (r.done) { finished = true; return }
      total += r.value.length
      if (total > limit) throw new BodyTooLargeError(limit)
      yield r.value
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => {})
    reader.releaseLock()
  }
}

/** Send what a session yields as a streamed response, after its first chunk (failures before it become 4xx). */
async function stream(gen: AsyncGenerator<Uint8Array>, contentType: string): Promise<Response> {
  let first: IteratorResult<Uint8Array>
  try {
    first = await gen.next()
  } catch (e) {
    if (e instanceof BodyTooLargeError) return text(413, e.message)
    if (e instanceof BadPktLineError || e instanceof BadBodyError) return text(400, e.message)
    return text(500, `internal error: ${(e as Error)?.message ?? e}`)
  }
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      if (first.done) controller.close()
      else controller.enqueue(first.value)
    },
    async pull(controller) {
      try {
        const r = await gen.next()
        if (r.done) controller.close()
        else controller.enqueue(r.value)
      } catch (e) {
        controller.error(e)
      }
    },
    async cancel() {
      await gen.return(undefined)
    },
  })
  return new Response(body, { status: 200, headers: { 'Content-Type': contentType, ...NO_CACHE } })
}

/** 401 with a Basic challenge (the `git` CLI sends the URL's credentials only after one), or 403. */
function authFailure(e: AuthError): Response {
  const r = text(e.status, e.message)
  if (e.status === 401) r.headers.set('WWW-Authenticate', 'Basic realm="larix"')
  r.headers.set('X-Larix-Error', e.code)
  return r
}

const ENDPOINTS = ['/info/refs', '/git-upload-pack', '/git-receive-pack'] as const

function versionOf(request: Request): 0 | 1 | 2 {
  return protocolVersion(parseProtocolParameters(request.headers.get('Git-Protocol') ?? ''))
}

/**
 * A hono app serving `server` over smart HTTP, for `git clone http://host:port/` and `git push`.
 * @example
 * import { serve } from '@hono/node-server'
 * serve({ fetch: gitHttpApp(new GitServer(backend)).fetch, port: 8080, hostname: '127.0.0.1' })
 */
export function gitHttpApp(server: GitServer, options: GitHttpOptions = {}): Hono {
  const fetchLimit = options.maxFetchRequestBytes ?? 64 << 20
  const pushLimit = options.maxPushRequestBytes ?? 2 ** 31
  const authorizer = options.auth === undefined ? undefined : options.auth instanceof Authorizer ? options.auth : new Authorizer(options.auth)
  const app = new Hono()

  app.all('*', async c => {
    const request = c.req.raw
    const url = new URL(request.url)
    const path = url.pathname
    const endpoint = ENDPOINTS.find(e => path.endsWith(e))
    if (authorizer?.enabled) {
      const pushing = endpoint === '/git-receive-pack' || (endpoint === '/info/refs' && url.searchParams.get('service') === 'git-receive-pack')
      const need: Access = pushing ? 'write' : 'read'
      try {
        authorizer.check(request.headers.get('Authorization'), need)
      } catch (e) {
        if (e instanceof AuthError) return authFailure(e)
        throw e
      }
    }
    if (!endpoint) return text(404, 'not found: this is a Git smart HTTP server (clone it with git clone <this url>)')

    if (endpoint === '/info/refs') {
      if (request.method !== 'GET' && request.method !== 'HEAD') return text(405, 'info/refs takes GET')
      const service = new URL(request.url).searchParams.get('service')
      if (service === null) return text(403, 'dumb HTTP is not supported: use a Git client that speaks smart HTTP')
      if (!server.offers(service)) return text(403, `unsupported service ${JSON.stringify(service.slice(0, 100))}`)
      let bytes: Uint8Array
      try {
        bytes = await server.advertise(service, { version: versionOf(request) })
      } catch (e) {
        server.context.onError?.(e)
        return text(500, `cannot list the refs: ${(e as Error)?.message ?? e}`)
      }
      return new Response(request.method === 'HEAD' ? null : (bytes as Uint8Array<ArrayBuffer>), {
        status: 200, headers: { 'Content-Type': `application/x-${service}-advertisement`, ...NO_CACHE },
      })
    }

    const service = endpoint.slice(1) as GitService
    if (request.method !== 'POST') return text(405, `${service} takes POST`)
    if (!server.offers(service)) return text(403, `unsupported service ${service}`)
    const type = (request.headers.get('Content-Type') ?? '').split(';')[0].trim().toLowerCase()
    if (type !== `application/x-${service}-request`) return text(415, `expected Content-Type application/x-${service}-request`)
    const encoding = (request.headers.get('Content-Encoding') ?? '').trim().toLowerCase()
    if (encoding !== '' && encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'x-gzip') {
      return text(415, `unsupported Content-Encoding ${JSON.stringify(encoding.slice(0, 50))} (gzip or none)`)
    }
    const limit = service === 'git-upload-pack' ? fetchLimit : pushLimit
    const declared = Number(request.headers.get('Content-Length') ?? NaN)
    if (encoding === '' && Number.isFinite(declared) && declared > limit) return text(413, new BodyTooLargeError(limit).message)
    const gen = server.serveRequest(service, bodyChunks(request, limit), {
      version: versionOf(request),
      rethrow: e => e instanceof BadPktLineError || e instanceof BodyTooLargeError || e instanceof BadBodyError,
    })
    return stream(gen, `application/x-${service}-result`)
  })
  return app
}

export { GitServer }
