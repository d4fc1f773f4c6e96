#!/usr/bin/env node
// Bundles the compiled browser entry (dist/src/browser/index.js) into one ES module for web pages, with esbuild's
// `browser` platform: package `browser` conditions pick browser-level (IndexedDB) and @noble/hashes (SHA-1).
// `npm run build` first; then `node scripts/build-browser.js [outdir]` writes `<outdir>/larix.js` (default dist/browser).
import { readFile } from 'node:fs/promises'
import { builtinModules } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'

const root = dirname(dirname(fileURLToPath(import.meta.url)))

/** The Node built-ins that `code` still imports or requires (a browser bundle must have none). */
export function nodeBuiltinImports(code) {
  const names = new Set(builtinModules.map(n => n.replace(/^node:/, '')))
  const found = new Set()
  // Every way an ES module or esbuild's CJS wrapper can refer to a module it did not bundle.
  const spec = /(?:\bfrom\s*|\bimport\s*\(?\s*|require\s*\(\s*)["'`]([^"'`]+)["'`]/g
  for (const [, s] of code.matchAll(spec)) if (s.startsWith('node:') || names.has(s) || names.has(s.split('/')[0])) found.add(s)
  for (const [s] of code.matchAll(/["'`]node:[\w/]+["'`]/g)) found.add(s.slice(1, -1))
  return [...found].sort()
}

/**
 * Bundle each entry (name → path under the project root) to `<outdir>/<name>.js`.
 * Fails when a Node built-in is left in any bundle. Returns each bundle's path, size and bundled inputs.
 * @example await buildBrowser({ outdir: 'dist/browser' })
 */
export async function buildBrowser({ outdir, entries = { larix: 'dist/src/browser/index.js' }, minify = true }) {
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(Object.entries(entries).map(([name, p]) => [name, join(root, p)])),
    outdir: resolve(outdir),
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify,
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'silent',
    // The bundle is made from tsc's output, so tsconfig.json must not apply: its `paths` entry for `#platform/*`
    // (there for type checking) points at the Node adapters and would override the `browser` import condition.
    tsconfigRaw: '{}',
  }).catch(e => {
    // esbuild's own message drops the notes, which say why (e.g. "… is built into node").
    const why = (e.errors ?? []).map(x => `${x.location ? `${x.location.file}:${x.location.line}: ` : ''}${x.text}${x.notes?.length ? ` (${x.notes.map(n => n.text).join(' ')})` : ''}`)
    throw new Error(why.length ? `esbuild failed:\n  ${why.join('\n  ')}` : e.message)
  })
  const bundles = {}
  for (const [out, meta] of Object.entries(result.metafile.outputs)) {
    if (!meta.entryPoint) continue
    const name = Object.keys(entries).find(n => out.endsWith(`/${n}.js`) || out === `${n}.js`)
    const path = join(root, out)
    const code = await readFile(path, 'utf8')
    const builtins = nodeBuiltinImports(code)
    if (builtins.length) throw new Error(`${out} still refers to Node built-ins: ${builtins.join(', ')}`)
    bundles[name] = { path, bytes: meta.bytes, inputs: Object.keys(meta.inputs).sort() }
  }
  return bundles
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outdir = process.argv[2] ?? join(root, 'dist/browser')
  try {
    for (const [name, b] of Object.entries(await buildBrowser({ outdir }))) {
      console.log(`${name}: ${b.path} (${(b.bytes / 1024).toFixed(1)} KiB)`)
    }
  } catch (e) {
    console.error(`build-browser: ${e.message}`)
    process.exit(1)
  }
}
