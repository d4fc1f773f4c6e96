// Real Git peers on 127.0.0.1, shared by the benches and test/client.test.ts: `git http-backend` as a CGI
// behind node:http (the smart-HTTP peer), and `git daemon` (the git:// peer). Each serves every repository
// under `root`.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createServer } from 'node:http'
import type { Server, ServerResponse } from 'node:http'
import { connect, createServer as createNetServer } from 'node:net'
import type { AddressInfo } from 'node:net'

export interface Peer { url: string; close(): Promise<void> }

/**
 * Start `git http-backend` behind a local HTTP server. `env` is the CGI's base environment (PATH, HOME, Git
 * config isolation); the request's variables are added per request. `protocols` records each request's
 * Git-Protocol header, in order.
 */
export function httpBackend(root: string, env: NodeJS.ProcessEnv): Promise<Peer & { protocols: string[] }> {
  const protocols: string[] = []
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1')
    const gitProtocol = String(req.headers['git-protocol'] ?? '')
    protocols.push(gitProtocol)
    const cgi: NodeJS.ProcessEnv = {
      ...env, GIT_PROJECT_ROOT: root, GIT_HTTP_EXPORT_ALL: '1', PATH_INFO: decodeURIComponent(u.pathname),
      QUERY_STRING: u.search.slice(1), REQUEST_METHOD: req.method, CONTENT_TYPE: req.headers['content-type'] ?? '',
      GIT_PROTOCOL: gitProtocol, REMOTE_USER: 'tester', REMOTE_ADDR: '127.0.0.1',
    }
    if (req.headers['content-length'] !== undefined) cgi.CONTENT_LENGTH = req.headers['content-length']
    const child = spawn('git', ['http-backend'], { env: cgi })
    child.on('error', () => { if (!res.headersSent) res.writeHead(500); res.end() })
    req.pipe(child.stdin)
    cgiResponse(child, res)
  })
  return listen(server, port => ({ url: `http://127.0.0.1:${port}`, protocols }))
}

/** Relay a CGI's output: headers (with `Status:`) up to the blank line, then the body. */
export function cgiResponse(child: ChildProcess, res: ServerResponse): void {
  let head = Buffer.alloc(0)
  let started = false
  child.stdout!.on('data', (d: Buffer) => {
    if (started) { res.write(d); return }
    head = Buffer.concat([head, d])
    const end = head.indexOf('\r\n\r\n')
    if (end < 0) return
    started = true
    let status = 200
    for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':')
      const key = line.slice(0, colon).trim(), value = line.slice(colon + 1).trim()
      if (key.toLowerCase() === 'status') status = parseInt(value, 10)
      else res.setHeader(key, value)
    }
    res.writeHead(status)
    res.write(head.subarray(end + 4))
  })
  child.stdout!.on('end', () => res.end())
  child.stderr!.resume()
}

/** Listen on 127.0.0.1, a free port; `close` drops open connections and stops the server. */
export function listen<T extends object>(server: Server, info: (port: number) => T): Promise<Peer & T> {
  return new Promise(resolve => server.listen(0, '127.0.0.1', () => {
    const port = (server.address() as AddressInfo).port
    resolve({
      ...info(port),
      close: () => new Promise<void>(done => { server.closeAllConnections(); server.close(() => done()) }),
    } as Peer & T)
  }))
}

/** A port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as AddressInfo).port; s.close(() => resolve(p)) })
  })
}

/**
 * `git daemon` on 127.0.0.1 serving every repository under `root` (pushes too with `receivePack`); resolves
 * once it accepts connections. The git:// peer of test/client.test.ts and of the replication bench.
 */
export async function gitDaemon(root: string, env: NodeJS.ProcessEnv, opts: { receivePack?: boolean } = {}): Promise<Peer> {
  const port = await freePort()
  const child = spawn('git', [
    'daemon', '--reuseaddr', `--base-path=${root}`, '--export-all', '--informative-errors',
    ...(opts.receivePack ? ['--enable=receive-pack'] : []), `--port=${port}`, '--listen=127.0.0.1', root,
  ], { env, stdio: ['ignore', 'ignore', 'pipe'] })
  child.stderr!.resume()
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>(resolve => {
      const s = connect(port, '127.0.0.1')
      s.on('connect', () => { s.destroy(); resolve(true) })
      s.on('error', () => resolve(false))
    })
    if (up) break
    if (i > 200 || child.exitCode !== null) throw new Error('git daemon did not start')
    await new Promise(r => setTimeout(r, 25))
  }
  return {
    url: `git://127.0.0.1:${port}`,
    close: () => new Promise<void>(resolve => {
      if (child.exitCode !== null) { resolve(); return }
      child.once('exit', () => resolve())
      child.kill()
    }),
  }
}
