// larix in a real browser: build the browser bundle (esbuild, platform browser), load it in Debian's Chromium
// through playwright-core from a page served on 127.0.0.1, commit on an IndexedDB store, reload the page and read
// data and history back; then run the backend compliance suite in the page (IndexedDB and memory); then open one
// IndexedDB store from several tabs of one origin: compare-and-set, concurrent transactions and watchers across tabs.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import type { Server } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { Repo, json, memoryBackend, msgpack } from '../src/index.js'
import { backendCases } from './backend-suite.js'
import { CHROMIUM, launchChromium, openPage, servePage } from './helpers/chromium.js'
import { scenarioOptions, summarize, writeHistory } from './browser/scenario.js'
import type { Summary } from './browser/scenario.js'
import { installProbes, openTabs, startAt } from './browser/tabs.js'
import type { TabGlobals } from './browser/tabs.js'

type Larix = typeof import('../src/browser/index.js')
type Entry = typeof import('./browser/entry.js')
interface Bundle { path: string; bytes: number; inputs: string[] }
interface BuildModule {
  buildBrowser(o: { outdir: string; entries?: Record<string, string>; minify?: boolean }): Promise<Record<string, Bundle>>
  nodeBuiltinImports(code: string): string[]
}
interface CaseResult { name: string; ok: boolean; error?: string }

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
  ;({ server, origin } = await servePage(html, outdir, 'index.html'))
  browser = await launchChromium()
  page = await openPage(browser, `${origin}/`, pageErrors)
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

// Tabs of one origin share IndexedDB: a ref update in one must be seen by the compare-and-set of the other (Web Lock
// and re-read), and by its cache and watchers (BroadcastChannel). Each test has its own browser context (its own
// IndexedDB), with two or three pages in it. The last three pin down races that real timing hits only now and then
// (an open during another tab's commit, an announcement that comes late): probes in test/browser/tabs.ts hold a
// tab's IndexedDB read or its announcements back, so the race happens the same way every time.

/** Run `fn` with a fresh browser context; fail with what the pages said, close the context after. */
async function inContext<T>(fn: (ctx: BrowserContext, errors: string[]) => Promise<T>): Promise<T> {
  const ctx = await browser!.newContext()
  const errors: string[] = []
  try {
    const r = await fn(ctx, errors).catch((e: unknown) => {
      if (errors.length && e instanceof Error) e.message += `\n${errors.join('\n')}`
      throw e
    })
    assert.deepEqual(errors, [], 'no page errors')
    return r
  } finally {
    await ctx.close().catch(() => {})
  }
}

const TWO_TABS = 'larix-two-tabs'
const MAIN = 'refs/heads/main'
const [A, B, C] = ['a', 'b', 'c'].map(x => x.repeat(40))

test('two tabs: compare-and-set on one IndexedDB store, one winner', { timeout: 20_000 }, () => inContext(async (ctx, errors) => {
  const [t1, t2] = await openTabs(ctx, origin, 2, errors)
  const open = (p: Page) => p.evaluate(async (db) => {
    const g = globalThis as unknown as TabGlobals
    g.backend = g.larix.levelBackend(db)
    await g.backend.open()
  }, TWO_TABS)
  await open(t1)
  await open(t2)
  const cas = (p: Page, expected: string | undefined, next: string) => p.evaluate(
    ([ref, e, n]) => (globalThis as unknown as TabGlobals).backend.refs.cas(ref, e ?? undefined, n!),
    [MAIN, expected ?? null, next] as const,
  )
  const head = (p: Page) => p.evaluate(ref => (globalThis as unknown as TabGlobals).backend.refs.get(ref), MAIN)

  assert.equal(await cas(t1, undefined, A), true, 'tab 1 creates main at A')
  assert.equal(await cas(t2, undefined, B), false, 'tab 2 cannot create main: tab 1 did')
  assert.equal(await head(t2), A, 'tab 2 sees A')
  assert.equal(await cas(t2, A, B), true, 'tab 2 moves main from A to B')
  assert.equal(await cas(t1, A, C), false, 'tab 1 cannot move main from A: it is at B')
  assert.equal(await head(t1), B, 'tab 1 sees B')

  // Both tabs create the same refs at the same instant: for each, exactly one wins, and both tabs then agree.
  const REFS = 12
  const race = (p: Page, id: string, at: number) => p.evaluate(async ([id, at, n]) => {
    const g = globalThis as unknown as TabGlobals
    await new Promise(r => setTimeout(r, at - Date.now()))
    const won: boolean[] = []
    for (let i = 0; i < n; i++) won.push(await g.backend.refs.cas(`refs/heads/race/${i}`, undefined, id))
    return won
  }, [id, at, REFS] as const)
  const at = startAt()
  const [won1, won2] = await Promise.all([race(t1, A, at), race(t2, B, at)])
  const winners = won1.map((w, i) => (w ? 1 : 0) + (won2[i] ? 1 : 0))
  assert.deepEqual(winners, new Array(REFS).fill(1), `one winner per ref (tab 1 won ${won1}, tab 2 won ${won2})`)

  // A tab opened now reads everything from IndexedDB.
  const [t3] = await openTabs(ctx, origin, 1, errors)
  await open(t3)
  const list = (p: Page) => p.evaluate(() => (globalThis as unknown as TabGlobals).backend.refs.list())
  const stored = await list(t3)
  assert.deepEqual(stored, [
    { name: MAIN, id: B },
    ...won1.map((w, i) => ({ name: `refs/heads/race/${i}`, id: w ? A : B })).sort((x, y) => (x.name < y.name ? -1 : 1)),
  ], 'a fresh tab sees B on main, and each race won by whoever returned true')
  assert.deepEqual(await list(t1), stored, 'tab 1 agrees with the store')
  assert.deepEqual(await list(t2), stored, 'tab 2 agrees with the store')
}))

test('two tabs: concurrent transactions on one counter lose no update', { timeout: 20_000 }, () => inContext(async (ctx, errors) => {
  const N = 30
  const db = 'larix-two-tabs-counter'
  const tabs = await openTabs(ctx, origin, 2, errors)
  const open = (p: Page, who: string) => p.evaluate(async ([db, who]) => {
    const g = globalThis as unknown as TabGlobals
    g.repo = await g.larix.Repo.open({ backend: g.larix.levelBackend(db), author: `${who} <${who.replace(' ', '')}@example.org>` })
  }, [db, who] as const)
  for (const [i, p] of tabs.entries()) await open(p, `tab ${i + 1}`)

  const at = startAt()
  const attempts = await Promise.all(tabs.map(p => p.evaluate(async ([n, at]) => {
    const g = globalThis as unknown as TabGlobals
    await new Promise(r => setTimeout(r, at - Date.now()))
    const main = g.repo.branch('main')
    let tries = 0
    for (let i = 0; i < n; i++) {
      const r = await main.transaction(async tx => { const v = (await tx.get('n') as number | undefined) ?? 0; tx.set('n', v + 1) }, { retries: 1000 })
      tries += r.attempts
    }
    return tries
  }, [N, at] as const)))

  // A fresh tab reads the store: 2N commits in one line of history, the counter going 1, 2, …, 2N.
  const [fresh] = await openTabs(ctx, origin, 1, errors)
  await open(fresh, 'tab 3')
  const stored = await fresh.evaluate(async () => {
    const g = globalThis as unknown as TabGlobals
    const main = g.repo.branch('main')
    const log: { id: string; parents: string[]; author: string; n: unknown }[] = []
    for await (const c of main.log()) log.push({ id: c.id, parents: c.parents, author: c.info.author, n: await (await g.repo.checkout(c.id)).get('n') })
    return { head: (await main.head())?.id, n: await main.get('n'), log }
  })
  assert.equal(stored.n, 2 * N, `the counter is ${2 * N} (attempts: ${attempts})`)
  assert.equal(stored.log.length, 2 * N, 'one commit per increment')
  assert.equal(stored.head, stored.log[0].id)
  stored.log.forEach((c, i) => {
    assert.deepEqual(c.parents, i + 1 < stored.log.length ? [stored.log[i + 1].id] : [], `commit ${i} from the head has the next one as its only parent`)
    assert.equal(c.n, 2 * N - i, `commit ${i} from the head has n = ${2 * N - i}`)
  })
  const byTab = (who: string) => stored.log.filter(c => c.author.startsWith(who)).length
  assert.deepEqual([byTab('tab 1'), byTab('tab 2')], [N, N], 'each tab made its N commits')
  // A transaction runs again when the head moved under it: more runs than commits means the loops overlapped.
  assert.ok(attempts[0] + attempts[1] > 2 * N, `the tabs got in each other's way (attempts: ${attempts}): the loops ran at the same time`)

  // The tabs that wrote catch up with the last write (theirs or the other tab's) by themselves.
  for (const [i, p] of tabs.entries()) {
    const seen: { head: string | undefined; n: unknown } = await p.evaluate(async (head) => {
      const g = globalThis as unknown as TabGlobals
      const main = g.repo.branch('main')
      for (let k = 0; k < 40 && (await main.head())?.id !== head; k++) await new Promise(r => setTimeout(r, 50))
      return { head: (await main.head())?.id, n: await main.get('n') }
    }, stored.head)
    assert.deepEqual(seen, { head: stored.head, n: 2 * N }, `tab ${i + 1} reads the final head and ${2 * N}`)
  }
}))

test('two tabs: a branch watcher in one tab sees the commits of the other', { timeout: 20_000 }, () => inContext(async (ctx, errors) => {
  const db = 'larix-two-tabs-watch'
  const [t1, t2] = await openTabs(ctx, origin, 2, errors)
  const open = (p: Page) => p.evaluate(async (db) => {
    const g = globalThis as unknown as TabGlobals
    g.repo = await g.larix.Repo.open({ backend: g.larix.levelBackend(db) })
  }, db)
  await open(t1)
  await open(t2)
  await t1.evaluate(() => {
    const g = globalThis as unknown as TabGlobals
    g.seen = []
    g.keySeen = []
    const main = g.repo.branch('main')
    g.stopWatch = main.watch(c => g.seen.push(c))
    main.watchKey('note', c => { g.keySeen.push(c) })
  })
  const commit = (p: Page, value: string) => p.evaluate(async (value) => {
    return (await (globalThis as unknown as TabGlobals).repo.branch('main').set('note', value)).id
  }, value)
  const seenIn = (p: Page) => p.evaluate(() => {
    const g = globalThis as unknown as TabGlobals
    return { seen: g.seen, keys: g.keySeen.map(k => k.value) }
  })
  const waitFor = (p: Page, id: string) => p.waitForFunction(
    (id) => (globalThis as unknown as TabGlobals).keySeen.some(k => k.after === id),
    id, { timeout: 2_000, polling: 20 },
  ).catch(async () => assert.fail(`tab 1 did not see ${id} within 2 s: ${JSON.stringify(await seenIn(p))}`))

  const c1 = await commit(t1, 'one (tab 1)') // tab 1's own commit
  const c2 = await commit(t2, 'two (tab 2)') // the other tab's
  await waitFor(t1, c2)
  assert.deepEqual(await seenIn(t1), {
    seen: [{ branch: 'main', before: undefined, after: c1 }, { branch: 'main', before: c1, after: c2 }],
    keys: ['one (tab 1)', 'two (tab 2)'],
  })
  assert.equal(await t1.evaluate(() => (globalThis as unknown as TabGlobals).repo.branch('main').get('note')), 'two (tab 2)', 'tab 1 reads tab 2\'s value')

  // Unsubscribed, the head watcher hears nothing more; the key watcher, still subscribed, marks when it would have.
  await t1.evaluate(() => (globalThis as unknown as TabGlobals).stopWatch())
  const c3 = await commit(t2, 'three (tab 2)')
  await waitFor(t1, c3)
  const last = await seenIn(t1)
  assert.equal(last.seen.length, 2, 'no event after unsubscribing')
  assert.deepEqual(last.keys, ['one (tab 1)', 'two (tab 2)', 'three (tab 2)'])
}))

// For the tests below: a tab's backend (`g.backend`, or `g.other`, a second one in the same tab) on `db`, and what
// its refs watcher heard (`g.refSeen`). A ref moved under a "flag" ref name serves as a marker: announcements from one
// channel arrive in order, so once a tab has seen the flag's move, it has dealt with every announcement before it.
const FLAG = 'refs/heads/flag'
const tabOf = (p: Page) => p.evaluate(async () => {
  const g = globalThis as unknown as TabGlobals
  return { refs: await g.backend.refs.list(), seen: g.refSeen }
})
/** Open `g.backend` on `db` in `p`, its refs watched into `g.refSeen`. */
const openWatched = (p: Page, db: string) => p.evaluate(async (db) => {
  const g = globalThis as unknown as TabGlobals
  g.backend = g.larix.levelBackend(db)
  g.refSeen = []
  g.backend.refs.watch(c => g.refSeen.push(c))
  await g.backend.open()
}, db)
/** Compare-and-set on `g.backend` (or `g.other`) in `p`. */
const casIn = (p: Page, which: 'backend' | 'other', ref: string, expected: string | undefined, next: string) => p.evaluate(
  ([which, ref, e, n]) => (globalThis as unknown as TabGlobals)[which].refs.cas(ref, e ?? undefined, n),
  [which, ref, expected ?? null, next] as const,
)
/** Wait until `g.backend` in `p` has the ref `name` at `id`, as announced. */
const waitForRef = (p: Page, name: string, id: string) => p.waitForFunction(
  ([name, id]) => (globalThis as unknown as TabGlobals).backend.refs.get(name).then(v => v === id),
  [name, id] as const, { timeout: 2_000, polling: 10 },
).catch(async () => assert.fail(`the tab did not see ${name} at ${id} within 2 s: ${JSON.stringify(await tabOf(p))}`))

test('two tabs: a tab that opens the store while the other commits does not miss the move', { timeout: 20_000 }, () => inContext(async (ctx, errors) => {
  const db = 'larix-two-tabs-open-race'
  const [t1, t2] = await openTabs(ctx, origin, 2, errors)
  await installProbes(t2)
  await openWatched(t1, db)
  assert.equal(await casIn(t1, 'backend', MAIN, undefined, A), true)

  // Tab 2 opens the store; its read of the refs finds main at A and is held there, before the result is used.
  await t2.evaluate(async (db) => {
    const g = globalThis as unknown as TabGlobals
    const hold = g.probes.holdNextRead()
    g.hold = hold
    g.backend = g.larix.levelBackend(db)
    g.refSeen = []
    g.backend.refs.watch(c => g.refSeen.push(c))
    g.opening = g.backend.open()
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([hold.held, new Promise((_, no) => { timer = setTimeout(() => no(new Error('the read of the refs was not held')), 2_000) })])
    clearTimeout(timer)
  }, db)
  // Meanwhile tab 1 moves main to B and announces it; then tab 2 goes on with what it read (A) and finishes opening.
  assert.equal(await casIn(t1, 'backend', MAIN, A, B), true)
  await t2.evaluate(async () => {
    const g = globalThis as unknown as TabGlobals
    g.hold.release()
    await g.opening
  })
  // Tab 2 must have heard of B: whatever it hears from tab 1 after opening (the flag), it hears after main's move.
  assert.equal(await casIn(t1, 'backend', FLAG, undefined, C), true)
  await waitForRef(t2, FLAG, C)
  assert.deepEqual(await tabOf(t2), {
    refs: [{ name: FLAG, id: C }, { name: MAIN, id: B }],
    seen: [{ name: MAIN, old: A, new: B }, { name: FLAG, old: undefined, new: C }],
  }, 'tab 2 has main at B, as stored, and its watchers heard the move from A')
}))

test('two tabs: a compare-and-set that finds the ref moved tells the watchers, before the announcement comes', { timeout: 20_000 }, () => inContext(async (ctx, errors) => {
  const db = 'larix-two-tabs-cas-reread'
  const [t1, t2] = await openTabs(ctx, origin, 2, errors)
  await installProbes(t2)
  await openWatched(t1, db)
  // Tab 2 announces late: its moves reach tab 1 only at release().
  await t2.evaluate(async (db) => {
    const g = globalThis as unknown as TabGlobals
    g.backend = g.larix.levelBackend(db)
    g.hold = await g.probes.openHoldingAnnouncements(g.backend)
  }, db)

  assert.equal(await casIn(t1, 'backend', MAIN, undefined, A), true, 'tab 1 creates main at A')
  assert.equal(await casIn(t2, 'backend', MAIN, A, B), true, 'tab 2 moves it to B (and says so late)')
  assert.equal(await casIn(t1, 'backend', MAIN, A, C), false, 'tab 1 cannot move main from A: its re-read finds B')
  assert.deepEqual((await tabOf(t1)).seen, [{ name: MAIN, old: undefined, new: A }, { name: MAIN, old: A, new: B }],
    'the re-read that found B told tab 1\'s watchers')
  // The late announcement of B changes nothing more: tab 1 knew.
  await t2.evaluate(() => (globalThis as unknown as TabGlobals).hold.release())
  assert.equal(await casIn(t2, 'backend', FLAG, undefined, C), true)
  await waitForRef(t1, FLAG, C)
  assert.deepEqual(await tabOf(t1), {
    refs: [{ name: FLAG, id: C }, { name: MAIN, id: B }],
    seen: [{ name: MAIN, old: undefined, new: A }, { name: MAIN, old: A, new: B }, { name: FLAG, old: undefined, new: C }],
  }, 'tab 1\'s watchers heard each move of main once, in order')
}))

test('two tabs: a late announcement does not roll the cache back', { timeout: 20_000 }, () => inContext(async (ctx, errors) => {
  const db = 'larix-two-tabs-late-announcement'
  const [t1, t2] = await openTabs(ctx, origin, 2, errors)
  await installProbes(t2)
  await openWatched(t1, db)
  // Tab 2 has two backends on the store: `other` announces late, `backend` on time.
  await t2.evaluate(async (db) => {
    const g = globalThis as unknown as TabGlobals
    g.other = g.larix.levelBackend(db)
    g.hold = await g.probes.openHoldingAnnouncements(g.other)
    g.backend = g.larix.levelBackend(db)
    await g.backend.open()
  }, db)

  assert.equal(await casIn(t2, 'other', MAIN, undefined, A), true, 'the slow one creates main at A (and says so late)')
  assert.equal(await casIn(t2, 'backend', MAIN, A, B), true, 'the other moves it to B')
  await waitForRef(t1, MAIN, B)
  // Now the announcement of A arrives, after that of B.
  await t2.evaluate(() => (globalThis as unknown as TabGlobals).hold.release())
  assert.equal(await casIn(t2, 'other', FLAG, undefined, C), true)
  await waitForRef(t1, FLAG, C)
  assert.deepEqual(await tabOf(t1), {
    refs: [{ name: FLAG, id: C }, { name: MAIN, id: B }],
    seen: [{ name: MAIN, old: undefined, new: B }, { name: FLAG, old: undefined, new: C }],
  }, 'tab 1 still has main at B, as stored, and its watchers never heard of a move back to A')
}))
