// `larix clone URL DIR`: a new level store in DIR holding the remote's branches; the URL is remembered for
// pull and push. A failed clone removes the DIR it created.
import { rmSync } from 'node:fs'
import { cloneInto, displayUrl } from '../sync/index.js'
import type { Command } from './commands.js'
import { tlsFiles } from './tls.js'
import { formatBytes, terminalProgress } from './progress.js'
import { writeRemote } from './remote.js'

export const clone: Command = {
  synopsis: 'URL DIR', min: 2, max: 2, options: ['depth', 'tlsCert', 'tlsKey', 'tlsCa'], creates: true, storeArg: 1,
  async run(ctx) {
    const url = ctx.args[0]
    try {
      const tls = tlsFiles(ctx.options, 'client')
      const r = await cloneInto(ctx.repo, url, { depth: ctx.options.depth, onProgress: terminalProgress(), ...(tls ? { tls } : {}) })
      writeRemote(ctx.store, 'origin', r.head === undefined ? { url } : { url, head: r.head })
      const f = r.fetch
      const lines = [
        `Cloned ${f.url} into ${ctx.store}: ${f.objects} objects (${formatBytes(f.bytes)}), ` +
          (r.branches.length ? `branches ${r.branches.join(', ')}` : 'no branches (the remote is empty)') +
          (f.shallow.length ? `, shallow (depth ${ctx.options.depth})` : ''),
      ]
      if (r.head !== undefined && r.head !== 'main') lines.push(`The remote's default branch is ${r.head}: use --branch ${r.head}`)
      return {
        data: { store: ctx.store, url: displayUrl(url), protocol: f.protocol, head: r.head ?? null, branches: r.branches, objects: f.objects, bytes: f.bytes, shallow: f.shallow },
        lines,
      }
    } catch (e) {
      if (!ctx.storeExisted) {
        await ctx.repo.close().catch(() => {})
        rmSync(ctx.store, { recursive: true, force: true })
      }
      throw e
    }
  },
}
