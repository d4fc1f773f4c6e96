// Node flavour of the byte-stream adapter: a TCP connection (node:net) as the ByteStream git:// runs over.
// The browser flavour has no sockets and says so.
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import type { ByteStream } from '../../sync/client/transport.js'

/**
 * Connect to `host:port` over TCP.
 * @example const stream = await connectTcp('127.0.0.1', 9418); await stream.write(request)
 */
export function connectTcp(host: string, port: number, options: { signal?: AbortSignal } = {}): Promise<ByteStream> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host, port, noDelay: true, signal: options.signal })
    const fail = (e: Error) => reject(e)
    socket.once('error', fail)
    socket.once('connect', () => {
      socket.off('error', fail)
      // Errors reach the reader (through the async iterator) and the writer (through write's callback);
      // this listener only keeps an error nobody is waiting for from crashing the process.
      socket.on('error', () => {})
      resolve({
        readable: socket as AsyncIterable<Uint8Array>,
        write: bytes => new Promise<void>((res, rej) => {
          if (socket.destroyed || !socket.writable) { rej(new Error('the connection is closed')); return }
          socket.write(bytes, e => (e ? rej(e) : res()))
        }),
        close: () => new Promise<void>(res => {
          if (socket.destroyed) { res(); return }
          socket.once('close', () => res())
          socket.end()
          // A peer that never closes its side must not keep us waiting.
          setTimeout(() => socket.destroy(), 1000).unref()
        }),
      })
    })
  })
}
