// Several tabs of one origin on one IndexedDB store, for test/browser.test.ts: each tab is a page of the same
// browser context (so they share IndexedDB, Web Locks and BroadcastChannel) with larix.js imported.
import type { BrowserContext, Page } from 'playwright-core'
import type { HeadChange, KeyChange, LevelBackend, Repo } from '../../src/store/index.js'

type Larix = typeof import('../../src/browser/index.js')

/** What the tests keep on a tab's `globalThis` between `page.evaluate` calls. */
export interface TabGlobals {
  larix: Larix
  backend: LevelBackend
  repo: Repo<unknown>
  seen: HeadChange[]
  keySeen: KeyChange<unknown>[]
  stopWatch: () => void
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
