// The JSON API of a replica end to end, over a real listener on 127.0.0.1: put, get, list, delete, log, merge
// (with a conflict), revert, If-Match; a table of bad requests, each with its status and code, after which the
// server still serves; a property that hostile paths never cause a 500 and never write anywhere but the key
// they name; /healthz and the request log.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import fc from 'fast-check'
import { memoryBackend, Repo } from '../src/index.js'
import { startServer } from '../src/platform/node/serve.js'
import type { RunningServer, ServeOptions } from '../src/platform/node/serve.js'
import type { RequestLogEntry } from '../src/sync/transports/replica-app.js'

interface Served { repo: Repo; running: RunningServer; base: string; port: number; logs: RequestLogEntry[]; errors: unknown[] }

async function serveRepo(t: { after(fn: () => Promise<void>): void }, options: ServeOptions = {}): Promise<Served> {
  let clock = 1_700_000_000_000
  const repo = await Repo.open({ backend: memoryBackend(), author: 'Ann <ann@example.org>', now: () => (clock += 1000) })
  const logs: RequestLogEntry[] = []
  const errors: unknown[] = []
  const running = await startServer(repo, { http: 0, onLog: e => logs.push(e), onError: e => errors.push(e), ...options })
  t.after(async () => { await running.close(); await repo.close() })
  return { repo, running, base: running.http!.url.replace(/\/$/, ''), port: running.http!.port, logs, errors }
}

async function call(s: Served, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const init: RequestInit = { method, headers: { ...headers } }
  if (body !== undefined) {
    const passThrough = typeof body === 'string' || body instanceof Uint8Array || body instanceof ReadableStream
    init.body = passThrough ? body as BodyInit : JSON.stringify(body)
    if (body instanceof ReadableStream) (init as { duplex?: string }).duplex = 'half'
    ;(init.headers as Record<string, string>)['Content-Type'] ??= 'application/json'
  }
  const r = await fetch(s.base + path, init)
  const text = await r.text()
  let json: unknown
  try { json = JSON.parse(text) } catch { json = text }
  return { status: r.status, json, headers: r.headers }
}

/** One request with exactly this request target (no client-side URL normalisation), on its own connection. */
function raw(port: number, method: string, target: string, body = '', headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.on('data', c => chunks.push(c))
    socket.on('error', reject)
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)
      const split = text.indexOf('\r\n\r\n')
      let body = text.slice(split + 4)
      if (/\r\ntransfer-encoding: chunked\r\n/i.test(text.slice(0, split + 2))) {
        let out = ''
        for (let at = 0; ;) {
          const eol = body.indexOf('\r\n', at)
          const size = parseInt(body.slice(at, eol), 16)
          if (!(size > 0)) break
          out += body.slice(eol + 2, eol + 2 + size)
          at = eol + 2 + size + 2
        }
        body = out
      }
      resolve({ status, body })
    })
    const head = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', `Content-Length: ${Buffer.byteLength(body)}`,
      ...(body ? ['Content-Type: application/json'] : []), ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)]
    socket.end(head.join('\r\n') + '\r\n\r\n' + body)
  })
}

const T = '/api/v1/branches/main/tree'

test('API: put, get, list, delete, log, If-Match, merge (fast-forward, merged, conflict), revert', async t => {
  const s = await serveRepo(t)
  const put1 = await call(s, 'PUT', `${T}/todo/1`, { value: { title: 'milk' }, message: 'add milk' })
  assert.equal(put1.status, 200)
  assert.match(put1.json.commit, /^[0-9a-f]{40}$/)
  assert.equal(put1.json.commit, (await s.repo.branch('main').head())!.id)
  assert.deepEqual(await s.repo.branch('main').get('todo/1'), { title: 'milk' })
  await call(s, 'PUT', `${T}/todo/2`, { value: [1, 2, 3] })

  const got = await call(s, 'GET', `${T}/todo/1`)
  assert.equal(got.status, 200)
  assert.deepEqual(got.json, { path: 'todo/1', value: { title: 'milk' }, commit: got.json.commit })
  assert.equal(got.headers.get('etag'), `"${got.json.commit}"`)
  const dir = await call(s, 'GET', `${T}/todo`)
  assert.deepEqual(dir.json.entries, [{ name: '1', kind: 'value' }, { name: '2', kind: 'value' }])
  const root = await call(s, 'GET', T)
  assert.deepEqual(root.json.entries, [{ name: 'todo', kind: 'tree' }])
  assert.equal(root.json.path, '')
  assert.deepEqual((await call(s, 'GET', `${T}/`)).json.entries, root.json.entries)
  const missing = await call(s, 'GET', `${T}/todo/9`)
  assert.equal(missing.status, 404)
  assert.equal(missing.json.error.code, 'LARIX_NOT_FOUND')
  assert.equal((await call(s, 'GET', '/api/v1/branches/nobranch/tree')).status, 404)

  // Compare-and-set on the head.
  const head = (await s.repo.branch('main').head())!.id
  const stale = await call(s, 'PUT', `${T}/todo/1`, { value: 'x' }, { 'If-Match': `"${put1.json.commit}"` })
  assert.equal(stale.status, 409)
  assert.equal(stale.json.error.code, 'LARIX_CONFLICT')
  assert.equal((await s.repo.branch('main').head())!.id, head, 'a refused If-Match write moves nothing')
  const fresh = await call(s, 'PUT', `${T}/todo/1`, { value: { title: 'oat milk' } }, { 'If-Match': head })
  assert.equal(fresh.status, 200)
  assert.deepEqual((await s.repo.branch('main').head())!.parents, [head])

  const del = await call(s, 'DELETE', `${T}/todo/2`)
  assert.equal(del.status, 200)
  assert.equal(await s.repo.branch('main').get('todo/2'), undefined)
  assert.equal((await call(s, 'DELETE', `${T}/todo/2`, { message: 'again' })).json.commit, del.json.commit, 'removing what is absent commits nothing')
  const delStale = await call(s, 'DELETE', `${T}/todo/1`, undefined, { 'If-Match': head })
  assert.equal(delStale.status, 409)

  const log = await call(s, 'GET', '/api/v1/branches/main/log?path=todo/1')
  assert.equal(log.status, 200)
  assert.deepEqual(log.json.commits.map((c: { message: string }) => c.message), ['set todo/1', 'add milk'])
  assert.equal(log.json.commits[0].author, 'Ann <ann@example.org>')
  assert.deepEqual(log.json.commits[0].parents, [head])
  assert.equal((await call(s, 'GET', '/api/v1/branches/main/log?limit=2')).json.commits.length, 2)

  // Merge: fast-forward, a real merge, and a conflict reported as structured JSON with the branch unchanged.
  await s.repo.fork('main', 'feature')
  await s.repo.branch('feature').set('todo/3', 'bread')
  const ff = await call(s, 'POST', '/api/v1/branches/main/merge', { from: 'feature' })
  assert.equal(ff.status, 200)
  assert.equal(ff.json.status, 'fast-forward')
  await s.repo.branch('feature').set('todo/4', 'eggs')
  await s.repo.branch('main').set('todo/5', 'jam')
  const merged = await call(s, 'POST', '/api/v1/branches/main/merge', { from: 'feature', message: 'merge feature' })
  assert.equal(merged.json.status, 'merged')
  assert.equal(merged.json.commit.parents.length, 2)
  assert.equal(merged.json.commit.message, 'merge feature')
  await s.repo.branch('feature').set('todo/1', { title: 'soy milk' })
  await s.repo.branch('main').set('todo/1', { title: 'rice milk' })
  const before = (await s.repo.branch('main').head())!.id
  const conflict = await call(s, 'POST', '/api/v1/branches/main/merge', { from: 'feature' })
  assert.equal(conflict.status, 409)
  assert.equal(conflict.json.error.code, 'LARIX_CONFLICT')
  assert.equal(conflict.json.status, 'conflict')
  assert.equal(conflict.json.conflicts[0].path, 'todo/1')
  assert.deepEqual(conflict.json.conflicts[0].ours, { title: 'rice milk' })
  assert.deepEqual(conflict.json.conflicts[0].theirs, { title: 'soy milk' })
  assert.deepEqual(conflict.json.conflicts[0].base, { title: 'oat milk' })
  assert.equal(typeof conflict.json.conflicts[0].reason, 'string')
  assert.equal((await s.repo.branch('main').head())!.id, before)

  // Revert the commit that added todo/5.
  const added = (await s.repo.branch('main').log({ path: 'todo/5' }).next()).value!.id
  const rev = await call(s, 'POST', '/api/v1/branches/main/revert', { commit: added })
  assert.equal(rev.status, 200)
  assert.match(rev.json.commit.message, /^Revert "set todo\/5"/)
  assert.equal(await s.repo.branch('main').get('todo/5'), undefined)
  assert.equal(await s.repo.branch('main').get('todo/3'), 'bread')

  const branches = await call(s, 'GET', '/api/v1/branches')
  assert.deepEqual(branches.json.branches.map((b: { name: string }) => b.name), ['feature', 'main'])
  assert.equal(branches.json.branches[1].head, (await s.repo.branch('main').head())!.id)
  // A branch with a slash travels as one percent-encoded segment.
  await s.repo.fork('main', 'team/x')
  assert.equal((await call(s, 'GET', '/api/v1/branches/team%2Fx/tree/todo/3')).json.value, 'bread')
  assert.deepEqual(s.errors, [])
})

test('API: bad requests get their status and code, and the server keeps serving', async t => {
  const s = await serveRepo(t, { maxBodyBytes: 4096 })
  await s.repo.branch('main').set('a/b', 1)
  const head = (await s.repo.branch('main').head())!.id
  const big = JSON.stringify({ value: 'x'.repeat(5000) })
  const cases: [string, () => Promise<{ status: number; json?: any; body?: string }>, number, string][] = [
    ['.. segment', () => raw(s.port, 'GET', `${T}/a/../b`), 400, 'LARIX_BAD_PATH'],
    ['encoded .. segment', () => raw(s.port, 'PUT', `${T}/a/%2E%2e/x`, '{"value":1}'), 400, 'LARIX_BAD_PATH'],
    ['. segment', () => raw(s.port, 'GET', `${T}/./a`), 400, 'LARIX_BAD_PATH'],
    ['.. above the API', () => raw(s.port, 'GET', '/api/v1/../../etc/passwd'), 400, 'LARIX_BAD_PATH'],
    ['%2F in a segment', () => call(s, 'PUT', `${T}/a%2Fb`, { value: 1 }), 400, 'LARIX_BAD_PATH'],
    ['%00 in a segment', () => call(s, 'PUT', `${T}/a%00`, { value: 1 }), 400, 'LARIX_BAD_PATH'],
    ['empty segment', () => call(s, 'PUT', `${T}/a//b`, { value: 1 }), 400, 'LARIX_BAD_PATH'],
    ['.git segment', () => call(s, 'PUT', `${T}/.git/config`, { value: 1 }), 400, 'LARIX_BAD_PATH'],
    ['malformed escape', () => call(s, 'GET', `${T}/%E0%A4%A`), 400, 'LARIX_BAD_PATH'],
    ['write at the root', () => call(s, 'PUT', T, { value: 1 }), 400, 'LARIX_BAD_PATH'],
    ['bad JSON', () => call(s, 'PUT', `${T}/k`, '{"value": '), 400, 'LARIX_BAD_JSON'],
    ['not UTF-8', () => call(s, 'PUT', `${T}/k`, new Uint8Array([0x7b, 0xff, 0x7d]) as unknown as string), 400, 'LARIX_BAD_JSON'],
    ['no body', () => call(s, 'PUT', `${T}/k`, undefined, { 'Content-Type': 'application/json' }), 400, 'LARIX_BAD_REQUEST'],
    ['bare value, no wrapper', () => call(s, 'PUT', `${T}/k`, [1, 2]), 400, 'LARIX_BAD_REQUEST'],
    ['no value field', () => call(s, 'PUT', `${T}/k`, { message: 'm' }), 400, 'LARIX_BAD_REQUEST'],
    ['unknown field', () => call(s, 'PUT', `${T}/k`, { value: 1, vaule: 2 }), 400, 'LARIX_BAD_REQUEST'],
    ['message not a string', () => call(s, 'PUT', `${T}/k`, { value: 1, message: 5 }), 400, 'LARIX_BAD_REQUEST'],
    ['bad author', () => call(s, 'PUT', `${T}/k`, { value: 1, author: 'nobody' }), 400, 'LARIX_BAD_ARGUMENT'],
    ['wrong content type', () => call(s, 'PUT', `${T}/k`, '{"value":1}', { 'Content-Type': 'text/plain' }), 415, 'LARIX_UNSUPPORTED_MEDIA_TYPE'],
    ['wrong charset', () => call(s, 'PUT', `${T}/k`, '{"value":1}', { 'Content-Type': 'application/json; charset=latin1' }), 415, 'LARIX_UNSUPPORTED_MEDIA_TYPE'],
    ['too large (Content-Length)', () => call(s, 'PUT', `${T}/k`, big), 413, 'LARIX_TOO_LARGE'],
    ['too large (chunked, no Content-Length)', () => call(s, 'PUT', `${T}/k`, chunked(big) as unknown as string), 413, 'LARIX_TOO_LARGE'],
    ['bad branch name', () => call(s, 'GET', '/api/v1/branches/a..b/tree'), 400, 'LARIX_BAD_REF'],
    ['branch name with a lock suffix', () => call(s, 'PUT', '/api/v1/branches/x.lock/tree/k', { value: 1 }), 400, 'LARIX_BAD_REF'],
    ['branch given as a full ref', () => call(s, 'GET', '/api/v1/branches/refs%2Fheads%2Fmain/tree'), 400, 'LARIX_BAD_REF'],
    ['unknown route', () => call(s, 'GET', '/api/v1/nothing'), 404, 'LARIX_NOT_FOUND'],
    ['unknown branch action', () => call(s, 'GET', '/api/v1/branches/main/frobnicate'), 404, 'LARIX_NOT_FOUND'],
    ['wrong method', () => call(s, 'POST', `${T}/k`, { value: 1 }), 405, 'LARIX_METHOD_NOT_ALLOWED'],
    ['bad If-Match', () => call(s, 'PUT', `${T}/k`, { value: 1 }, { 'If-Match': 'yesterday' }), 400, 'LARIX_BAD_REQUEST'],
    ['log limit 0', () => call(s, 'GET', '/api/v1/branches/main/log?limit=0'), 400, 'LARIX_BAD_REQUEST'],
    ['log limit not a number', () => call(s, 'GET', '/api/v1/branches/main/log?limit=ten'), 400, 'LARIX_BAD_REQUEST'],
    ['log bad path', () => call(s, 'GET', '/api/v1/branches/main/log?path=a/../b'), 400, 'LARIX_BAD_PATH'],
    ['merge from nothing', () => call(s, 'POST', '/api/v1/branches/main/merge', { from: 'nobranch' }), 404, 'LARIX_NOT_FOUND'],
    ['merge without from', () => call(s, 'POST', '/api/v1/branches/main/merge', {}), 400, 'LARIX_BAD_REQUEST'],
    ['revert an unknown commit', () => call(s, 'POST', '/api/v1/branches/main/revert', { commit: 'f'.repeat(40) }), 404, 'LARIX_NOT_FOUND'],
    ['revert with a bad mainline', () => call(s, 'POST', '/api/v1/branches/main/revert', { commit: head, mainline: 'one' }), 400, 'LARIX_BAD_ARGUMENT'],
  ]
  for (const [name, run, status, code] of cases) {
    const r = await run()
    assert.equal(r.status, status, `${name}: ${JSON.stringify(r.json ?? r.body)}`)
    const json = r.json ?? JSON.parse(r.body!)
    assert.equal(json.error.code, code, name)
    assert.equal(typeof json.error.message, 'string', name)
    const alive = await call(s, 'GET', `${T}/a/b`)
    assert.equal(alive.status, 200, `still serving after: ${name}`)
  }
  assert.equal((await s.repo.branch('main').head())!.id, head, 'no bad request wrote anything')
  assert.deepEqual(s.errors, [], 'no bad request is a bug (500)')
})

function chunked(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text)
  let at = 0
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) { controller.close(); return }
      controller.enqueue(bytes.slice(at, at + 1000))
      at += 1000
    },
  })
}

test('API: hostile paths never cause a 500 and never write anywhere but the key they name', async t => {
  const s = await serveRepo(t)
  await s.repo.branch('main').set('keep/me', 'safe')
  const segment = fc.oneof(
    fc.constantFrom('..', '.', '', '%2F', '%2f', '%00', '%2e%2E', '%2e', '%', '%zz', '%E0%A4%A', '.git', '.GIT', 'a', 'keep', 'me', '~', '%C0%AF', '%5C', '\\', ';', '..%2F..'),
    fc.string({ maxLength: 6 }).map(encodeURIComponent),
    fc.string({ unit: 'grapheme', maxLength: 4 }).map(encodeURIComponent),
  )
  const decodes = (seg: string): string | undefined => { try { return decodeURIComponent(seg) } catch { return undefined } }
  const valid = (d: string | undefined) => d !== undefined && d !== '' && d !== '.' && d !== '..' && !d.includes('/') && !d.includes('\0') &&
    d.toLowerCase() !== '.git' && d.isWellFormed()
  let n = 0
  let accepted = 0
  let refused = 0
  await fc.assert(fc.asyncProperty(fc.array(segment, { minLength: 1, maxLength: 4 }), async segments => {
    const before = (await s.repo.branch('main').head())!.id
    const target = `${T}/${segments.join('/')}`
    const value = ++n
    const r = await raw(s.port, 'PUT', target, JSON.stringify({ value }))
    assert.ok(r.status !== 0 && r.status < 500, `${target} → ${r.status} ${r.body}`)
    const decoded = segments.map(decodes)
    const expectOk = decoded.every(valid)
    // Node's HTTP layer may refuse a raw backslash in a request target (400) before larix sees it.
    const rawBackslash = segments.some(x => x.includes('\\'))
    const after = (await s.repo.branch('main').head())!.id
    if (r.status === 200) accepted++
    else refused++
    if (r.status === 200) {
      assert.ok(expectOk, `accepted ${target}`)
      const changes = await (await s.repo.checkout(before)).tree.diff((await s.repo.checkout(after)).tree)
      const key = (decoded as string[]).join('/')
      for (const c of changes) assert.ok(c.path === key || c.path.startsWith(key + '/') || key.startsWith(c.path + '/'), `${target} changed ${c.path}`)
      assert.equal(await s.repo.branch('main').get(decoded as string[]), value)
    } else {
      assert.equal(after, before, `refused ${target} (${r.status}) yet the head moved`)
      assert.ok(!expectOk || rawBackslash, `refused a valid path ${target}: ${r.status} ${r.body}`)
    }
  }), { numRuns: 150 })
  assert.ok(accepted > 10 && refused > 10, `both kinds of path were tried (${accepted} accepted, ${refused} refused)`)
  assert.deepEqual(s.errors, [])
})

test('/healthz, and one log entry per request without the query string', async t => {
  const s = await serveRepo(t)
  await s.repo.branch('main').set('x', 1)
  const h = await call(s, 'GET', '/healthz')
  assert.equal(h.status, 200)
  assert.deepEqual(h.json, { ok: true, store: 'memory', branches: 1 })
  const body = JSON.stringify({ value: { n: 42 } })
  assert.equal((await call(s, 'PUT', `${T}/y`, body)).status, 200)
  assert.equal((await call(s, 'GET', '/api/v1/branches/main/log?limit=1&access_token=s3cret-value')).status, 200)
  assert.equal((await call(s, 'GET', `${T}/nope`)).status, 404)
  assert.equal((await fetch(`${s.base}/info/refs?service=git-upload-pack`)).status, 200)
  await new Promise(r => setTimeout(r, 20))
  const put = s.logs.find(e => e.method === 'PUT')!
  assert.equal(put.path, `${T}/y`)
  assert.equal(put.status, 200)
  assert.equal(put.bytesIn, Buffer.byteLength(body))
  assert.ok(put.bytesOut > 0)
  assert.ok(put.ms >= 0)
  assert.ok(!Number.isNaN(Date.parse(put.time)))
  assert.equal(put.error, undefined)
  const logEntry = s.logs.find(e => e.path.endsWith('/log'))!
  assert.equal(logEntry.path, '/api/v1/branches/main/log')
  assert.ok(!JSON.stringify(s.logs).includes('s3cret'), 'no query string in the log')
  assert.equal(s.logs.find(e => e.status === 404)!.error, 'LARIX_NOT_FOUND')
  assert.ok(s.logs.find(e => e.path === '/info/refs')!.bytesOut > 0)
  assert.equal(s.logs.length, 5)
})
