// The backend compliance suite: every backend (memory, level, and later git and IndexedDB) passes these cases
// unchanged. Platform-neutral on purpose (no node: imports) so the same cases run in Node and in Chromium.
import type { Backend } from '../src/store/backend.js'
import { objectId } from '../src/store/objects.js'
import type { StoredObject } from '../src/store/objects.js'

export interface SuiteOptions {
  /** A fresh, empty, not yet opened backend. */
  make: () => Backend | Promise<Backend>
  /** The same storage again (for persistence checks); absent for memory-only backends. */
  reopen?: (previous: Backend) => Backend | Promise<Backend>
}

function fail(msg: string): never { throw new Error(msg) }
function eq(a: unknown, b: unknown, what: string): void {
  const x = JSON.stringify(a), y = JSON.stringify(b)
  if (x !== y) fail(`${what}: expected ${y}, got ${x}`)
}
function bytesEq(a: Uint8Array | undefined, b: Uint8Array, what: string): void {
  if (!a || a.length !== b.length || a.some((v, i) => v !== b[i])) fail(`${what}: bytes differ`)
}

const enc = new TextEncoder()
function blob(text: string): StoredObject {
  const body = enc.encode(text)
  return { id: objectId('blob', body), type: 'blob', body }
}
const ID1 = '1'.repeat(40), ID2 = '2'.repeat(40), ID3 = '3'.repeat(40)

async function withOpen(opts: SuiteOptions, fn: (b: Backend) => Promise<void>): Promise<void> {
  const b = await opts.make()
  await b.open()
  try { await fn(b) } finally { await b.close() }
}

export const backendCases: { name: string; run: (opts: SuiteOptions) => Promise<void> }[] = [
  {
    name: 'objects: put, get, has; absent ids',
    run: (o) => withOpen(o, async (b) => {
      const x = blob('hello'), y = blob('world')
      eq(await b.objects.has(x.id), false, 'has before put')
      eq(await b.objects.get(x.id), undefined, 'get before put')
      await b.objects.putMany([x, y])
      eq(await b.objects.has(x.id), true, 'has after put')
      const got = await b.objects.get(y.id)
      eq(got?.type, 'blob', 'type')
      bytesEq(got?.body, y.body, 'body')
    }),
  },
  {
    name: 'objects: every type, empty and large bodies, duplicate puts',
    run: (o) => withOpen(o, async (b) => {
      const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 31) & 255)
      const objs: StoredObject[] = [
        { id: objectId('blob', new Uint8Array()), type: 'blob', body: new Uint8Array() },
        { id: objectId('blob', big), type: 'blob', body: big },
        { id: objectId('tree', new Uint8Array()), type: 'tree', body: new Uint8Array() },
        { id: objectId('commit', enc.encode('x')), type: 'commit', body: enc.encode('x') },
        { id: objectId('tag', enc.encode('y')), type: 'tag', body: enc.encode('y') },
      ]
      await b.objects.putMany(objs)
      await b.objects.putMany(objs)
      await b.objects.putMany([])
      for (const x of objs) {
        const got = await b.objects.get(x.id)
        eq(got?.type, x.type, `type of ${x.type}`)
        bytesEq(got?.body, x.body, `body of ${x.type}`)
      }
    }),
  },
  {
    name: 'objects: a batch of 5,000',
    run: (o) => withOpen(o, async (b) => {
      const objs = Array.from({ length: 5000 }, (_, i) => blob(`value ${i}`))
      await b.objects.putMany(objs)
      for (const i of [0, 1, 2500, 4999]) bytesEq((await b.objects.get(objs[i].id))?.body, objs[i].body, `object ${i}`)
    }),
  },
  {
    name: 'objects: findPrefix, when supported, finds ids by prefix',
    run: (o) => withOpen(o, async (b) => {
      if (!b.objects.findPrefix) return
      const x = blob('prefix test')
      await b.objects.putMany([x])
      const found = await b.objects.findPrefix(x.id.slice(0, 8))
      eq(found.includes(x.id), true, 'found by prefix')
      eq((await b.objects.findPrefix('ffffffffffff')).length, 0, 'nothing for an absent prefix')
    }),
  },
  {
    name: 'refs: compare-and-set creates, moves and deletes; wrong expectations change nothing',
    run: (o) => withOpen(o, async (b) => {
      eq(await b.refs.get('refs/heads/main'), undefined, 'absent')
      eq(await b.refs.cas('refs/heads/main', ID1, ID2), false, 'cas on absent with expected')
      eq(await b.refs.cas('refs/heads/main', undefined, ID1), true, 'create')
      eq(await b.refs.cas('refs/heads/main', undefined, ID2), false, 'create again')
      eq(await b.refs.get('refs/heads/main'), ID1, 'after create')
      eq(await b.refs.cas('refs/heads/main', ID2, ID3), false, 'wrong expected')
      eq(await b.refs.get('refs/heads/main'), ID1, 'unchanged')
      eq(await b.refs.cas('refs/heads/main', ID1, ID2), true, 'move')
      eq(await b.refs.get('refs/heads/main'), ID2, 'moved')
      eq(await b.refs.cas('refs/heads/main', ID2, undefined), true, 'delete')
      eq(await b.refs.get('refs/heads/main'), undefined, 'deleted')
    }),
  },
  {
    name: 'refs: list by prefix, sorted',
    run: (o) => withOpen(o, async (b) => {
      await b.refs.cas('refs/heads/b', undefined, ID2)
      await b.refs.cas('refs/heads/a', undefined, ID1)
      await b.refs.cas('refs/heads/a/x', undefined, ID1)
      await b.refs.cas('refs/tags/v1', undefined, ID3)
      eq(await b.refs.list('refs/heads/'), [{ name: 'refs/heads/a', id: ID1 }, { name: 'refs/heads/a/x', id: ID1 }, { name: 'refs/heads/b', id: ID2 }], 'heads')
      eq((await b.refs.list()).length, 4, 'all')
      eq(await b.refs.list('refs/nothing/'), [], 'none')
    }),
  },
  {
    name: 'refs: concurrent compare-and-set on one ref, exactly one wins',
    run: (o) => withOpen(o, async (b) => {
      await b.refs.cas('refs/heads/main', undefined, ID1)
      const results = await Promise.all([ID2, ID3, ID2, ID3].map(n => b.refs.cas('refs/heads/main', ID1, n)))
      eq(results.filter(Boolean).length, 1, 'winners')
    }),
  },
  {
    name: 'refs: watchers see every change in order, and stop when unsubscribed',
    run: (o) => withOpen(o, async (b) => {
      const seen: string[] = []
      const stop = b.refs.watch(c => seen.push(`${c.name}:${c.old ?? '-'}:${c.new ?? '-'}`))
      await b.refs.cas('refs/heads/w', undefined, ID1)
      await b.refs.cas('refs/heads/w', ID1, ID2)
      await b.refs.cas('refs/heads/w', ID3, ID1) // fails: no event
      await b.refs.cas('refs/heads/w', ID2, undefined)
      stop()
      await b.refs.cas('refs/heads/w', undefined, ID3)
      eq(seen, [`refs/heads/w:-:${ID1}`, `refs/heads/w:${ID1}:${ID2}`, `refs/heads/w:${ID2}:-`], 'events')
    }),
  },
  {
    name: 'persistence: objects and refs survive close and reopen',
    run: async (o) => {
      if (!o.reopen) return
      const b = await o.make()
      await b.open()
      const x = blob('persist me')
      await b.objects.putMany([x])
      await b.refs.cas('refs/heads/main', undefined, ID1)
      await b.close()
      const c = await o.reopen(b)
      await c.open()
      try {
        bytesEq((await c.objects.get(x.id))?.body, x.body, 'object after reopen')
        eq(await c.refs.get('refs/heads/main'), ID1, 'ref after reopen')
        eq(await c.refs.cas('refs/heads/main', ID1, ID2), true, 'cas after reopen')
      } finally { await c.close() }
    },
  },
  {
    name: 'closed: operations on a closed backend fail with LARIX_BACKEND',
    run: async (o) => {
      const b = await o.make()
      await b.open()
      await b.close()
      let code: unknown
      try { await b.objects.get(ID1) } catch (e) { code = (e as { code?: string }).code }
      eq(code, 'LARIX_BACKEND', 'error code')
    },
  },
]
