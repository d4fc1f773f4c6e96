// A WebSocket as a ByteStream: what git-daemon framing runs over between a web page (or a Node replica) and
// `larix serve`. Each write is sent as binary messages of at most MAX_CHUNK bytes; each binary message
// received is one chunk of the stream. Works with the browser's WebSocket and with the `ws` package's
// (client or server side), which share the EventTarget-style API used here.
// Browsers cannot set headers on a WebSocket, so a token travels as a subprotocol: the client offers
// `larix` and `larix.bearer.<base64url token>`; the server reads the token and selects `larix`, so the
// token is never echoed back.
import { LarixError } from '../../store/errors.js'
import { TransportError } from '../client/errors.js'
import type { ByteStream } from '../client/transport.js'

/** The subset of the WebSocket API (browser or `ws`) this module uses. */
export interface WebSocketLike {
  binaryType: string
  readonly readyState: number
  readonly bufferedAmount: number
  readonly protocol: string
  send(data: Uint8Array): void
  close(code?: number, reason?: string): void
  addEventListener(type: string, listener: (event: any) => void): void // eslint-disable-line @typescript-eslint/no-explicit-any
  removeEventListener(type: string, listener: (event: any) => void): void // eslint-disable-line @typescript-eslint/no-explicit-any
  /** `ws` only: stop reading from the socket (backpressure). */
  pause?(): void
  resume?(): void
}

export const WS_OPEN = 1
export const WS_CLOSING = 2
export const WS_CLOSED = 3

/** The subprotocol both sides speak. */
export const LARIX_SUBPROTOCOL = 'larix'
/** The prefix of the subprotocol that carries a bearer token. */
export const BEARER_SUBPROTOCOL_PREFIX = 'larix.bearer.'

/** Largest message a write sends; longer writes are split. */
export const MAX_CHUNK = 256 * 1024
/** A write waits while more than this is queued for sending. */
const HIGH_WATER = 1 << 20
/** The reader pauses a `ws` socket while more than this is received and unread. */
const READ_HIGH_WATER = 4 << 20

/** The subprotocol that carries `token`. */
export function bearerSubprotocol(token: string): string {
  let binary = ''
  for (const b of new TextEncoder().encode(token)) binary += String.fromCharCode(b)
  return BEARER_SUBPROTOCOL_PREFIX + btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** The token among the offered subprotocols (a `Sec-WebSocket-Protocol` header value, or a list), if any. */
export function tokenFromSubprotocols(offered: string | Iterable<string> | undefined | null): string | undefined {
  if (offered === undefined || offered === null) return undefined
  const list = typeof offered === 'string' ? offered.split(',').map(s => s.trim()) : [...offered]
  for (const p of list) {
    if (!p.startsWith(BEARER_SUBPROTOCOL_PREFIX)) continue
    const b64 = p.slice(BEARER_SUBPROTOCOL_PREFIX.length).replace(/-/g, '+').replace(/_/g, '/')
    try {
      const bytes = Uint8Array.from(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)), c => c.charCodeAt(0))
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
    } catch {
      return undefined
    }
  }
  return undefined
}

/** The bytes of a message event's data, or undefined for a text message. */
export function messageBytes(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  if (Array.isArray(data)) {
    // `ws` with binaryType 'fragments'.
    const parts = data.map(d => messageBytes(d) ?? new Uint8Array(0))
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
    let o = 0
    for (const p of parts) { out.set(p, o); o += p.length }
    return out
  }
  return undefined
}

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))

function closeDetail(event: { code?: number; reason?: string }): string {
  const reason = event.reason ? `: ${event.reason}` : ''
  return `code ${event.code ?? '?'}${reason}`
}

/**
 * Wait until `ws` is open. Rejects with a TransportError when it closes or fails first, or when `signal`
 * aborts (the socket is closed then).
 */
export function webSocketOpened(ws: WebSocketLike, display: string, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (ws.readyState === WS_OPEN) { resolve(); return }
    let detail = ''
    const cleanup = () => {
      ws.removeEventListener('open', onOpen)
      ws.removeEventListener('error', onError)
      ws.removeEventListener('close', onClose)
      signal?.removeEventListener('abort', onAbort)
    }
    const onOpen = () => { cleanup(); resolve() }
    const onError = (e: { message?: string; error?: { message?: string; code?: string } }) => {
      detail = e?.error?.code ?? e?.error?.message ?? e?.message ?? ''
    }
    const onClose = (e: { code?: number; reason?: string }) => {
      cleanup()
      const why = detail !== '' ? detail : closeDetail(e)
      const status = /\b(40[13])\b/.exec(why)?.[1]
      const hint = status ? ' (authentication needed: put a token in options.headers, or user:TOKEN@ in the URL)' : ''
      reject(new TransportError(`cannot open a WebSocket to ${display}: ${why}${hint}`, { url: display, ...(status ? { status: Number(status) } : {}) }))
    }
    const onAbort = () => {
      cleanup()
      try { ws.close() } catch { /* not open yet */ }
      reject(signal!.reason ?? new DOMException('aborted', 'AbortError'))
    }
    ws.addEventListener('open', onOpen)
    ws.addEventListener('error', onError)
    ws.addEventListener('close', onClose)
    if (signal?.aborted) onAbort()
    else signal?.addEventListener('abort', onAbort)
  })
}

/**
 * A ByteStream over an open WebSocket. The readable ends when the other side closes normally (code 1000 or
 * no code) and fails with a TransportError on an abnormal close, an error, a text message, or `signal`.
 * @example const stream = webSocketStream(ws, 'ws://127.0.0.1:8080/'); await stream.write(bytes)
 */
export function webSocketStream(ws: WebSocketLike, display: string, options: { signal?: AbortSignal } = {}): ByteStream {
  ws.binaryType = 'arraybuffer'
  const queue: Uint8Array[] = []
  let queued = 0
  let paused = false
  let ended = false
  let failure: unknown
  let wake: (() => void) | undefined
  let closedWaiters: (() => void)[] = []
  const notify = () => { const w = wake; wake = undefined; w?.() }
  const fail = (e: unknown) => { if (failure === undefined && !ended) failure = e; notify() }
  const onMessage = (event: { data: unknown }) => {
    const bytes = messageBytes(event.data)
    if (bytes === undefined) {
      fail(new TransportError(`${display} sent a text message on a binary stream`, { url: display }))
      try { ws.close(1003, 'binary messages only') } catch { /* closing */ }
      return
    }
    if (bytes.length === 0) return
    queue.push(bytes)
    queued += bytes.length
    if (queued > READ_HIGH_WATER && ws.pause && !paused) { paused = true; ws.pause() }
    notify()
  }
  const onClose = (event: { code?: number; reason?: string }) => {
    if (event.code === 1000 || event.code === 1005 || event.code === undefined) ended = true
    else fail(new TransportError(`the WebSocket to ${display} closed (${closeDetail(event)})`, { url: display }))
    ended = true
    notify()
    const w = closedWaiters
    closedWaiters = []
    for (const f of w) f()
  }
  const onError = (event: { message?: string; error?: { message?: string } }) => {
    const detail = event?.error?.message ?? event?.message ?? 'connection failed'
    fail(new TransportError(`the WebSocket to ${display} failed: ${detail}`, { url: display }))
  }
  const onAbort = () => {
    fail(options.signal!.reason ?? new DOMException('aborted', 'AbortError'))
    try { ws.close(1000) } catch { /* closing */ }
  }
  ws.addEventListener('message', onMessage)
  ws.addEventListener('close', onClose)
  ws.addEventListener('error', onError)
  options.signal?.addEventListener('abort', onAbort)
  if (options.signal?.aborted) onAbort()
  if (ws.readyState >= WS_CLOSING) { ended = true }

  const readable: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]() {
      return {
        async next(): Promise<IteratorResult<Uint8Array>> {
          for (;;) {
            if (queue.length > 0) {
              const value = queue.shift()!
              queued -= value.length
              if (paused && queued <= READ_HIGH_WATER / 2) { paused = false; ws.resume?.() }
              return { done: false, value }
            }
            if (failure !== undefined) throw failure
            if (ended) return { done: true, value: undefined }
            await new Promise<void>(resolve => { wake = resolve })
          }
        },
        async return(): Promise<IteratorResult<Uint8Array>> {
          queue.length = 0
          queued = 0
          if (paused) { paused = false; ws.resume?.() }
          return { done: true, value: undefined }
        },
      }
    },
  }

  const write = async (bytes: Uint8Array): Promise<void> => {
    for (let o = 0; o < bytes.length; o += MAX_CHUNK) {
      if (failure !== undefined) throw failure instanceof LarixError ? failure : new TransportError(`the WebSocket to ${display} is closed`, { url: display }, failure)
      if (ws.readyState !== WS_OPEN) throw new TransportError(`the WebSocket to ${display} is closed`, { url: display })
      ws.send(bytes.subarray(o, Math.min(bytes.length, o + MAX_CHUNK)))
      // Browsers have no drain event: poll the send buffer until it has room.
      while (ws.bufferedAmount > HIGH_WATER && ws.readyState === WS_OPEN) await sleep(2)
    }
  }

  const close = (): Promise<void> => new Promise<void>(resolve => {
    options.signal?.removeEventListener('abort', onAbort)
    if (ws.readyState === WS_CLOSED) { resolve(); return }
    closedWaiters.push(resolve)
    try { ws.close(1000) } catch { resolve(); return }
    // A peer that never answers the close must not keep us waiting.
    const t = setTimeout(resolve, 1000) as unknown as { unref?: () => void }
    t.unref?.()
  })

  return { readable, write, close }
}
