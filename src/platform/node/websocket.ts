// Node flavour of the WebSocket client (the `ws` package): headers (an Authorization token) and TLS options
// (the CA to trust, a client certificate) are passed as they are. The browser flavour uses the page's
// WebSocket, which can do neither: there the token travels as a subprotocol.
import WebSocket from 'ws'
import type { ClientOptions } from 'ws'
import type { ByteStream, TlsOptions } from '../../sync/client/transport.js'
import { LARIX_SUBPROTOCOL, webSocketOpened, webSocketStream } from '../../sync/transports/websocket.js'
import type { WebSocketLike } from '../../sync/transports/websocket.js'
import { tlsClientOptions, tlsFailure } from './tls.js'

export interface OpenWebSocketOptions {
  headers?: Record<string, string>
  tls?: TlsOptions
  signal?: AbortSignal
  /** The URL as it may be shown (without credentials). */
  display?: string
  /** Largest message accepted from the server (default 64 MiB). */
  maxPayload?: number
  /**
   * Listen to messages from the start: a server that speaks first (the watch channel) may have its first
   * message read in the same turn as the handshake, before the caller of openWebSocket could listen.
   */
  onMessage?: (event: { data: unknown }) => void
}

/**
 * Open a WebSocket to `url` and wait until it is open (a TransportError when the server refuses).
 * @example const ws = await openWebSocket('ws://127.0.0.1:8080/api/v1/watch', { headers: { Authorization: 'Bearer …' } })
 */
export async function openWebSocket(url: string, options: OpenWebSocketOptions = {}): Promise<WebSocketLike> {
  const display = options.display ?? url
  const o: ClientOptions = { headers: { ...options.headers }, maxPayload: options.maxPayload ?? 64 << 20, perMessageDeflate: false }
  if (url.startsWith('wss:')) {
    try {
      Object.assign(o, tlsClientOptions(options.tls, new URL(url).hostname.replace(/^\[(.*)\]$/, '$1')))
    } catch (e) {
      throw tlsFailure(e, display)
    }
  }
  let ws: WebSocket
  try {
    ws = new WebSocket(url, [LARIX_SUBPROTOCOL], o)
  } catch (e) {
    throw tlsFailure(e, display)
  }
  let failure: unknown
  ws.on('error', e => { failure ??= e })
  const like = ws as unknown as WebSocketLike
  like.binaryType = 'arraybuffer'
  if (options.onMessage) like.addEventListener('message', options.onMessage)
  try {
    await webSocketOpened(like, display, options.signal)
  } catch (e) {
    // A TLS failure (an untrusted server, a refused client certificate) says what to do about it.
    const code = (failure as { code?: string } | undefined)?.code ?? ''
    if (/^(ERR_SSL|ERR_TLS|UNABLE_|SELF_SIGNED|DEPTH_ZERO|CERT_)/.test(code) || (url.startsWith('wss:') && code === 'ECONNRESET')) throw tlsFailure(failure, display)
    throw e
  }
  return like
}

/**
 * A ByteStream over a WebSocket to `url` (git-daemon framing goes over it).
 * @example const stream = await connectWebSocket('ws://127.0.0.1:8080/git')
 */
export async function connectWebSocket(url: string, options: OpenWebSocketOptions = {}): Promise<ByteStream> {
  const ws = await openWebSocket(url, options)
  return webSocketStream(ws, options.display ?? url, options.signal ? { signal: options.signal } : {})
}
