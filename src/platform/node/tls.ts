// Node flavour of the TLS byte stream: `larix+tls://` runs git-daemon framing over node:tls, with the CA to
// trust and a client certificate for mutual authentication (TransportOptions.tls). Failures become
// TransportErrors that say what to do about the certificates. The browser flavour cannot do raw TLS.
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { Readable } from 'node:stream'
import { connect } from 'node:tls'
import type { ConnectionOptions, TLSSocket } from 'node:tls'
import { isIP } from 'node:net'
import type { Socket } from 'node:net'
import { socketReadable } from './socket-readable.js'
import { LarixError } from '../../store/errors.js'
import { TransportError } from '../../sync/client/errors.js'
import type { ByteStream, TlsOptions, TlsMaterial } from '../../sync/client/transport.js'

/** PEM given as a string or bytes, as node:tls takes it. */
export function pem(m: TlsMaterial): string | Buffer {
  return typeof m === 'string' ? m : Buffer.from(m.buffer, m.byteOffset, m.byteLength)
}

/** The node:tls options for a client: trust `ca` (else the system's), present `cert`/`key` when given. */
export function tlsClientOptions(tls: TlsOptions | undefined, host: string): ConnectionOptions {
  const o: ConnectionOptions = {}
  if (tls?.ca !== undefined) o.ca = Array.isArray(tls.ca) ? tls.ca.map(pem) : pem(tls.ca as TlsMaterial)
  if (tls?.cert !== undefined) o.cert = pem(tls.cert)
  if (tls?.key !== undefined) o.key = pem(tls.key)
  if ((tls?.cert === undefined) !== (tls?.key === undefined)) {
    throw new LarixError('LARIX_BAD_ARGUMENT', 'a client certificate needs both its certificate and its key (options.tls.cert and options.tls.key, or --tls-cert and --tls-key)', { argument: 'tls' })
  }
  const servername = tls?.servername ?? (isIP(host) ? undefined : host)
  if (servername !== undefined) o.servername = servername
  if (tls?.rejectUnauthorized === false) o.rejectUnauthorized = false
  return o
}

const SERVER_UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE',
])

/** A TLS failure as a TransportError that says what to do. */
export function tlsFailure(e: unknown, display: string): unknown {
  if (e instanceof LarixError) return e
  if ((e as Error)?.name === 'AbortError') return e
  const err = e as NodeJS.ErrnoException & { reason?: string }
  const code = err?.code ?? ''
  const text = `${code} ${err?.message ?? String(e)}`
  let hint = ''
  if (SERVER_UNTRUSTED.has(code)) hint = ': the server\'s certificate is not signed by a CA we trust; pass the CA that signed it (--tls-ca FILE, or options.tls.ca)'
  else if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') hint = ': the server\'s certificate is outside its validity period; the server needs a new certificate'
  else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') hint = `: the server's certificate does not name this host (${err.reason ?? 'altname mismatch'}); connect by a name or IP address in its subjectAltName, or set options.tls.servername`
  else if (/certificate required|handshake failure/i.test(text)) hint = ': the server wants a client certificate; pass one signed by a CA the server trusts (--tls-cert FILE --tls-key FILE, or options.tls.cert and .key)'
  else if (/unknown ca|bad certificate|certificate unknown|unsupported certificate|certificate expired|certificate revoked|decrypt error/i.test(text)) hint = ': the server refused our client certificate; use one signed by a CA the server trusts (--tls-cert/--tls-key)'
  else if (code === 'ECONNRESET' || code === 'EPIPE') hint = ': the server dropped the connection, as a server does when it refuses a client certificate; use one signed by a CA the server trusts (--tls-cert/--tls-key)'
  else if (/key values mismatch/i.test(text)) hint = ': the client key does not belong to the client certificate (--tls-key must match --tls-cert)'
  else if (/no start line|bad base64|PEM|asn1|ASN1/i.test(text)) hint = ': a certificate or key is not valid PEM; check the files given to --tls-cert, --tls-key and --tls-ca'
  // OpenSSL's messages carry a multi-line trace: its reason is enough.
  const said = err?.reason ?? (err?.message ?? String(e)).split('\n')[0]!.replace(/^[0-9A-F]+:error:[0-9A-F]+:[^:]*:[^:]*:/, '')
  const detail = code !== '' && code !== said ? `${code}: ${said}` : said
  return new TransportError(`TLS connection to ${display} failed (${detail})${hint}`, { url: display }, e)
}

/**
 * A connected socket as a ByteStream. Reading applies backpressure (the socket pauses while 1 MiB is
 * unread); a read error goes through `mapError`.
 */
export function socketStream(socket: Socket, mapError: (e: unknown) => unknown = e => e): ByteStream {
  // Abandoned: drop what comes, but keep the socket flowing so that the peer's end is seen and close()
  // completes (a paused socket never emits 'end').
  const readable = socketReadable(socket, { mapError, abandon: 'discard' })
  let failure: unknown
  socket.on('error', e => { if (failure === undefined) failure = mapError(e) })
  return {
    readable,
    write: bytes => new Promise<void>((resolve, reject) => {
      if (failure !== undefined) { reject(failure); return }
      if (socket.destroyed || !socket.writable) { reject(mapError(new Error('the connection is closed'))); return }
      const ok = socket.write(bytes, e => { if (e) reject(mapError(e)) })
      if (ok) { resolve(); return }
      const done = () => { socket.off('drain', done); socket.off('close', done); resolve() }
      socket.on('drain', done)
      socket.on('close', done)
    }),
    close: () => new Promise<void>(resolve => {
      if (socket.destroyed) { resolve(); return }
      socket.once('close', () => resolve())
      socket.end()
      // A peer that never closes its side must not keep us waiting.
      setTimeout(() => socket.destroy(), 1000).unref()
    }),
  }
}

/**
 * Connect to `host:port` over TLS: the server's certificate is checked against `tls.ca` (else the system's
 * CAs) and `tls.cert`/`tls.key` are presented when the server asks for a client certificate.
 * @example const stream = await connectTls('127.0.0.1', 9419, { tls: { ca, cert, key } })
 */
export function connectTls(host: string, port: number, options: { signal?: AbortSignal; tls?: TlsOptions; display?: string } = {}): Promise<ByteStream> {
  const display = options.display ?? `larix+tls://${host.includes(':') ? `[${host}]` : host}:${port}/`
  return new Promise((resolve, reject) => {
    let socket: TLSSocket
    try {
      socket = connect({ host, port, ...tlsClientOptions(options.tls, host) })
    } catch (e) {
      reject(tlsFailure(e, display))
      return
    }
    socket.setNoDelay(true)
    const onAbort = () => { socket.destroy(); reject(options.signal!.reason ?? new DOMException('aborted', 'AbortError')) }
    if (options.signal?.aborted) { onAbort(); return }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    const fail = (e: Error) => { options.signal?.removeEventListener('abort', onAbort); reject(tlsFailure(e, display)) }
    socket.once('error', fail)
    socket.once('secureConnect', () => {
      socket.off('error', fail)
      options.signal?.removeEventListener('abort', onAbort)
      // With TLS 1.3 a server that refuses our certificate says so after the handshake: the first read fails.
      socket.on('error', () => { /* reported through the stream */ })
      resolve(socketStream(socket, e => tlsFailure(e, display)))
    })
  })
}

/**
 * A fetch() for https:// that trusts `tls.ca` and presents `tls.cert`/`tls.key` (Node's global fetch takes no
 * TLS options): enough of fetch for smart HTTP — GET or POST with a byte body, a streamed response body.
 * Redirects are not followed (a smart HTTP remote answers directly).
 */
export function fetchWithTls(tls: TlsOptions): typeof globalThis.fetch {
  const agents = new Map<string, HttpsAgent>()
  const agentFor = (host: string) => {
    let a = agents.get(host)
    if (!a) agents.set(host, a = new HttpsAgent({ ...tlsClientOptions(tls, host), keepAlive: false }))
    return a
  }
  return ((input: string | URL | Request, init: RequestInit = {}) => new Promise<Response>((resolve, reject) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url)
    if (url.protocol !== 'https:') { globalThis.fetch(input, init).then(resolve, reject); return }
    const headers: Record<string, string> = {}
    new Headers(init.headers).forEach((v, k) => { headers[k] = v })
    const body = init.body as Uint8Array | string | undefined | null
    if (body != null) headers['content-length'] = String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength)
    const req = httpsRequest(url, { method: init.method ?? 'GET', headers, agent: agentFor(url.hostname.replace(/^\[(.*)\]$/, '$1')), ...(init.signal ? { signal: init.signal } : {}) }, res => {
      const status = res.statusCode ?? 0
      const responseHeaders = new Headers()
      for (const [k, v] of Object.entries(res.headers)) {
        if (Array.isArray(v)) for (const x of v) responseHeaders.append(k, x)
        else if (v !== undefined) responseHeaders.set(k, v)
      }
      const noBody = status === 204 || status === 304 || init.method === 'HEAD'
      if (noBody) res.resume()
      const stream = noBody ? null : Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>
      const response = new Response(stream, { status, statusText: res.statusMessage ?? '', headers: responseHeaders })
      Object.defineProperty(response, 'url', { value: url.toString() })
      resolve(response)
    })
    req.on('error', e => reject(tlsFailure(e, `${url.protocol}//${url.host}`)))
    if (body != null) req.end(typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength))
    else req.end()
  })) as typeof globalThis.fetch
}
