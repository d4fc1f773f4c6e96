// A web page syncs with a replica over WebSocket. The test starts `larix serve` (the real command, a child process,
// on a level store in a temporary directory, with a read-write and a read-only token) on 127.0.0.1, serves a page
// and the browser bundle from 127.0.0.1, and drives Debian's Chromium through playwright-core. In the page, on an
// IndexedDB store (levelBackend): Repo.clone over ws:// with the token as a WebSocket subprotocol; a local commit
// pushed over ws://, which the test then reads from the replica's JSON API; a read-only token and no token refused;
// watchRemote (the browser's WebSocket) sees the replica's head move after a write through the JSON API, and the
// page pulls it. At the end `larix serve` stops on SIGTERM and its store, opened in Node, holds every commit.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import type { Server } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { Repo, levelBackend } from '../src/index.js'
import { assertComplete } from './helpers/complete.js'
import { CHROMIUM, launchChromium, openPage, servePage } from './helpers/chromium.js'

type Larix = typeof import('../src/browser/index.js')
interface Bundle { path: string; bytes: number; inputs: string[] }
interface BuildModule {
  buildBrowser(o: { outdir: string; entries?: Record<string, string>; minify?: boolean }): Promise<Record<string, Bundle>>
  nodeBuiltinImports(code: string): string[]
}
/** What the page keeps on globalThis between page.evaluate calls. */
interface PageGlobals {
  larix: Larix
  repo: import('../src/browser/index.js').Repo
  events: { branch: string; commit: string | null; previous: string | null }[]
  pulls: { commit: string; status: string; head: string | undefined }[]
  errors: string[]
  watch: import('../src/browser/index.js').RemoteWatch
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..') // dist/test → project root
const BIN = join(root, 'bin', 'larix.js')
const RW = 'rw-token-for-the-page-0001'
const RO = 'ro-token-for-the-page-0002'

let tmp: string
let store: string
let serveProc: ChildProcess | undefined
let serveExit: Promise<{ code: number | null; signal: string | null; stderr: string }>
let replica: { http: string; websocket: string }
let server: Server | undefined
let browser: Browser | undefined
let page: Page
let origin: string
let bundle: Bundle
let build: BuildModule
let seeded: string
const pageErrors: string[] = []

function pageSaid(): string { return pageErrors.length ? `\n${pageErrors.join('\n')}` : '' }

/** The replica's JSON API, as a client of the replica would call it. */
async function api(path: string, init: { method?: string; token?: string; body?: unknown } = {}): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const headers: Record<string, string> = { Authorization: `Bearer ${init.token ?? RO}` }
  if (init.body !== undefined) headers['Content-Type'] = 'application/json'
  const res = await fetch(new URL(`api/v1/${path}`, replica.http), {
    method: init.method ?? 'GET', headers, ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  })
  return { status: res.status, body: await res.json() }
}

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is not installed at ${CHROMIUM}: install it (apt-get install chromium)`)
  tmp = await mkdtemp(join(tmpdir(), 'larix-browser-sync-'))

  // The replica's store, seeded in Node before `larix serve` takes it (LevelDB allows one process).
  store = join(tmp, 'replica')
  const seed = await Repo.open({ backend: levelBackend(store), author: 'Rita <rita@example.org>' })
  await seed.branch('main').set('todo/1', { title: 'milk' }, { message: 'add milk (replica)' })
  seeded = (await seed.branch('main').set('config/theme', 'dark', { message: 'set theme (replica)' })).id
  await seed.close()

  const child = spawn(process.execPath, [BIN, '--store', store, '--json', 'serve', '--http', '0', '--token', `read-write=${RW}`, '--token', `read=${RO}`],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: tmp })
  serveProc = child
  let out = '', err = ''
  child.stdout!.on('data', c => { out += c })
  child.stderr!.on('data', c => { err += c })
  serveExit = new Promise(resolve => child.on('exit', (code, signal) => resolve({ code, signal, stderr: err })))
  for (let i = 0; !out.includes('\n'); i++) {
    if (i > 500 || child.exitCode !== null) throw new Error(`larix serve did not start:\n${out}\n${err}`)
    await new Promise(r => setTimeout(r, 20))
  }
  replica = JSON.parse(out.split('\n')[0]) as { http: string; websocket: string }
  assert.match(replica.websocket, /^ws:\/\/127\.0\.0\.1:\d+\/$/)

  // The page and larix.js (as users get it: minified), from another port of 127.0.0.1: the WebSocket is cross-origin.
  build = await import(pathToFileURL(join(root, 'scripts', 'build-browser.js')).href) as BuildModule
  const outdir = join(tmp, 'web')
  bundle = (await build.buildBrowser({ outdir, entries: { larix: 'dist/src/browser/index.js' } })).larix
  const html = await readFile(join(root, 'test', 'browser', 'sync.html'))
  ;({ server, origin } = await servePage(html, outdir, 'sync.html'))
  browser = await launchChromium()
  page = await openPage(browser, `${origin}/`, pageErrors)
  await page.waitForFunction(() => (globalThis as unknown as { larix?: unknown }).larix !== undefined, undefined, { timeout: 10_000 })
})

after(async () => {
  await browser?.close().catch(() => {})
  if (server) await new Promise(ok => { server!.closeAllConnections(); server!.close(ok) })
  if (serveProc && serveProc.exitCode === null && serveProc.signalCode === null) serveProc.kill('SIGKILL')
  if (tmp) await rm(tmp, { recursive: true, force: true })
})

test('the page\'s bundle has the browser WebSocket and no Node built-in', async () => {
  const code = await readFile(bundle.path, 'utf8')
  assert.deepEqual(build.nodeBuiltinImports(code), [])
  assert.ok(bundle.inputs.includes('dist/src/platform/browser/websocket.js'), 'the browser WebSocket adapter is bundled')
  assert.ok(bundle.inputs.includes('dist/src/sync/transports/watch.js'), 'the watch client is bundled')
  assert.ok(!bundle.inputs.some(i => i.includes('platform/node/') || i.includes('node_modules/ws/')), 'no Node adapter, no `ws` package')
})

test('a page clones from larix serve over ws://, pushes a commit back, and pulls what the watch channel announces', { timeout: 60_000 }, async () => {
  const ws = replica.websocket
  const fail = (e: Error) => assert.fail(`${e.message}${pageSaid()}`)

  // 1. Without a token, and with a read-only token for a push, the replica says no; the page gets typed errors.
  const refused = await page.evaluate(async ({ ws, ro }) => {
    const { larix } = globalThis as unknown as PageGlobals
    const codeOf = (e: unknown) => `${(e as { code?: string })?.code ?? 'no code'}: ${(e as Error)?.message ?? e}`
    const out: Record<string, string> = {}
    try { await larix.Repo.clone(ws, { backend: larix.memoryBackend() }); out.anonymous = 'cloned' } catch (e) { out.anonymous = codeOf(e) }
    const other = await larix.Repo.clone(ws, { backend: larix.memoryBackend(), headers: { Authorization: `Bearer ${ro}` } })
    await other.branch('main').set('ro/1', 'no', { message: 'must not arrive' })
    try { await other.branch('main').push(ws, { headers: { Authorization: `Bearer ${ro}` } }); out.readOnlyPush = 'pushed' } catch (e) { out.readOnlyPush = codeOf(e) }
    await other.close()
    return out
  }, { ws, ro: RO }).catch(fail)
  assert.match(refused.anonymous!, /^LARIX_TRANSPORT: cannot open a WebSocket to ws:\/\/127\.0\.0\.1:\d+\//, 'no token: refused at the upgrade')
  assert.match(refused.readOnlyPush!, /^LARIX_REMOTE: .*read-write/, 'a read-only token: the replica refuses the push and says why')
  assert.doesNotMatch(JSON.stringify(refused), new RegExp(RO), 'no token in a message')
  // Chromium logs the refused handshake itself; that one line is expected, nothing else.
  const expected = pageErrors.splice(0).filter(e => !/^console: WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/git' failed/.test(e))
  assert.deepEqual(expected, [], 'no other page error')
  assert.equal((await api('branches/main/log')).body.commits[0].id, seeded, 'the read-only push moved nothing')

  // 2. Clone into IndexedDB (the token as a subprotocol), read, commit locally, push over ws://.
  const db = `larix-sync-${Date.now()}`
  const pushed = await page.evaluate(async ({ ws, rw, db }) => {
    const g = globalThis as unknown as PageGlobals
    const headers = { Authorization: `Bearer ${rw}` }
    g.repo = await g.larix.Repo.clone(ws, { backend: g.larix.levelBackend(db), headers, author: 'Page <page@example.org>' })
    const main = g.repo.branch('main')
    const cloned = { head: (await main.head())?.id, milk: await main.get('todo/1'), theme: await main.get('config/theme') }
    const commit = await main.set('todo/2', { title: 'bread', from: 'the page' }, { message: 'add bread (page)' })
    const result = await main.push(ws, { headers })
    return { cloned, commit: commit.id, parents: commit.parents, result: JSON.parse(JSON.stringify(result)) as unknown }
  }, { ws, rw: RW, db }).catch(fail)
  assert.deepEqual(pushed.cloned, { head: seeded, milk: { title: 'milk' }, theme: 'dark' }, 'the clone has the replica\'s head and values')
  assert.deepEqual(pushed.parents, [seeded])

  // The replica's store has the page's commit: its head, its value, its message and author.
  const log = await api('branches/main/log?limit=5')
  assert.equal(log.status, 200)
  assert.equal(log.body.commits[0].id, pushed.commit, `the replica's main is the page's commit (push said ${JSON.stringify(pushed.result)})`)
  assert.equal(log.body.commits[0].message.trim(), 'add bread (page)')
  assert.match(log.body.commits[0].author, /^Page <page@example\.org>/)
  assert.deepEqual((await api('branches/main/tree/todo/2')).body.value, { title: 'bread', from: 'the page' })

  // 3. The page watches the replica (browser WebSocket, token as subprotocol) and pulls each head it hears of.
  await page.evaluate(async ({ ws, rw }) => {
    const g = globalThis as unknown as PageGlobals
    const headers = { Authorization: `Bearer ${rw}` }
    g.events = []
    g.pulls = []
    g.errors = []
    const main = g.repo.branch('main')
    let pulling = Promise.resolve()
    await new Promise<void>((connected, failed) => {
      const t = setTimeout(() => failed(new Error(`the watch channel did not connect: ${g.errors.join('; ')}`)), 10_000)
      g.watch = g.larix.watchRemote(ws, {
        headers,
        branches: ['main'],
        minDelayMs: 50,
        onConnect: () => { clearTimeout(t); connected() },
        onError: e => { g.errors.push(String((e as Error)?.message ?? e)) },
        onHead: ev => {
          g.events.push(ev)
          if (ev.commit === null) return
          const commit = ev.commit
          pulling = pulling.then(async () => {
            if ((await main.head())?.id === commit) { g.pulls.push({ commit, status: 'have it', head: commit }); return }
            const r = await main.pull(ws, { headers })
            g.pulls.push({ commit, status: r.merge.status, head: (await main.head())?.id })
          }).catch(e => { g.errors.push(`pull: ${(e as Error)?.message ?? e}`) })
        },
      })
    })
  }, { ws, rw: RW }).catch(fail)

  // Someone writes on the replica (its JSON API, read-write token): the head moves, the page hears and pulls.
  const put = await api('branches/main/tree/todo/3', { method: 'PUT', token: RW, body: { value: { title: 'eggs' }, message: 'add eggs (replica)' } })
  assert.equal(put.status, 200, JSON.stringify(put.body))
  const remote = put.body.commit as string
  // (Waiting for the pull's record, not the head: the head moves inside the pull, before the record is made.)
  await page.waitForFunction((id) => (globalThis as unknown as PageGlobals).pulls.some(p => p.commit === id), remote, { timeout: 10_000, polling: 50 })
    .catch(async () => assert.fail(`the page did not pull ${remote}: ${JSON.stringify(await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals
      return { events: g.events, pulls: g.pulls, errors: g.errors }
    }))}${pageSaid()}`))
  const seen = await page.evaluate(async () => {
    const g = globalThis as unknown as PageGlobals
    const main = g.repo.branch('main')
    return { events: g.events, pulls: g.pulls, head: (await main.head())?.id, eggs: await main.get('todo/3'), bread: await main.get('todo/2'), connected: g.watch.connected }
  }).catch(fail)
  assert.deepEqual(seen.events, [
    { branch: 'main', commit: pushed.commit, previous: null },
    { branch: 'main', commit: remote, previous: pushed.commit },
  ], 'on connecting: the head the page pushed; then the replica\'s new head, with where it was before')
  assert.deepEqual(seen.pulls, [
    { commit: pushed.commit, status: 'have it', head: pushed.commit },
    { commit: remote, status: 'fast-forward', head: remote },
  ])
  assert.equal(seen.head, remote)
  assert.deepEqual(seen.eggs, { title: 'eggs' })
  assert.deepEqual(seen.bread, { title: 'bread', from: 'the page' })
  assert.equal(seen.connected, true)

  // The page's IndexedDB store outlives a reload: open it again and read the pulled head.
  await page.evaluate(async () => {
    const g = globalThis as unknown as PageGlobals
    await g.watch.close()
    await g.repo.close()
  }).catch(fail)
  await page.reload()
  await page.waitForFunction(() => (globalThis as unknown as { larix?: unknown }).larix !== undefined, undefined, { timeout: 10_000 })
  const reread = await page.evaluate(async (db) => {
    const { larix } = globalThis as unknown as PageGlobals
    const repo = await larix.Repo.open({ backend: larix.levelBackend(db) })
    const out = { head: (await repo.branch('main').head())?.id, eggs: await repo.branch('main').get('todo/3') }
    await repo.close()
    return out
  }, db).catch(fail)
  assert.deepEqual(reread, { head: remote, eggs: { title: 'eggs' } })
  assert.deepEqual(pageErrors, [])

  // SIGTERM: larix serve closes gracefully; its store opens in Node, complete, with main at the replica's last commit.
  serveProc!.kill('SIGTERM')
  const exit = await serveExit
  assert.equal(exit.code, 0, `larix serve exited with ${exit.code ?? exit.signal}: ${exit.stderr.slice(-2000)}`)
  assert.doesNotMatch(exit.stderr, new RegExp(`${RW}|${RO}`), 'no token in the logs')
  const backend = levelBackend(store)
  await backend.open()
  try {
    const { refs } = await assertComplete(backend)
    assert.equal(refs['refs/heads/main'], remote)
  } finally {
    await backend.close()
  }
})
