// A web page on another origin syncs with a replica over http:// (smart HTTP and the JSON API through the
// browser's fetch), which the browser allows only when the replica answers CORS for that origin. Two replicas
// run in this process (startServer on 127.0.0.1): one with `cors: [the page's origin]` and tokens, one without
// CORS. In Debian's Chromium (playwright-core), the page clones from the first over http://, pushes a commit
// back and reads the JSON API with its ETag; the same calls to the second are blocked by the browser. Plus the
// preflight and header rules checked from Node, and bad origins refused with LARIX_BAD_ARGUMENT.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import type { Server } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { Repo, memoryBackend } from '../src/index.js'
import { startServer } from '../src/platform/node/serve.js'
import type { RunningServer } from '../src/platform/node/serve.js'
import { launchChromium, openPage, servePage } from './helpers/chromium.js'

type Larix = typeof import('../src/browser/index.js')

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const RW = 'cors-rw-token-0001'

let tmp: string
let pageServer: Server | undefined
let origin: string
let browser: Browser | undefined
let page: Page
let repo: Repo
let open: RunningServer
let closed: RunningServer
const pageErrors: string[] = []

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'larix-browser-cors-'))
  const build = await import(pathToFileURL(join(root, 'scripts', 'build-browser.js')).href) as { buildBrowser(o: { outdir: string; entries?: Record<string, string> }): Promise<Record<string, { path: string }>> }
  const outdir = join(tmp, 'web')
  await build.buildBrowser({ outdir, entries: { larix: 'dist/src/browser/index.js' } })
  ;({ server: pageServer, origin } = await servePage(await readFile(join(root, 'test', 'browser', 'sync.html')), outdir, 'sync.html'))

  repo = await Repo.open({ backend: memoryBackend(), author: 'Rita <rita@example.org>' })
  await repo.branch('main').set('todo/1', { title: 'milk' }, { message: 'seed' })
  open = await startServer(repo, { http: 0, websocket: false, cors: [origin], auth: { tokens: [{ token: RW, scope: 'read-write' }] } })
  closed = await startServer(repo, { http: 0, websocket: false })

  browser = await launchChromium()
  page = await openPage(browser, `${origin}/`, pageErrors)
  await page.waitForFunction(() => (globalThis as unknown as { larix?: unknown }).larix !== undefined, undefined, { timeout: 10_000 })
})

after(async () => {
  await browser?.close().catch(() => {})
  await open?.close()
  await closed?.close()
  await repo?.close()
  if (pageServer) await new Promise(ok => { pageServer!.closeAllConnections(); pageServer!.close(ok) })
  if (tmp) await rm(tmp, { recursive: true, force: true })
})

test('a page on another origin clones and pushes over http:// and reads the JSON API when the replica allows its origin', { timeout: 60_000 }, async () => {
  const url = open.http!.url
  const out = await page.evaluate(async ({ url, rw }) => {
    const { larix } = globalThis as unknown as { larix: Larix }
    const headers = { Authorization: `Bearer ${rw}` }
    const copy = await larix.Repo.clone(url, { backend: larix.memoryBackend(), headers, author: 'Page <page@example.org>' })
    const main = copy.branch('main')
    const milk = await main.get('todo/1')
    const commit = await main.set('todo/2', { title: 'bread' }, { message: 'from the page' })
    const pushed = await main.push(url, { headers })
    const res = await fetch(new URL('api/v1/branches/main/tree/todo/2', url), { headers })
    const body = await res.json() as { value: unknown; commit: string }
    // A write through the API with If-Match (a preflighted request) and a typed error the page can read.
    const stale = await fetch(new URL('api/v1/branches/main/tree/todo/3', url), {
      method: 'PUT', headers: { ...headers, 'Content-Type': 'application/json', 'If-Match': '0'.repeat(40) }, body: JSON.stringify({ value: 1 }),
    })
    return {
      milk, commit: commit.id, pushed: pushed.status, apiStatus: res.status, value: body.value, apiCommit: body.commit,
      etag: res.headers.get('ETag'), staleStatus: stale.status, staleCode: stale.headers.get('X-Larix-Error'),
    }
  }, { url, rw: RW })
  assert.deepEqual(out.milk, { title: 'milk' })
  assert.equal(out.pushed, 'updated')
  assert.equal(await repo.backend.refs.get('refs/heads/main'), out.commit, 'the replica has the page\'s commit')
  assert.equal(out.apiStatus, 200)
  assert.deepEqual(out.value, { title: 'bread' })
  assert.equal(out.etag, `"${out.commit}"`, 'the page can read the ETag (exposed)')
  assert.equal(out.staleStatus, 409)
  assert.equal(out.staleCode, 'LARIX_CONFLICT', 'the page can read the error code header (exposed)')
  // Chromium logs the 409 it was asked to provoke; nothing else may go wrong in the page.
  assert.deepEqual(pageErrors.splice(0).filter(e => !/status of 409 \(Conflict\)/.test(e)), [])
})

test('without CORS for its origin, the browser keeps the page from reading the replica', { timeout: 30_000 }, async () => {
  const out = await page.evaluate(async ({ url }) => {
    const { larix } = globalThis as unknown as { larix: Larix }
    const r: Record<string, string> = {}
    try { await larix.Repo.clone(url, { backend: larix.memoryBackend() }); r.clone = 'cloned' } catch (e) { r.clone = `${(e as { code?: string }).code ?? 'no code'}: ${(e as Error).message}` }
    try { await fetch(new URL('api/v1/branches', url)); r.api = 'read' } catch (e) { r.api = (e as Error).name }
    return r
  }, { url: closed.http!.url })
  assert.match(out.clone!, /^LARIX_TRANSPORT: /, 'the clone fails with a typed transport error')
  assert.equal(out.api, 'TypeError', 'fetch is blocked by the browser')
  pageErrors.splice(0) // Chromium logs each blocked request itself
})

test('preflights are answered for allowed origins only, and every answer to them carries the CORS headers', async () => {
  const url = open.http!.url
  const preflight = await fetch(new URL('git-upload-pack', url), {
    method: 'OPTIONS', headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, git-protocol, content-type' },
  })
  assert.equal(preflight.status, 204)
  assert.equal(preflight.headers.get('Access-Control-Allow-Origin'), origin)
  assert.match(preflight.headers.get('Access-Control-Allow-Headers')!, /Authorization/)
  assert.match(preflight.headers.get('Access-Control-Allow-Headers')!, /Git-Protocol/)
  assert.match(preflight.headers.get('Access-Control-Allow-Methods')!, /POST/)
  // Another origin gets no CORS header (the browser then refuses), and the request is not answered as a preflight.
  const other = await fetch(new URL('api/v1/branches', url), { headers: { Origin: 'http://127.0.0.2:1', Authorization: `Bearer ${RW}` } })
  assert.equal(other.status, 200)
  assert.equal(other.headers.get('Access-Control-Allow-Origin'), null)
  assert.equal(other.headers.get('Vary'), 'Origin')
  // Tokens still apply to allowed origins.
  const anonymous = await fetch(new URL('api/v1/branches', url), { headers: { Origin: origin } })
  assert.equal(anonymous.status, 401)
  assert.equal(anonymous.headers.get('Access-Control-Allow-Origin'), origin, 'so the page can read why')
})

test('bad CORS origins are refused with LARIX_BAD_ARGUMENT before anything listens', async () => {
  for (const bad of ['ftp://x.org', 'https://x.org/app', 'x.org', 'https://user:pw@x.org', '']) {
    await assert.rejects(startServer(repo, { http: 0, cors: [bad] }), (e: { code?: string; message?: string }) => e.code === 'LARIX_BAD_ARGUMENT' && /CORS origin/.test(e.message ?? ''), bad)
  }
  const s = await startServer(repo, { http: 0, websocket: false, cors: ['*', 'https://app.example.org:8443/'] })
  try {
    const res = await fetch(new URL('healthz', s.http!.url), { headers: { Origin: 'http://anything.example' } })
    assert.equal(res.headers.get('Access-Control-Allow-Origin'), '*')
  } finally {
    await s.close()
  }
})
