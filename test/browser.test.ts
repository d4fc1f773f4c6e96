// larix in a real browser: build the browser bundle (esbuild, platform browser), load it in Debian's Chromium
// through playwright-core from a page served on 127.0.0.1, commit on an IndexedDB store, reload the page and read
// data and history back; then run the backend compliance suite in the page (IndexedDB and memory).
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { chromium } from 'playwright-core'
import type { Browser, Page } from 'playwright-core'
import { Repo, json, memoryBackend, msgpack } from '../src/index.js'
import { backendCases } from './backend-suite.js'
import { scenarioOptions, summarize, writeHistory } from './browser/scenario.js'
import type { Summary } from './browser/scenario.js'

type Larix = typeof import('../src/browser/index.js')
type Entry = typeof import('./browser/entry.js')
interface Bundle { path: string; bytes: number; inputs: string[] }
interface BuildModule {
  buildBrowser(o: { outdir: string; entries?: Record<string, string>; minify?: boolean }): Promise<Record<string, Bundle>>
  nodeBuiltinImports(code: string): string[]
}
interface CaseResult { name: string; ok: boolean; error?: string }

const CHROMIUM = '/usr/bin/chromium'
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..') // dist/test → project root
const DB = 'larix-browser-test'

let outdir: string | undefined
let server: Server | undefined
let browser: Browser | undefined
let page: Page
let origin: string
let bundles: Record<string, Bundle>
let build: BuildModule
const pageErrors: string[] = []

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is not installed at ${CHROMIUM}: install it (apt-get install chromium)`)
  build = await import(pathToFileURL(join(root, 'scripts', 'build-browser.js')).href) as BuildModule
  outdir = await mkdtemp(join(tmpdir(), 'larix-browser-'))
  // larix.js as users get it (minified); the test code unminified, so that failures show readable stacks.
  bundles = {
    ...await build.buildBrowser({ outdir, entries: { larix: 'dist/src/browser/index.js' } }),
    ...await build.buildBrowser({ outdir, entries: { entry: 'dist/test/browser/entry.js' }, minify: false }),
  }
  const html = await readFile(join(root, 'test', 'browser', 'index.html'))
  const dir = outdir
  server = createServer((req, res) => {
    const name = new URL(req.url ?? '/', 'http://x').pathname.slice(1)
    const send = (status: number, type: string, body: Uint8Array | string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body)
    }
    if (name === '' || name === 'index.html') return send(200, 'text/html; charset=utf-8', html)
    if (!/^[\w-]+\.js(\.map)?$/.test(name)) return send(404, 'text/plain', 'not found')
    readFile(join(dir, name)).then(
      body => send(200, name.endsWith('.map') ? 'application/json' : 'text/javascript; charset=utf-8', body),
      () => send(404, 'text/plain', 'not found'),
    )
  })
  await new Promise<void>((ok, fail) => { server!.once('error', fail).listen(0, '127.0.0.1', ok) })
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: 20_000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  })
  page = await browser.newPage()
  page.on('pageerror', e => pageErrors.push(`page error: ${e.stack ?? e.message}`))
  page.on('console', m => { if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`) })
  await page.goto(`${origin}/`)
})

after(async () => {
  await browser?.close().catch(() => {})
  if (server) await new Promise(ok => { server!.closeAllConnections(); server!.close(ok) })
  if (outdir) await rm(outdir, { recursive: true, force: true })
})

/** Fails with what the page said, when it said anything. */
function pageSaid(): string { return pageErrors.length ? `\n${pageErrors.join('\n')}` : '' }

test('the browser bundle has no Node built-in and hashes with @noble/hashes', async () => {
  for (const [name, b] of Object.entries(bundles)) {
    const code = await readFile(b.path, 'utf8')
    assert.deepEqual(build.nodeBuiltinImports(code), [], `${name}.js refers to Node built-ins`)
    assert.doesNotMatch(code, /["'`]node:/, `${name}.js has a node: specifier`)
    assert.doesNotMatch(code, /require\s*\(\s*["'`]/, `${name}.js requires a module it did not bundle`)
    assert.ok(b.inputs.includes('dist/src/platform/browser/sha1.js'), `${name}.js: the browser SHA-1 adapter is bundled`)
    assert.ok(b.inputs.some(i => i.startsWith('node_modules/@noble/hashes/')), `${name}.js: @noble/hashes is bundled`)
    assert.ok(!b.inputs.some(i => i.includes('platform/node/')), `${name}.js: no Node adapter is bundled`)
    assert.ok(!b.inputs.some(i => i.includes('classic-level')), `${name}.js: classic-level is not bundled`)
  }
  assert.ok(bundles.larix.inputs.some(i => i.startsWith('node_modules/browser-level/')), 'larix.js: browser-level is bundled')
  const kib = (bundles.larix.bytes / 1024).toFixed(1)
  console.log(`larix.js (minified, esm, platform browser): ${bundles.larix.bytes} bytes (${kib} KiB)`)
})

test('commits on IndexedDB survive a page reload: values, branches and history', { timeout: 30_000 }, async () => {
  const urls = { larix: `${origin}/larix.js`, entry: `${origin}/entry.js`, db: DB }

  // Page A: write and read back through the same repo.
  const a = await page.evaluate(async ({ larix: l, entry: e, db }) => {
    const larix = await import(l) as Larix
    const entry = await import(e) as Entry
    const repo = await larix.Repo.open({ backend: larix.levelBackend(db), ...entry.scenarioOptions })
    await entry.writeHistory(repo)
    const main = repo.branch('main'), feature = repo.branch('feature')
    const direct = { milk: await main.get('todo/1'), eggs: await feature.get('todo/3'), milkOnFeature: await feature.get('todo/1') }
    ;(globalThis as { larixMarker?: boolean }).larixMarker = true // gone after the reload, if the context is new
    return { summary: await entry.summarize(repo), direct }
  }, urls).catch((e: Error) => assert.fail(`${e.message}${pageSaid()}`))

  assert.deepEqual(a.direct, { milk: { title: 'milk' }, eggs: { title: 'eggs', tags: ['shop', 'ünïcødé ✓'] }, milkOnFeature: undefined })
  const s = a.summary
  assert.deepEqual(s.branches, ['feature', 'main'])
  assert.deepEqual(s.heads.main.values, { 'config/theme': 'dark', 'todo/1': { title: 'milk' }, 'todo/2': { title: 'bread', done: true } })
  assert.deepEqual(s.heads.feature.values, {
    'config/theme': 'dark', 'todo/2': { title: 'bread', done: false }, 'todo/3': { title: 'eggs', tags: ['shop', 'ünïcødé ✓'] },
  })
  assert.deepEqual(s.heads.main.log.map(c => c.message), ['bread done', 'set theme', 'add bread', 'add milk'])
  assert.deepEqual(s.heads.feature.log.map(c => c.message), ['drop milk', 'add eggs on feature', 'set theme', 'add bread', 'add milk'])
  for (const b of Object.values(s.heads)) {
    assert.equal(b.head, b.log[0].id)
    b.log.forEach((c, i) => assert.deepEqual(c.parents, i + 1 < b.log.length ? [b.log[i + 1].id] : [], `parents of "${c.message}"`))
    for (const c of b.log) assert.equal(c.author, 'Ann <ann@example.org>')
  }
  assert.deepEqual(s.heads.feature.log.slice(2), s.heads.main.log.slice(1), 'feature forks from main at "set theme"')

  // The same scenario in Node (node:crypto, memory backend) makes the same Git objects, ids included.
  const node = await Repo.open({ backend: memoryBackend(), ...scenarioOptions })
  await writeHistory(node)
  assert.deepEqual(s, await summarize(node), 'Chromium and Node agree on every commit id')

  // Page B: a reload, a fresh JS context, the same IndexedDB database.
  await page.reload()
  const b = await page.evaluate(async ({ larix: l, entry: e, db }) => {
    const fresh = (globalThis as { larixMarker?: boolean }).larixMarker === undefined
    const larix = await import(l) as Larix
    const entry = await import(e) as Entry
    const repo = await larix.Repo.open({ backend: larix.levelBackend(db), ...entry.scenarioOptions })
    const before: Summary = await entry.summarize(repo)
    // The store stays writable after the reload: the head moves by compare-and-set from the stored ref.
    const next = await repo.branch('main').set('todo/4', { title: 'jam' }, { message: 'add jam after reload' })
    const jam = await repo.branch('main').get('todo/4')
    await repo.close()
    return { fresh, before, next: { parents: next.parents, message: next.info.message }, jam }
  }, urls).catch((e: Error) => assert.fail(`${e.message}${pageSaid()}`))

  assert.ok(b.fresh, 'the reload gave the page a fresh JS context')
  assert.deepEqual(b.before, s, 'everything written before the reload reads back the same')
  assert.deepEqual(b.next, { parents: [s.heads.main.head], message: 'add jam after reload' })
  assert.deepEqual(b.jam, { title: 'jam' })
  assert.deepEqual(pageErrors, [])
})

test('value codecs make the same bytes in Chromium as in Node', async () => {
  const values = [null, true, 0, -1, 2 ** 40, -(2 ** 53 - 1), 1.5, '', 'ünïcødé ✓', [1, 'a', {}], { b: 1, a: { d: [], c: null } }]
  const inPage = await page.evaluate(async ({ larix: l, values }) => {
    const larix = await import(l) as Larix
    return values.map(v => ({
      json: Array.from(larix.json.encode(v)),
      msgpack: Array.from(larix.msgpack.encode(v)),
      back: [larix.json.decode(larix.json.encode(v)), larix.msgpack.decode(larix.msgpack.encode(v))],
    }))
  }, { larix: `${origin}/larix.js`, values }).catch((e: Error) => assert.fail(`${e.message}${pageSaid()}`))
  const inNode = values.map(v => ({ json: Array.from(json.encode(v)), msgpack: Array.from(msgpack.encode(v)), back: [v, v] }))
  assert.deepEqual(inPage, inNode)
})

for (const kind of ['level', 'memory'] as const) {
  test(`backend suite in Chromium: ${kind === 'level' ? 'levelBackend (IndexedDB)' : 'memoryBackend'}`, { timeout: 30_000 }, async (t) => {
    const results: CaseResult[] = await page.evaluate(async ({ larix: l, entry: e, kind }) => {
      const larix = await import(l) as Larix
      const entry = await import(e) as Entry
      let n = 0
      const opts = kind === 'level'
        ? { make: () => larix.levelBackend(`larix-suite-${n++}`), reopen: (b: unknown) => larix.levelBackend((b as { location: string }).location) }
        : { make: () => larix.memoryBackend() }
      const out: CaseResult[] = []
      for (const c of entry.backendCases) {
        try {
          await c.run(opts)
          out.push({ name: c.name, ok: true })
        } catch (err) {
          out.push({ name: c.name, ok: false, error: (err as Error)?.stack ?? String(err) })
        }
      }
      return out
    }, { larix: `${origin}/larix.js`, entry: `${origin}/entry.js`, kind }).catch((e: Error) => assert.fail(`${e.message}${pageSaid()}`))

    assert.deepEqual(results.map(r => r.name), backendCases.map(c => c.name), 'every case ran')
    for (const r of results) {
      await t.test(r.name, () => { if (!r.ok) assert.fail(`${kind} backend in Chromium: ${r.error}`) })
    }
    assert.deepEqual(pageErrors, [])
  })
}
