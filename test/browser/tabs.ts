// Several tabs of one origin on one IndexedDB store, for test/browser.test.ts: each tab is a page of the same
// browser context (so they share IndexedDB, Web Locks and BroadcastChannel) with larix.js imported.
import type { BrowserContext, Page } from 'playwright-core'
import type { HeadChange, KeyChange, LevelBackend, RefChange, Repo } from '../../src/store/index.js'

type Larix = typeof import('../../src/browser/index.js')

/** What the tests keep on a tab's `globalThis` between `page.evaluate` calls. */
export interface TabGlobals {
  larix: Larix
  backend: LevelBackend
  repo: Repo<unknown>
  seen: HeadChange[]
  keySeen: KeyChange<unknown>[]
  stopWatch: () => void
  /** A second backend in the same tab (on the same store: to IndexedDB, Web Locks and BroadcastChannel, another tab). */
  other: LevelBackend
  /** What a backend's `refs.watch` heard. */
  refSeen: RefChange[]
  /** A `backend.open()` under way. */
  opening: Promise<void>
  /** Installed by `installProbes`. */
  probes: Probes
  /** A hold made by one of the probes, to release later. */
  hold: Hold
}

/** Something held back by a probe until `release()`. */
export interface Hold { release(): void }

/**
 * Ways to make the timing of one tab's IndexedDB reads and announcements deterministic, installed in a tab by
 * `installProbes`. They patch browser APIs of that tab only; each patch undoes itself once used.
 */
export interface Probes {
  /**
   * Open `backend` with its BroadcastChannel held back: what it posts waits, in order, until `release()`, as if
   * the tab were slow to announce its ref moves. Other channels (opened before or after) are not affected.
   */
  openHoldingAnnouncements(backend: LevelBackend): Promise<Hold>
  /**
   * Hold the next read-only IndexedDB transaction of this tab once it has read and completed: `held` resolves
   * then, and the reader gets its result only at `release()`. Meanwhile other tabs can write (the transaction is
   * over), so the reader goes on with what it read before their write. Relies on browser-level resolving its
   * reads in `transaction.oncomplete`.
   */
  holdNextRead(): Hold & { held: Promise<void> }
}

/** Install `globalThis.probes` (see `Probes`) in `page`. */
export async function installProbes(page: Page): Promise<void> {
  await page.evaluate(() => {
    const g = globalThis as unknown as TabGlobals
    const gate = () => {
      let release!: () => void
      const open = new Promise<void>(r => { release = r })
      return { open, release }
    }
    g.probes = {
      async openHoldingAnnouncements(backend) {
        const Real = globalThis.BroadcastChannel
        const queued: unknown[] = []
        let holding = true
        let made: BroadcastChannel | undefined
        class Held extends Real {
          constructor(name: string) {
            super(name)
            made = this
            globalThis.BroadcastChannel = Real // this channel only
          }
          override postMessage(m: unknown): void {
            if (holding) queued.push(m)
            else super.postMessage(m)
          }
        }
        globalThis.BroadcastChannel = Held
        try { await backend.open() } finally { globalThis.BroadcastChannel = Real }
        if (!made) throw new Error('the backend opened no BroadcastChannel')
        const ch = made
        return {
          release() {
            holding = false
            for (const m of queued.splice(0)) ch.postMessage(m)
          },
        }
      },
      holdNextRead() {
        const proto = IDBDatabase.prototype
        const transaction = proto.transaction
        const oncomplete = Object.getOwnPropertyDescriptor(IDBTransaction.prototype, 'oncomplete')!
        const held = gate(), released = gate()
        proto.transaction = function (this: IDBDatabase, ...args: Parameters<typeof transaction>) {
          const tx = transaction.apply(this, args)
          if (tx.mode !== 'readonly') return tx
          proto.transaction = transaction // the next read-only transaction only
          Object.defineProperty(tx, 'oncomplete', {
            configurable: true,
            get: () => oncomplete.get!.call(tx),
            set: (fn: ((this: IDBTransaction, ev: Event) => unknown) | null) => oncomplete.set!.call(tx, fn && ((ev: Event) => {
              held.release()
              void released.open.then(() => fn.call(tx, ev))
            })),
          })
          return tx
        } as typeof transaction
        return { held: held.open, release: released.release }
      },
    }
  })
}

/**
 * Open `n` tabs on `origin` in `ctx`, each with larix.js imported as `globalThis.larix`.
 * Page errors and console errors go to `errors`.
 */
export async function openTabs(ctx: BrowserContext, origin: string, n: number, errors: string[]): Promise<Page[]> {
  const pages: Page[] = []
  for (let i = 0; i < n; i++) {
    const page = await ctx.newPage()
    const tab = `tab ${pages.length + 1}`
    page.on('pageerror', e => errors.push(`${tab} page error: ${e.stack ?? e.message}`))
    page.on('console', m => { if (m.type() === 'error') errors.push(`${tab} console: ${m.text()}`) })
    await page.goto(`${origin}/`)
    await page.evaluate(async (url) => {
      ;(globalThis as unknown as TabGlobals).larix = await import(url) as Larix
    }, `${origin}/larix.js`)
    pages.push(page)
  }
  return pages
}

/**
 * A wall-clock time `ms` from now. Tabs that wait for it (`setTimeout(at - Date.now())`) start their work
 * within a millisecond or so of each other, so that their writes really overlap.
 */
export function startAt(ms = 100): number {
  return Date.now() + ms
}
