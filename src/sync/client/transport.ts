// One conversation with a Git service (upload-pack or receive-pack), whatever carries it. A Session has read
// the server's first message (the advertisement) and sends requests, each answered by a PktLineReader:
//  - smart HTTP is stateless: the advertisement is a GET of info/refs, each request a POST of its own;
//  - a byte stream (git:// over TCP, larix+tls:// over TLS, ws:// and wss:// over a WebSocket) is stateful:
//    one connection, opened by a git-daemon request line, requests written in turn and answers read from the
//    same reader.
// Protocol v2 requests are self-contained, so the callers need not care which kind they hold; the v0/v1
// fetch sends its whole negotiation in one request for the same reason.
import { connectTcp } from '#platform/tcp'
import { connectTls, fetchWithTls } from '#platform/tls'
import { connectWebSocket } from '#platform/websocket'
import { BadArgumentError, LarixError } from '../../store/errors.js'
import { FLUSH_PKT, PktLineReader, byteChunks, formatGitProtoRequest, readAdvertisement } from '../wire/index.js'
import type { Advertisement, ByteSource } from '../wire/index.js'
import { TransportError } from './errors.js'
import { parseRemoteUrl } from './remote.js'
import type { RemoteLocation } from './remote.js'

/** A bidirectional byte stream (a TCP socket, a TLS stream, a WebSocket, a vchan): what git:// runs over. */
export interface ByteStream {
  readable: AsyncIterable<Uint8Array>
  write(bytes: Uint8Array): Promise<void>
  close(): Promise<void>
}

/** Opens a byte stream to `host:port` (default: TCP in Node; browsers must pass one). */
export type Connect = (host: string, port: number, options?: { signal?: AbortSignal }) => Promise<ByteStream>

export type Service = 'git-upload-pack' | 'git-receive-pack'

/** A certificate, key or CA in PEM, as text or bytes. */
export type TlsMaterial = string | Uint8Array

/** TLS settings for larix+tls:// and wss:// (Node; a browser uses its own). */
export interface TlsOptions {
  /** The CA(s) that signed the server's certificate (default: the system's CAs). */
  ca?: TlsMaterial | TlsMaterial[]
  /** Our certificate, for servers that want mutual authentication (with `key`). */
  cert?: TlsMaterial
  /** The private key of `cert`. */
  key?: TlsMaterial
  /** The name the server's certificate must carry (default: the URL's host when it is a name). */
  servername?: string
  /** false: accept any server certificate (tests only; never for real links). Default true. */
  rejectUnauthorized?: boolean
}

/** How to reach remotes: the options every client call accepts. */
export interface TransportOptions {
  /**
   * The highest protocol version to ask for (default 2). The server may answer with a lower one; v2 is
   * only ever asked of upload-pack (receive-pack speaks v0).
   */
  protocolVersion?: 0 | 1 | 2
  /** Opens git:// connections. Default: TCP (`node:net`) in Node; required in browsers. */
  connect?: Connect
  /** The fetch() used for smart HTTP (default: the global one). */
  httpFetch?: typeof globalThis.fetch
  /** Extra HTTP headers (an Authorization token, say); also sent when opening a WebSocket (as a subprotocol in browsers). */
  headers?: Record<string, string>
  /** CA, client certificate and key for larix+tls:// and wss://. */
  tls?: TlsOptions
  signal?: AbortSignal
}

export interface Session {
  readonly service: Service
  readonly location: RemoteLocation
  readonly advertisement: Advertisement
  /** True when every request travels on its own (smart HTTP). */
  readonly stateless: boolean
  /** Send one request and get its answer; read the answer to its end before the next request. */
  request(body: Uint8Array): Promise<PktLineReader>
  /** End the conversation (politely where the protocol has a way) and release the connection. */
  close(): Promise<void>
}

/** The client's `agent` value. */
export const AGENT = 'larix/0.1'

/**
 * Open a session with `service` at `url` and read its advertisement.
 * @example const s = await openSession('http://127.0.0.1:8080/repo.git', 'git-upload-pack'); s.advertisement.version
 */
export async function openSession(url: string | RemoteLocation, service: Service, opts: TransportOptions = {}): Promise<Session> {
  const location = typeof url === 'string' ? parseRemoteUrl(url) : url
  const version = opts.protocolVersion ?? 2
  if (version !== 0 && version !== 1 && version !== 2) throw new BadArgumentError(`protocolVersion must be 0, 1 or 2, got ${String(version)}`, 'protocolVersion')
  const asked = service === 'git-upload-pack' ? version : 0
  switch (location.kind) {
    case 'http': return openHttp(location, service, asked, opts)
    case 'git': return openStream(location, service, asked, opts, (o) => (opts.connect ?? connectTcp)(location.host, location.port, o))
    case 'tls': return openStream(location, service, asked, opts, (o) => connectTls(location.host, location.port, { ...o, display: location.display, ...(opts.tls ? { tls: opts.tls } : {}) }))
    case 'ws': return openStream(location, service, asked, opts, (o) => connectWebSocket(location.url, {
      ...o, display: location.display, headers: { ...location.headers, ...opts.headers }, ...(opts.tls ? { tls: opts.tls } : {}),
    }))
    default: throw new BadArgumentError(`unknown remote kind ${JSON.stringify((location as { kind?: unknown }).kind)}`, 'url')
  }
}

type StreamLocation = Extract<RemoteLocation, { kind: 'git' | 'tls' | 'ws' }>

function protocolHeader(version: 0 | 1 | 2): Record<string, string> {
  return version === 0 ? {} : { 'Git-Protocol': `version=${version}` }
}

/** Failures of fetch() itself (refused, reset, DNS) become TransportErrors; our own errors pass. */
function transportFailure(e: unknown, url: string, what: string): unknown {
  if (e instanceof LarixError) return e
  if ((e as Error)?.name === 'AbortError') return e
  const cause = (e as { cause?: { message?: string; code?: string } })?.cause
  const detail = cause?.code ?? cause?.message ?? (e as Error)?.message ?? String(e)
  return new TransportError(`cannot ${what} ${url}: ${detail}`, { url }, e)
}

/**
 * The bytes of `source`, with a failure of the connection while reading (a reset, a cut, a server that
 * died) turned into a TransportError, as failures to connect or send are. Our own errors and aborts pass.
 */
function guardReads(source: ByteSource, url: string): AsyncIterable<Uint8Array> {
  const it = byteChunks(source)
  return {
    [Symbol.asyncIterator]: () => ({
      async next() {
        try {
          return await it.next()
        } catch (e) {
          throw transportFailure(e, url, 'keep reading from')
        }
      },
      async return() {
        await it.return?.()
        return { done: true, value: undefined }
      },
    }),
  }
}

async function checkResponse(res: Response, url: string, expectedType: string): Promise<ReadableStream<Uint8Array>> {
  const contentType = (res.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase()
  if (!res.ok) {
    const text = await res.text().catch(() => '')
    const snippet = text.replace(/\s+/g, ' ').trim().slice(0, 200)
    const hint = res.status === 401 || res.status === 403 ? ' (authentication needed: put credentials in the URL or pass headers)' : ''
    throw new TransportError(`${url} answered HTTP ${res.status} ${res.statusText}${hint}${snippet ? `: ${snippet}` : ''}`, { url, status: res.status, contentType })
  }
  if (contentType !== expectedType) {
    await res.body?.cancel().catch(() => {})
    const what = contentType === '' ? 'no content type' : `content type ${contentType}`
    throw new TransportError(`${url} answered with ${what}, not ${expectedType}: not a smart Git HTTP server`, { url, status: res.status, contentType })
  }
  if (!res.body) throw new TransportError(`${url} answered without a body`, { url, status: res.status, contentType })
  return res.body
}

async function openHttp(location: Extract<RemoteLocation, { kind: 'http' }>, service: Service, version: 0 | 1 | 2, opts: TransportOptions): Promise<Session> {
  // A CA or client certificate for https:// needs a fetch() that takes them (Node's global one does not).
  const httpFetch = opts.httpFetch ?? (opts.tls !== undefined && location.base.startsWith('https:') ? fetchWithTls(opts.tls) : undefined) ?? globalThis.fetch
  if (typeof httpFetch !== 'function') throw new BadArgumentError('smart HTTP needs fetch(): pass options.httpFetch', 'httpFetch')
  const headers = { ...location.headers, ...opts.headers }
  const infoUrl = `${location.base}/info/refs?service=${service}`
  let res: Response
  try {
    res = await httpFetch(infoUrl, { headers: { Accept: '*/*', ...headers, ...protocolHeader(version) }, signal: opts.signal })
  } catch (e) {
    throw transportFailure(e, location.display, 'reach')
  }
  // After a redirect, later requests go where the server sent us (as Git does).
  let base = location.base
  if (res.redirected && res.url.endsWith(`/info/refs?service=${service}`)) base = res.url.slice(0, -`/info/refs?service=${service}`.length)
  const body = await checkResponse(res, location.display, `application/x-${service}-advertisement`)
  const reader = new PktLineReader(guardReads(body, location.display))
  let advertisement: Advertisement
  try {
    advertisement = await readAdvertisement(reader, { service })
  } finally {
    await reader.close()
  }
  return {
    service, location, advertisement, stateless: true,
    async request(bytes) {
      let r: Response
      try {
        r = await httpFetch(`${base}/${service}`, {
          method: 'POST',
          headers: {
            ...headers, ...protocolHeader(advertisement.version === 2 ? 2 : 0),
            'Content-Type': `application/x-${service}-request`, Accept: `application/x-${service}-result`,
          },
          body: bytes as Uint8Array<ArrayBuffer>,
          signal: opts.signal,
        })
      } catch (e) {
        throw transportFailure(e, location.display, 'send a request to')
      }
      return new PktLineReader(guardReads(await checkResponse(r, location.display, `application/x-${service}-result`), location.display))
    },
    async close() {},
  }
}

async function openStream(location: StreamLocation, service: Service, version: 0 | 1 | 2, opts: TransportOptions,
  connect: (o: { signal?: AbortSignal }) => Promise<ByteStream>): Promise<Session> {
  let stream: ByteStream
  try {
    stream = await connect(opts.signal ? { signal: opts.signal } : {})
  } catch (e) {
    throw transportFailure(e, location.display, 'connect to')
  }
  // An IPv6 address cannot be a host parameter (its colons are separators there): it is left out.
  const hostParam = location.host.includes(':') ? undefined
    : location.kind === 'git' && location.port === 9418 ? location.host : `${location.host}:${location.port}`
  // The server serves one store: a WebSocket's request line names the root.
  const path = location.kind === 'ws' ? '/' : location.path
  const reader = new PktLineReader(guardReads(stream.readable, location.display))
  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    // A flush-pkt tells the server we are done (v2: no more commands; v0: nothing wanted). After a pack it
    // is simply ignored, or the server has gone: either way no error is worth reporting here.
    await stream.write(FLUSH_PKT).catch(() => {})
    await reader.close().catch(() => {})
    await stream.close().catch(() => {})
  }
  try {
    await stream.write(formatGitProtoRequest({
      service, path, ...(hostParam !== undefined ? { host: hostParam } : {}), extraParameters: version === 0 ? [] : [`version=${version}`],
    }))
    const advertisement = await readAdvertisement(reader).catch((e: unknown) => {
      // git daemon hangs up without a word on a repository it does not serve.
      if (e instanceof LarixError && e.code === 'LARIX_PROTOCOL' && /stream ended/.test(e.message) && reader.position === 0) {
        const why = location.kind === 'tls'
          ? 'it may have refused our client certificate (pass one signed by a CA it trusts: --tls-cert/--tls-key, options.tls), or it does not serve this repository'
          : `no such repository, or ${service} is not enabled there`
        throw new TransportError(`${location.display} closed the connection: ${why}`, { url: location.display }, e)
      }
      throw e
    })
    return {
      service, location, advertisement, stateless: false,
      async request(bytes) {
        try {
          await stream.write(bytes)
        } catch (e) {
          throw transportFailure(e, location.display, 'send a request to')
        }
        return reader
      },
      close,
    }
  } catch (e) {
    await close()
    throw transportFailure(e, location.display, 'talk to')
  }
}
