// Browser flavour of the WebSocket client: the page's WebSocket. It cannot send headers, so a token from an
// Authorization header (Bearer, or Basic with the token as password) is offered as the subprotocol
// `larix.bearer.<base64url token>`; the server selects plain `larix`, never echoing the token. TLS is the
// browser's: its own trust store and client certificates.
import { LarixError } from '../../store/errors.js'
import { tokenFromHeader } from '../../sync/auth.js'
import type { ByteStream, TlsOptions } from '../../sync/client/transport.js'
import { LARIX_SUBPROTOCOL, bearerSubprotocol, webSocketOpened, webSocketStream } from '../../sync/transports/websocket.js'
import type { WebSocketLike } from '../../sync/transports/websocket.js'
import { TransportError } from '../../sync/client/errors.js'

export interface OpenWebSocketOptions {
  headers?: Record<string, string>
  tls?: TlsOptions
  signal?: AbortSignal
  display?: string
  maxPayload?: number
  /**
   * Listen to messages from the start: a server that speaks first (the watch channel) may have its first
   * message read in the same turn as the handshake, before the caller of openWebSocket could listen.
   */
  onMessage?: (event: { data: unknown }) => void
}

export async function openWebSocket(url: string, options: OpenWebSocketOptions = {}): Promise<WebSocketLike> {
  const display = options.display ?? url
  const Ctor = (globalThis as { WebSocket?: new (url: string, protocols?: string[]) => WebSocketLike }).WebSocket
  if (typeof Ctor !== 'function') throw new LarixError('LARIX_NOT_AVAILABLE', 'this environment has no WebSocket', { transport: 'websocket' })
  if (options.tls !== undefined && (options.tls.cert !== undefined || options.tls.key !== undefined || options.tls.ca !== undefined)) {
    throw new LarixError('LARIX_NOT_AVAILABLE', 'a browser uses its own certificates for wss://: options.tls cannot be set here', { transport: 'websocket' })
  }
  const protocols = [LARIX_SUBPROTOCOL]
  const auth = Object.entries(options.headers ?? {}).find(([k]) => k.toLowerCase() === 'authorization')?.[1]
  const token = tokenFromHeader(auth)
  if (token !== undefined) protocols.push(bearerSubprotocol(token))
  let ws: WebSocketLike
  try {
    ws = new Ctor(url, protocols)
  } catch (e) {
    throw new TransportError(`cannot open a WebSocket to ${display}: ${(e as Error)?.message ?? e}`, { url: display }, e)
  }
  ws.binaryType = 'arraybuffer'
  if (options.onMessage) ws.addEventListener('message', options.onMessage)
  await webSocketOpened(ws, display, options.signal)
  return ws
}

export async function connectWebSocket(url: string, options: OpenWebSocketOptions = {}): Promise<ByteStream> {
  const ws = await openWebSocket(url, options)
  return webSocketStream(ws, options.display ?? url, options.signal ? { signal: options.signal } : {})
}
