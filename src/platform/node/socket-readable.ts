// A socket's data as an async iterable with backpressure: the socket pauses while more than 1 MiB is unread
// and resumes below 512 KiB. Shared by the git:// and TLS listeners (serve.ts) and the TLS client (tls.ts).
import type { Socket } from 'node:net'

export interface SocketReadableOptions {
  /** What a read error becomes (the first one is kept). */
  mapError?: (e: unknown) => unknown
  /**
   * When the reader stops early: 'pause' leaves the socket paused and open for writing (a server that still
   * answers); 'discard' drops what comes but keeps it flowing, so the peer's end is seen and a close completes.
   */
  abandon: 'pause' | 'discard'
}

export function socketReadable(socket: Socket, opts: SocketReadableOptions): AsyncIterable<Uint8Array> {
  const mapError = opts.mapError ?? (e => e)
  const queue: Uint8Array[] = []
  let queued = 0
  let ended = false
  let failure: unknown
  let wake: (() => void) | undefined
  let discard = false
  const notify = () => { const w = wake; wake = undefined; w?.() }
  socket.on('data', (chunk: Buffer) => {
    if (discard) return
    queue.push(chunk)
    queued += chunk.length
    if (queued > 1 << 20) socket.pause()
    notify()
  })
  socket.on('end', () => { ended = true; notify() })
  socket.on('close', () => { ended = true; notify() })
  socket.on('error', e => { if (failure === undefined) failure = mapError(e); notify() })
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
          queued = 0
          if (opts.abandon === 'pause') socket.pause()
          else { discard = true; socket.resume() }
          return { done: true, value: undefined }
        },
      }
    },
  }
}
