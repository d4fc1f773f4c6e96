// A TCP proxy on 127.0.0.1 (port 0) in front of a server, for fault tests. It passes bytes through, and when
// armed it cuts or stalls the traffic once a given number of bytes has gone one way:
//  - `cut`: forward exactly `after` bytes in `direction` (counted over every connection since arming); when
//    the next byte comes, destroy both sides of its connection (a reset, as when a cable is pulled);
//  - `stall`: forward exactly `after` bytes; when the next byte comes, hold everything on that connection
//    (both ways) until the proxy is closed or `release()`d: a peer that stops answering.
// Either fires only when a byte beyond the mark arrives.
// A fault fires once; connections opened after it pass through, so a retry through the same proxy works.
// `up` is client → server, `down` is server → client.
import { connect, createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'

export type Direction = 'up' | 'down'

export type Fault =
  | { kind: 'pass' }
  | { kind: 'cut'; direction: Direction; after: number }
  | { kind: 'stall'; direction: Direction; after: number; /** Instead of a byte count: the first chunk containing this text. */ match?: string }

export interface FaultProxy {
  readonly port: number
  /** `http://127.0.0.1:PORT/` or `git://127.0.0.1:PORT/` (the proxy does not care which). */
  url(scheme: 'http' | 'git'): string
  /** Set the fault for what follows; counters start again from zero. */
  arm(fault: Fault): void
  /** Bytes forwarded each way since the last arm(). */
  readonly bytes: { up: number; down: number }
  /** True once the armed fault has happened. */
  readonly fired: boolean
  /** Resolves when the armed fault happens (the cut is made, or the stall begins). */
  whenFired(): Promise<void>
  /** Let a stalled connection flow again. */
  release(): void
  /** Connections accepted so far. */
  readonly connections: number
  /** Stop listening and destroy every connection. */
  close(): Promise<void>
}

/** Start a proxy to `target` (a port on 127.0.0.1). Always close() it (t.after / finally). */
export async function startFaultProxy(target: { port: number; host?: string }, fault: Fault = { kind: 'pass' }): Promise<FaultProxy> {
  const host = target.host ?? '127.0.0.1'
  const sockets = new Set<Socket>()
  let current: Fault = fault
  let bytes = { up: 0, down: 0 }
  let fired = false
  let firedWaiters: (() => void)[] = []
  let connections = 0
  let stalled: { resume(): void }[] = []

  const fire = () => {
    fired = true
    for (const w of firedWaiters.splice(0)) w()
  }

  const server: Server = createServer(client => {
    connections++
    const upstream = connect({ host, port: target.port })
    sockets.add(client)
    sockets.add(upstream)
    client.on('close', () => { sockets.delete(client); upstream.destroy() })
    upstream.on('close', () => { sockets.delete(upstream); client.destroy() })
    client.on('error', () => {})
    upstream.on('error', () => {})
    let holding = false
    const held: { to: Socket; chunk: Buffer }[] = []

    const relay = (from: Socket, to: Socket, direction: Direction) => {
      from.on('data', (chunk: Buffer) => {
        if (holding) { held.push({ to, chunk }); return }
        const f = current
        const waitForText = !fired && f.kind === 'stall' && f.direction === direction && f.match !== undefined
        if (waitForText && !new TextDecoder().decode(chunk).includes(f.match!)) {
          bytes[direction] += chunk.length
          if (!to.write(chunk)) { from.pause(); to.once('drain', () => from.resume()) }
          return
        }
        if (waitForText) {
          stall()
          held.push({ to, chunk })
          return
        }
        if (fired || f.kind === 'pass' || f.direction !== direction || bytes[direction] + chunk.length <= f.after) {
          bytes[direction] += chunk.length
          if (!to.write(chunk)) { from.pause(); to.once('drain', () => from.resume()) }
          return
        }
        const keep = f.after - bytes[direction]
        bytes[direction] += keep
        const head = chunk.subarray(0, keep)
        if (f.kind === 'cut') {
          if (head.length > 0) to.write(head, () => cut())
          else cut()
          return
        }
        if (head.length > 0) to.write(head)
        stall()
        held.push({ to, chunk: chunk.subarray(keep) })
        if (process.env.LARIX_FAULT_LOG) process.stderr.write(`stall: ${bytes.up}/${bytes.down}; head ${JSON.stringify(new TextDecoder().decode(head).slice(-200))}; held ${JSON.stringify(new TextDecoder().decode(chunk.subarray(keep)).slice(0, 200))}\n`)
      })
    }
    const cut = () => {
      fire()
      client.resetAndDestroy()
      upstream.resetAndDestroy()
    }
    const stall = () => {
      holding = true
      fire()
      stalled.push({
        resume() {
          holding = false
          for (const h of held.splice(0)) h.to.write(h.chunk)
        },
      })
    }
    relay(client, upstream, 'up')
    relay(upstream, client, 'down')
  })
  server.listen(0, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve)
    server.once('error', reject)
  })
  const port = (server.address() as AddressInfo).port

  return {
    port,
    url: scheme => `${scheme}://127.0.0.1:${port}/`,
    arm(f) {
      current = f
      bytes = { up: 0, down: 0 }
      fired = false
    },
    get bytes() { return bytes },
    get fired() { return fired },
    whenFired() {
      return fired ? Promise.resolve() : new Promise<void>(resolve => { firedWaiters.push(resolve) })
    },
    release() { for (const s of stalled.splice(0)) s.resume() },
    get connections() { return connections },
    close() {
      firedWaiters = []
      stalled = []
      for (const s of sockets) s.destroy()
      return new Promise<void>(resolve => server.close(() => resolve()))
    },
  }
}
