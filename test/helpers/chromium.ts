// Debian's Chromium driven by playwright-core, and a static server on 127.0.0.1 for the page and its bundles:
// what the browser tests share.
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import type { Browser, Page } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'

/**
 * Serve `html` at `/` (and `/<pageName>`) and the `*.js` / `*.js.map` files of `dir`, on 127.0.0.1 port 0.
 * Anything else is 404.
 */
export async function servePage(html: Uint8Array | string, dir: string, pageName: string): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const name = new URL(req.url ?? '/', 'http://x').pathname.slice(1)
    const send = (status: number, type: string, body: Uint8Array | string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body)
    }
    if (name === '' || name === pageName) return send(200, 'text/html; charset=utf-8', html)
    if (!/^[\w-]+\.js(\.map)?$/.test(name)) return send(404, 'text/plain', 'not found')
    readFile(join(dir, name)).then(
      body => send(200, name.endsWith('.map') ? 'application/json' : 'text/javascript; charset=utf-8', body),
      () => send(404, 'text/plain', 'not found'),
    )
  })
  await new Promise<void>((ok, fail) => { server.once('error', fail).listen(0, '127.0.0.1', ok) })
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

/** Launch Chromium headless, without a sandbox (tests run as root) and without its background traffic. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is not installed at ${CHROMIUM}: install it (apt-get install chromium)`)
  return chromium.launch({
    executablePath: CHROMIUM,
    timeout: 20_000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  })
}

/** A new page at `url` whose uncaught errors and console errors go into `errors`. */
export async function openPage(browser: Browser, url: string, errors: string[]): Promise<Page> {
  const page = await browser.newPage()
  page.on('pageerror', e => errors.push(`page error: ${e.stack ?? e.message}`))
  page.on('console', m => { if (m.type() === 'error') errors.push(`console: ${m.text()}`) })
  await page.goto(url)
  return page
}
