// The watch client: a long-lived WebSocket to a replica's `/api/v1/watch` channel that reports branch head
// changes, so replication is woken by changes instead of polling. It reconnects with exponential back-off and
// jitter; after each (re)connection the server's `heads` message is compared with the heads last known, and
// every branch that changed meanwhile is reported, so nothing is missed across an outage. Browser-compatible:
// the socket comes from #platform/websocket.
import { Packr } from 'msgpackr'
import { openWebSocket } from '#platform/websocket'
import { LarixError } from '../../store/errors.js'
import { watchEndpoint } from '../client/remote.js'
import type { TlsOptions } from '../client/transport.js'
import { messageBytes, WS_CLOSED } from './websocket.js'
import type { WebSocketLike } from './websocket.js'

/** A branch head change seen on the remote. `commit` null: the branch was deleted. */
export interface HeadEvent {
  branch: string
  commit: string | null
  /** Where the branch was before (null: it did not exist, or was not known). */
  previous: string | null
}

export interface WatchRemoteOptions {
  /** Only these branches (default: every branch). */
  branches?: string[]
  /** Headers for the WebSocket handshake (an Authorization token; a subprotocol in browsers). */
  headers?: Record<string, string>
  /** CA and client certificate for wss:// (Node). */
  tls?: TlsOptions
  /**
   * Called for every head change, in order; on the first connection for every branch the remote has, and after
   * a reconnection for every branch that changed while disconnected.
   */
  onHead(ev: HeadEvent): void
  /** Connection failures (before a retry), error messages from the server, exceptions thrown by onHead. */
  onError?(e: unknown): void
  /** Called each time a connection is up and the remote's heads are known. */
  onConnect?(heads: Record<string, string>): void
  /** Stops watching, like close(). */
  signal?: AbortSignal
  /** The first retry delay (default 250 ms); it doubles on each failure up to maxDelayMs (default 30 s), with jitter. */
  minDelayMs?: number
  maxDelayMs?: number
  /** Reconnect when the server says nothing (not even its 30 s ping) for this long (default 75 s). */
  idleTimeoutMs?: number
}

export interface RemoteWatch {
  /** Stop watching and close the connection. */
  close(): Promise<void>
  /** The remote's heads as last known (branch → commit id). */
  heads(): Record<string, string>
  /** Whether a connection is up right now. */
  readonly connected: boolean
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true })

function encode(m: unknown): Uint8Array {
  const b = packr.pack(m)
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

/**
 * Watch the branch heads of the replica at `url` (ws://, wss://, or its http(s):// URL) until close().
 * @example
 * const w = watchRemote('ws://127.0.0.1:8080/', { onHead: ev => console.log(ev.branch, ev.commit) })
 * await w.close()
 */
export function watchRemote(url: string, opts: WatchRemoteOptions): RemoteWatch {
  if (typeof opts?.onHead !== 'function') throw new LarixError('LARIX_BAD_ARGUMENT', 'watchRemote needs an onHead(ev) callback', { argument: 'onHead' })
  const endpoint = watchEndpoint(url)
  const headers = { ...endpoint.headers, ...opts.headers }
  const wanted = opts.branches && opts.branches.length > 0 ? new Set(opts.branches) : undefined
  const minDelay = opts.minDelayMs ?? 250
  const maxDelay = Math.max(minDelay, opts.maxDelayMs ?? 30_000)
  const idleMs = opts.idleTimeoutMs ?? 75_000
  const known = new Map<string, string>()
  const stop = new AbortController()
  let closed = false
  let connected = false
  let current: WebSocketLike | undefined

  const report = (e: unknown) => { try { opts.onError?.(e) } catch { /* a failing onError must not stop the watch */ } }
  const emit = (ev: HeadEvent) => { try { opts.onHead(ev) } catch (e) { report(e) } }

  /** One connection: resolves when it ends (closed by either side, idle, or failed). */
  const session = async (onReady: () => void): Promise<void> => {
    const early: { data: unknown }[] = []
    let deliver: ((event: { data: unknown }) => void) | undefined
    const ws = await openWebSocket(endpoint.url, {
      headers, display: endpoint.display, signal: stop.signal, maxPayload: 16 << 20, ...(opts.tls ? { tls: opts.tls } : {}),
      onMessage: event => { if (deliver) deliver(event); else early.push(event) },
    })
    current = ws
    try {
      await new Promise<void>(resolve => {
        let idle: ReturnType<typeof setTimeout> | undefined
        const touch = () => {
          if (idle !== undefined) clearTimeout(idle)
          idle = setTimeout(() => { report(new LarixError('LARIX_TRANSPORT', `${endpoint.display} said nothing for ${idleMs} ms: reconnecting`, { url: endpoint.display })); finish() }, idleMs)
          ;(idle as { unref?: () => void }).unref?.()
        }
        const finish = () => {
          if (idle !== undefined) clearTimeout(idle)
          deliver = undefined
          ws.removeEventListener('close', onClose)
          ws.removeEventListener('error', onError)
          stop.signal.removeEventListener('abort', finish)
          try { ws.close(1000) } catch { /* already closing */ }
          // Done when the socket is closed (its close handshake done, its timers gone), or after 2 s at most.
          void closedSocket(ws).then(resolve)
        }
        const onClose = (e: { code?: number; reason?: string }) => {
          if (!closed && e?.code !== 1000) report(new LarixError('LARIX_TRANSPORT', `the watch channel of ${endpoint.display} closed (code ${e?.code ?? '?'}${e?.reason ? `: ${e.reason}` : ''})`, { url: endpoint.display }))
          finish()
        }
        const onError = (e: { message?: string; error?: { message?: string } }) => {
          report(new LarixError('LARIX_TRANSPORT', `the watch channel of ${endpoint.display} failed: ${e?.error?.message ?? e?.message ?? 'connection error'}`, { url: endpoint.display }))
        }
        const onMessage = (event: { data: unknown }) => {
          touch()
          const bytes = messageBytes(event.data)
          let m: { type?: unknown; [k: string]: unknown }
          try {
            if (bytes === undefined) throw new Error('text message')
            m = packr.unpack(bytes) as typeof m
            if (typeof m !== 'object' || m === null) throw new Error('not a map')
          } catch {
            report(new LarixError('LARIX_PROTOCOL', `${endpoint.display} sent a watch message that is not msgpack`, { url: endpoint.display }))
            return
          }
          if (m.type === 'heads' && typeof m.heads === 'object' && m.heads !== null) {
            const heads = m.heads as Record<string, unknown>
            for (const [branch, id] of Object.entries(heads)) {
              if (typeof id !== 'string' || (wanted && !wanted.has(branch))) continue
              const before = known.get(branch)
              if (before !== id) { known.set(branch, id); emit({ branch, commit: id, previous: before ?? null }) }
            }
            for (const [branch, before] of [...known]) {
              if (typeof heads[branch] !== 'string') { known.delete(branch); emit({ branch, commit: null, previous: before }) }
            }
            connected = true
            onReady()
            try { opts.onConnect?.(Object.fromEntries(known)) } catch (e) { report(e) }
          } else if (m.type === 'head' && typeof m.branch === 'string') {
            const branch = m.branch
            if (wanted && !wanted.has(branch)) return
            const commit = typeof m.commit === 'string' ? m.commit : null
            const previous = typeof m.previous === 'string' ? m.previous : known.get(branch) ?? null
            if (commit === null) known.delete(branch)
            else known.set(branch, commit)
            emit({ branch, commit, previous })
          } else if (m.type === 'error') {
            report(new LarixError(typeof m.code === 'string' ? m.code : 'LARIX_REMOTE', `${endpoint.display}: ${String(m.message ?? 'error')}`, { url: endpoint.display }))
          }
          // ping and pong only keep the connection alive.
        }
        ws.addEventListener('close', onClose)
        ws.addEventListener('error', onError)
        stop.signal.addEventListener('abort', finish)
        touch()
        if (wanted) ws.send(encode({ type: 'subscribe', branches: [...wanted] }))
        deliver = onMessage
        for (const event of early.splice(0)) onMessage(event)
      })
    } finally {
      connected = false
      current = undefined
    }
  }

  const closedSocket = (ws: WebSocketLike) => new Promise<void>(resolve => {
    if (ws.readyState === WS_CLOSED) { resolve(); return }
    const t = setTimeout(done, 2000)
    function done() { clearTimeout(t); ws.removeEventListener('close', done); resolve() }
    ws.addEventListener('close', done)
  })

  const sleep = (ms: number) => new Promise<void>(resolve => {
    const t = setTimeout(done, ms)
    function done() { clearTimeout(t); stop.signal.removeEventListener('abort', done); resolve() }
    stop.signal.addEventListener('abort', done)
  })

  const loop = (async () => {
    let failures = 0
    while (!closed) {
      try {
        await session(() => { failures = 0 })
      } catch (e) {
        if (closed) break
        report(e)
      }
      if (closed) break
      const ceiling = Math.min(maxDelay, minDelay * 2 ** Math.min(failures, 30))
      failures++
      // "Equal jitter": half the delay fixed, half random, so that replicas restarted together spread out.
      await sleep(ceiling / 2 + Math.random() * ceiling / 2)
    }
  })()

  const close = async () => {
    if (!closed) {
      closed = true
      stop.abort()
      try { current?.close(1000) } catch { /* closing */ }
    }
    await loop
  }
  if (opts.signal) {
    if (opts.signal.aborted) void close()
    else opts.signal.addEventListener('abort', () => { void close() }, { once: true })
  }
  return {
    close,
    heads: () => Object.fromEntries(known),
    get connected() { return connected },
  }
}
