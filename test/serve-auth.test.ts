// Tokens on a replica's HTTP face (the JSON API and Git smart HTTP with the real `git` CLI), graceful shutdown
// (a slow write in flight finishes while close() waits; new connections are refused; /healthz says 503 on an
// open connection), and `larix serve --token` as a process: it refuses unauthenticated writes, never prints a
// token, and stops cleanly on SIGTERM with the store reopening.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { levelBackend, memoryBackend, Repo } from '../src/index.js'
import { startServer } from '../src/platform/node/serve.js'
import type { RunningServer, ServeOptions } from '../src/platform/node/serve.js'

const tmp = mkdtempSync(join(tmpdir(), 'larix-serve-auth-'))
let counter = 0
const fresh = (name: string) => join(tmp, `${name}-${counter++}`)

const GIT_ENV: Record<string, string> = {
  GIT_CONFIG_NOSYSTEM: '1', HOME: tmp, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '/bin/false', SSH_ASKPASS: '/bin/false',
  GIT_AUTHOR_NAME: 'Git User', GIT_AUTHOR_EMAIL: 'git@example.org', GIT_COMMITTER_NAME: 'Git User', GIT_COMMITTER_EMAIL: 'git@example.org',
}

function git(cwd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise(resolve => {
    execFile('git', args, { cwd, env: { ...process.env, ...GIT_ENV }, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr })
    })
  })
}

const READ = 'read-only-token-1'
const WRITE = 'read-write-token-2'

async function serveRepo(t: { after(fn: () => Promise<void>): void }, options: ServeOptions = {}): Promise<{ repo: Repo; running: RunningServer; base: string }> {
  const repo = await Repo.open({ backend: memoryBackend(), author: 'Ann <ann@example.org>' })
  const running = await startServer(repo, { http: 0, ...options })
  t.after(async () => { await running.close(); await repo.close() })
  return { repo, running, base: running.http!.url.replace(/\/$/, '') }
}

function bearer(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}` }
}

test('tokens: the JSON API needs a token to read and a read-write token to write; /healthz needs none', async t => {
  const { repo, base } = await serveRepo(t, { auth: { tokens: [{ token: READ, scope: 'read' }, { token: WRITE, scope: 'read-write' }] } })
  await repo.branch('main').set('k', 1)
  const url = `${base}/api/v1/branches/main/tree/k`
  const put = (headers: Record<string, string>) => fetch(url, { method: 'PUT', headers: { 'Content-Type': 'application/json', ...headers }, body: '{"value":2}' })

  const anon = await fetch(url)
  assert.equal(anon.status, 401)
  assert.equal((await anon.json()).error.code, 'LARIX_UNAUTHORIZED')
  assert.match(anon.headers.get('www-authenticate') ?? '', /^Bearer/)
  const wrong = await fetch(url, { headers: bearer('not-a-valid-token') })
  assert.equal(wrong.status, 401)
  assert.equal((await (await fetch(url, { headers: bearer(READ) })).json()).value, 1)

  for (const [headers, status, code] of [[{}, 401, 'LARIX_UNAUTHORIZED'], [bearer(READ), 403, 'LARIX_FORBIDDEN'], [bearer('x'.repeat(20)), 401, 'LARIX_UNAUTHORIZED']] as const) {
    const r = await put(headers)
    assert.equal(r.status, status)
    assert.equal((await r.json()).error.code, code)
  }
  assert.equal(await repo.branch('main').get('k'), 1, 'refused writes wrote nothing')
  const ok = await put(bearer(WRITE))
  assert.equal(ok.status, 200)
  assert.equal(await repo.branch('main').get('k'), 2)
  // Basic with the token as password works for the API too (a browser or curl -u x:TOKEN).
  assert.equal((await fetch(url, { headers: { Authorization: `Basic ${btoa(`x:${READ}`)}` } })).status, 200)

  const health = await fetch(`${base}/healthz`)
  assert.equal(health.status, 200)
  const text = await health.text()
  assert.deepEqual(JSON.parse(text), { ok: true, store: 'memory', branches: 1 })
  assert.ok(!text.includes(READ) && !text.includes(WRITE))
})

test('tokens: git clone needs a token, a read token can clone but not push, a read-write token can push (real git)', async t => {
  const { repo, running } = await serveRepo(t, { auth: { tokens: [{ token: READ, scope: 'read' }, { token: WRITE, scope: 'read-write' }] } })
  await repo.branch('main').set('greeting', 'hello')
  const head = (await repo.branch('main').head())!.id
  const port = running.http!.port
  const at = (token?: string) => `http://${token ? `x:${token}@` : ''}127.0.0.1:${port}/`

  const refusedInfo = await fetch(`${at()}info/refs?service=git-upload-pack`)
  assert.equal(refusedInfo.status, 401)
  assert.equal(refusedInfo.headers.get('www-authenticate'), 'Basic realm="larix"')

  const anon = await git(tmp, ['clone', '--quiet', at(), fresh('anon')])
  assert.notEqual(anon.code, 0)
  assert.doesNotMatch(anon.stderr, new RegExp(READ))

  const dir = fresh('read-clone')
  const cloned = await git(tmp, ['clone', '--quiet', at(READ), dir])
  assert.equal(cloned.code, 0, cloned.stderr)
  assert.equal((await git(dir, ['rev-parse', 'HEAD'])).stdout.trim(), head)
  assert.equal(readFileSync(join(dir, 'greeting'), 'utf8'), '"hello"')

  writeFileSync(join(dir, 'greeting'), '"bye"')
  assert.equal((await git(dir, ['commit', '--quiet', '-am', 'change greeting'])).code, 0)
  const pushRead = await git(dir, ['push', '--quiet', 'origin', 'main'])
  assert.notEqual(pushRead.code, 0, 'a read token cannot push')
  assert.match(pushRead.stderr, /403/)
  assert.equal((await repo.branch('main').head())!.id, head)

  const pushWrite = await git(dir, ['push', '--quiet', at(WRITE), 'main'])
  assert.equal(pushWrite.code, 0, pushWrite.stderr)
  assert.equal(await repo.branch('main').get('greeting'), 'bye')
})

test('tokens cannot be combined with git:// (it carries no credentials)', async () => {
  const repo = await Repo.open({ backend: memoryBackend() })
  await assert.rejects(startServer(repo, { http: 0, git: 0, auth: { tokens: [{ token: WRITE, scope: 'read-write' }] } }), { code: 'LARIX_BAD_ARGUMENT' })
  await repo.close()
})

/** A raw keep-alive connection on which requests can be sent one after another. */
function keepAlive(port: number): Promise<{ socket: Socket; get(path: string): Promise<{ status: number; text: string }> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      let buffered = ''
      let waiting: ((r: { status: number; text: string }) => void) | undefined
      socket.setEncoding('utf8')
      socket.on('data', chunk => {
        buffered += chunk
        const end = buffered.indexOf('\r\n\r\n')
        if (end < 0 || !waiting) return
        const length = Number(/content-length: (\d+)/i.exec(buffered.slice(0, end))?.[1] ?? 0)
        if (buffered.length < end + 4 + length) return
        const status = Number(buffered.slice(9, 12))
        const text = buffered.slice(end + 4, end + 4 + length)
        buffered = buffered.slice(end + 4 + length)
        const w = waiting
        waiting = undefined
        w({ status, text })
      })
      resolve({
        socket,
        get: path => new Promise(r => {
          waiting = r
          socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
        }),
      })
    })
    socket.on('error', reject)
  })
}

test('graceful shutdown: a slow write in flight finishes, new connections are refused, /healthz answers 503 meanwhile', async () => {
  const repo = await Repo.open({ backend: memoryBackend() })
  const running = await startServer(repo, { http: 0 })
  const port = running.http!.port
  const idle = await keepAlive(port)
  assert.equal((await idle.get('/healthz')).status, 200)
  const idle2 = await keepAlive(port)
  assert.equal((await idle2.get('/api/v1/branches')).status, 200)

  // A PUT whose body arrives in two halves, the second only after close() has begun.
  const body = JSON.stringify({ value: { big: 'y'.repeat(200_000) } })
  let answer: Promise<{ status: number; text: string }>
  const req = httpRequest({ port, host: '127.0.0.1', method: 'PUT', path: '/api/v1/branches/main/tree/slow',
    headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } })
  answer = new Promise((resolve, reject) => {
    req.on('response', res => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', c => { text += c })
      res.on('end', () => resolve({ status: res.statusCode!, text }))
    })
    req.on('error', reject)
  })
  req.write(body.slice(0, 100_000))
  await new Promise(r => setTimeout(r, 100))

  let closed = false
  const closing = running.close().then(() => { closed = true })
  await new Promise(r => setTimeout(r, 100))
  assert.equal(closed, false, 'close() waits for the request in flight')

  const during = await idle.get('/healthz')
  assert.equal(during.status, 503)
  assert.equal(JSON.parse(during.text).ok, false)
  await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'a new connection is refused')
  const refused = await idle2.get('/api/v1/branches')
  assert.equal(refused.status, 503, 'a new request on an open connection is turned away')
  assert.equal(JSON.parse(refused.text).error.code, 'LARIX_SHUTTING_DOWN')

  req.end(body.slice(100_000))
  const r = await answer
  assert.equal(r.status, 200, r.text)
  await closing
  assert.equal(closed, true)
  assert.equal(((await repo.branch('main').get('slow')) as { big: string }).big.length, 200_000)
  await repo.close()
})

test('graceful shutdown is bounded: a request that never finishes is dropped after shutdownTimeoutMs', async () => {
  const repo = await Repo.open({ backend: memoryBackend() })
  const running = await startServer(repo, { http: 0, shutdownTimeoutMs: 300 })
  const req = httpRequest({ port: running.http!.port, host: '127.0.0.1', method: 'PUT', path: '/api/v1/branches/main/tree/never',
    headers: { 'Content-Type': 'application/json', 'Content-Length': 1000 } })
  const failed = new Promise(resolve => { req.on('error', resolve); req.on('response', resolve) })
  req.write('{"value":')
  await new Promise(r => setTimeout(r, 100))
  const started = Date.now()
  await running.close()
  const took = Date.now() - started
  assert.ok(took >= 250 && took < 5000, `close took ${took} ms`)
  await failed
  assert.equal(await repo.branch('main').get('never'), undefined)
  await repo.close()
})

test('larix serve --token: unauthenticated writes refused, tokens never printed, SIGTERM stops it cleanly', async () => {
  const store = fresh('cli-store')
  const seed = await Repo.open({ backend: levelBackend(store) })
  await seed.branch('main').set('k', 1)
  await seed.close()
  const bin = join(process.cwd(), 'bin', 'larix.js')
  const child = spawn(process.execPath, [bin, '--store', store, 'serve', '--http', '0', '--token', `read=${READ}`],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LARIX_TOKEN: WRITE } })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', c => { stdout += c })
  child.stderr.on('data', c => { stderr += c })
  const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)))
  try {
    for (let i = 0; !/http:\/\//.test(stdout); i++) {
      if (i > 200 || child.exitCode !== null) throw new Error(`larix serve did not start: ${stdout} ${stderr}`)
      await new Promise(r => setTimeout(r, 50))
    }
    const base = /(http:\/\/127\.0\.0\.1:\d+)\//.exec(stdout)![1]
    const url = `${base}/api/v1/branches/main/tree/k`
    const put = (headers: Record<string, string>) => fetch(url, { method: 'PUT', headers: { 'Content-Type': 'application/json', ...headers }, body: '{"value":2}' })
    assert.equal((await put({})).status, 401)
    assert.equal((await put(bearer(READ))).status, 403)
    assert.equal((await (await fetch(url, { headers: bearer(READ) })).json()).value, 1)
    assert.equal((await put(bearer(WRITE))).status, 200)
    assert.equal((await fetch(`${base}/healthz`)).status, 200)
  } finally {
    child.kill('SIGTERM')
  }
  assert.equal(await exited, 0, stderr)
  assert.match(stdout, /stopped/)
  assert.ok(!stdout.includes(READ) && !stderr.includes(READ) && !stdout.includes(WRITE) && !stderr.includes(WRITE), 'no token printed')
  const logs = stderr.trim().split('\n').map(l => JSON.parse(l))
  assert.deepEqual(logs.map(l => l.status), [401, 403, 200, 200, 200])
  assert.equal(logs[0].error, 'LARIX_UNAUTHORIZED')
  assert.equal(logs[0].method, 'PUT')

  const reopened = await Repo.open({ backend: levelBackend(store) })
  assert.equal(await reopened.branch('main').get('k'), 2)
  await reopened.close()
})
