// `larix push [URL]`: push --branch to the remote branch of the same name. A push the remote refuses
// because it moved becomes pull-then-push (fetch, larix merge, push the merge), as the design says;
// --force replaces the remote branch instead.
import { push as pushBranch } from '../sync/index.js'
import type { Command } from './commands.js'
import { tlsFiles } from './tls.js'
import { formatBytes, terminalProgress } from './progress.js'
import { remoteUrl } from './remote.js'

export const push: Command = {
  synopsis: '[URL]', min: 0, max: 1, options: ['force', 'message', 'author', 'tlsCert', 'tlsKey', 'tlsCa'], creates: false,
  async run(ctx) {
    const url = remoteUrl(ctx.store, ctx.args[0], 'push')
    const branch = ctx.branch
    const tls = tlsFiles(ctx.options, 'client')
    const r = await pushBranch(ctx.repo, url, {
      ...(tls ? { tls } : {}),
      branch, force: ctx.options.force, pullFirst: !ctx.options.force, message: ctx.options.message, onProgress: terminalProgress(),
    })
    const lines: string[] = []
    for (const p of r.pulls) {
      lines.push(`The remote's ${branch} had moved: merged it into ${branch} first (${p.merge.status}${p.merge.status !== 'conflict' ? ' ' + p.merge.commit.id : ''})`)
    }
    if (r.status === 'up-to-date') lines.push(`Everything up to date: the remote's ${branch} is at ${r.newId}`)
    else {
      const from = r.oldId === undefined ? 'new branch' : `${r.oldId.slice(0, 12)}..${r.newId.slice(0, 12)}`
      lines.push(`Pushed ${branch} to ${r.url} (${from}${r.status === 'forced' ? ', forced' : ''}): ${r.objects} objects, ${formatBytes(r.bytes)}`)
    }
    return {
      data: { url: r.url, branch, ref: r.ref, status: r.status, oldId: r.oldId ?? null, newId: r.newId, objects: r.objects, bytes: r.bytes, pulls: r.pulls.map(p => p.merge) },
      lines,
    }
  },
}
